/**
 * The PROXY protocol on sockets. Accepting: a listener whose connections must open with a header
 * (from a load balancer) before its own handshakes see them; the header's source replaces the TCP
 * peer as the client. Dialling: each upstream connection opens with a header naming our client,
 * on the raw TCP connection, before a TLS handshake, as HAProxy's `accept-proxy` expects.
 */
import * as http from 'node:http';
import * as net from 'node:net';
import * as tls from 'node:tls';
import type { Endpoint, HandshakeFailure, ProxiedInfo } from '../observe/observer.js';
import { hexExcerpt } from '../protocol/hex.js';
import {
  encodeProxyHeader,
  type ProxyHeader,
  type ProxyHeaderError,
  ProxyHeaderReader,
} from '../protocol/proxy-header.js';
import type { HostPort, TransportAddress } from './address.js';
import { socketUpstream, tlsConnectOptions, tlsUpstream } from './dialers.js';
import { type AcceptedClient, type DialedUpstream, socketEndpoint } from './peer.js';
import type { TlsClientConfig } from './tls-info.js';

export type ProxyProtocolVersion = 1 | 2;

/** How long a new connection may take to send its whole header before it is dropped. */
export const PROXY_HEADER_TIMEOUT_MS = 10_000;

/** A failure on a PROXY listener: the reader's codes, and `PROXY_HEADER_TIMEOUT`. */
export interface ProxyHeaderFailure {
  code: ProxyHeaderError['code'] | 'PROXY_HEADER_TIMEOUT';
  message: string;
  received: Buffer;
}

type Peer = { remoteAddress?: string | undefined; remotePort?: number | undefined };

/** The client as a listener reports it: the header's source when it named one, else the TCP peer. */
export type AcceptedPeer = Pick<AcceptedClient, 'client' | 'proxied'>;

export interface ProxyHeaderGate {
  /** For a connection of this listener: its raw socket, or the TLS or HTTP socket on top of it. */
  peer(socket: Peer): AcceptedPeer;
  /** Drops the connections still sending their header (they were never accepted). */
  dropAll(): void;
}

/** A TCP connection to one listener, known by its peer's address and port (unique while open). */
const peerKey = (s: Peer): string => `${s.remoteAddress ?? ''}|${s.remotePort ?? 0}`;

function acceptedPeer(raw: net.Socket, header: ProxyHeader): AcceptedPeer {
  const via = socketEndpoint(raw.remoteAddress, raw.remotePort);
  const proxied: ProxiedInfo = { version: header.version, via };
  if (header.source === undefined || header.destination === undefined) return { client: via, proxied };
  proxied.destination = { address: header.destination.address, port: header.destination.port };
  return { client: { address: header.source.address, port: header.source.port }, proxied };
}

/**
 * Makes every connection of `server` send a PROXY header first: the handlers the server already
 * has (TLS, HTTP, the listener's own) get the socket once the header is read, with the bytes that
 * followed it put back. Call after those handlers are attached. A connection without a valid
 * header is reported through `onFailed` and destroyed.
 */
export function requireProxyHeaders(
  server: net.Server,
  onFailed: (raw: net.Socket, failure: ProxyHeaderFailure) => void,
  timeoutMs = PROXY_HEADER_TIMEOUT_MS,
): ProxyHeaderGate {
  const handlers = server.listeners('connection') as ((socket: net.Socket) => void)[];
  server.removeAllListeners('connection');
  // An HTTP server reads through its own parser and must be told to start; TLS reads what is put back.
  const resumeAfter = server instanceof http.Server;
  const pending = new Set<net.Socket>();
  const accepted = new Map<string, AcceptedPeer>();

  server.on('connection', (raw: net.Socket) => {
    pending.add(raw);
    const reader = new ProxyHeaderReader();
    const settle = (): void => {
      raw.off('data', onData);
      raw.off('end', onEnd);
      raw.off('error', onError);
      raw.off('timeout', onTimeout);
      raw.setTimeout(0);
      pending.delete(raw);
    };
    const reject = (failure: ProxyHeaderFailure): void => {
      settle();
      // A quiet error listener: the socket is destroyed here, and a late reset must not escape.
      raw.on('error', () => {});
      try {
        onFailed(raw, failure);
      } finally {
        raw.destroy();
      }
    };
    const ended = (code: ProxyHeaderFailure['code'] | undefined, why: string): void => {
      const r = reader.end();
      const error = r !== undefined && !r.ok ? r.error : undefined;
      reject({
        code: code ?? error?.code ?? 'PROXY_HEADER_INCOMPLETE',
        message: `${why}${error !== undefined ? ` (${error.message})` : ''}`,
        received: error?.received ?? Buffer.alloc(0),
      });
    };
    const onData = (chunk: Buffer): void => {
      const r = reader.push(chunk);
      if (r === undefined) return;
      if (!r.ok) {
        reject(r.error);
        return;
      }
      settle();
      raw.pause();
      if (r.rest.length > 0) raw.unshift(r.rest);
      const key = peerKey(raw);
      const peer = acceptedPeer(raw, r.header);
      accepted.set(key, peer);
      raw.once('close', () => {
        if (accepted.get(key) === peer) accepted.delete(key);
      });
      for (const handler of handlers) handler.call(server, raw);
      if (resumeAfter) raw.resume();
    };
    const onEnd = (): void => ended(undefined, 'the connection ended before a complete PROXY header');
    const onError = (err: Error): void =>
      ended(undefined, `the connection failed before a complete PROXY header: ${err.message}`);
    const onTimeout = (): void =>
      ended('PROXY_HEADER_TIMEOUT', `no complete PROXY header within ${timeoutMs / 1000} s`);
    raw.on('data', onData);
    raw.on('end', onEnd);
    raw.on('error', onError);
    raw.on('timeout', onTimeout);
    raw.setTimeout(timeoutMs);
  });

  return {
    peer: (socket) =>
      accepted.get(peerKey(socket)) ?? { client: socketEndpoint(socket.remoteAddress, socket.remotePort) },
    dropAll() {
      for (const raw of pending) raw.destroy();
      pending.clear();
    },
  };
}

/** The handshake-failed record of a connection refused for its header. */
export function proxyHeaderFailure(
  listener: string,
  transport: string,
  raw: net.Socket,
  failure: ProxyHeaderFailure,
): HandshakeFailure {
  const info: HandshakeFailure = {
    listener,
    client: socketEndpoint(raw.remoteAddress, raw.remotePort),
    transport,
    code: failure.code,
    message: failure.message,
    hint: 'this listener takes connections through a load balancer that sends the PROXY protocol (--accept-proxy-protocol); connect through it',
  };
  if (failure.received.length > 0) info.received = hexExcerpt(failure.received);
  return info;
}

/** The header for one client: its address, and the one it connected to (as the balancer said, or ours). */
export function upstreamProxyHeader(version: ProxyProtocolVersion, accepted: AcceptedClient): Buffer {
  const destination: Endpoint = accepted.proxied?.destination ?? accepted.local;
  return encodeProxyHeader(version, accepted.client, destination);
}

/**
 * A dialer that opens each upstream connection with a PROXY header for that client: TCP, or TLS
 * with the header on the raw connection before the handshake. `dial` is the plain-socket test seam.
 */
export function proxyHeaderDialer(
  target: TransportAddress,
  version: ProxyProtocolVersion,
  tlsConfig: TlsClientConfig | undefined,
  dial?: (upstream: HostPort) => net.Socket,
): (accepted: AcceptedClient) => DialedUpstream {
  if (target.transport !== 'tcp' && target.transport !== 'tls') {
    throw new Error(`the PROXY protocol is sent on TCP and TLS upstreams, not ${target.transport}://`);
  }
  const hostPort: HostPort = { host: target.host, port: target.port };
  const connect = (): net.Socket =>
    dial !== undefined
      ? dial(hostPort)
      : net.connect({ host: hostPort.host, port: hostPort.port, allowHalfOpen: true, noDelay: true });
  if (target.transport === 'tcp') {
    return (accepted) => {
      const raw = connect();
      // Written while connecting: it goes out first, ahead of anything the pair forwards.
      raw.write(upstreamProxyHeader(version, accepted));
      return socketUpstream(raw);
    };
  }
  const options = { ...tlsConnectOptions(hostPort, tlsConfig ?? {}), allowHalfOpen: true };
  return (accepted) => {
    const raw = connect();
    raw.write(upstreamProxyHeader(version, accepted));
    return tlsUpstream(tls.connect({ ...options, socket: raw }));
  };
}
