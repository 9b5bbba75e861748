/**
 * The soak's clients for the four listener kinds, as one byte pipe: plain TCP, TLS, WebSocket and
 * WebSocket over TLS. The WebSocket client is the soak's own (RFC 6455, client side): every chunk
 * written is one masked binary frame, and faults can send what no library would. The TCP socket
 * under every pipe is kept, so any pipe can be reset (RST) mid-packet.
 */
import { randomBytes } from 'node:crypto';
import * as net from 'node:net';
import { Duplex } from 'node:stream';
import * as tls from 'node:tls';

export type Transport = 'tcp' | 'tls' | 'ws' | 'wss';
export const TRANSPORTS: readonly Transport[] = ['tcp', 'tls', 'ws', 'wss'];

export interface Endpoints {
  host: string;
  tcp: number;
  tls: number;
  ws: number;
  wss: number;
  wsPath: string;
}

export const isWebSocket = (t: Transport): boolean => t === 'ws' || t === 'wss';
export const isTls = (t: Transport): boolean => t === 'tls' || t === 'wss';

export function portOf(e: Endpoints, t: Transport): number {
  return e[t];
}

/** A TCP connection (allowHalfOpen, no Nagle) that resolves once connected. */
export function dialTcp(host: string, port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port, allowHalfOpen: true, noDelay: true });
    s.once('connect', () => {
      s.off('error', reject);
      resolve(s);
    });
    s.once('error', reject);
  });
}

/**
 * `raw` as a stream TLS can run over without taking its handle: Node crashes (SIGSEGV) when a socket
 * whose handle a TLSSocket wraps is reset with resetAndDestroy(), and faults reset TLS connections.
 */
function handleFree(raw: net.Socket): Duplex {
  const d = new Duplex({
    allowHalfOpen: true,
    read() {
      raw.resume();
    },
    write(chunk: Buffer, _enc, cb) {
      if (raw.destroyed) cb();
      else raw.write(chunk, () => cb());
    },
    final(cb) {
      raw.end();
      cb();
    },
    destroy(err, cb) {
      raw.destroy();
      cb(err);
    },
  });
  raw.on('data', (c: Buffer) => {
    if (!d.push(c)) raw.pause();
  });
  raw.on('end', () => d.push(null));
  raw.on('error', (err) => d.destroy(err));
  raw.on('close', () => d.destroy());
  return d;
}

/** One client context for every connection (a context per connection costs CPU for nothing). */
let clientContext: tls.SecureContext | undefined;

/** A TLS client over `raw` (self-signed server: not verified); `raw` can still be reset. */
export function tlsOver(raw: net.Socket, resettable = true): tls.TLSSocket {
  clientContext ??= tls.createSecureContext();
  const socket = resettable ? handleFree(raw) : raw;
  return tls.connect({
    socket,
    secureContext: clientContext,
    rejectUnauthorized: false,
    servername: 'localhost',
  });
}

/** TLS over `raw`, resolved once the handshake is done. */
export function startTls(raw: net.Socket, resettable = true): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const s = tlsOver(raw, resettable);
    s.once('secureConnect', () => {
      s.off('error', reject);
      resolve(s);
    });
    s.once('error', reject);
  });
}

/** The HTTP request that asks for a WebSocket at `path`. */
export function upgradeRequest(host: string, port: number, path: string, extra = ''): string {
  return (
    `GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n` +
    `Sec-WebSocket-Protocol: mqtt\r\n${extra}\r\n`
  );
}

/** A client frame: FIN, `opcode`, masked with `mask` (4 bytes), `payload`; `declared` may lie. */
export function wsFrame(opcode: number, payload: Buffer, mask: Buffer, declared = payload.length): Buffer {
  const ext = declared < 126 ? 0 : declared < 0x10000 ? 2 : 8;
  const head = Buffer.allocUnsafe(2 + ext + 4);
  head[0] = 0x80 | opcode;
  if (ext === 0) head[1] = 0x80 | declared;
  else if (ext === 2) {
    head[1] = 0x80 | 126;
    head.writeUInt16BE(declared, 2);
  } else {
    head[1] = 0x80 | 127;
    head.writeBigUInt64BE(BigInt(declared), 2);
  }
  mask.copy(head, 2 + ext);
  // A zero key masks nothing (valid, if predictable): large frames skip the copy.
  if (mask.readInt32LE(0) === 0) return Buffer.concat([head, payload]);
  const body = Buffer.allocUnsafe(payload.length);
  const n = payload.length;
  const m = mask.readInt32LE(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) body.writeInt32LE(payload.readInt32LE(i) ^ m, i);
  for (; i < n; i++) body[i] = payload[i]! ^ mask[i & 3]!;
  return Buffer.concat([head, body]);
}

const EMPTY = Buffer.alloc(0);

export interface Pipe {
  readonly transport: Transport;
  /** The TCP connection underneath. */
  readonly raw: net.Socket;
  /** Sends a chunk (one binary frame on a WebSocket); false: wait for `drained()`. */
  write(chunk: Buffer): boolean;
  /** Sends bytes as they are, under the WebSocket framing but above TLS (hand-made frames). */
  sendRaw(bytes: Buffer): void;
  drained(): Promise<void>;
  /** TCP/TLS: FIN, reading goes on. WebSocket: a close frame (1000). */
  end(): void;
  /** RST. */
  reset(): void;
  destroy(): void;
  /** Bytes from the other side (WebSocket: binary frame payloads). */
  onData: (chunk: Buffer) => void;
  /** The other side ended (FIN, or a close frame). */
  onEnd: () => void;
  readonly closed: Promise<void>;
  readonly isClosed: boolean;
  /** WebSocket close code received, if any. */
  closeCode?: number;
  error?: Error;
}

class StreamPipe implements Pipe {
  onData: (chunk: Buffer) => void = () => {};
  onEnd: () => void = () => {};
  readonly closed: Promise<void>;
  isClosed = false;
  error?: Error;

  constructor(
    readonly transport: Transport,
    readonly raw: net.Socket,
    private readonly stream: net.Socket,
  ) {
    stream.on('data', (c: Buffer) => this.onData(c));
    stream.on('end', () => this.onEnd());
    stream.on('error', (e) => {
      this.error ??= e;
    });
    raw.on('error', (e) => {
      this.error ??= e;
    });
    this.closed = new Promise((resolve) =>
      stream.once('close', () => {
        this.isClosed = true;
        resolve();
      }),
    );
  }

  write(chunk: Buffer): boolean {
    if (this.isClosed || this.stream.writableEnded) return true;
    return this.stream.write(chunk);
  }

  sendRaw(bytes: Buffer): void {
    this.write(bytes);
  }

  drained(): Promise<void> {
    if (!this.stream.writableNeedDrain || this.isClosed) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        this.stream.off('drain', done);
        this.stream.off('close', done);
        resolve();
      };
      this.stream.once('drain', done);
      this.stream.once('close', done);
    });
  }

  end(): void {
    if (!this.stream.writableEnded && !this.isClosed) this.stream.end();
  }

  reset(): void {
    if (!this.raw.destroyed) this.raw.resetAndDestroy();
    this.stream.destroy();
  }

  destroy(): void {
    this.stream.destroy();
    this.raw.destroy();
  }
}

/** RFC 6455 client over a connected stream, after the 101 answer. */
class WebSocketPipe implements Pipe {
  onData: (chunk: Buffer) => void = () => {};
  onEnd: () => void = () => {};
  readonly closed: Promise<void>;
  isClosed = false;
  closeCode?: number;
  error?: Error;
  /** Header bytes of the next frame, payload bytes left of the current one, its opcode. */
  private head: Buffer = EMPTY;
  private left = 0;
  private opcode = 0;
  private control: Buffer[] = [];
  private closeSent = false;
  private closeReceived = false;

  constructor(
    readonly transport: Transport,
    readonly raw: net.Socket,
    private readonly stream: net.Socket,
    leftover: Buffer,
    private readonly mask: () => Buffer,
  ) {
    stream.on('data', (c: Buffer) => this.onBytes(c));
    stream.on('error', (e) => {
      this.error ??= e;
    });
    raw.on('error', (e) => {
      this.error ??= e;
    });
    // The server's FIN without a close frame: over.
    stream.on('end', () => {
      if (!this.closeReceived) this.onEnd();
      stream.end();
    });
    this.closed = new Promise((resolve) =>
      stream.once('close', () => {
        this.isClosed = true;
        resolve();
      }),
    );
    if (leftover.length > 0) this.onBytes(leftover);
    stream.resume();
  }

  /**
   * Frames as they arrive: data payloads are passed on piece by piece (a large frame is never
   * gathered whole), control frames (at most 125 bytes) are gathered, then handled.
   */
  private onBytes(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length) {
      if (this.left > 0) {
        const n = Math.min(this.left, chunk.length - at);
        const part = chunk.subarray(at, at + n);
        at += n;
        this.left -= n;
        if (this.opcode < 0x8) this.onData(part);
        else {
          this.control.push(Buffer.from(part));
          if (this.left === 0) this.onControl(Buffer.concat(this.control));
        }
        continue;
      }
      const prev = this.head.length;
      const take = Math.min(14 - prev, chunk.length - at);
      const h =
        prev === 0
          ? chunk.subarray(at, at + take)
          : Buffer.concat([this.head, chunk.subarray(at, at + take)]);
      const size =
        h.length < 2
          ? 14
          : 2 + ((h[1]! & 0x7f) === 126 ? 2 : (h[1]! & 0x7f) === 127 ? 8 : 0) + (h[1]! & 0x80 ? 4 : 0);
      if (h.length < size) {
        this.head = Buffer.from(h);
        at += take;
        continue;
      }
      at += size - prev;
      this.head = EMPTY;
      const l = h[1]! & 0x7f;
      this.left = l === 126 ? h.readUInt16BE(2) : l === 127 ? Number(h.readBigUInt64BE(2)) : l;
      this.opcode = h[0]! & 0x0f;
      this.control = [];
      if (this.left === 0 && this.opcode >= 0x8) this.onControl(EMPTY);
    }
  }

  private onControl(payload: Buffer): void {
    if (this.opcode === 0x8) {
      this.closeReceived = true;
      this.closeCode = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
      this.onEnd();
      if (!this.closeSent) this.sendClose(1000);
      this.stream.end();
    } else if (this.opcode === 0x9) this.send(0xa, payload);
  }

  private send(opcode: number, payload: Buffer): boolean {
    if (this.isClosed || this.stream.writableEnded) return true;
    return this.stream.write(wsFrame(opcode, payload, this.mask()));
  }

  private sendClose(code: number): void {
    this.closeSent = true;
    const p = Buffer.allocUnsafe(2);
    p.writeUInt16BE(code);
    this.send(0x8, p);
  }

  write(chunk: Buffer): boolean {
    if (this.closeSent) return true;
    return this.send(0x2, chunk);
  }

  sendRaw(bytes: Buffer): void {
    if (!this.isClosed && !this.stream.writableEnded) this.stream.write(bytes);
  }

  drained(): Promise<void> {
    if (!this.stream.writableNeedDrain || this.isClosed) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        this.stream.off('drain', done);
        this.stream.off('close', done);
        resolve();
      };
      this.stream.once('drain', done);
      this.stream.once('close', done);
    });
  }

  end(): void {
    if (!this.closeSent) this.sendClose(1000);
  }

  reset(): void {
    if (!this.raw.destroyed) this.raw.resetAndDestroy();
    this.stream.destroy();
  }

  destroy(): void {
    this.stream.destroy();
    this.raw.destroy();
  }
}

/** Reads an HTTP response head; resolves with the head and the bytes after it, the stream paused. */
export function readHttpHead(stream: net.Socket, limit = 16 * 1024): Promise<{ head: string; rest: Buffer }> {
  return new Promise((resolve, reject) => {
    let got = Buffer.alloc(0);
    const onData = (c: Buffer): void => {
      got = Buffer.concat([got, c]);
      const end = got.indexOf('\r\n\r\n');
      if (end >= 0) {
        // Paused until the next reader attaches: frames may follow in the same read.
        stream.pause();
        cleanup();
        resolve({ head: got.subarray(0, end).toString('latin1'), rest: got.subarray(end + 4) });
      } else if (got.length > limit) {
        cleanup();
        reject(new Error('HTTP head too long'));
      }
    };
    const onEnd = (): void => {
      cleanup();
      reject(new Error(`connection ended before an HTTP answer (${got.length} bytes)`));
    };
    const onError = (e: Error): void => {
      cleanup();
      reject(e);
    };
    const cleanup = (): void => {
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('close', onEnd);
      stream.off('error', onError);
    };
    stream.on('data', onData);
    stream.once('end', onEnd);
    stream.once('close', onEnd);
    stream.once('error', onError);
  });
}

/**
 * Opens a pipe of `transport` to `endpoints`; `mask` gives WebSocket masking keys. Only a
 * `resettable` TLS pipe may be reset: it runs TLS over a stream wrapper (see handleFree), which costs.
 */
export async function openPipe(
  transport: Transport,
  e: Endpoints,
  mask: () => Buffer = () => randomBytes(4),
  resettable = true,
): Promise<Pipe> {
  const raw = await dialTcp(e.host, portOf(e, transport));
  try {
    const stream = isTls(transport) ? await startTls(raw, resettable) : raw;
    if (!isWebSocket(transport)) return new StreamPipe(transport, raw, stream);
    stream.write(upgradeRequest(e.host, portOf(e, transport), e.wsPath));
    const { head, rest } = await readHttpHead(stream);
    if (!/^HTTP\/1\.1 101 /.test(head)) throw new Error(`WebSocket refused: ${head.split('\r\n')[0]}`);
    return new WebSocketPipe(transport, raw, stream, rest, mask);
  } catch (err) {
    raw.destroy();
    throw err;
  }
}
