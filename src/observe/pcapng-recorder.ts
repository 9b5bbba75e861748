/**
 * `--record FILE.pcapng`: a ProxyObserver that writes every chunk of every proxied connection, both
 * directions, as TCP segments between the real client and the broker (see pcapng-writer.ts).
 *
 * The forwarding path only ever pays for `data()`: a timestamp, a few integer updates and a queue
 * push (plus a copy when the chunk holds secret bytes to mask). Encoding and checksums happen in a
 * batch on the next turn of the event loop; writes go to an fs.WriteStream.
 *
 * Memory is bounded by `bufferBytes`: chunks queued for encoding plus bytes handed to the stream and
 * not yet written. When the disk is slower than the traffic, chunks that do not fit are dropped
 * from the recording (their sequence space is still consumed, so every tool shows the gap as
 * "previous segment not captured"; the next block's epb_dropcount says how many were lost), counted
 * per connection and in total. Forwarding never waits for the disk.
 *
 * Every write holds whole blocks only: a file cut by a crash is readable up to its last whole block.
 */
import { createWriteStream } from 'node:fs';
import { join as joinPath, parse as parsePath } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Writable } from 'node:stream';
import { maskRanges, type SecretLocator, secretLocators } from '../protocol/secret-mask.js';
import type {
  CloseInfo,
  ConnectionObserver,
  Direction,
  Endpoint,
  OpenInfo,
  UpstreamErrorInfo,
} from './observer.js';
import { type TcpConversation as Conv, fileHeader, type Segment, TcpConversation } from './pcapng-writer.js';

/** Prefix of the packet comments replay reads back (open, close, upstream-error details). */
export const COMMENT_PREFIX = 'mqtt-tap ';

export interface RecorderOptions {
  /** Output path; with rotation, `name-0001.pcapng`, `name-0002.pcapng`... */
  file: string;
  /** Start a new file once the current one reaches this many bytes. */
  rotateBytes?: number;
  /** The broker's IP address and port as the capture shows it (default: read from OpenInfo.upstream). */
  broker?: Endpoint;
  /** Record CONNECT passwords and Authentication Data as they are (default: masked with `*`). */
  showSecrets?: boolean;
  /** Bytes queued or being written before chunks are dropped from the recording (default 16 MiB). */
  bufferBytes?: number;
  /** Microseconds since the epoch (default: wall clock with microsecond resolution). */
  clockUs?: () => number;
  /** A write failed (disk full...): recording stops, forwarding goes on. Called once. */
  onError?: (err: unknown) => void;
  /**
   * The next file of a rotation cannot be opened for want of a file descriptor (EMFILE, ENFILE):
   * chunks are held up to the buffer budget, then dropped, while the open is retried.
   */
  onPause?: (err: unknown, file: string) => void;
  /** The file that could not be opened is open now; recording goes on in it. */
  onResume?: (file: string) => void;
  /** A connection closed after losing `bytes` of its recording. */
  onDropped?: (conn: string, bytes: number) => void;
  /** Opens an output file (default fs.createWriteStream); the seam for slow-disk tests. */
  openFile?: (path: string) => Writable;
  /** Written as the Section Header's shb_userappl. */
  userAppl?: string;
}

export interface RecorderStats {
  /** Files started so far, in order. */
  files: string[];
  /** Bytes of pcapng handed to the file system. */
  writtenBytes: number;
  /** MQTT stream bytes recorded / not recorded (dropped or after a write error). */
  recordedBytes: number;
  droppedBytes: number;
  droppedChunks: number;
  /** Highest bytes held (queued + being written) at any time. */
  peakBufferedBytes: number;
  /** The write error that stopped recording, if any. */
  error?: string;
}

export interface PcapngRecorder {
  open(info: OpenInfo): ConnectionObserver;
  /** Bytes of an open connection left out of the recording so far (at close: its closeFields). */
  droppedBytes(conn: string): number;
  stats(): RecorderStats;
  /** Resolves once everything recorded so far has been written. */
  flush(): Promise<void>;
  /** Flushes and closes the file; later chunks are counted as dropped. Idempotent. */
  close(): Promise<void>;
}

const DEFAULT_BUFFER = 16 * 1024 * 1024;
/** Bytes per write(): whole blocks, large enough for few syscalls. */
const WRITE_SLICE = 1024 * 1024;
/** Rough bytes of block, Ethernet, IP and TCP headers per segment, for the buffer budget. */
const SEGMENT_OVERHEAD = 128;
/** How often a file that could not be opened for want of a descriptor is tried again. */
const REOPEN_MS = 1000;

/** Out of file descriptors (per process or system-wide): a state that passes, not a failure. */
function outOfDescriptors(err: unknown): boolean {
  const code = typeof err === 'object' && err !== null && 'code' in err ? err.code : undefined;
  return code === 'EMFILE' || code === 'ENFILE';
}

/** Bytes a queued segment counts against the buffer budget. */
function heldBytes(seg: Segment): number {
  return (seg.end ?? 0) - (seg.start ?? 0) + SEGMENT_OVERHEAD;
}

/**
 * Microseconds since the epoch that agree with Date.now() (the tap's clock) to the millisecond, so
 * that replayed timings match the live log: the sub-millisecond part comes from the monotonic
 * clock, re-anchored on the wall clock whenever the two part by a millisecond; never decreasing.
 */
export function wallClockUs(): () => number {
  let anchorWall = Date.now();
  let anchorPerf = performance.now();
  let last = 0;
  return () => {
    const perf = performance.now();
    const wall = Date.now();
    let us = Math.floor((anchorWall + (perf - anchorPerf)) * 1000);
    if (us < wall * 1000 || us >= (wall + 1) * 1000) {
      anchorWall = wall;
      anchorPerf = perf;
      us = wall * 1000;
    }
    if (us < last) us = last;
    last = us;
    return us;
  };
}

/** `dir/name.pcapng` → `dir/name-0001.pcapng`. */
export function rotatedName(file: string, index: number): string {
  const p = parsePath(file);
  const ext = p.ext === '' ? '.pcapng' : p.ext;
  return joinPath(p.dir, `${p.name}-${String(index).padStart(4, '0')}${ext}`);
}

/** Where the capture shows the broker when not told: `host:port`, `[v6]:port` or `scheme://host:port/path`. */
export function upstreamEndpoint(upstream: string): Endpoint {
  const hostPort = upstream.replace(/^[a-z]+:\/\//, '').replace(/\/.*$/, '');
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(hostPort) ?? /^([^:]+):(\d+)$/.exec(hostPort);
  if (m) return { address: m[1]!, port: Number(m[2]) };
  return { address: hostPort, port: 1883 };
}

interface Queued {
  conv: Conv;
  seg: Segment;
}

/** Opens the file (rotation: its first part) and resolves once it is writable. */
export async function createPcapngRecorder(opts: RecorderOptions): Promise<PcapngRecorder> {
  const recorder = new Recorder(opts);
  await recorder.start();
  return recorder;
}

class Recorder implements PcapngRecorder {
  private readonly budget: number;
  private readonly clock: () => number;
  private readonly header: Buffer;
  private queue: Queued[] = [];
  private queuedBytes = 0;
  private inFlight = 0;
  private scheduled: NodeJS.Immediate | undefined;
  private stream: Writable | undefined;
  private fileBytes = 0;
  private fileIndex = 0;
  private readonly files: string[] = [];
  private failed: unknown;
  private closing: Promise<void> | undefined;
  private written = 0;
  private recorded = 0;
  private dropped = 0;
  private droppedChunks = 0;
  private peak = 0;
  /** Chunks dropped since the last block written: the next block's epb_dropcount. */
  private dropsSinceBlock = 0;
  private readonly live = new Map<string, ConnRecorder>();
  private drainWaiters: (() => void)[] = [];
  /** The next file being opened; writes wait for it in the queue. */
  private opening: Promise<void> | undefined;
  /** Set while the next file cannot be opened for want of a descriptor. */
  private outOfFds: unknown;
  private reopenTimer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: RecorderOptions) {
    this.budget = opts.bufferBytes ?? DEFAULT_BUFFER;
    this.clock = opts.clockUs ?? wallClockUs();
    this.header = fileHeader({ userAppl: opts.userAppl ?? 'mqtt-tap', ifName: 'mqtt-tap' });
  }

  async start(): Promise<void> {
    await this.openNext();
  }

  /** The file recording goes to now: `file`, or its current rotated part. */
  private currentPath(): string {
    return this.opts.rotateBytes === undefined ? this.opts.file : rotatedName(this.opts.file, this.fileIndex);
  }

  open(info: OpenInfo): ConnectionObserver {
    const conn = new ConnRecorder(this, info, this.opts.showSecrets === true, this.opts.broker);
    this.live.set(info.conn, conn);
    return conn;
  }

  now(): number {
    return this.clock();
  }

  droppedBytes(conn: string): number {
    return this.live.get(conn)?.dropped ?? 0;
  }

  stats(): RecorderStats {
    const s: RecorderStats = {
      files: [...this.files],
      writtenBytes: this.written,
      recordedBytes: this.recorded,
      droppedBytes: this.dropped,
      droppedChunks: this.droppedChunks,
      peakBufferedBytes: this.peak,
    };
    if (this.failed !== undefined) s.error = errorText(this.failed);
    return s;
  }

  /** Whether `bytes` more may be queued; false counts them as dropped. */
  admit(bytes: number): boolean {
    if (this.closing === undefined && this.failed === undefined) {
      const held = this.queuedBytes + this.inFlight + bytes + SEGMENT_OVERHEAD;
      if (held <= this.budget) {
        this.recorded += bytes;
        return true;
      }
    }
    this.dropped += bytes;
    this.droppedChunks++;
    this.dropsSinceBlock++;
    return false;
  }

  /** Queues segments of `conv` (whatever the budget: control segments are tiny). */
  push(conv: Conv, segs: readonly Segment[]): void {
    if (this.failed !== undefined || this.closing !== undefined) return;
    for (const seg of segs) {
      if (this.dropsSinceBlock > 0) {
        seg.dropCount = this.dropsSinceBlock;
        this.dropsSinceBlock = 0;
      }
      this.queue.push({ conv, seg });
      this.queuedBytes += heldBytes(seg);
    }
    const held = this.queuedBytes + this.inFlight;
    if (held > this.peak) this.peak = held;
    this.scheduled ??= setImmediate(this.flushQueue);
  }

  connectionClosed(conn: string, dropped: number): void {
    this.live.delete(conn);
    if (dropped > 0) this.opts.onDropped?.(conn, dropped);
  }

  flush(): Promise<void> {
    this.flushQueue();
    // After a failure, writes still pending on an old file finish on their own.
    if (this.inFlight === 0 || this.failed !== undefined) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.stopReopening();
      // Writing out what is queued may rotate, and so open one more file: wait for that one too.
      do {
        await this.opening;
        await this.flush();
      } while (this.opening !== undefined);
      // Still without a file (out of descriptors): what waited for one is lost.
      this.dropQueue();
      const stream = this.stream;
      this.stream = undefined;
      if (stream !== undefined) await endStream(stream);
      await Promise.all(this.ending);
    })();
    return this.closing;
  }

  private stopReopening(): void {
    if (this.reopenTimer !== undefined) clearTimeout(this.reopenTimer);
    this.reopenTimer = undefined;
  }

  /** Counts what is queued as dropped instead of recorded. */
  private dropQueue(): void {
    for (const { seg } of this.queue) {
      const bytes = (seg.end ?? 0) - (seg.start ?? 0);
      if (bytes === 0) continue;
      this.recorded -= bytes;
      this.dropped += bytes;
      this.droppedChunks++;
    }
    this.queue = [];
    this.queuedBytes = 0;
  }

  /** Encodes the queue into whole-block buffers and writes them, rotating files at block boundaries. */
  /** Old files still being finished after a rotation. */
  private readonly ending = new Set<Promise<void>>();

  private readonly flushQueue = (): void => {
    if (this.scheduled !== undefined) {
      clearImmediate(this.scheduled);
      this.scheduled = undefined;
    }
    const queue = this.queue;
    // No file yet (being opened, or out of descriptors): the queue waits for it.
    if (queue.length === 0 || (this.stream === undefined && this.failed === undefined)) return;
    this.queue = [];
    this.queuedBytes = 0;
    if (this.failed !== undefined) return;
    const rotate = this.opts.rotateBytes;
    let k = 0;
    while (k < queue.length) {
      // One slice: as many whole blocks as fit WRITE_SLICE (at least one), stopping at a rotation.
      let size = 0;
      let end = k;
      let rotateAfter = false;
      while (end < queue.length) {
        const q = queue[end]!;
        const len = q.conv.path.blockLength(q.seg);
        if (end > k && size + len > WRITE_SLICE) break;
        if (
          rotate !== undefined &&
          this.fileBytes + size + len > rotate &&
          this.fileBytes + size > this.header.length
        ) {
          rotateAfter = true;
          break;
        }
        size += len;
        end++;
      }
      if (end > k) {
        const out = Buffer.allocUnsafe(size);
        let at = 0;
        for (let j = k; j < end; j++) at = queue[j]!.conv.path.writeBlock(out, at, queue[j]!.seg);
        this.write(out);
        k = end;
      }
      if (rotateAfter) {
        this.rotateNow();
        if (this.failed !== undefined) return;
        // The rest waits in the queue for the next file, written once it is open.
        this.queue = queue.slice(k);
        for (const q of this.queue) this.queuedBytes += heldBytes(q.seg);
        return;
      }
    }
  };

  private write(buf: Buffer): void {
    const stream = this.stream;
    if (stream === undefined) return;
    this.inFlight += buf.length;
    this.fileBytes += buf.length;
    this.written += buf.length;
    stream.write(buf, (err) => {
      this.inFlight -= buf.length;
      if (err) this.fail(err);
      if (this.inFlight === 0) {
        const waiters = this.drainWaiters;
        this.drainWaiters = [];
        for (const w of waiters) w();
      }
    });
  }

  private rotateNow(): void {
    const old = this.stream;
    this.stream = undefined;
    if (old !== undefined) {
      const done = endStream(old).then(() => {
        this.ending.delete(done);
      });
      this.ending.add(done);
    }
    this.openNext().catch((err: unknown) => this.openFailed(err));
  }

  /**
   * Opens the next file and, once it is open, writes its header and what queued meanwhile.
   * Rejects with the open's error (at start, a startup failure).
   */
  private openNext(): Promise<void> {
    if (this.outOfFds === undefined) this.fileIndex++;
    const path = this.currentPath();
    let stream: Writable;
    try {
      // Owner-only: a recording holds whole payloads, and passwords with --show-secrets.
      stream = (this.opts.openFile ?? ((p: string) => createWriteStream(p, { mode: 0o600 })))(path);
    } catch (err) {
      return Promise.reject(err);
    }
    const ready =
      !('pending' in stream) || (stream as { pending?: boolean }).pending !== true
        ? Promise.resolve()
        : new Promise<void>((resolve, reject) => {
            const onOpen = (): void => {
              stream.off('error', onError);
              resolve();
            };
            const onError = (err: Error): void => {
              stream.off('ready', onOpen);
              stream.destroy();
              reject(err);
            };
            stream.once('ready', onOpen);
            stream.once('error', onError);
          });
    const opening = ready.then(() => {
      this.opening = undefined;
      this.opened(stream, path);
    });
    this.opening = opening.catch(() => {
      this.opening = undefined;
    });
    return opening;
  }

  private opened(stream: Writable, path: string): void {
    stream.on('error', (err) => this.fail(err));
    this.stream = stream;
    this.files.push(path);
    this.fileBytes = 0;
    this.write(this.header);
    if (this.outOfFds !== undefined) {
      this.outOfFds = undefined;
      this.opts.onResume?.(path);
    }
    this.flushQueue();
  }

  /** The next file could not be opened: out of descriptors, wait and retry; else recording stops. */
  private openFailed(err: unknown): void {
    if (!outOfDescriptors(err) || this.closing !== undefined) {
      this.fail(err);
      return;
    }
    if (this.outOfFds === undefined) {
      this.outOfFds = err;
      this.opts.onPause?.(err, this.currentPath());
    }
    this.reopenTimer = setTimeout(() => {
      this.reopenTimer = undefined;
      if (this.failed === undefined && this.closing === undefined) {
        this.openNext().catch((e: unknown) => this.openFailed(e));
      }
    }, REOPEN_MS);
    this.reopenTimer.unref();
  }

  private fail(err: unknown): void {
    if (this.failed !== undefined) return;
    this.failed = err;
    this.stopReopening();
    this.queue = [];
    this.queuedBytes = 0;
    const stream = this.stream;
    this.stream = undefined;
    stream?.destroy();
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const w of waiters) w();
    this.opts.onError?.(err);
  }
}

function endStream(stream: Writable): Promise<void> {
  return new Promise((resolve) => {
    if (stream.destroyed || stream.writableFinished) {
      resolve();
      return;
    }
    stream.once('close', () => resolve());
    stream.once('error', () => resolve());
    stream.end();
    // Streams without 'close' (autoDestroy off) still finish.
    stream.once('finish', () => resolve());
  });
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** One connection's recording: the TCP conversation, the secret scanners and the drop count. */
class ConnRecorder implements ConnectionObserver {
  dropped = 0;
  private readonly conv: Conv;
  private readonly locators: Record<Direction, SecretLocator> | undefined;
  /** The broker could not be reached: written at close, with the close details. */
  private upstreamFailure: string | undefined;

  constructor(
    private readonly rec: Recorder,
    private readonly info: OpenInfo,
    showSecrets: boolean,
    broker: Endpoint | undefined,
  ) {
    this.conv = new TcpConversation(info.client, broker ?? upstreamEndpoint(info.upstream));
    this.locators = showSecrets ? undefined : secretLocators();
    const open: Record<string, unknown> = {
      conn: info.conn,
      client: info.client,
      local: info.local,
      upstream: info.upstream,
      transport: info.transport,
      startedAt: info.startedAt,
    };
    if (info.tls !== undefined) open.tls = info.tls;
    const syn = this.conv.syn(rec.now());
    syn.comments = [`${COMMENT_PREFIX}open ${JSON.stringify(open)}`];
    rec.push(this.conv, [syn]);
  }

  data(from: Direction, chunk: Buffer): void {
    const conv = this.conv;
    if (conv.closed) return;
    const ts = this.rec.now();
    if (!conv.established) this.rec.push(conv, conv.accept(ts));
    const loc = this.locators?.[from];
    const ranges = loc === undefined || loc.done ? undefined : loc.scan(chunk);
    if (!this.rec.admit(chunk.length)) {
      this.dropped += chunk.length;
      conv.data(from, chunk, ts, false);
      return;
    }
    const bytes = ranges === undefined ? chunk : maskRanges(chunk, ranges);
    this.rec.push(conv, conv.data(from, bytes, ts));
  }

  upstreamConnected(): void {
    if (!this.conv.established && !this.conv.closed)
      this.rec.push(this.conv, this.conv.accept(this.rec.now()));
  }

  closeFields(): Record<string, unknown> | undefined {
    return this.dropped > 0 ? { recordDroppedBytes: this.dropped } : undefined;
  }

  upstreamError(err: UpstreamErrorInfo): void {
    if (this.conv.established || this.conv.closed) return;
    this.upstreamFailure = `${COMMENT_PREFIX}upstream-error ${JSON.stringify(err)}`;
  }

  close(info: CloseInfo): void {
    const conv = this.conv;
    if (conv.closed) return;
    const ts = this.rec.now();
    const detail: Record<string, unknown> = { conn: this.info.conn, ...info };
    if (this.dropped > 0) detail.droppedBytes = this.dropped;
    const comment = `${COMMENT_PREFIX}close ${JSON.stringify(detail)}`;
    let segs: Segment[];
    if (this.upstreamFailure !== undefined) {
      // The broker never answered the SYN: a refusal, as a closed port answers.
      segs = [conv.refuse(ts)];
      segs[0]!.comments = [this.upstreamFailure, comment];
    } else if (!conv.established) {
      // The client left while the broker was being dialled.
      segs = [conv.reset('client', ts)];
    } else if (info.error !== undefined) {
      segs = [conv.reset(info.error.side, ts)];
    } else {
      // 'proxy' (shutdown): shown as the broker side closing first, which is what the client saw.
      segs = conv.finish(info.closedBy === 'client' ? 'client' : 'broker', ts);
    }
    segs[0]!.comments ??= [comment];
    this.rec.push(conv, segs);
    this.rec.connectionClosed(this.info.conn, this.dropped);
  }
}
