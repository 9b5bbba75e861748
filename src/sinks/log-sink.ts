/**
 * The log: records as NDJSON lines (or pretty lines) in a bounded batch, written to a file or
 * stdout. Logging never holds up forwarding: a slow destination costs dropped lines, counted and
 * reported, never memory or time; a failed one is reported once and logging stops.
 */
import { createRequire } from 'node:module';
import { LEVEL_VALUES } from '../record/log-record.js';
import { writePacketLine, writeRecordLine } from '../record/ndjson-line.js';
import { packetEntry } from '../record/object-form.js';
import { LineBatch } from './line-batch.js';
import { openLogDestination } from './log-destination.js';
import { formatPrettyLine } from './pretty-line.js';
import type { Level, LogRecord, RecordSink } from './sink.js';

/** Most bytes of log lines held for a slow destination (`--log-buffer`). */
export const DEFAULT_LOG_BUFFER_BYTES = 32 * 1024 * 1024;

export interface LogSinkOptions {
  level: Level;
  /** `stdout`, or a file path (appended to, created 0600; parent directories created). */
  destination: 'stdout' | string;
  pretty: boolean;
  /**
   * Milliseconds since the epoch for each record's `time` (replay uses the capture's). Default: the
   * wall clock, read once per run of synchronous work (turnClock).
   */
  clock?: () => number;
  /** ANSI colours in pretty mode (the CLI decides: a TTY and no NO_COLOR). Default false. */
  colorize?: boolean;
  /** Longest time a line may wait in the batch for an idle destination (ms, default 100). */
  flushIntervalMs?: number;
  /** Most bytes of lines held for the destination (default DEFAULT_LOG_BUFFER_BYTES); beyond, lines are dropped and counted. */
  bufferBytes?: number;
  /**
   * The destination failed (broken pipe, disk full, file removed): called once; logging stops.
   * Default: one line on stderr.
   */
  onError?: (err: Error) => void;
}

export interface LogSink extends RecordSink {
  /** Lines dropped because the destination fell behind by more than the buffer. */
  droppedLines(): number;
  /** Undefined while the log keeps up; else resolves once it has room again (replay waits on it). */
  whenRoom(): Promise<void> | undefined;
  /**
   * Writes out what is held, waiting at most `timeoutMs`, then stops; nothing is written afterwards.
   * Resolves true when every line reached the destination.
   */
  close(timeoutMs?: number): Promise<boolean>;
}

/**
 * The line pino writes for records writeRecordLine leaves to it (an `err` field, values JSON
 * cannot hold). Loaded on the first such record: most runs never see one.
 */
function pinoLines(clock: () => number): (level: Level, record: LogRecord, msg: string) => string {
  const { pino } = createRequire(import.meta.url)('pino') as typeof import('pino');
  let line = '';
  const logger = pino(
    // No pid/hostname: records are about connections, and the fields cost bytes on every line.
    { level: 'trace', base: null, timestamp: () => `,"time":${clock()}` },
    {
      write(text: string): void {
        line = text;
      },
    },
  );
  return (level, record, msg) => {
    line = '';
    logger[level](record, msg);
    return line;
  };
}

/**
 * Date.now, read once until the current synchronous work ends (a microtask forgets it): the lines
 * of one chunk's packets share a reading. Reading the clock costs as much as writing a line's
 * fields on some hosts; a line's time is then late by at most the work of one event-loop turn.
 */
function turnClock(): () => number {
  let now: number | undefined;
  const forget = (): void => {
    now = undefined;
  };
  return () => {
    if (now === undefined) {
      now = Date.now();
      queueMicrotask(forget);
    }
    return now;
  };
}

export function createLogSink(options: LogSinkOptions): LogSink {
  const clock = options.clock ?? turnClock();
  const colorize = options.colorize ?? false;
  let pinoLine: ((level: Level, record: LogRecord, msg: string) => string) | undefined;
  /** A record's line into `out`: record/ndjson-line.ts writes it, or pino what only pino gets right. */
  const putRecord = (out: LineBatch, level: Level, record: LogRecord, msg: string): void => {
    if (options.pretty) {
      out.putText(`${formatPrettyLine(LEVEL_VALUES[level], clock(), record, msg, colorize)}\n`);
      return;
    }
    // An `err` field is pino's to shape (its error serialiser).
    if (!Object.hasOwn(record, 'err') && writeRecordLine(out, level, clock(), record, msg) !== undefined)
      return;
    pinoLine ??= pinoLines(clock);
    out.putText(pinoLine(level, record, msg));
  };

  /** The least level written; none once the destination has failed. */
  let threshold = LEVEL_VALUES[options.level];
  const batch = new LineBatch(
    options.bufferBytes ?? DEFAULT_LOG_BUFFER_BYTES,
    openLogDestination(options.destination),
    {
      dropNotice: (out, n) =>
        putRecord(
          out,
          'warn',
          { event: 'log-dropped', lines: n },
          `the log could not keep up: ${n} line${n === 1 ? '' : 's'} dropped`,
        ),
      failed: (err) => {
        threshold = Number.POSITIVE_INFINITY;
        if (options.onError) options.onError(err);
        else console.error(`mqtt-tap: cannot write the log (${err.message}); nothing more is logged`);
      },
    },
  );
  const timer = setInterval(() => batch.tick(), options.flushIntervalMs ?? 100);
  timer.unref();
  // A last try at exit for lines still waiting (a fatal error): only what goes without waiting.
  const onExit = (): void => batch.writeNow();
  process.on('exit', onExit);

  let closed: Promise<boolean> | undefined;
  return {
    isLevelEnabled: (level) => LEVEL_VALUES[level] >= threshold,
    write(level: Level, record: LogRecord, msg: string): void {
      if (LEVEL_VALUES[level] >= threshold) putRecord(batch, level, record, msg);
    },
    writePacket(level, head, packet, corr, opts): void {
      if (LEVEL_VALUES[level] < threshold) return;
      if (!options.pretty) {
        writePacketLine(batch, level, clock(), head, packet, corr, opts);
        return;
      }
      // The pretty view reads the object form.
      const { record, msg } = packetEntry(head, packet, corr, opts);
      putRecord(batch, level, record, msg);
    },
    flush: () => batch.flush(),
    droppedLines: () => batch.droppedLines(),
    whenRoom: () => batch.whenRoom(),
    close(timeoutMs = Number.POSITIVE_INFINITY): Promise<boolean> {
      closed ??= new Promise<boolean>((resolve) => {
        let timeout: NodeJS.Timeout | undefined;
        let finished = false;
        const finish = (flushed: boolean): void => {
          if (finished) return;
          finished = true;
          if (timeout !== undefined) clearTimeout(timeout);
          clearInterval(timer);
          process.off('exit', onExit);
          const complete = flushed && !batch.failed;
          batch.close();
          resolve(complete);
        };
        if (Number.isFinite(timeoutMs)) timeout = setTimeout(() => finish(false), Math.max(0, timeoutMs));
        void batch.flush().then(() => finish(true));
      });
      return closed;
    },
  };
}
