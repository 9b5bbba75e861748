/**
 * A raw-socket MQTT client for the load generators: pre-encoded packets written straight to a
 * socket, received packets framed by the bench's own reader. No library in the measured loop.
 */
import * as net from 'node:net';
import {
  CONNACK,
  connect,
  DISCONNECT,
  PacketReader,
  PUBACK,
  PUBLISH,
  type ReaderHandlers,
  SUBACK,
  subscribe,
  type Version,
} from './wire.js';

export interface ClientHandlers {
  publish?(flags: number, body: Buffer): void;
  puback?(packetId: number, body: Buffer): void;
  largeStart?(type: number, flags: number, remaining: number, head: Buffer): void;
  largeData?(chunk: Buffer): void;
  largeEnd?(): void;
}

export class RawClient {
  readonly socket: net.Socket;
  handlers: ClientHandlers = {};
  private readonly reader: PacketReader;
  private waiting: { type: number; resolve: (body: Buffer) => void; reject: (e: Error) => void }[] = [];
  private failure: Error | undefined;
  readonly closed: Promise<void>;

  private constructor(
    socket: net.Socket,
    readonly version: Version,
  ) {
    this.socket = socket;
    const h: ReaderHandlers = {
      packet: (type, flags, body) => {
        if (type === PUBLISH) this.handlers.publish?.(flags, body);
        else if (type === PUBACK) this.handlers.puback?.(body.readUInt16BE(0), body);
        else this.settle(type, body);
      },
      largeStart: (type, flags, remaining, head) => this.handlers.largeStart?.(type, flags, remaining, head),
      largeData: (chunk) => this.handlers.largeData?.(chunk),
      largeEnd: () => this.handlers.largeEnd?.(),
    };
    this.reader = new PacketReader(h);
    socket.on('data', (chunk: Buffer) => {
      // Acks written while handling one chunk leave in one write.
      socket.cork();
      try {
        this.reader.push(chunk);
      } catch (err) {
        this.fail(err instanceof Error ? err : new Error(String(err)));
        socket.destroy();
      } finally {
        socket.uncork();
      }
    });
    socket.on('error', (err) => this.fail(err));
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.once('close', () => this.fail(new Error('connection closed')));
  }

  /** Connects, sends CONNECT and waits for a successful CONNACK. */
  static async open(host: string, port: number, version: Version, clientId: string): Promise<RawClient> {
    const socket = net.connect({ host, port, noDelay: true });
    const client = new RawClient(socket, version);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('error', reject);
    });
    socket.write(connect(version, clientId));
    const ack = await client.expect(CONNACK);
    if (ack[1] !== 0) throw new Error(`CONNACK refused ${clientId}: code 0x${ack[1]!.toString(16)}`);
    return client;
  }

  /** Subscribes and waits for a SUBACK granting the subscription. */
  async subscribe(filter: string, qos: 0 | 1, packetId = 1): Promise<void> {
    this.socket.write(subscribe(this.version, packetId, filter, qos));
    const ack = await this.expect(SUBACK);
    const code = ack[ack.length - 1]!;
    if (code >= 0x80) throw new Error(`SUBACK refused ${filter}: code 0x${code.toString(16)}`);
  }

  write(data: Buffer): boolean {
    return this.socket.write(data);
  }

  drained(): Promise<void> {
    if (!this.socket.writableNeedDrain) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onErr = (): void => reject(this.failure ?? new Error('socket failed while writing'));
      this.socket.once('drain', () => {
        this.socket.off('close', onErr);
        resolve();
      });
      this.socket.once('close', onErr);
    });
  }

  /** DISCONNECT, FIN, and wait until the socket is closed. */
  async close(): Promise<void> {
    if (!this.socket.destroyed && this.socket.writable) this.socket.end(DISCONNECT);
    const timer = setTimeout(() => this.socket.destroy(), 5000);
    await this.closed;
    clearTimeout(timer);
  }

  destroy(): void {
    this.socket.destroy();
  }

  private expect(type: number): Promise<Buffer> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => this.waiting.push({ type, resolve, reject }));
  }

  private settle(type: number, body: Buffer): void {
    const i = this.waiting.findIndex((w) => w.type === type);
    if (i >= 0) {
      const [w] = this.waiting.splice(i, 1);
      w!.resolve(Buffer.from(body));
    }
  }

  private fail(err: Error): void {
    this.failure ??= err;
    const waiting = this.waiting;
    this.waiting = [];
    for (const w of waiting) w.reject(err);
  }
}
