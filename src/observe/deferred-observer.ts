/**
 * An observer that is shown what the proxy forwarded after the forwarding, a slice at a time
 * between the event loop's I/O polls, instead of inside the socket's 'data' callback.
 *
 * Why: decoding inside the read callback delays the next read, and the broker's answers then
 * arrive in many small reads, each with its own forwarding write, which cost more than the
 * decoding. So: forward at once, observe in slices.
 *
 * Order is kept per connection and across them (one queue). Chunks are shown in pieces of at most
 * PIECE_BYTES (the tap's framer is streaming, so where a chunk is cut does not matter). With
 * nothing waiting, pieces are shown at once for up to INLINE_MS (a small read, or the body of a
 * large PUBLISH, which is only counted, never waits); what is left waits its turn and is shown with
 * the time it arrived, so request timings do not depend on when the tap got to them. A chunk the
 * observer would only count (`countOnly`: the middle of a large PUBLISH) is shown at once even then,
 * when nothing of its connection's direction waits: it cannot change what the waiting calls show,
 * and holding it would keep its memory alive past garbage collections. Memory is
 * bounded: past HIGH_WATER bytes waiting, the data callback works the queue down to LOW_WATER before
 * returning, which blocks the loop: under more traffic than the tap
 * can decode, forwarding slows rather than the log growing without bound or losing records.
 */
import type {
  CloseInfo,
  ConnectionObserver,
  Direction,
  HandshakeFailure,
  OpenInfo,
  ProxyObserver,
  RefusedClient,
  UpstreamErrorInfo,
} from './observer.js';

export interface DeferredObserverOptions {
  /** Largest piece of a chunk shown in one call (default 16 KiB). */
  pieceBytes?: number;
  /** Observer work per event-loop turn before yielding to I/O (default 0.5 ms). */
  turnMs?: number;
  /** Work done at once in the data callback, when nothing waits, before the rest is queued (default 0.25 ms). */
  inlineMs?: number;
  /** Bytes waiting above which the data callback works the queue down itself (default 8 MiB). */
  highWater?: number;
  /** Where that catching-up stops (default 2 MiB). */
  lowWater?: number;
  /** An inner observer threw: reported once per connection (as the proxy does), and the queue goes on. */
  onError?: (err: unknown, context: { conn?: string; detail: string }) => void;
}

export interface DeferredObserver extends ProxyObserver {
  /** Shows everything still waiting, now (shutdown: before the log is closed). */
  drain(): void;
  /** Bytes of forwarded data not yet shown. */
  pendingBytes(): number;
}

const PIECE_BYTES = 16 * 1024;
const TURN_MS = 0.5;
const INLINE_MS = 0.25;
const HIGH_WATER = 8 * 1024 * 1024;
const LOW_WATER = 2 * 1024 * 1024;

/** One waiting call. `offset` tracks how much of a data chunk was shown already. */
interface Task {
  conn: Connection;
  kind: 'open' | 'data' | 'connected' | 'upstream-error' | 'close' | 'handshake-failed' | 'refused';
  from?: Direction;
  chunk?: Buffer;
  offset?: number;
  at?: number;
  info?: OpenInfo | CloseInfo | UpstreamErrorInfo | HandshakeFailure;
}

/** The inner observer of one connection, once its queued open() ran. */
interface Connection {
  id: string | undefined;
  inner: ConnectionObserver | undefined;
  failed: boolean;
  /** Data tasks of each direction in the queue. */
  waiting: Record<Direction, number>;
}

export function deferredObserver(
  inner: ProxyObserver,
  options: DeferredObserverOptions = {},
): DeferredObserver {
  const pieceBytes = options.pieceBytes ?? PIECE_BYTES;
  const turnMs = options.turnMs ?? TURN_MS;
  const inlineMs = options.inlineMs ?? INLINE_MS;
  const highWater = options.highWater ?? HIGH_WATER;
  const lowWater = options.lowWater ?? LOW_WATER;
  const report = options.onError ?? (() => {});

  let queue: Task[] = [];
  let head = 0;
  let pending = 0;
  let scheduled = false;
  let running = false;
  /** A connection-less task (handshake failures) still needs a Connection to sit in the queue. */
  const none: Connection = {
    id: undefined,
    inner: undefined,
    failed: false,
    waiting: { client: 0, broker: 0 },
  };

  const always = (): boolean => true;
  const push = (task: Task): void => {
    // Nothing waiting and at most one piece of work: done here, as an inline observer would.
    if (idle() && (task.chunk === undefined || task.chunk.length <= pieceBytes)) {
      enqueue(task);
      work(always);
      return;
    }
    enqueue(task);
    if (pending > highWater) work(() => pending > lowWater);
    else if (!scheduled) {
      scheduled = true;
      setImmediate(turn);
    }
  };

  const enqueue = (task: Task): void => {
    queue.push(task);
    if (task.chunk === undefined) return;
    pending += task.chunk.length - (task.offset ?? 0);
    task.conn.waiting[task.from!]++;
  };

  /** Runs one step of the head task; false when the queue is empty. */
  const step = (): boolean => {
    const task = queue[head];
    if (task === undefined) return false;
    if (task.kind === 'data') {
      const chunk = task.chunk!;
      const start = task.offset ?? 0;
      const end = Math.min(chunk.length, start + pieceBytes);
      const piece = start === 0 && end === chunk.length ? chunk : chunk.subarray(start, end);
      pending -= end - start;
      if (end < chunk.length) task.offset = end;
      else {
        next();
        task.conn.waiting[task.from!]--;
      }
      call(task.conn, 'data', () => task.conn.inner?.data(task.from!, piece, task.at));
      return true;
    }
    next();
    switch (task.kind) {
      case 'open':
        call(task.conn, 'open', () => {
          task.conn.inner = inner.open(task.info as OpenInfo);
        });
        break;
      case 'connected':
        call(task.conn, 'upstreamConnected', () =>
          task.conn.inner?.upstreamConnected?.(task.info as OpenInfo),
        );
        break;
      case 'upstream-error':
        call(task.conn, 'upstreamError', () =>
          task.conn.inner?.upstreamError(task.info as UpstreamErrorInfo),
        );
        break;
      case 'close':
        call(task.conn, 'close', () => task.conn.inner?.close(task.info as CloseInfo));
        break;
      case 'handshake-failed':
        call(task.conn, 'handshakeFailed', () => inner.handshakeFailed?.(task.info as HandshakeFailure));
        break;
      case 'refused':
        call(task.conn, 'refused', () => inner.refused?.(task.info as RefusedClient));
        break;
    }
    return true;
  };

  const next = (): void => {
    queue[head] = undefined as unknown as Task;
    head++;
    if (head === queue.length) {
      queue = [];
      head = 0;
    } else if (head >= 1024 && head * 2 >= queue.length) {
      queue = queue.slice(head);
      head = 0;
    }
  };

  const call = (conn: Connection, detail: string, fn: () => void): void => {
    try {
      fn();
    } catch (err) {
      fault(conn, detail, err);
    }
  };

  const fault = (conn: Connection, detail: string, err: unknown): void => {
    if (conn.failed) return;
    if (conn !== none) conn.failed = true;
    try {
      report(err, conn.id === undefined ? { detail } : { conn: conn.id, detail });
    } catch {
      // The reporter failed too: the queue still goes on.
    }
  };

  const idle = (): boolean => head === queue.length && !running;

  /** Steps while `more()` says so and there is work; re-entry (an observer feeding us) is ignored. */
  const work = (more: () => boolean): void => {
    if (running) return;
    running = true;
    try {
      while (more() && step());
    } finally {
      running = false;
    }
  };

  const turn = (): void => {
    scheduled = false;
    const deadline = performance.now() + turnMs;
    // At least one step a turn, however short the budget.
    let steps = 0;
    work(() => steps++ === 0 || performance.now() < deadline);
    if (head < queue.length && !scheduled) {
      scheduled = true;
      setImmediate(turn);
    }
  };

  return {
    open(info: OpenInfo): ConnectionObserver {
      const conn: Connection = {
        id: info.conn,
        inner: undefined,
        failed: false,
        waiting: { client: 0, broker: 0 },
      };
      push({ conn, kind: 'open', info });
      return {
        data(from: Direction, chunk: Buffer, at?: number): void {
          if (!idle() || conn.failed) {
            // Bytes the observer would only count (the middle of a large PUBLISH) change nothing
            // that waits, so they are shown now: a queued chunk is held past garbage collections.
            const inner = conn.inner;
            if (
              !conn.failed &&
              conn.waiting[from] === 0 &&
              inner?.countOnly !== undefined &&
              chunk.length <= inner.countOnly(from)
            ) {
              call(conn, 'data', () => inner.data(from, chunk, at));
              return;
            }
            push({ conn, kind: 'data', from, chunk, at: at ?? Date.now() });
            return;
          }
          // Nothing waiting: shown now, piece by piece, for as long as that stays cheap (a small
          // read, or the body of a large PUBLISH, which is only counted); the rest waits its turn.
          const deadline = performance.now() + inlineMs;
          let offset = 0;
          running = true;
          try {
            do {
              const end = Math.min(chunk.length, offset + pieceBytes);
              const piece = offset === 0 && end === chunk.length ? chunk : chunk.subarray(offset, end);
              offset = end;
              conn.inner?.data(from, piece, at);
            } while (offset < chunk.length && performance.now() < deadline);
          } catch (err) {
            fault(conn, 'data', err);
          } finally {
            running = false;
          }
          if (offset < chunk.length) push({ conn, kind: 'data', from, chunk, offset, at: at ?? Date.now() });
        },
        upstreamConnected(info: OpenInfo): void {
          push({ conn, kind: 'connected', info });
        },
        upstreamError(info: UpstreamErrorInfo): void {
          push({ conn, kind: 'upstream-error', info });
        },
        close(info: CloseInfo): void {
          push({ conn, kind: 'close', info });
        },
      };
    },
    handshakeFailed(info: HandshakeFailure): void {
      push({ conn: none, kind: 'handshake-failed', info });
    },
    refused(info: RefusedClient): void {
      push({ conn: none, kind: 'refused', info });
    },
    drain(): void {
      work(() => true);
    },
    pendingBytes: () => pending,
  };
}
