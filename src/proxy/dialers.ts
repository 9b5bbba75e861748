/**
 * Upstream dialers, one per transport. Each returns the stream at once (bytes the client sends
 * meanwhile are held by the socket pair) and says when MQTT bytes can flow: after the TCP connect,
 * after a verified TLS handshake, after the WebSocket upgrade. Any failure before that, including
 * a certificate that does not verify, is the stream's `error` with Node's/OpenSSL's code.
 */
import type * as http from 'node:http';
import * as net from 'node:net';
import * as tls from 'node:tls';
import type { ClientOptions, WebSocket } from 'ws';
import {
  DEFAULT_WS_PATH,
  formatAddress,
  formatHostPort,
  type HostPort,
  redactQuery,
  type TransportAddress,
} from './address.js';
import type { DialedUpstream, Dialer } from './peer.js';
import { socketEndpoint } from './peer.js';
import { type TlsClientConfig, upstreamTlsHint } from './tls-info.js';
import { TLS_WRITE_SLICE, TlsPeer } from './tls-writes.js';
import { WebSocketPeer } from './websocket-stream.js';
import { wsModule } from './ws-module.js';

/** A plain socket as a DialedUpstream (also the shape of the `dial` test seam). */
export function socketUpstream(socket: net.Socket, readyEvent = 'connect'): DialedUpstream {
  return {
    stream: socket,
    onReady(callback) {
      socket.once(readyEvent, () => {
        socket.setNoDelay(true);
        callback();
      });
    },
    localEndpoint: () => socketEndpoint(socket.localAddress, socket.localPort),
  };
}

/** A TLS connection to the broker, written a record at a time (tls-writes.ts). */
export function tlsUpstream(socket: tls.TLSSocket): DialedUpstream {
  return { ...socketUpstream(socket, 'secureConnect'), stream: new TlsPeer(socket), hint: hintFor };
}

export function tlsConnectOptions(target: HostPort, config: TlsClientConfig): tls.ConnectionOptions {
  const opts: tls.ConnectionOptions = {
    host: target.host,
    port: target.port,
    rejectUnauthorized: config.insecure !== true,
  };
  // SNI must not be an IP address (RFC 6066 §3); Node then checks the IP against the SANs.
  const servername = config.servername ?? (net.isIP(target.host) === 0 ? target.host : undefined);
  if (servername !== undefined) opts.servername = servername;
  if (config.ca !== undefined) opts.ca = config.ca;
  if (config.cert !== undefined) opts.cert = config.cert;
  if (config.key !== undefined) opts.key = config.key;
  if (config.alpn !== undefined && config.alpn.length > 0) opts.ALPNProtocols = config.alpn;
  return opts;
}

export const hintFor = (err: Error): string | undefined => {
  const code = (err as Error & { code?: unknown }).code;
  return upstreamTlsHint(typeof code === 'string' ? code : undefined);
};

/** The WebSocket URL to dial; IPv6 hosts bracketed. */
export function webSocketUrl(target: TransportAddress): string {
  const scheme = target.transport === 'wss' ? 'wss' : 'ws';
  return `${scheme}://${formatHostPort(target)}${target.path ?? DEFAULT_WS_PATH}`;
}

/** What the dialers need besides the target. */
export interface DialerOptions {
  /** Verification and client certificate for mqtts:// and wss://. */
  tls?: TlsClientConfig;
  /** ws:// and wss://: the largest message accepted from the broker. */
  wsMaxMessage: number;
}

function webSocketUpstream(target: TransportAddress, dialerOptions: DialerOptions): DialedUpstream {
  const config = dialerOptions.tls;
  // ws hands TLS options through to tls.connect; its types list only some of them.
  const options: ClientOptions & Pick<tls.ConnectionOptions, 'servername' | 'ALPNProtocols'> = {
    perMessageDeflate: false,
    maxPayload: dialerOptions.wsMaxMessage,
    // Redirects would send the client's CONNECT (and password) somewhere the user did not name.
    followRedirects: false,
  };
  if (target.transport === 'wss') {
    const t = config ?? {};
    options.rejectUnauthorized = t.insecure !== true;
    if (t.servername !== undefined) options.servername = t.servername;
    if (t.ca !== undefined) options.ca = t.ca;
    if (t.cert !== undefined) options.cert = t.cert;
    if (t.key !== undefined) options.key = t.key;
    if (t.alpn !== undefined && t.alpn.length > 0) options.ALPNProtocols = t.alpn;
  }
  const url = webSocketUrl(target);
  let ws: WebSocket;
  try {
    ws = new (wsModule().WebSocket)(url, ['mqtt'], options);
  } catch (err) {
    // ws names the URL in some errors: the one shown has its query values redacted.
    if (err instanceof Error) err.message = err.message.split(url).join(formatAddress(target));
    throw err;
  }
  const peer = new WebSocketPeer(ws, undefined, {
    maxMessage: dialerOptions.wsMaxMessage,
    ...(target.transport === 'wss' ? { writeSlice: TLS_WRITE_SLICE } : {}),
  });
  let socket: net.Socket | undefined;
  ws.once('upgrade', (res: http.IncomingMessage) => {
    socket = res.socket as net.Socket;
    socket.setNoDelay(true);
  });
  // 'open' comes right after ws took the socket over: our listeners then run after its own.
  ws.once('open', () => {
    if (socket !== undefined) peer.watchSocket(socket);
  });
  // A 401/403/404 is the broker's answer, not a transport failure: name the status.
  ws.once('unexpected-response', (_req: http.ClientRequest, res: http.IncomingMessage) => {
    const status = `${res.statusCode ?? '?'} ${res.statusMessage ?? ''}`.trim();
    res.resume();
    peer.destroy(
      Object.assign(
        new Error(
          `the broker answered the WebSocket upgrade of ${redactQuery(target.path ?? DEFAULT_WS_PATH)} with HTTP ${status}`,
        ),
        { code: 'WS_UNEXPECTED_RESPONSE' },
      ),
    );
  });
  return {
    stream: peer,
    onReady(callback) {
      ws.once('open', callback);
    },
    localEndpoint: () => socketEndpoint(socket?.localAddress, socket?.localPort),
    hint(err) {
      if ((err as Error & { code?: unknown }).code === 'WS_UNEXPECTED_RESPONSE') {
        return 'is the path right (most brokers use /mqtt), and is it a WebSocket listener?';
      }
      if (/Server sent no subprotocol|Server sent an invalid subprotocol/.test(err.message)) {
        return 'the broker did not accept the subprotocol "mqtt"';
      }
      return hintFor(err);
    },
  };
}

/**
 * The dialer for `target`: TCP, TLS (verified unless `insecure`), WebSocket or WebSocket over TLS.
 * Each call makes one new upstream connection.
 */
export function createDialer(target: TransportAddress, options: DialerOptions): Dialer {
  const hostPort: HostPort = { host: target.host, port: target.port };
  const tlsConfig = options.tls;
  switch (target.transport) {
    case 'tcp':
      return () =>
        socketUpstream(
          net.connect({ host: hostPort.host, port: hostPort.port, allowHalfOpen: true, noDelay: true }),
        );
    case 'tls': {
      const opts = { ...tlsConnectOptions(hostPort, tlsConfig ?? {}), allowHalfOpen: true };
      return () => tlsUpstream(tls.connect(opts));
    }
    case 'ws':
    case 'wss':
      return () => webSocketUpstream(target, options);
  }
}
