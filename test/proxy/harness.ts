/** Shared pieces for the transport tests: a recording observer, plain TCP peers, hashing. */
import { createHash, type Hash } from 'node:crypto';
import * as net from 'node:net';
import type {
  CloseInfo,
  ConnectionObserver,
  Direction,
  OpenInfo,
  ProxyObserver,
  UpstreamErrorInfo,
} from '../../src/observe/observer.js';

export const sha256 = (buf: Buffer | Uint8Array): string => createHash('sha256').update(buf).digest('hex');

/** Every call the proxy makes on one connection, in order, plus running hashes of observed bytes. */
export class RecordedConnection implements ConnectionObserver {
  readonly events: string[] = [];
  readonly bytes = { client: 0, broker: 0 };
  readonly upstreamErrors: UpstreamErrorInfo[] = [];
  connectedInfo: OpenInfo | undefined;
  closeInfo: CloseInfo | undefined;
  closeCount = 0;
  readonly closed: Promise<CloseInfo>;
  private readonly hashes: Record<Direction, Hash> = {
    client: createHash('sha256'),
    broker: createHash('sha256'),
  };
  private resolveClosed!: (info: CloseInfo) => void;

  constructor(readonly info: OpenInfo) {
    this.closed = new Promise((resolve) => {
      this.resolveClosed = resolve;
    });
  }

  data(from: Direction, chunk: Buffer): void {
    if (this.events.at(-1) !== `data:${from}`) this.events.push(`data:${from}`);
    this.bytes[from] += chunk.length;
    this.hashes[from].update(chunk);
  }

  upstreamConnected(info: OpenInfo): void {
    this.events.push('upstreamConnected');
    this.connectedInfo = info;
  }

  upstreamError(info: UpstreamErrorInfo): void {
    this.events.push('upstreamError');
    this.upstreamErrors.push(info);
  }

  close(info: CloseInfo): void {
    this.events.push('close');
    this.closeCount += 1;
    this.closeInfo = info;
    this.resolveClosed(info);
  }

  digest(from: Direction): string {
    return this.hashes[from].copy().digest('hex');
  }
}

export class RecordingObserver implements ProxyObserver {
  readonly connections: RecordedConnection[] = [];
  private waiters: Array<(c: RecordedConnection) => void> = [];

  open(info: OpenInfo): RecordedConnection {
    const conn = new RecordedConnection(info);
    this.connections.push(conn);
    for (const w of this.waiters.splice(0)) w(conn);
    return conn;
  }

  /** The n-th connection (0-based), once opened. */
  async nth(n: number): Promise<RecordedConnection> {
    while (this.connections.length <= n) await new Promise<RecordedConnection>((r) => this.waiters.push(r));
    return this.connections[n]!;
  }
}

export interface PlainServer {
  port: number;
  sockets: Set<net.Socket>;
  close(): Promise<void>;
}

/**
 * A plain TCP server on 127.0.0.1:0 handing each socket to `onSocket`. Without allowHalfOpen a
 * peer's FIN closes the socket, as most brokers do.
 */
export async function plainServer(
  onSocket: (socket: net.Socket) => void,
  allowHalfOpen = false,
): Promise<PlainServer> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen }, (socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.once('close', () => sockets.delete(socket));
    onSocket(socket);
  });
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
  const addr = server.address() as net.AddressInfo;
  return {
    port: addr.port,
    sockets,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

export function connectClient(port: number, allowHalfOpen = false): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port, allowHalfOpen });
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/** Reads a socket to its end; resolves with the sha256 and byte count of everything received. */
export function drainToHash(socket: net.Socket): Promise<{ sha: string; bytes: number }> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    let bytes = 0;
    socket.on('data', (chunk: Buffer) => {
      hash.update(chunk);
      bytes += chunk.length;
    });
    socket.once('end', () => resolve({ sha: hash.digest('hex'), bytes }));
    socket.once('error', reject);
  });
}

/** Writes chunks in order honouring backpressure. */
export async function writeAll(socket: net.Socket, chunks: Iterable<Uint8Array>): Promise<void> {
  for (const chunk of chunks) {
    if (!socket.write(chunk)) {
      await new Promise<void>((resolve, reject) => {
        const onDrain = (): void => {
          socket.off('close', onClose);
          resolve();
        };
        const onClose = (): void => {
          socket.off('drain', onDrain);
          reject(new Error('socket closed while writing'));
        };
        socket.once('drain', onDrain);
        socket.once('close', onClose);
      });
    }
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function waitUntil(cond: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** Resolves when the socket has closed (it may already have). */
export function whenClosed(socket: net.Socket): Promise<void> {
  if (socket.closed) return Promise.resolve();
  return new Promise((resolve) => socket.once('close', () => resolve()));
}
