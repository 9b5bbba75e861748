/**
 * The forwarding path: listeners and, per accepted client, a socket pair to the broker.
 *
 * Bytes are written to the other side first and shown to the observer afterwards; observer calls
 * sit in try/catch so the tap can never delay, alter or break forwarding. Backpressure is the socket
 * pair's: a `write()` that returns false pauses the reading side until the writing side drains.
 *
 * The pair does not know the transport: both ends are PeerStreams (peer.ts). A TCP end is the
 * socket itself, a TLS end a TlsPeer, a WebSocket end a WebSocketPeer. Listeners (listeners.ts)
 * hand over clients once their handshakes are done, dialers (dialers.ts) say when the upstream is
 * ready.
 */

import type * as net from 'node:net';
import { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type {
  CloseInfo,
  ConnectionObserver,
  Direction,
  Endpoint,
  HandshakeFailure,
  OpenInfo,
  ProxyObserver,
  RefusedClient,
  UpstreamErrorInfo,
} from '../observe/observer.js';
import {
  formatAddress,
  type HostPort,
  isTlsTransport,
  type Transport,
  type TransportAddress,
} from './address.js';
import { createDialer, socketUpstream } from './dialers.js';
import { DEFAULT_MAX_CONNECTIONS, DEFAULT_WS_MAX_MESSAGE, WS_MAX_MESSAGE_LIMIT } from './limits.js';
import { type Listener, type ListenerOptions, type ListenerSpec, openListener } from './listeners.js';
import { normalizeOrigin } from './origin.js';
import type { AcceptedClient, DialedUpstream, Dialer, PeerStream } from './peer.js';
import type { ProxyProtocolVersion } from './proxy-protocol.js';
import { type TlsClientConfig, type TlsServerConfig, unverifiableClients } from './tls-info.js';
import { WebSocketPeer } from './websocket-stream.js';

export type { HostPort } from './address.js';

/** Where an error that is not the connection's own came from. */
export interface ProxyErrorContext {
  /** `observer`: the observer threw (reported once per connection); `server`: a listener failed. */
  where: 'observer' | 'server';
  conn?: string;
  /** Observer method or listener address involved. */
  detail?: string;
}

export type ProxyErrorHandler = (err: unknown, context: ProxyErrorContext) => void;

/**
 * A listen address; without `transport`, plain TCP. `acceptProxyProtocol`: every connection must
 * open with a PROXY protocol header (v1 or v2), whose source becomes the client.
 */
export type ListenSpec = HostPort & { transport?: Transport; path?: string; acceptProxyProtocol?: boolean };

export interface StartProxyOptions {
  listen: readonly ListenSpec[];
  /** The broker; without `transport`, plain TCP. */
  upstream: HostPort & { transport?: Transport; path?: string };
  observer: ProxyObserver;
  onError?: ProxyErrorHandler;
  /** Certificate and key for mqtts:// and wss:// listeners (required when there is one). */
  tls?: TlsServerConfig;
  /** Verification and client certificate for an mqtts:// or wss:// upstream. */
  upstreamTls?: TlsClientConfig;
  /** Give up dialling the broker after this long (default 10 s); reported as ETIMEDOUT. */
  connectTimeoutMs?: number;
  /** Client bytes held while the broker connection is being made before the client is paused (64 KiB). */
  pendingLimit?: number;
  /**
   * Origins whose web pages may open a WebSocket (see origin.ts; `*` for any). Default none:
   * handshakes with an Origin header are refused, those without one admitted.
   */
  wsOrigins?: readonly string[];
  /** Forwarded connections at once (default DEFAULT_MAX_CONNECTIONS); more are refused, never dialled. */
  maxConnections?: number;
  /**
   * With a client certificate in `upstreamTls`: forward every client with it, verified or not.
   * Default false: every listener must verify clients (TLS, requestCert, ca), and a client whose
   * certificate did not verify is refused.
   */
  upstreamCertForAll?: boolean;
  /** Largest WebSocket message accepted from a client or a ws:// broker (default DEFAULT_WS_MAX_MESSAGE). */
  wsMaxMessage?: number;
  /** Open each TCP or TLS upstream connection with a PROXY protocol header naming the client. */
  upstreamProxyProtocol?: ProxyProtocolVersion;
  /** Opens a plain upstream socket instead of `net.connect` (the test seam; TCP upstreams only). */
  dial?: (upstream: HostPort) => net.Socket;
}

export interface ConnectionStats {
  conn: string;
  state: 'connecting' | 'open' | 'closing';
  bytes: { fromClient: number; fromBroker: number };
  /** Client bytes held until the upstream connects. */
  pending: number;
  /** Bytes forwarded but still in Node's write buffer (not yet handed to the kernel). */
  buffered: { toClient: number; toBroker: number };
}

export interface RunningProxy {
  /** Bound listener addresses (ports resolved when 0 was asked for). */
  addresses: Endpoint[];
  /** The listeners as shown in logs, in the same order: `host:port` for TCP, else a URL. */
  urls: string[];
  /** The broker as reported in OpenInfo: `host:port` for TCP, else a URL. */
  upstream: string;
  connections(): ConnectionStats[];
  /**
   * Stops accepting, waits up to `graceMs` for connections to end on their own, then destroys the
   * rest (closedBy `proxy`). Idempotent; a later call with a shorter grace brings the deadline forward.
   */
  close(graceMs: number): Promise<void>;
}

const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
/** Out of file descriptors: what to change (each forwarded connection holds two). */
const DESCRIPTOR_HINTS: Record<string, string> = {
  EMFILE: 'mqtt-tap is out of file descriptors: raise its limit (ulimit -n) or lower --max-connections',
  ENFILE: 'the system is out of file descriptors: raise fs.file-max or lower --max-connections',
};

/** WebSocket close codes for a refused client: Try Again Later, Policy Violation (IANA registry). */
const WS_TRY_AGAIN_LATER = 1013;
const WS_POLICY_VIOLATION = 1008;
const DEFAULT_PENDING_LIMIT = 64 * 1024;

let connCounter = 0;
/** Short ids, unique in the process across every proxy it starts. */
function nextConnId(): string {
  connCounter += 1;
  return `c${connCounter}`;
}

function errorCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string')
    return err.code;
  return undefined;
}

const NOOP_CONNECTION_OBSERVER: ConnectionObserver = {
  data() {},
  upstreamError() {},
  close() {},
};

/**
 * One client connection and its own broker connection. Handlers are bound once per connection so
 * the per-chunk path allocates nothing beyond what the sockets already do.
 */
class SocketPair {
  readonly id: string;
  private readonly info: OpenInfo;
  private readonly t0 = performance.now();
  private observer: ConnectionObserver = NOOP_CONNECTION_OBSERVER;
  private observerFailed = false;

  private upstreamReady = false;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private clientEndedEarly = false;
  private connectTimer: NodeJS.Timeout | undefined;

  private fromClient = 0;
  private fromBroker = 0;
  /** Bytes that arrived once the other side could no longer take them: neither counted nor shown. */
  private notForwardedFromClient = 0;
  private notForwardedFromBroker = 0;
  private closedBy: Direction | 'proxy' | undefined;
  private error: CloseInfo['error'];
  private clientClosed = false;
  private brokerClosed = false;
  // end() on a stream that has already finished builds an error with a stack trace: once is enough.
  private clientEnded = false;
  private brokerEnded = false;
  private finished = false;

  private readonly client: PeerStream;
  private readonly broker: PeerStream;

  constructor(
    accepted: AcceptedClient,
    private readonly upstreamConn: DialedUpstream,
    upstream: string,
    private readonly pendingLimit: number,
    private readonly onError: ProxyErrorHandler | undefined,
    private readonly onFinished: (pair: SocketPair) => void,
  ) {
    this.id = nextConnId();
    this.client = accepted.stream;
    this.broker = upstreamConn.stream;
    this.info = {
      conn: this.id,
      client: accepted.client,
      local: accepted.local,
      listener: accepted.listener,
      upstream,
      transport: accepted.transport,
      startedAt: Date.now(),
    };
    if (accepted.tls !== undefined) this.info.tls = accepted.tls;
    if (accepted.websocket !== undefined) this.info.websocket = accepted.websocket;
    if (accepted.proxied !== undefined) this.info.proxied = accepted.proxied;
  }

  start(observer: ProxyObserver, connectTimeoutMs: number): void {
    try {
      this.observer = observer.open(this.info);
    } catch (err) {
      this.observerFault(err, 'open');
    }
    const { client, broker } = this;
    client.on('data', this.onClientData);
    client.on('end', this.onClientEnd);
    client.on('error', this.onClientError);
    client.on('close', this.onClientClose);
    client.on('drain', this.onClientDrain);
    this.upstreamConn.onReady(this.onBrokerConnect);
    broker.on('data', this.onBrokerData);
    broker.on('end', this.onBrokerEnd);
    broker.on('error', this.onBrokerError);
    broker.on('close', this.onBrokerClose);
    broker.on('drain', this.onBrokerDrain);
    this.connectTimer = setTimeout(this.onConnectTimeout, connectTimeoutMs);
  }

  stats(): ConnectionStats {
    return {
      conn: this.id,
      state: this.closedBy !== undefined ? 'closing' : this.upstreamReady ? 'open' : 'connecting',
      bytes: { fromClient: this.fromClient, fromBroker: this.fromBroker },
      pending: this.pendingBytes,
      buffered: { toClient: this.client.writableLength, toBroker: this.broker.writableLength },
    };
  }

  /** Shutdown: the proxy ends the connection. */
  destroy(): void {
    this.markCloser('proxy');
    this.client.destroy();
    this.broker.destroy();
  }

  // --- client → broker -------------------------------------------------------------------------

  private readonly onClientData = (chunk: Buffer): void => {
    if (!this.upstreamReady) {
      // Held only until the broker answers the dial; past the limit, TCP holds the rest.
      this.pending.push(chunk);
      this.pendingBytes += chunk.length;
      if (this.pendingBytes >= this.pendingLimit) this.client.pause();
      return;
    }
    if (!this.broker.writable) {
      this.notForwardedFromClient += chunk.length;
      return;
    }
    this.fromClient += chunk.length;
    if (!this.broker.write(chunk)) this.client.pause();
    this.notifyData('client', chunk);
  };

  private readonly onBrokerDrain = (): void => {
    this.client.resume();
  };

  private readonly onClientEnd = (): void => {
    this.markCloser('client');
    // Half-close: the client's FIN goes on to the broker, which may still answer.
    if (this.upstreamReady) this.endBroker();
    else this.clientEndedEarly = true;
  };

  // --- broker → client -------------------------------------------------------------------------

  private readonly onBrokerData = (chunk: Buffer): void => {
    if (!this.client.writable) {
      this.notForwardedFromBroker += chunk.length;
      return;
    }
    this.fromBroker += chunk.length;
    if (!this.client.write(chunk)) this.broker.pause();
    this.notifyData('broker', chunk);
  };

  private readonly onClientDrain = (): void => {
    this.broker.resume();
  };

  private readonly onBrokerEnd = (): void => {
    this.markCloser('broker');
    this.endClient();
  };

  // --- upstream dial ---------------------------------------------------------------------------

  private readonly onBrokerConnect = (): void => {
    this.clearConnectTimer();
    if (this.closedBy === 'proxy' || this.client.destroyed) {
      this.broker.destroy();
      return;
    }
    this.upstreamReady = true;
    const { broker, client } = this;
    const upstreamLocal = this.upstreamConn.localEndpoint();
    if (this.observer.upstreamConnected) {
      try {
        this.observer.upstreamConnected({ ...this.info, upstreamLocal });
      } catch (err) {
        this.observerFault(err, 'upstreamConnected');
      }
    }
    const queued = this.pending;
    this.pending = [];
    this.pendingBytes = 0;
    let writable = true;
    for (const chunk of queued) {
      this.fromClient += chunk.length;
      writable = broker.write(chunk);
      this.notifyData('client', chunk);
    }
    if (this.clientEndedEarly) this.endBroker();
    else if (writable) client.resume();
    else client.pause();
  };

  private readonly onConnectTimeout = (): void => {
    this.connectTimer = undefined;
    if (this.upstreamReady || this.broker.destroyed) return;
    const err = Object.assign(new Error(`connect to ${this.info.upstream} timed out`), { code: 'ETIMEDOUT' });
    this.broker.destroy(err);
  };

  private clearConnectTimer(): void {
    if (this.connectTimer !== undefined) {
      clearTimeout(this.connectTimer);
      this.connectTimer = undefined;
    }
  }

  // --- failures and close ----------------------------------------------------------------------

  private readonly onClientError = (err: Error): void => {
    this.markCloser('client');
    this.recordError('client', err);
    this.broker.destroy();
  };

  private readonly onBrokerError = (err: Error): void => {
    this.markCloser('broker');
    this.recordError('broker', err);
    if (!this.upstreamReady && this.closedBy !== 'proxy') {
      const info: UpstreamErrorInfo = { upstream: this.info.upstream, message: err.message };
      const code = errorCode(err);
      if (code !== undefined) info.code = code;
      const hint = this.upstreamConn.hint?.(err) ?? (code !== undefined ? DESCRIPTOR_HINTS[code] : undefined);
      if (hint !== undefined) info.hint = hint;
      try {
        this.observer.upstreamError(info);
      } catch (e) {
        this.observerFault(e, 'upstreamError');
      }
      // Nothing was forwarded: drop what the client sent while we dialled.
      this.pending = [];
      this.pendingBytes = 0;
    }
    this.client.destroy();
  };

  private readonly onClientClose = (): void => {
    this.clientClosed = true;
    this.markCloser('client');
    // Whatever the client sent has been handed to the broker socket; end() flushes it, then FIN.
    if (!this.brokerClosed) {
      if (this.upstreamReady && this.error === undefined) this.endBroker();
      else this.broker.destroy();
    }
    this.maybeFinish();
  };

  private readonly onBrokerClose = (): void => {
    this.brokerClosed = true;
    this.markCloser('broker');
    this.clearConnectTimer();
    if (!this.clientClosed) {
      if (this.error === undefined) this.endClient();
      else this.client.destroy();
    }
    this.maybeFinish();
  };

  private maybeFinish(): void {
    if (this.finished || !this.clientClosed || !this.brokerClosed) return;
    this.finished = true;
    this.clearConnectTimer();
    const info: CloseInfo = {
      closedBy: this.closedBy ?? 'proxy',
      durationMs: Math.round((performance.now() - this.t0) * 1000) / 1000,
      bytes: { fromClient: this.fromClient, fromBroker: this.fromBroker },
    };
    if (this.error !== undefined) info.error = this.error;
    if (this.notForwardedFromClient > 0 || this.notForwardedFromBroker > 0) {
      info.notForwarded = {
        fromClient: this.notForwardedFromClient,
        fromBroker: this.notForwardedFromBroker,
      };
    }
    try {
      this.observer.close(info);
    } catch (err) {
      this.observerFault(err, 'close');
    }
    this.onFinished(this);
  }

  private endClient(): void {
    if (this.clientEnded) return;
    this.clientEnded = true;
    this.client.end();
  }

  private endBroker(): void {
    if (this.brokerEnded) return;
    this.brokerEnded = true;
    this.broker.end();
  }

  private markCloser(who: Direction | 'proxy'): void {
    this.closedBy ??= who;
  }

  private recordError(side: Direction, err: Error): void {
    if (this.error !== undefined) return;
    const code = errorCode(err);
    this.error = code !== undefined ? { side, code, message: err.message } : { side, message: err.message };
  }

  private notifyData(from: Direction, chunk: Buffer): void {
    try {
      this.observer.data(from, chunk);
    } catch (err) {
      this.observerFault(err, 'data');
    }
  }

  private observerFault(err: unknown, method: string): void {
    if (this.observerFailed) return;
    this.observerFailed = true;
    if (!this.onError) return;
    try {
      this.onError(err, { where: 'observer', conn: this.id, detail: method });
    } catch {
      // The error reporter itself failed; forwarding still must not notice.
    }
  }
}

/** Starts one listener per address; every accepted client gets its own broker connection. */
export async function startProxy(options: StartProxyOptions): Promise<RunningProxy> {
  const { listen, observer, onError } = options;
  const upstreamSpec: TransportAddress = {
    host: options.upstream.host,
    port: options.upstream.port,
    transport: options.upstream.transport ?? 'tcp',
  };
  if (options.upstream.path !== undefined) upstreamSpec.path = options.upstream.path;
  if (listen.length === 0) throw new Error('startProxy: no listen address');
  if (!Number.isInteger(upstreamSpec.port) || upstreamSpec.port < 1 || upstreamSpec.port > 65535) {
    throw new Error(`startProxy: invalid upstream port ${upstreamSpec.port}`);
  }
  for (const l of listen) {
    if (isTlsTransport(l.transport ?? 'tcp') && options.tls === undefined) {
      throw new Error(
        `startProxy: ${formatAddress({ ...l, transport: l.transport ?? 'tcp' })} needs options.tls`,
      );
    }
  }
  if (options.dial !== undefined && upstreamSpec.transport !== 'tcp') {
    throw new Error('startProxy: the dial seam opens plain sockets; it cannot serve a non-TCP upstream');
  }
  const upstream = formatAddress(upstreamSpec);
  const connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  const pendingLimit = options.pendingLimit ?? DEFAULT_PENDING_LIMIT;
  const wsMaxMessage = options.wsMaxMessage ?? DEFAULT_WS_MAX_MESSAGE;
  const wsOrigins = (options.wsOrigins ?? []).map(normalizeOrigin);
  const maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
  if (!Number.isInteger(maxConnections) || maxConnections < 1) {
    throw new Error(`startProxy: maxConnections must be a whole number from 1, got ${maxConnections}`);
  }
  // Clients ride on mqtt-tap's certificate only when verified, unless told otherwise.
  const verifiedOnly = options.upstreamTls?.cert !== undefined && options.upstreamCertForAll !== true;
  if (verifiedOnly) {
    for (const l of listen) {
      const transport = l.transport ?? 'tcp';
      const why = unverifiableClients(
        transport,
        options.tls?.requestCert === true,
        options.tls?.ca !== undefined,
      );
      if (why !== undefined) {
        throw new Error(
          `startProxy: clients of ${formatAddress({ ...l, transport })} ${why}, and would reach the broker with the upstream client certificate (upstreamCertForAll)`,
        );
      }
    }
  }
  // ws reads 0 as "no limit": a limit is always one.
  if (!Number.isInteger(wsMaxMessage) || wsMaxMessage < 1 || wsMaxMessage > WS_MAX_MESSAGE_LIMIT) {
    throw new Error(`startProxy: wsMaxMessage must be 1..${WS_MAX_MESSAGE_LIMIT}, got ${wsMaxMessage}`);
  }
  const customDial = options.dial;
  const upstreamTarget: HostPort = { host: upstreamSpec.host, port: upstreamSpec.port };
  const dialer: Dialer =
    customDial !== undefined
      ? () => socketUpstream(customDial(upstreamTarget))
      : createDialer(upstreamSpec, {
          ...(options.upstreamTls !== undefined ? { tls: options.upstreamTls } : {}),
          wsMaxMessage,
        });
  const proxyHeaderDial =
    options.upstreamProxyProtocol === undefined
      ? undefined
      : (await import('./proxy-protocol.js')).proxyHeaderDialer(
          upstreamSpec,
          options.upstreamProxyProtocol,
          options.upstreamTls,
          customDial,
        );

  const pairs = new Set<SocketPair>();
  let closing = false;
  let drained: (() => void) | undefined;
  const onFinished = (pair: SocketPair): void => {
    pairs.delete(pair);
    if (closing && pairs.size === 0) drained?.();
  };

  /** Closes a client at once, with a record, before any broker dial. */
  const refuse = (
    accepted: AcceptedClient,
    refusal: Omit<RefusedClient, 'listener' | 'client' | 'transport'>,
    wsStatus: number,
  ): void => {
    const info: RefusedClient = {
      listener: accepted.listener,
      client: accepted.client,
      transport: accepted.transport,
      ...refusal,
    };
    try {
      observer.refused?.(info);
    } catch (err) {
      onError?.(err, { where: 'observer', detail: 'refused' });
    }
    const { stream } = accepted;
    stream.on('error', () => {});
    if (stream instanceof WebSocketPeer) stream.closeWith(wsStatus);
    else stream.destroy();
  };

  const onClient = (accepted: AcceptedClient): void => {
    if (closing) {
      accepted.stream.destroy();
      return;
    }
    if (pairs.size >= maxConnections) {
      refuse(
        accepted,
        {
          code: 'MAX_CONNECTIONS',
          message: `${pairs.size} connections open, the most allowed (--max-connections)`,
          hint: 'raise --max-connections if this many clients are expected',
        },
        WS_TRY_AGAIN_LATER,
      );
      return;
    }
    if (verifiedOnly && accepted.certificate?.verified !== true) {
      refuse(
        accepted,
        {
          code: 'CLIENT_CERT_NOT_VERIFIED',
          message: `client certificate not verified (${accepted.certificate?.reason ?? 'none asked for'}): only verified clients reach the broker with mqtt-tap's upstream certificate`,
          hint: 'give the client a certificate signed by --tls-ca, or let every client use it: --upstream-cert-for-all',
        },
        WS_POLICY_VIOLATION,
      );
      return;
    }
    let dialed: DialedUpstream;
    try {
      dialed = proxyHeaderDial !== undefined ? proxyHeaderDial(accepted) : dialer();
    } catch (err) {
      // A dialer that throws is a broken upstream, reported on the connection like any other.
      const failed = new Socket({ allowHalfOpen: true });
      queueMicrotask(() => failed.destroy(err instanceof Error ? err : new Error(String(err))));
      dialed = socketUpstream(failed);
    }
    const pair = new SocketPair(accepted, dialed, upstream, pendingLimit, onError, onFinished);
    pairs.add(pair);
    pair.start(observer, connectTimeoutMs);
  };

  const onHandshakeFailed = (info: HandshakeFailure): void => {
    if (observer.handshakeFailed === undefined) return;
    try {
      observer.handshakeFailed(info);
    } catch (err) {
      onError?.(err, { where: 'observer', detail: 'handshakeFailed' });
    }
  };

  const listeners: Listener[] = [];
  try {
    for (const addr of listen) {
      const spec: ListenerSpec = { host: addr.host, port: addr.port, transport: addr.transport ?? 'tcp' };
      if (addr.path !== undefined) spec.path = addr.path;
      if (addr.acceptProxyProtocol === true) spec.acceptProxyProtocol = true;
      const listenerOptions: ListenerOptions = { wsMaxMessage, wsOrigins };
      if (options.tls !== undefined) listenerOptions.tls = options.tls;
      const listener = await openListener(spec, listenerOptions, {
        onClient,
        onHandshakeFailed,
        // After listening, errors are accept failures (e.g. EMFILE); the listener carries on.
        onServerError: (err) => onError?.(err, { where: 'server', detail: listener.url }),
      });
      listeners.push(listener);
    }
  } catch (err) {
    await Promise.all(listeners.map((l) => l.close()));
    throw err;
  }
  const addresses = listeners.map((l) => l.address);
  const urls = listeners.map((l) => l.url);

  let closed: Promise<void> | undefined;
  let deadline = Number.POSITIVE_INFINITY;
  let forceTimer: NodeJS.Timeout | undefined;
  const forceClose = (): void => {
    forceTimer = undefined;
    for (const pair of pairs) pair.destroy();
  };

  return {
    addresses,
    urls,
    upstream,
    connections: () => Array.from(pairs, (pair) => pair.stats()),
    close(graceMs: number): Promise<void> {
      if (closed === undefined) {
        closing = true;
        const allEnded = new Promise<void>((resolve) => {
          drained = resolve;
          if (pairs.size === 0) resolve();
        });
        closed = Promise.all([...listeners.map((l) => l.close()), allEnded]).then(() => {
          if (forceTimer !== undefined) clearTimeout(forceTimer);
        });
      }
      const grace = Number.isFinite(graceMs) ? Math.max(0, graceMs) : Number.POSITIVE_INFINITY;
      const newDeadline = performance.now() + grace;
      if (Number.isFinite(grace) && newDeadline < deadline && pairs.size > 0) {
        deadline = newDeadline;
        if (forceTimer !== undefined) clearTimeout(forceTimer);
        forceTimer = setTimeout(forceClose, grace);
      }
      return closed;
    },
  };
}
