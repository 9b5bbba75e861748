/**
 * Writes to a TLS connection one record's worth at a time.
 *
 * Node's TLS socket encrypts each write into one buffer sized for the whole write, and keeps that
 * buffer for the life of the connection: after one 64 KiB write a connection holds 66 KB for good,
 * after 16 KiB writes 16.5 KB. Chunks larger than a record are therefore written in slices of
 * TLS_WRITE_SLICE bytes, each once the last one has left; the bytes and their order are unchanged.
 */
import type * as tls from 'node:tls';
import type { PeerStream } from './peer.js';

/** A TLS record's largest plaintext (RFC 8446 §5.1, RFC 5246 §6.2.1). */
export const TLS_WRITE_SLICE = 16 * 1024;

/**
 * Chunks sent in slices of at most `slice` bytes through `send`, the next slice once `send` has
 * called back. `idle` runs when everything queued has been sent.
 */
export class SliceQueue {
  private chunks: Buffer[] = [];
  /** Bytes of chunks[0] already handed to `send`. */
  private at = 0;
  private queued = 0;
  /** Bumped by clear(): a callback of a send from before it is ignored. */
  private generation = 0;

  constructor(
    /** Largest slice handed to `send`. */
    readonly slice: number,
    private readonly send: (part: Buffer, done: (err?: Error | null) => void) => void,
    private readonly idle: () => void,
  ) {}

  /** Something is queued or being sent. */
  get busy(): boolean {
    return this.chunks.length > 0;
  }

  /** Bytes queued and not yet handed to `send`. */
  get pending(): number {
    return this.queued;
  }

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.queued += chunk.length;
    if (this.chunks.length === 1) this.next();
  }

  /** Drops what is queued (the connection is gone). */
  clear(): void {
    this.chunks = [];
    this.at = 0;
    this.queued = 0;
    this.generation++;
  }

  private next(): void {
    const head = this.chunks[0]!;
    const part = head.subarray(this.at, this.at + this.slice);
    this.at += part.length;
    this.queued -= part.length;
    const generation = this.generation;
    this.send(part, (err) => {
      if (generation !== this.generation) return;
      if (err) {
        this.clear();
        return;
      }
      if (this.at === head.length) {
        this.chunks.shift();
        this.at = 0;
      }
      if (this.chunks.length > 0) this.next();
      else this.idle();
    });
  }
}

/** A TLS socket as a PeerStream whose writes go out at most a record at a time. */
export class TlsPeer implements PeerStream {
  private readonly slices: SliceQueue;
  private readonly drainListeners: (() => void)[] = [];
  private needDrain = false;
  private endAfterWrites = false;

  constructor(private readonly socket: tls.TLSSocket) {
    this.slices = new SliceQueue(
      TLS_WRITE_SLICE,
      (part, done) => {
        socket.write(part, done);
      },
      this.onIdle,
    );
    socket.on('drain', this.onSocketDrain);
    socket.on('close', () => this.slices.clear());
  }

  get writable(): boolean {
    return this.socket.writable;
  }

  get writableLength(): number {
    return this.socket.writableLength + this.slices.pending;
  }

  get destroyed(): boolean {
    return this.socket.destroyed;
  }

  write(chunk: Buffer): boolean {
    if (!this.slices.busy && chunk.length <= TLS_WRITE_SLICE) {
      if (this.socket.write(chunk)) return true;
      this.needDrain = true;
      return false;
    }
    this.slices.push(chunk);
    this.needDrain = true;
    return false;
  }

  end(): void {
    if (this.slices.busy) this.endAfterWrites = true;
    else this.socket.end();
  }

  destroy(err?: Error): void {
    this.slices.clear();
    this.socket.destroy(err);
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  on(event: 'data', listener: (chunk: Buffer) => void): this;
  on(event: 'end' | 'close' | 'drain', listener: () => void): this;
  on(event: 'error', listener: (err: Error) => void): this;
  on(
    event: 'data' | 'end' | 'close' | 'drain' | 'error',
    listener: ((chunk: Buffer) => void) | (() => void) | ((err: Error) => void),
  ): this {
    if (event === 'drain') this.drainListeners.push(listener as () => void);
    else this.socket.on(event, listener);
    return this;
  }

  private readonly onIdle = (): void => {
    if (this.endAfterWrites) {
      this.endAfterWrites = false;
      this.socket.end();
    }
    if (this.socket.writableLength < this.socket.writableHighWaterMark) this.emitDrain();
  };

  private readonly onSocketDrain = (): void => {
    if (!this.slices.busy) this.emitDrain();
  };

  private emitDrain(): void {
    if (!this.needDrain) return;
    this.needDrain = false;
    for (const listener of this.drainListeners) listener();
  }
}
