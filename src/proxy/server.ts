/**
 * The forwarding path: TCP listeners and, per accepted client, a socket pair to the broker.
 *
 * Bytes are written to the other side first and shown to the observer afterwards; observer calls
 * sit in try/catch so the tap can never delay, alter or break forwarding. Backpressure is the socket
 * pair's: a `write()` that returns false pauses the reading side until the writing side drains.
 */
import * as net from 'node:net';
import { performance } from 'node:perf_hooks';
import { formatHostPort, type HostPort } from './address.js';
import type {
  CloseInfo,
  ConnectionObserver,
  Direction,
  Endpoint,
  OpenInfo,
  ProxyObserver,
  UpstreamErrorInfo,
} from './observer.js';

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

export interface StartProxyOptions {
  listen: readonly HostPort[];
  upstream: HostPort;
  observer: ProxyObserver;
  onError?: ProxyErrorHandler;
  /** Give up dialling the broker after this long (default 10 s); reported as ETIMEDOUT. */
  connectTimeoutMs?: number;
  /** Client bytes held while the broker connection is being made before the client is paused (64 KiB). */
  pendingLimit?: number;
  /** Opens the upstream socket (default `net.connect`); the seam for TLS dialers and for tests. */
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
  /** `host:port` of the broker, as reported in OpenInfo. */
  upstream: string;
  connections(): ConnectionStats[];
  /**
   * Stops accepting, waits up to `graceMs` for connections to end on their own, then destroys the
   * rest (closedBy `proxy`). Idempotent; a later call with a shorter grace brings the deadline forward.
   */
  close(graceMs: number): Promise<void>;
}

const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
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

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
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
  private closedBy: Direction | 'proxy' | undefined;
  private error: CloseInfo['error'];
  private clientClosed = false;
  private brokerClosed = false;
  private finished = false;

  constructor(
    private readonly client: net.Socket,
    private readonly broker: net.Socket,
    upstream: string,
    private readonly pendingLimit: number,
    private readonly onError: ProxyErrorHandler | undefined,
    private readonly onFinished: (pair: SocketPair) => void,
  ) {
    this.id = nextConnId();
    this.info = {
      conn: this.id,
      client: { address: client.remoteAddress ?? '', port: client.remotePort ?? 0 },
      local: { address: client.localAddress ?? '', port: client.localPort ?? 0 },
      upstream,
      transport: 'tcp',
      startedAt: Date.now(),
    };
  }

  start(observer: ProxyObserver, connectTimeoutMs: number): void {
    try {
      this.observer = observer.open(this.info);
    } catch (err) {
      this.observerFault(err, 'open');
    }
    const { client, broker } = this;
    client.setNoDelay(true);
    client.on('data', this.onClientData);
    client.on('end', this.onClientEnd);
    client.on('error', this.onClientError);
    client.on('close', this.onClientClose);
    client.on('drain', this.onClientDrain);
    broker.on('connect', this.onBrokerConnect);
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
    if (this.upstreamReady) this.broker.end();
    else this.clientEndedEarly = true;
  };

  // --- broker → client -------------------------------------------------------------------------

  private readonly onBrokerData = (chunk: Buffer): void => {
    this.fromBroker += chunk.length;
    if (!this.client.write(chunk)) this.broker.pause();
    this.notifyData('broker', chunk);
  };

  private readonly onClientDrain = (): void => {
    this.broker.resume();
  };

  private readonly onBrokerEnd = (): void => {
    this.markCloser('broker');
    this.client.end();
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
    broker.setNoDelay(true);
    const upstreamLocal = { address: broker.localAddress ?? '', port: broker.localPort ?? 0 };
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
    if (this.clientEndedEarly) broker.end();
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
      if (this.upstreamReady && this.error === undefined) this.broker.end();
      else this.broker.destroy();
    }
    this.maybeFinish();
  };

  private readonly onBrokerClose = (): void => {
    this.brokerClosed = true;
    this.markCloser('broker');
    this.clearConnectTimer();
    if (!this.clientClosed) {
      if (this.error === undefined) this.client.end();
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
    try {
      this.observer.close(info);
    } catch (err) {
      this.observerFault(err, 'close');
    }
    this.onFinished(this);
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

function listenOn(server: net.Server, { host, port }: HostPort): Promise<Endpoint> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => {
      server.off('listening', onListening);
      reject(
        new Error(`cannot listen on ${formatHostPort({ host, port })}: ${errorMessage(err)}`, { cause: err }),
      );
    };
    const onListening = (): void => {
      server.off('error', onError);
      const addr = server.address();
      if (addr === null || typeof addr === 'string') {
        reject(new Error(`unexpected listener address ${String(addr)}`));
        return;
      }
      resolve({ address: addr.address, port: addr.port });
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen({ host, port, exclusive: true });
  });
}

function closeServer(server: net.Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) {
      resolve();
      return;
    }
    server.close(() => resolve());
  });
}

/** Starts one listener per address; every accepted client gets its own broker connection. */
export async function startProxy(options: StartProxyOptions): Promise<RunningProxy> {
  const { listen, observer, onError } = options;
  const upstreamTarget = { host: options.upstream.host, port: options.upstream.port };
  if (listen.length === 0) throw new Error('startProxy: no listen address');
  if (!Number.isInteger(upstreamTarget.port) || upstreamTarget.port < 1 || upstreamTarget.port > 65535) {
    throw new Error(`startProxy: invalid upstream port ${upstreamTarget.port}`);
  }
  const upstream = formatHostPort(upstreamTarget);
  const connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  const pendingLimit = options.pendingLimit ?? DEFAULT_PENDING_LIMIT;
  const dial =
    options.dial ??
    ((target: HostPort): net.Socket =>
      net.connect({ host: target.host, port: target.port, allowHalfOpen: true, noDelay: true }));

  const pairs = new Set<SocketPair>();
  let closing = false;
  let drained: (() => void) | undefined;
  const onFinished = (pair: SocketPair): void => {
    pairs.delete(pair);
    if (closing && pairs.size === 0) drained?.();
  };

  const onConnection = (client: net.Socket): void => {
    if (closing) {
      client.destroy();
      return;
    }
    let broker: net.Socket;
    try {
      broker = dial(upstreamTarget);
    } catch (err) {
      // A dialer that throws is a broken upstream, reported on the connection like any other.
      broker = new net.Socket({ allowHalfOpen: true });
      const failed = broker;
      queueMicrotask(() => failed.destroy(err instanceof Error ? err : new Error(String(err))));
    }
    const pair = new SocketPair(client, broker, upstream, pendingLimit, onError, onFinished);
    pairs.add(pair);
    pair.start(observer, connectTimeoutMs);
  };

  const servers: net.Server[] = [];
  const addresses: Endpoint[] = [];
  try {
    for (const addr of listen) {
      const server = net.createServer({ allowHalfOpen: true, noDelay: true }, onConnection);
      servers.push(server);
      addresses.push(await listenOn(server, addr));
      server.on('error', (err: Error) => {
        // After listening, errors are accept failures (e.g. EMFILE); the listener carries on.
        onError?.(err, { where: 'server', detail: formatHostPort(addr) });
      });
    }
  } catch (err) {
    await Promise.all(servers.map(closeServer));
    throw err;
  }

  let closed: Promise<void> | undefined;
  let deadline = Number.POSITIVE_INFINITY;
  let forceTimer: NodeJS.Timeout | undefined;
  const forceClose = (): void => {
    forceTimer = undefined;
    for (const pair of pairs) pair.destroy();
  };

  return {
    addresses,
    upstream,
    connections: () => Array.from(pairs, (pair) => pair.stats()),
    close(graceMs: number): Promise<void> {
      if (closed === undefined) {
        closing = true;
        const allEnded = new Promise<void>((resolve) => {
          drained = resolve;
          if (pairs.size === 0) resolve();
        });
        closed = Promise.all([...servers.map(closeServer), allEnded]).then(() => {
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
