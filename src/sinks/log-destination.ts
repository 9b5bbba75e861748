/**
 * Where the log's bytes go: a file, or stdout. Writes never block the event loop, and a write to a
 * terminal or pipe nobody reads never blocks a thread either (a thread stuck in write() would keep
 * the process from exiting).
 */
import { closeSync, constants, fstatSync, mkdirSync, openSync, write, writeSync } from 'node:fs';
import { Socket } from 'node:net';
import { dirname } from 'node:path';
import { isatty } from 'node:tty';

export interface LogDestination {
  /** Writes all of `chunk`, then calls `done` (with the error if the destination failed). One at a time. */
  write(chunk: Buffer, done: (err: Error | null) => void): void;
  /** At exit, with no write in progress: writes what it can of `chunk` without waiting; true if all. */
  writeNow(chunk: Buffer): boolean;
  /** Releases what was opened for the log (never fd 1). Not while a write is in progress. */
  close(): void;
}

/** Log files and the directories made for them are the operator's alone (records may hold secrets). */
export const LOG_FILE_MODE = 0o600;
const LOG_DIR_MODE = 0o700;

/** Longest pause before trying again a terminal that takes no more (a paused terminal, XOFF). */
const MAX_RETRY_MS = 100;

/**
 * Opens `target` for appending (`stdout`, or a file path: parent directories created). Throws when
 * the file cannot be opened, so that a bad `--log-file` fails at start.
 */
export function openLogDestination(target: 'stdout' | string): LogDestination {
  if (target !== 'stdout') {
    mkdirSync(dirname(target), { recursive: true, mode: LOG_DIR_MODE });
    const fd = openSync(target, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT, LOG_FILE_MODE);
    // A named pipe or a device may stall like a terminal: written through a non-blocking descriptor.
    if (fstatSync(fd).isFile()) return new FdDestination(fd, true);
    const other = reopenNonBlocking(fd);
    if (other === undefined) return new FdDestination(fd, true);
    closeSync(fd);
    return new FdDestination(other, true);
  }
  let stat: ReturnType<typeof fstatSync>;
  try {
    stat = fstatSync(1);
  } catch {
    return new FdDestination(1, false);
  }
  // Pipes and sockets: Node's own stdout stream writes them when the reader is ready, off any thread.
  if ((stat.isFIFO() || stat.isSocket()) && process.stdout instanceof Socket) {
    return new StreamDestination(process.stdout);
  }
  // A terminal is written by a thread that would block while it is paused: a non-blocking
  // descriptor of our own answers EAGAIN instead, and we try again later.
  const tty = isatty(1) ? reopenNonBlocking(1) : undefined;
  return tty !== undefined ? new FdDestination(tty, true) : new FdDestination(1, false);
}

/**
 * A second, non-blocking descriptor of what `fd` is open on (Linux: a terminal, a named pipe), so
 * that one that takes no more answers EAGAIN instead of holding the writer; undefined where that
 * cannot be had.
 */
export function reopenNonBlocking(fd: number): number | undefined {
  try {
    return openSync(`/proc/self/fd/${fd}`, constants.O_WRONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch {
    return undefined;
  }
}

/** fs.write on a descriptor (from the thread pool); partial writes continued, EAGAIN retried. */
class FdDestination implements LogDestination {
  private chunk: Buffer | undefined;
  private at = 0;
  private done: ((err: Error | null) => void) | undefined;
  private retryMs = 0;
  private closed = false;

  constructor(
    private readonly fd: number,
    private readonly owned: boolean,
  ) {}

  write(chunk: Buffer, done: (err: Error | null) => void): void {
    this.chunk = chunk;
    this.at = 0;
    this.done = done;
    this.retryMs = 0;
    this.next();
  }

  private readonly next = (): void => {
    const chunk = this.chunk!;
    write(this.fd, chunk, this.at, chunk.length - this.at, null, this.written);
  };

  private readonly written = (err: NodeJS.ErrnoException | null, n: number): void => {
    if (err !== null && err.code === 'EAGAIN') {
      this.retryMs = Math.min(MAX_RETRY_MS, Math.max(1, this.retryMs * 2));
      setTimeout(this.next, this.retryMs);
      return;
    }
    if (err === null) {
      this.at += n;
      this.retryMs = 0;
      if (this.at < this.chunk!.length) {
        this.next();
        return;
      }
    }
    const done = this.done!;
    this.chunk = undefined;
    this.done = undefined;
    done(err);
  };

  writeNow(chunk: Buffer): boolean {
    let at = 0;
    try {
      while (at < chunk.length) at += writeSync(this.fd, chunk, at, chunk.length - at);
      return true;
    } catch {
      // EAGAIN (nobody reading) or a failed destination: the rest is lost.
      return false;
    }
  }

  close(): void {
    if (!this.owned || this.closed) return;
    this.closed = true;
    try {
      closeSync(this.fd);
    } catch {
      // Already unusable: nothing to release.
    }
  }
}

/** Node's stdout stream on a pipe or socket: non-blocking, written as the reader makes room. */
class StreamDestination implements LogDestination {
  private failure: Error | undefined;

  constructor(private readonly stream: Socket) {
    // Without a listener a broken pipe would be an uncaught exception; the write's callback reports it.
    stream.on('error', (err: Error) => {
      this.failure ??= err;
    });
  }

  write(chunk: Buffer, done: (err: Error | null) => void): void {
    if (this.failure !== undefined) {
      done(this.failure);
      return;
    }
    this.stream.write(chunk, (err?: Error | null) => done(err ? (this.failure ?? err) : null));
  }

  writeNow(chunk: Buffer): boolean {
    if (this.failure !== undefined || this.stream.writableLength > 0) return false;
    // The descriptor is non-blocking here: this stops at EAGAIN rather than wait.
    return new FdDestination(1, false).writeNow(chunk);
  }

  close(): void {
    // fd 1 stays open: the CLI's last words may still go there.
  }
}
