/**
 * Options the proxy and replay commands share (log destination and level, payload previews,
 * capture cap, secrets, selection) and how they become sink and tap settings.
 */
import { resolve } from 'node:path';
import type { Argv } from 'yargs';
import { DEFAULT_FLAPPING, type FlappingRule, MAX_FLAPPING_COUNT } from '../observe/client-ids.js';
import type { TapOptions } from '../observe/tap-options.js';
import { topicFilterProblem } from '../protocol/topic-match.js';
import { DEFAULT_RECORD_OPTIONS, PAYLOAD_MODES, type PayloadMode } from '../record/defaults.js';
import { DEFAULT_SESSION_STATE_MAX } from '../session/state-budget.js';
import { MIN_LINE_BATCH_LIMIT } from '../sinks/line-batch.js';
import { DEFAULT_LOG_BUFFER_BYTES } from '../sinks/log-sink.js';
import { LEVELS, type Level } from '../sinks/sink.js';
import { parseSize } from './parse-size.js';

/** A bad flag value: exit code 2 and the usage hint. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** A flag given twice (or by flag and variable) keeps the last value for single-valued options. */
export function lastValue<T>(value: T | T[]): T {
  return Array.isArray(value) ? value[value.length - 1]! : value;
}

export function nonNegativeInteger(name: string, max: number): (raw: unknown) => number {
  return (raw: unknown): number => {
    const value = Number(lastValue(raw));
    if (!Number.isInteger(value) || value < 0 || value > max) {
      throw new UsageError(
        `--${name} must be a whole number of bytes between 0 and ${max}, got "${String(raw)}"`,
      );
    }
    return value;
  };
}

/** `--topic` must be a valid MQTT Topic Filter (MQTT 5.0 §4.7.1). */
export function validateTopicFilter(filter: string): string {
  const problem = topicFilterProblem(filter);
  if (problem !== undefined) {
    throw new UsageError(
      filter === '' ? '--topic must not be empty' : `--topic "${filter}": ${problem.detail}`,
    );
  }
  return filter;
}

export interface LogArgs {
  logFile?: string;
  pretty?: boolean;
  level: Level;
  /** Bytes of log lines held for a slow destination (default DEFAULT_LOG_BUFFER_BYTES). */
  logBuffer?: number;
}

/** `--log-buffer`: a size (32MiB, 500k...) of at least MIN_LINE_BATCH_LIMIT. */
function logBufferSize(raw: unknown): number {
  let bytes: number;
  try {
    bytes = parseSize(String(lastValue(raw)));
  } catch (err) {
    throw new UsageError(`--log-buffer: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (bytes < MIN_LINE_BATCH_LIMIT) {
    throw new UsageError(
      `--log-buffer must be at least ${MIN_LINE_BATCH_LIMIT / 1024}KiB, got "${String(raw)}"`,
    );
  }
  return bytes;
}

export interface DecodeArgs {
  payload: PayloadMode;
  payloadMax: number;
  captureMax: number;
  showSecrets: boolean;
  sessionMax: number;
  clientId?: string;
  topic?: string;
  flapping: FlappingRule;
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, min: 60_000, h: 3_600_000 };

/** `--flapping N/DURATION`: N takeovers (2 to MAX_FLAPPING_COUNT) within DURATION (`60s`, `2m`, `500ms`; bare: seconds). */
export function parseFlapping(raw: unknown): FlappingRule {
  const text = String(lastValue(raw)).trim();
  const m = /^(\d+)\s*\/\s*(\d+(?:\.\d+)?)\s*(ms|s|m|min|h)?$/.exec(text);
  const count = m === null ? Number.NaN : Number(m[1]);
  const windowMs = m === null ? Number.NaN : Number(m[2]) * DURATION_UNITS[m[3] ?? 's']!;
  if (!Number.isInteger(count) || count < 2 || count > MAX_FLAPPING_COUNT || !(windowMs > 0)) {
    throw new UsageError(
      `--flapping must be N/DURATION, N takeovers of one client id (2 to ${MAX_FLAPPING_COUNT}) within DURATION (60s, 2m, 500ms), got "${text}"`,
    );
  }
  return { count, windowMs };
}

export const DEFAULT_FLAPPING_TEXT = `${DEFAULT_FLAPPING.count}/${DEFAULT_FLAPPING.windowMs / 1000}s`;

export function logOptions<T>(y: Argv<T>): Argv<T & LogArgs> {
  return y
    .option('log-file', {
      type: 'string',
      describe: 'write NDJSON records to this file (appended) instead of stdout',
      coerce: (v: string | string[]) => resolve(lastValue(v)),
    })
    .option('pretty', {
      type: 'boolean',
      describe:
        'one coloured line per record instead of JSON (default: when stdout is a terminal and no --log-file)',
    })
    .option('level', {
      choices: LEVELS,
      default: 'info' as Level,
      describe:
        'least severe records written (PINGREQ/PINGRESP are debug, refusals warn, malformed input error)',
    })
    .option('log-buffer', {
      type: 'string',
      defaultDescription: `${DEFAULT_LOG_BUFFER_BYTES / 1024 / 1024}MiB`,
      describe:
        'log lines held while the log destination is slower than the traffic (1MiB, 64MiB...); beyond it lines are dropped, counted and reported in a log-dropped record',
      coerce: logBufferSize,
    }) as unknown as Argv<T & LogArgs>;
}

export function decodeOptions<T>(y: Argv<T>): Argv<T & DecodeArgs> {
  return y
    .option('payload', {
      choices: PAYLOAD_MODES,
      default: DEFAULT_RECORD_OPTIONS.payload,
      describe: 'how PUBLISH payloads are previewed',
    })
    .option('payload-max', {
      type: 'number',
      default: DEFAULT_RECORD_OPTIONS.payloadMax,
      describe: 'bytes of payload shown in a preview',
      coerce: nonNegativeInteger('payload-max', 1024 * 1024),
    })
    .option('capture-max', {
      type: 'number',
      default: 65536,
      describe: 'bytes of one packet kept for decoding; the rest is counted, never buffered',
      coerce: nonNegativeInteger('capture-max', 256 * 1024 * 1024),
    })
    .option('show-secrets', {
      type: 'boolean',
      default: DEFAULT_RECORD_OPTIONS.showSecrets,
      describe:
        'CONNECT passwords and AUTH data in clear (default: length and a per-run keyed hash; recordings hold * in their place)',
    })
    .option('session-max', {
      type: 'string',
      default: String(DEFAULT_SESSION_STATE_MAX),
      defaultDescription: `${DEFAULT_SESSION_STATE_MAX / 1024 / 1024}MiB`,
      describe:
        'bytes of in-flight ids, topic aliases and pending requests kept per connection (1MiB, 4MB...); past it they are not kept and a state-limit record says so',
      coerce: (v: string | string[]) => {
        try {
          return parseSize(String(lastValue(v)));
        } catch (err) {
          throw new UsageError(`--session-max: ${err instanceof Error ? err.message : String(err)}`);
        }
      },
    })
    .option('client-id', {
      type: 'string',
      describe: 'log packets only of connections whose client id matches this glob (* and ?)',
      coerce: (v: string | string[]) => lastValue(v),
    })
    .option('topic', {
      type: 'string',
      describe: 'log PUBLISH/SUBSCRIBE/UNSUBSCRIBE only when they match this MQTT filter (+ and #)',
      coerce: (v: string | string[]) => validateTopicFilter(lastValue(v)),
    })
    .option('flapping', {
      type: 'string',
      default: DEFAULT_FLAPPING_TEXT,
      describe:
        'N/DURATION: a flapping warning when one client id is taken over N times within DURATION (e.g. 5/2m)',
      coerce: parseFlapping,
    }) as unknown as Argv<T & DecodeArgs>;
}

export function tapOptionsFrom(args: DecodeArgs): TapOptions {
  const tap: TapOptions = {
    captureCap: args.captureMax,
    payload: args.payload,
    payloadMax: args.payloadMax,
    showSecrets: args.showSecrets,
    sessionMax: args.sessionMax,
    flapping: args.flapping,
  };
  if (args.clientId !== undefined) tap.clientId = args.clientId;
  if (args.topic !== undefined) tap.topic = args.topic;
  return tap;
}

/** JSON unless asked, or when a person is watching a terminal. */
export function prettyWanted(args: LogArgs, stdoutIsTTY: boolean): boolean {
  return args.pretty ?? (stdoutIsTTY && args.logFile === undefined);
}
