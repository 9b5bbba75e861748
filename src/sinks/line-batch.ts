/**
 * Log lines collected into large buffers and handed to the destination a buffer at a time, within
 * a bound: the bytes waiting for the destination never exceed the limit. A line beyond it is
 * dropped and counted; once the backlog has halved, a notice line says how many were lost.
 */
import type { LineOutput } from '../record/ndjson-line.js';
import type { LogDestination } from './log-destination.js';

/** Bytes of a batch buffer (a quarter of the bound at most): the most one write() carries, unless a single line is longer. */
const CHUNK_BYTES = 1024 * 1024;
/** Written batch buffers kept for reuse (fresh ones cost page faults). */
const POOL_SIZE = 4;
/** The smallest bound accepted: room for a few long lines and the drop notice. */
export const MIN_LINE_BATCH_LIMIT = 64 * 1024;

export interface LineBatchHooks {
  /** Writes into `out` the line that reports `dropped` lost lines, once lines fit again. */
  dropNotice(out: LineBatch, dropped: number): void;
  /** The destination failed: called once; from then on lines are discarded and nothing is held. */
  failed(err: Error): void;
}

interface Handed {
  buf: Buffer;
  length: number;
}

type State = 'open' | 'dropping' | 'failed' | 'closed';

/** A LineOutput whose reserve() is false (the line dropped, and counted) beyond the bound. */
export class LineBatch implements LineOutput {
  buf: Buffer;
  used = 0;
  /** reserve() has nothing to check while `used + n` stays within this; -1 while lines are refused. */
  private end: number;
  private state: State = 'open';
  /** Buffers handed over, in order; the first is being written when `writing`. */
  private readonly handed: Handed[] = [];
  /** Bytes of lines handed over and not yet written. */
  private handedBytes = 0;
  private writing = false;
  private readonly pool: Buffer[] = [];
  private readonly chunkBytes: number;
  private dropped = 0;
  private unreported = 0;
  private idleWaiters: (() => void)[] = [];
  private roomWaiters: (() => void)[] = [];

  constructor(
    private readonly limit: number,
    private readonly dest: LogDestination,
    private readonly hooks: LineBatchHooks,
  ) {
    if (!(limit >= MIN_LINE_BATCH_LIMIT))
      throw new RangeError(`line batch limit below ${MIN_LINE_BATCH_LIMIT}`);
    // Several buffers within the bound: one can be written while the next fills.
    this.chunkBytes = Math.min(CHUNK_BYTES, Math.floor(limit / 4));
    this.buf = Buffer.allocUnsafe(this.chunkBytes);
    this.end = this.chunkBytes;
  }

  reserve(n: number): boolean {
    return this.used + n <= this.end || this.makeRoom(n);
  }

  /** Writes one line of text (its `\n` included). */
  putText(line: string): void {
    // One UTF-16 code unit never takes more than 3 bytes of UTF-8; long lines are measured.
    const bound = line.length <= 16 * 1024 ? line.length * 3 : Buffer.byteLength(line);
    if (this.reserve(bound)) this.used += this.buf.write(line, this.used, 'utf8');
  }

  /** Lines dropped for want of room since the start. */
  droppedLines(): number {
    return this.dropped;
  }

  /** Bytes held: written into the batch and not yet by the destination. */
  heldBytes(): number {
    return this.handedBytes + this.used;
  }

  get failed(): boolean {
    return this.state === 'failed';
  }

  /** The periodic flush: hands what is collected to an idle destination (a busy one takes it later). */
  tick(): void {
    if (!this.writing && this.handed.length === 0) this.pass();
  }

  /** Resolves once every line written, including while it waits, has reached the destination (or it failed). */
  flush(): Promise<void> {
    this.pass();
    if (!this.writing) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Undefined while at most half the bound is held; else resolves once that is so again. */
  whenRoom(): Promise<void> | undefined {
    if (this.halfEmpty() || this.state === 'failed' || this.state === 'closed') return undefined;
    return new Promise((resolve) => this.roomWaiters.push(resolve));
  }

  /** Refuses lines from now on and lets go of the destination (once its current write is done). */
  close(): void {
    if (this.state === 'closed') return;
    this.discard('closed');
    if (!this.writing) this.dest.close();
  }

  /** At exit: writes what the destination takes without waiting, unless a write is in progress. */
  writeNow(): void {
    if ((this.state !== 'open' && this.state !== 'dropping') || this.writing) return;
    for (const h of this.handed) {
      if (!this.dest.writeNow(h.buf.subarray(0, h.length))) return;
    }
    this.handed.length = 0;
    this.handedBytes = 0;
    if (this.used > 0 && this.dest.writeNow(this.buf.subarray(0, this.used))) this.used = 0;
  }

  private makeRoom(n: number): boolean {
    if (this.state === 'dropping') {
      if (!this.halfEmpty()) return this.drop();
      this.resume();
    } else if (this.state !== 'open') {
      return false;
    }
    if (this.handedBytes + this.used + n > this.limit) return this.drop();
    if (this.used + n > this.buf.length) {
      this.pass();
      if (n > this.buf.length) {
        if (this.buf.length === this.chunkBytes && this.pool.length < POOL_SIZE) this.pool.push(this.buf);
        this.buf = Buffer.allocUnsafe(n);
      }
    }
    this.updateEnd();
    return true;
  }

  /** Dropping stops, and waiters for room wake, once at most half the bound is held. */
  private halfEmpty(): boolean {
    return this.handedBytes + this.used <= this.limit / 2;
  }

  private drop(): false {
    this.dropped++;
    this.unreported++;
    this.state = 'dropping';
    this.end = -1;
    return false;
  }

  /** Lines fit again: say first how many did not. */
  private resume(): void {
    const n = this.unreported;
    this.unreported = 0;
    this.state = 'open';
    this.updateEnd();
    // At most half the bound is held, and the bound leaves room for this line.
    this.hooks.dropNotice(this, n);
  }

  private updateEnd(): void {
    this.end = this.state === 'open' ? Math.min(this.buf.length, this.limit - this.handedBytes) : -1;
  }

  /** Hands the lines collected so far to the destination. */
  private pass(): void {
    if (this.used === 0) return;
    this.handed.push({ buf: this.buf, length: this.used });
    this.handedBytes += this.used;
    this.buf = this.pool.pop() ?? Buffer.allocUnsafe(this.chunkBytes);
    this.used = 0;
    this.updateEnd();
    this.pump();
  }

  private pump(): void {
    if (this.writing || this.handed.length === 0) return;
    const first = this.handed[0]!;
    this.writing = true;
    this.dest.write(first.buf.subarray(0, first.length), this.written);
  }

  private readonly written = (err: Error | null): void => {
    this.writing = false;
    if (this.state === 'closed' || this.state === 'failed') {
      if (this.state === 'closed') this.dest.close();
      return;
    }
    if (err !== null) {
      this.discard('failed');
      this.hooks.failed(err);
      return;
    }
    const done = this.handed.shift()!;
    this.handedBytes -= done.length;
    if (done.buf.length === this.chunkBytes && this.pool.length < POOL_SIZE) this.pool.push(done.buf);
    if (this.state === 'open') this.updateEnd();
    else if (this.halfEmpty()) this.resume();
    if (this.halfEmpty()) this.wake('room');
    if (this.handed.length === 0 && this.idleWaiters.length > 0) {
      // A flush waits for lines written meanwhile too (a drop notice among them).
      if (this.used > 0) this.pass();
      else this.wake('idle');
    }
    this.pump();
  };

  /** Lets go of every line held and refuses new ones. */
  private discard(state: 'failed' | 'closed'): void {
    this.state = state;
    this.end = -1;
    this.handed.length = 0;
    this.handedBytes = 0;
    this.pool.length = 0;
    this.buf = Buffer.alloc(0);
    this.used = 0;
    this.wake('room');
    this.wake('idle');
  }

  private wake(which: 'room' | 'idle'): void {
    const waiters = which === 'room' ? this.roomWaiters : this.idleWaiters;
    if (waiters.length === 0) return;
    if (which === 'room') this.roomWaiters = [];
    else this.idleWaiters = [];
    for (const w of waiters) w();
  }
}
