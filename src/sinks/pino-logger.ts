/**
 * The pino sink: NDJSON (or a pretty one-line-per-record view) through an asynchronous, batching
 * destination so that logging never stalls the proxy's event loop on a slow terminal or disk.
 */
import { createRequire } from 'node:module';
import { type DestinationStream, type Logger, pino } from 'pino';
import { type LineOutput, writePacketLine, writeRecordLine } from '../record/ndjson-line.js';
import { packetEntry } from '../record/object-form.js';
import type { Level, RecordSink } from './sink.js';

export interface PinoSinkOptions {
  level: Level;
  /** `stdout`, or a file path (appended to; parent directories created). */
  destination: 'stdout' | string;
  pretty: boolean;
  /** Milliseconds since the epoch for each record's `time` (default Date.now; replay uses the capture's). */
  clock?: () => number;
  /** ANSI colours in pretty mode (the CLI decides: a TTY and no NO_COLOR). Default false. */
  colorize?: boolean;
  /**
   * Longest time a record may sit in the batch buffer (ms, default 100): batching must not hide a
   * line from someone watching live.
   */
  flushIntervalMs?: number;
  /**
   * The destination failed (disk full, file removed, permissions). Called once; records written
   * afterwards are dropped. A broken pipe on stdout (reader gone) is ignored silently, as pino does.
   */
  onError?: (err: Error) => void;
}

export interface PinoSink extends RecordSink {
  logger: Logger;
  /** Writes out everything buffered, synchronously (last resort on fatal paths). */
  flushSync(): void;
  /** Flushes and closes the destination; nothing may be written afterwards. */
  close(): Promise<void>;
}

/**
 * Batch this many bytes before a write() syscall, unless the interval flush (100 ms) comes first.
 * Large on purpose: with 4 KiB, a stream of writes completing on the thread pool kept waking the
 * process, and in scenario A of `npm run bench` the broker's output then reached mqtt-tap in
 * ~200-byte reads instead of ~63 KB ones (see proxy/deferred-observer.ts); with 1 MiB it did not.
 */
const MIN_BATCH = 1024 * 1024 - 1;

/**
 * pino's lines reach sonic-boom encoded, in buffers of this size (see LineBatch), which is also
 * the most one write() carries: a full buffer is written as it is. (With smaller buffers merged
 * into larger writes, sonic-boom's Buffer.concat into fresh memory cost a sixth of the tap's CPU.)
 */
const HANDOFF_BYTES = 1024 * 1024;
const MAX_WRITE = HANDOFF_BYTES;

/** Written buffers kept for reuse (fresh 1 MiB buffers cost page faults). */
const POOL_SIZE = 4;

// --- pretty formatting ---------------------------------------------------------------------------

type Paint = (text: string) => string;

interface Palette {
  dim: Paint;
  bold: Paint;
  client: Paint;
  broker: Paint;
  levels: Record<string, Paint>;
  warnText: Paint;
  errorText: Paint;
}

const sgr =
  (open: number, close: number): Paint =>
  (text) =>
    `\u001b[${open}m${text}\u001b[${close}m`;
const plain: Paint = (text) => text;

const COLOURS: Palette = {
  dim: sgr(2, 22),
  bold: sgr(1, 22),
  client: sgr(36, 39), // cyan
  broker: sgr(35, 39), // magenta
  levels: {
    TRACE: sgr(90, 39),
    DEBUG: sgr(34, 39),
    INFO: sgr(32, 39),
    WARN: sgr(33, 39),
    ERROR: sgr(31, 39),
    FATAL: (t) => `\u001b[41m\u001b[97m${t}\u001b[39m\u001b[49m`,
  },
  warnText: sgr(33, 39),
  errorText: sgr(31, 39),
};

const NO_COLOURS: Palette = {
  dim: plain,
  bold: plain,
  client: plain,
  broker: plain,
  levels: {},
  warnText: plain,
  errorText: plain,
};

const LEVEL_LABELS: Record<number, string> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO',
  40: 'WARN',
  50: 'ERROR',
  60: 'FATAL',
};

/**
 * Logged strings come from the network (topics, client ids): strip terminal control sequences and
 * keep each record on one line.
 */
function printable(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: removing them is the point.
  return text.replace(/\r\n|[\r\n]/g, '⏎').replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, '');
}

function clock(time: unknown): string {
  const d = typeof time === 'number' ? new Date(time) : new Date();
  const p2 = (n: number): string => String(n).padStart(2, '0');
  return `${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, '0')}`;
}

/**
 * `time LEVEL conn from→ msg`: the local wall-clock time (what the operator's clock says), the
 * level, the connection id, which side sent the packet, then the record's one-line summary. Lines
 * at warn and above are coloured whole so refusals stand out in a scrolling terminal.
 */
export function formatPrettyLine(log: Record<string, unknown>, colorize: boolean): string {
  const c = colorize ? COLOURS : NO_COLOURS;
  const level = typeof log.level === 'number' ? log.level : 30;
  const label = LEVEL_LABELS[level] ?? String(level);
  const paintLevel = c.levels[label] ?? plain;
  let line = `${c.dim(clock(log.time))} ${paintLevel(label.padEnd(5))}`;
  if (typeof log.conn === 'string') {
    line += ` ${c.bold(printable(log.conn).padEnd(4))}`;
    if (log.from === 'client') line += ` ${c.client('client→')}`;
    else if (log.from === 'broker') line += ` ${c.broker('broker→')}`;
    else line += '        ';
  }
  let msg = printable(typeof log.msg === 'string' ? log.msg : String(log.event ?? ''));
  const err = log.err;
  if (typeof err === 'object' && err !== null && 'message' in err && typeof err.message === 'string') {
    msg += `: ${printable(err.message)}`;
  }
  if (level >= 50) msg = c.errorText(msg);
  else if (level >= 40) msg = c.warnText(msg);
  return `${line} ${msg}`;
}

function prettyDestination(target: DestinationStream, colorize: boolean): DestinationStream {
  // Loaded only for pretty output, as ws is (proxy/ws-module.ts says why).
  const { prettyFactory } = createRequire(import.meta.url)('pino-pretty') as typeof import('pino-pretty');
  const prettify = prettyFactory({
    colorize: false,
    hideObject: true,
    // Time and level are laid out by formatPrettyLine; empty prettifiers drop pino-pretty's own.
    customPrettifiers: { time: () => '', level: () => '' },
    messageFormat: (log) => formatPrettyLine(log, colorize),
  });
  return {
    // Synchronous and in-process: a worker-thread transport could lose lines on a crash.
    write(line: string): void {
      const out = prettify(line);
      if (out) target.write(out);
    },
  };
}

// --- the sink ------------------------------------------------------------------------------------

/**
 * Collects pino's lines, UTF-8 encoded into one buffer, and hands them to sonic-boom (in buffer
 * mode) a buffer at a time. Given strings, sonic-boom (4.2) appends each write to its last buffered
 * string after measuring that string with Buffer.byteLength: per record, a rope of up to 16 KiB
 * flattened and scanned. With every packet logged that was a fifth of mqtt-tap's CPU (`npm run
 * bench`, scenario A under --cpu-prof).
 */
class LineBatch implements LineOutput {
  buf: Buffer = Buffer.allocUnsafe(HANDOFF_BYTES);
  used = 0;
  /** Set once the destination is closed: later lines are dropped, never handed over. */
  closed = false;
  /** Buffers handed over and not yet written, in order, with how many of their bytes count. */
  private readonly handed: { buf: Buffer; length: number }[] = [];
  private writtenOfFirst = 0;
  private readonly pool: Buffer[] = [];
  /** After a synchronous flush the written counts no longer line up: no more reuse. */
  private reuse = true;

  constructor(private readonly dest: { write(chunk: Buffer): unknown }) {}

  /** The destination wrote `n` more bytes (sonic-boom's 'write' event, in order). */
  written(n: number): void {
    if (!this.reuse) return;
    let left = this.writtenOfFirst + n;
    while (this.handed.length > 0 && left >= this.handed[0]!.length) {
      const done = this.handed.shift()!;
      left -= done.length;
      if (this.pool.length < POOL_SIZE && done.buf.length === HANDOFF_BYTES) this.pool.push(done.buf);
    }
    this.writtenOfFirst = left;
  }

  /** Bytes handed over and not yet reported written; undefined once that is no longer known. */
  unwritten(): number | undefined {
    if (!this.reuse) return undefined;
    let n = -this.writtenOfFirst;
    for (const h of this.handed) n += h.length;
    return n;
  }

  /** Bytes were written without 'write' events (flushSync): stop reusing buffers. */
  forgetHanded(): void {
    this.reuse = false;
    this.handed.length = 0;
    this.pool.length = 0;
  }

  write(line: string): void {
    // One UTF-16 code unit never takes more than 3 bytes of UTF-8.
    if (this.used + line.length * 3 > this.buf.length) {
      this.pass();
      if (line.length * 3 > this.buf.length) {
        if (this.closed) return;
        const big = Buffer.from(line, 'utf8');
        if (this.reuse) this.handed.push({ buf: big, length: big.length });
        this.dest.write(big);
        return;
      }
    }
    this.used += this.buf.write(line, this.used, 'utf8');
  }

  /**
   * Makes room for `bytes` more in the buffer (handing over what it holds when needed), so that
   * a writer may fill `buf` from `used` on. A line longer than a buffer gets a buffer of its own.
   */
  reserve(bytes: number): boolean {
    if (this.used + bytes <= this.buf.length) return true;
    this.pass();
    if (bytes > this.buf.length) {
      if (this.closed) return false;
      if (this.pool.length < POOL_SIZE) this.pool.push(this.buf);
      this.buf = Buffer.allocUnsafe(bytes);
    }
    return true;
  }

  /** Hands everything collected to the destination. */
  pass(): void {
    if (this.used === 0) return;
    const chunk = this.buf.subarray(0, this.used);
    if (this.reuse && !this.closed) this.handed.push({ buf: this.buf, length: this.used });
    this.buf = this.pool.pop() ?? Buffer.allocUnsafe(HANDOFF_BYTES);
    this.used = 0;
    if (!this.closed) this.dest.write(chunk);
  }
}

export function createPinoSink(options: PinoSinkOptions): PinoSink {
  const clock = options.clock ?? Date.now;
  const dest = pino.destination({
    dest: options.destination === 'stdout' ? 1 : options.destination,
    sync: false,
    minLength: MIN_BATCH,
    maxWrite: MAX_WRITE,
    contentMode: 'buffer',
    mkdir: true,
    append: true,
  });
  // In buffer mode sonic-boom's write() takes buffers; its type only knows strings.
  const batch = new LineBatch(dest as unknown as { write(chunk: Buffer): boolean });
  dest.on('write', (n: number) => batch.written(n));
  // The periodic flush is ours rather than sonic-boom's, so that it passes the batch on first.
  const timer = setInterval(() => {
    batch.pass();
    try {
      if (!batch.closed) dest.flush();
    } catch {
      // Destroyed after a failure: reported once through 'error'.
    }
  }, options.flushIntervalMs ?? 100);
  timer.unref();
  // pino flushes sonic-boom synchronously at exit; lines still here would miss that.
  const onExit = (): void => {
    if (batch.closed) return;
    batch.pass();
    batch.forgetHanded();
    try {
      dest.flushSync();
    } catch {
      // Not open yet, or destroyed: nothing more can be done at exit.
    }
  };
  process.on('exit', onExit);
  let failed = false;
  // pino re-emits a non-EPIPE error after its own listener: without ours it would crash the process.
  dest.on('error', (err: Error) => {
    if (failed) return;
    failed = true;
    if (options.onError) options.onError(err);
    else console.error(`mqtt-tap: log destination failed: ${err.message}`);
  });
  const stream = options.pretty ? prettyDestination(batch, options.colorize ?? false) : batch;
  const logger = pino(
    {
      level: options.level,
      // No pid/hostname: records are about connections, and the fields cost bytes on every line.
      base: null,
      ...(clock !== Date.now ? { timestamp: () => `,"time":${clock()}` } : {}),
    },
    stream,
  );

  let ended = false;
  const flush = (): Promise<void> =>
    new Promise((resolve, reject) => {
      if (ended) {
        resolve();
        return;
      }
      batch.pass();
      let rounds = 0;
      const go = (): void => {
        dest.flush((err?: Error) => {
          // flush() ends with an fsync, which a terminal or a pipe refuses (EINVAL): the bytes are written.
          if (err && (err as NodeJS.ErrnoException).syscall !== 'fsync') reject(err);
          // sonic-boom's flush writes one group (at most MAX_WRITE) and calls back once less than
          // minLength is left: ask again until everything handed over is written.
          else if ((batch.unwritten() ?? 0) > 0 && ++rounds < 10_000) go();
          else resolve();
        });
      };
      // In buffer mode sonic-boom (4.2) throws from its open callback when flush(cb) came before
      // the file was open and nothing was buffered (mergeBuf of no buffers): ask once it is open,
      // after its open callback (which emits 'ready' before it starts writing) has returned.
      if ((dest as unknown as { fd: number }).fd >= 0) {
        go();
        return;
      }
      const onReady = (): void => {
        dest.off('error', onError);
        process.nextTick(go);
      };
      const onError = (err: Error): void => {
        dest.off('ready', onReady);
        reject(err);
      };
      dest.once('ready', onReady);
      dest.once('error', onError);
    });

  let closed: Promise<void> | undefined;
  return {
    logger,
    isLevelEnabled: (level) => logger.isLevelEnabled(level),
    write(level, record, msg): void {
      if (!options.pretty) {
        if (!logger.isLevelEnabled(level)) return;
        // An `err` field is pino's to shape (its error serialiser).
        if (!Object.hasOwn(record, 'err') && writeRecordLine(batch, level, clock(), record, msg)) return;
      }
      logger[level](record, msg);
    },
    writePacket(level, head, packet, corr, opts): void {
      if (!logger.isLevelEnabled(level)) return;
      if (!options.pretty) {
        writePacketLine(batch, level, clock(), head, packet, corr, opts);
        return;
      }
      const { record, msg } = packetEntry(head, packet, corr, opts);
      logger[level](record, msg);
    },
    flush,
    flushSync(): void {
      if (ended) return;
      batch.pass();
      batch.forgetHanded();
      try {
        dest.flushSync();
      } catch {
        // The file is still being opened ("not ready"): pino's own exit hook writes it out.
      }
    },
    close(): Promise<void> {
      closed ??= flush().then(
        () =>
          new Promise<void>((resolve) => {
            if (options.destination === 'stdout') {
              // Never close fd 1: others (the CLI's last words, the test runner) may still use it.
              resolve();
              return;
            }
            ended = true;
            batch.closed = true;
            clearInterval(timer);
            process.off('exit', onExit);
            dest.once('close', () => resolve());
            dest.end();
          }),
      );
      return closed;
    },
  };
}
