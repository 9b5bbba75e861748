/**
 * Every command-line option, defined once: flag, alias, type, default, description and parser with
 * its range check. Each sub-command composes its options from this table. A default lives in the
 * lowest layer that applies it (so the programmatic API uses the same one) and is referenced here.
 */

import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import type { Argv, Options } from 'yargs';
import { DEFAULT_FLAPPING, type FlappingRule, MAX_FLAPPING_COUNT } from '../observe/client-ids.js';
import { DEFAULT_TAP_OPTIONS, type TapOptions } from '../observe/tap-options.js';
import { defaultCaptureBudget } from '../protocol/capture-budget.js';
import { RULE_STATUSES, RULE_VERSIONS } from '../protocol/catalogue/rule-kinds.js';
import { DEFAULT_CAPTURE_CAP, PROTOCOL_VERSIONS } from '../protocol/constants.js';
import { topicFilterProblem } from '../protocol/topic-match.js';
import {
  AddressError,
  parseHostPort,
  parseListen,
  parseUpstream,
  type TransportAddress,
} from '../proxy/address.js';
import {
  DEFAULT_EMBEDDED_BROKER,
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_METRICS_HOST,
  DEFAULT_METRICS_PORT,
  WS_MAX_MESSAGE_LIMIT,
  WS_MESSAGE_HEADROOM,
} from '../proxy/limits.js';
import { normalizeOrigin } from '../proxy/origin.js';
import { DEFAULT_DECODE_PROTOCOL } from '../record/decode-buffer.js';
import { DEFAULT_RECORD_OPTIONS, PAYLOAD_MODES, type PayloadMode } from '../record/defaults.js';
import { DEFAULT_MQTT_PORTS } from '../replay/default-ports.js';
import { DEFAULT_SESSION_STATE_MAX } from '../session/state-budget.js';
import { MIN_LINE_BATCH_LIMIT } from '../sinks/line-batch.js';
import { DEFAULT_LOG_BUFFER_BYTES } from '../sinks/log-sink.js';
import { DEFAULT_TOPIC_MAX, MAX_TOPIC_DEPTH, TOPIC_MAX_LIMIT } from '../sinks/metrics-limits.js';
import { LEVELS, type Level } from '../sinks/sink.js';
import { PAGE_QUEUE_RECORDS } from '../ui/consumers.js';
import { isLoopback } from '../ui/loopback.js';
import { parseSize } from './parse-size.js';

/** A bad flag value: exit code 2 and the usage hint. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** The proxy reads every option from a variable `MQTT_TAP_<OPTION>` too; flags win. */
export const ENV_PREFIX = 'MQTT_TAP';

/** The variable an option is read from: `log-file` → `MQTT_TAP_LOG_FILE`. */
export function envVar(flag: string): string {
  return `${ENV_PREFIX}_${flag.replace(/-/g, '_').toUpperCase()}`;
}

export const DEFAULT_LISTEN = '127.0.0.1:1884';
export const DEFAULT_UI_HOST = '127.0.0.1';
export const DEFAULT_LEVEL: Level = 'info';

/** A flag given twice (or by flag and variable) keeps the last value for single-valued options. */
export function lastValue<T>(value: T | T[]): T {
  return Array.isArray(value) ? value[value.length - 1]! : value;
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
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

/** A SIZE flag (`16MiB`, `100000`), of at least `min` and at most `max` bytes when given. */
function sizeOption(
  name: string,
  bounds: { min?: number; max?: number } = {},
): (v: string | string[]) => number {
  return (v) => {
    let bytes: number;
    try {
      bytes = parseSize(String(lastValue(v)));
    } catch (err) {
      throw new UsageError(`--${name}: ${errorMessage(err)}`);
    }
    if (bounds.min !== undefined && bytes < bounds.min) {
      throw new UsageError(`--${name} must be at least ${bounds.min / 1024}KiB, got "${String(v)}"`);
    }
    if (bounds.max !== undefined && bytes > bounds.max) {
      throw new UsageError(`--${name}: at most ${bounds.max} bytes`);
    }
    return bytes;
  };
}

/** `-l` may repeat, and a variable can only hold one string: accept comma-separated lists too. */
function coerceListen(value: string | string[]): TransportAddress[] {
  const items = (Array.isArray(value) ? value : [value]).flatMap((v) => String(v).split(','));
  const out = items.map((item) => parseListen(item));
  if (out.length === 0) throw new AddressError('--listen needs at least one [HOST:]PORT or URL');
  return out;
}

/** A repeatable flag whose values may also be comma-separated; empty items are left out. */
function commaList(v: string | string[]): string[] {
  return (Array.isArray(v) ? v : [v])
    .flatMap((x) => String(x).split(','))
    .map((x) => x.trim())
    .filter((x) => x !== '');
}

const filePath = (v: string | string[]): string => resolve(lastValue(v));

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

const DEFAULT_FLAPPING_TEXT = `${DEFAULT_FLAPPING.count}/${DEFAULT_FLAPPING.windowMs / 1000}s`;

/** A whole number from `min` to `max`. */
function wholeNumber(name: string, min: number, max: number): (v: unknown) => number {
  return (v: unknown) => {
    const n = Number(lastValue(v));
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new UsageError(`--${name} must be a whole number from ${min} to ${max}, got "${String(v)}"`);
    }
    return n;
  };
}

/** One option: its yargs definition; `flag` when the flag differs from the table key. */
export type OptionDef = Options & { flag?: string };

export const OPTIONS = {
  // What is logged, and where (proxy and replay).
  'log-file': {
    type: 'string',
    describe: 'write NDJSON records to this file (appended) instead of stdout',
    coerce: filePath,
  },
  pretty: {
    type: 'boolean',
    describe:
      'one coloured line per record instead of JSON (default: when stdout is a terminal and no --log-file)',
  },
  level: {
    choices: LEVELS,
    default: DEFAULT_LEVEL,
    describe:
      'least severe records written (PINGREQ/PINGRESP are debug, refusals warn, malformed input error)',
  },
  'log-buffer': {
    type: 'string',
    defaultDescription: `${DEFAULT_LOG_BUFFER_BYTES / 1024 / 1024}MiB`,
    describe:
      'log lines held while the log destination is slower than the traffic (1MiB, 64MiB...); beyond it lines are dropped, counted and reported in a log-dropped record',
    coerce: sizeOption('log-buffer', { min: MIN_LINE_BATCH_LIMIT }),
  },

  // How packets are decoded and selected (proxy, replay; the first ones decode too).
  payload: {
    choices: PAYLOAD_MODES,
    default: DEFAULT_RECORD_OPTIONS.payload,
    describe: 'how PUBLISH payloads are previewed',
  },
  'payload-max': {
    type: 'number',
    default: DEFAULT_RECORD_OPTIONS.payloadMax,
    describe: 'bytes of payload shown in a preview',
    coerce: nonNegativeInteger('payload-max', 1024 * 1024),
  },
  'capture-max': {
    type: 'number',
    default: DEFAULT_TAP_OPTIONS.captureCap,
    describe: 'bytes of one packet kept for decoding; the rest is counted, never buffered',
    coerce: nonNegativeInteger('capture-max', 256 * 1024 * 1024),
  },
  'capture-budget': {
    type: 'string',
    defaultDescription: `${defaultCaptureBudget(DEFAULT_CAPTURE_CAP) / 1024 / 1024}MiB, at least 4 x --capture-max`,
    describe:
      'capture memory of packets spanning reads, all connections together (2MiB, 64MiB...); past it, larger packets are kept in part and logged truncated, after one capture-budget warning',
    coerce: sizeOption('capture-budget'),
  },
  'show-secrets': {
    type: 'boolean',
    default: DEFAULT_RECORD_OPTIONS.showSecrets,
    describe:
      'CONNECT passwords and AUTH data in clear (default: length and a per-run keyed hash; recordings hold * in their place)',
  },
  'session-max': {
    type: 'string',
    default: String(DEFAULT_SESSION_STATE_MAX),
    defaultDescription: `${DEFAULT_SESSION_STATE_MAX / 1024 / 1024}MiB`,
    describe:
      'bytes of in-flight ids, topic aliases and pending requests kept per connection (1MiB, 4MB...); past it they are not kept and a state-limit record says so',
    coerce: sizeOption('session-max'),
  },
  'client-id': {
    type: 'string',
    describe: 'log packets only of connections whose client id matches this glob (* and ?)',
    coerce: (v: string | string[]) => lastValue(v),
  },
  topic: {
    type: 'string',
    describe: 'log PUBLISH/SUBSCRIBE/UNSUBSCRIBE only when they match this MQTT filter (+ and #)',
    coerce: (v: string | string[]) => validateTopicFilter(lastValue(v)),
  },
  flapping: {
    type: 'string',
    default: DEFAULT_FLAPPING_TEXT,
    describe:
      'N/DURATION: a flapping warning when one client id is taken over N times within DURATION (e.g. 5/2m)',
    coerce: parseFlapping,
  },

  // The proxy: transports, TLS, PROXY protocol, limits, recording.
  listen: {
    alias: 'l',
    type: 'string',
    default: DEFAULT_LISTEN,
    defaultDescription: DEFAULT_LISTEN,
    describe:
      'where clients connect: [HOST:]PORT, mqtt://, mqtts://, ws:// or wss://HOST:PORT[/PATH]; repeatable. Beyond this machine needs e.g. 0.0.0.0:1884',
    coerce: coerceListen,
  },
  upstream: {
    alias: 'u',
    type: 'string',
    describe:
      'the broker: HOST:PORT, mqtt://, mqtts://, ws:// or wss://HOST[:PORT][/PATH]; omitted: an embedded broker on a loopback port',
    coerce: (v: string | string[]) => parseUpstream(lastValue(v)),
  },
  'tls-cert': {
    type: 'string',
    describe: 'mqtts:// and wss:// listeners: our certificate, PEM (with its chain)',
    coerce: filePath,
  },
  'tls-key': {
    type: 'string',
    describe: 'mqtts:// and wss:// listeners: the private key of --tls-cert, PEM',
    coerce: filePath,
  },
  'tls-ca': {
    type: 'string',
    describe: 'with --tls-request-cert: CA certificates client certificates are verified against, PEM',
    coerce: filePath,
  },
  'tls-request-cert': {
    type: 'boolean',
    describe:
      'ask TLS clients for a certificate; its subject, issuer, fingerprint and validity go into the open record (clients are accepted either way: the broker decides)',
  },
  'upstream-ca': {
    type: 'string',
    describe:
      "mqtts:// or wss:// upstream: CA certificates the broker's certificate is verified against (default: Node's roots)",
    coerce: filePath,
  },
  'upstream-cert': {
    type: 'string',
    describe: 'mqtts:// or wss:// upstream: our client certificate, for brokers that require one, PEM',
    coerce: filePath,
  },
  'upstream-key': {
    type: 'string',
    describe: 'the private key of --upstream-cert, PEM',
    coerce: filePath,
  },
  'upstream-servername': {
    type: 'string',
    describe: 'SNI sent to the broker and the name its certificate must carry (default: the upstream host)',
    coerce: (v: string | string[]) => lastValue(v),
  },
  'upstream-alpn': {
    type: 'string',
    describe: 'ALPN protocols offered to the broker, comma-separated (e.g. mqtt)',
    coerce: commaList,
  },
  'upstream-cert-for-all': {
    type: 'boolean',
    describe:
      'with --upstream-cert: forward every client with it, also those whose own certificate was not verified (a warning is logged at start). Default: such clients are refused',
  },
  insecure: {
    type: 'boolean',
    describe: "do not verify the broker's certificate (a warning is logged at start)",
  },
  embedded: {
    choices: ['auto', 'mosquitto', 'aedes'] as const,
    default: DEFAULT_EMBEDDED_BROKER,
    describe: 'without --upstream: which broker to start (auto: mosquitto if installed, else aedes)',
  },
  record: {
    type: 'string',
    describe:
      'also write every chunk of every connection to this pcapng file (Wireshark, tshark, tcpdump; mqtt-tap replay); passwords and AUTH data masked unless --show-secrets',
    coerce: filePath,
  },
  'record-rotate': {
    type: 'string',
    describe: 'with --record: start a new file at this size (100MB, 1GiB...): NAME-0001.pcapng, NAME-0002...',
    coerce: sizeOption('record-rotate'),
  },
  'max-connections': {
    type: 'number',
    default: DEFAULT_MAX_CONNECTIONS,
    describe:
      'forwarded connections at once; a client beyond them is closed at once (WebSocket: 1013) with a refused record, never dialled upstream',
    coerce: (v: unknown) => {
      const n = Number(lastValue(v));
      if (!Number.isInteger(n) || n < 1) {
        throw new UsageError(`--max-connections must be a whole number from 1, got "${String(v)}"`);
      }
      return n;
    },
  },
  'ws-max-message': {
    type: 'string',
    describe:
      'WebSocket listeners and ws:// or wss:// upstreams: the largest message accepted (e.g. 16MiB); a larger one closes that connection with code 1009',
    defaultDescription: `--capture-max + ${WS_MESSAGE_HEADROOM / (1024 * 1024)} MiB`,
    coerce: sizeOption('ws-max-message', { max: WS_MAX_MESSAGE_LIMIT }),
  },
  'ws-origin': {
    type: 'string',
    describe:
      'ws:// and wss:// listeners: a web page origin allowed to connect (e.g. http://localhost:3000, or * for any); repeatable. Default: handshakes that carry an Origin (browsers) are refused, others accepted',
    coerce: (v: string | string[]) =>
      commaList(v).map((x) => {
        try {
          return normalizeOrigin(x);
        } catch (err) {
          throw new UsageError(`--ws-origin: ${errorMessage(err)}`);
        }
      }),
  },
  'accept-proxy-protocol': {
    type: 'boolean',
    describe:
      'listeners: every connection first sends a PROXY protocol header, v1 or v2 (HAProxy send-proxy[-v2], AWS NLB...); the client address in the records is the one it names. Connections without one are refused',
  },
  'upstream-proxy-protocol': {
    choices: ['v1', 'v2'] as const,
    describe:
      'open each broker connection with a PROXY protocol header naming the client (TCP and mqtts:// upstreams; e.g. HAProxy accept-proxy, EMQX, HiveMQ, VerneMQ)',
  },
  metrics: {
    type: 'string',
    describe: `serve Prometheus metrics at http://[HOST:]PORT/metrics, with /healthz and /readyz (host default ${DEFAULT_METRICS_HOST}; 0.0.0.0:${DEFAULT_METRICS_PORT} to be scraped from elsewhere)`,
    coerce: (v: string | string[]) =>
      parseHostPort(String(lastValue(v)), { host: DEFAULT_METRICS_HOST, port: DEFAULT_METRICS_PORT }, true),
  },
  'metrics-topic-depth': {
    type: 'number',
    describe:
      'with --metrics: also count PUBLISH packets by the first N levels of their topic (mqtt_tap_topic_messages_total); topics become label values, so keep N small',
    coerce: wholeNumber('metrics-topic-depth', 0, MAX_TOPIC_DEPTH),
  },
  'metrics-topic-max': {
    type: 'number',
    defaultDescription: String(DEFAULT_TOPIC_MAX),
    describe:
      'with --metrics-topic-depth: most topic series; PUBLISH of further topics are counted as overflow',
    coerce: wholeNumber('metrics-topic-max', 1, TOPIC_MAX_LIMIT),
  },

  // The web view (proxy and replay).
  ui: {
    type: 'string',
    describe: `serve the live web view on [HOST:]PORT (host ${DEFAULT_UI_HOST} unless given; beyond loopback it needs a token)`,
    coerce: (v: string | string[]) => parseUiAddress(String(lastValue(v))),
  },
  'ui-token': {
    type: 'string',
    describe:
      'the token the web view requires in its URL (?token=); generated when --ui listens beyond loopback and none is given',
    coerce: (v: string | string[]) => {
      const t = String(lastValue(v));
      if (t.length < 16) throw new UsageError('--ui-token: at least 16 characters');
      return t;
    },
  },
  'ui-queue': {
    type: 'number',
    default: PAGE_QUEUE_RECORDS,
    describe:
      'records held for each page between two sends (every 100 ms); what a slow page cannot take beyond it is counted as missed and shown on the page',
    coerce: (v: unknown) => {
      const n = Number(lastValue(v));
      if (!Number.isInteger(n) || n < 1 || n > 1_000_000)
        throw new UsageError(`--ui-queue: a whole number from 1 to 1000000, got "${String(v)}"`);
      return n;
    },
  },

  // replay
  html: {
    type: 'string',
    describe:
      'write a self-contained HTML report (connections, ladder diagrams, topics; no network access) to this file; records go to stdout only with --log-file or --summary',
    coerce: filePath,
  },
  port: {
    type: 'number',
    array: true,
    coerce: (v: unknown[]) =>
      v.map((p) => {
        const n = Number(p);
        if (!Number.isInteger(n) || n < 1 || n > 65535)
          throw new UsageError(`--port ${String(p)}: not a TCP port`);
        return n;
      }),
    describe: `broker port(s) of MQTT connections (default ${DEFAULT_MQTT_PORTS.join(', ')}; our recordings say so themselves; otherwise a connection opening with a CONNECT is taken)`,
  },
  summary: {
    type: 'boolean',
    default: false,
    describe:
      'the verdicts of the closed connections by cause with their top client ids, takeovers and flapping client ids (the proxy: on stderr at shutdown; replay: after one line per connection with its client id, duration, packets each way, last reason code, errors and verdict)',
  },

  // decode
  protocol: {
    // A string: yargs would otherwise read "5.0" as the number 5.
    type: 'string',
    choices: PROTOCOL_VERSIONS,
    describe: `version to decode with until a CONNECT in the input says otherwise (default ${DEFAULT_DECODE_PROTOCOL}; packets that only make sense in 3.1.1, such as a 2-byte CONNACK, are read as 3.1.1)`,
  },

  // rules
  status: {
    choices: RULE_STATUSES,
    describe:
      'only rows with this status: checked (reported, with its violation code), not-observable (with why), not-yet',
  },
  'rules-protocol': {
    flag: 'protocol',
    type: 'string',
    choices: RULE_VERSIONS,
    describe: 'only the statements of this MQTT version',
  },
} as const satisfies Record<string, OptionDef>;

export type OptionId = keyof typeof OPTIONS;

export const LOG_OPTIONS = ['log-file', 'pretty', 'level', 'log-buffer'] as const satisfies OptionId[];

export const TAP_OPTIONS = [
  'payload',
  'payload-max',
  'capture-max',
  'capture-budget',
  'show-secrets',
  'session-max',
  'client-id',
  'topic',
  'flapping',
] as const satisfies OptionId[];

export const PROXY_OPTIONS = [
  ...LOG_OPTIONS,
  ...TAP_OPTIONS,
  'listen',
  'upstream',
  'tls-cert',
  'tls-key',
  'tls-ca',
  'tls-request-cert',
  'upstream-ca',
  'upstream-cert',
  'upstream-key',
  'upstream-servername',
  'upstream-alpn',
  'upstream-cert-for-all',
  'insecure',
  'embedded',
  'record',
  'record-rotate',
  'max-connections',
  'ws-max-message',
  'ws-origin',
  'accept-proxy-protocol',
  'upstream-proxy-protocol',
  'metrics',
  'metrics-topic-depth',
  'metrics-topic-max',
  'ui',
  'ui-token',
  'ui-queue',
  'summary',
] as const satisfies OptionId[];

export const REPLAY_OPTIONS = [
  ...LOG_OPTIONS,
  ...TAP_OPTIONS,
  'port',
  'summary',
  'html',
  'ui',
  'ui-token',
  'ui-queue',
] as const satisfies OptionId[];

export const DECODE_OPTIONS = [
  'protocol',
  'payload',
  'payload-max',
  'show-secrets',
] as const satisfies OptionId[];

export const RULES_OPTIONS = ['status', 'rules-protocol'] as const satisfies OptionId[];

/** The flag an option is given with. */
export function flagOf(id: OptionId): string {
  const def: OptionDef = OPTIONS[id];
  return def.flag ?? id;
}

/** Adds the options `ids` from the table to a command; `A` is what they parse into. */
export function withOptions<A, T = object>(y: Argv<T>, ids: readonly OptionId[]): Argv<T & A> {
  let out: Argv<T> = y;
  for (const id of ids) {
    const { flag: _flag, ...def }: OptionDef = OPTIONS[id];
    out = out.option(flagOf(id), def);
  }
  return out as unknown as Argv<T & A>;
}

export interface LogArgs {
  logFile?: string;
  pretty?: boolean;
  level: Level;
  /** Bytes of log lines held for a slow destination (default DEFAULT_LOG_BUFFER_BYTES). */
  logBuffer?: number;
}

export interface TapArgs {
  payload: PayloadMode;
  payloadMax: number;
  captureMax: number;
  captureBudget?: number;
  showSecrets: boolean;
  sessionMax: number;
  clientId?: string;
  topic?: string;
  flapping: FlappingRule;
}

export function tapOptionsFrom(args: TapArgs): TapOptions {
  const tap: TapOptions = {
    captureCap: args.captureMax,
    payload: args.payload,
    payloadMax: args.payloadMax,
    showSecrets: args.showSecrets,
    sessionMax: args.sessionMax,
    flapping: args.flapping,
  };
  if (args.captureBudget !== undefined) tap.captureBudget = args.captureBudget;
  if (args.clientId !== undefined) tap.clientId = args.clientId;
  if (args.topic !== undefined) tap.topic = args.topic;
  return tap;
}

/** JSON unless asked, or when a person is watching a terminal. */
export function prettyWanted(args: LogArgs, stdoutIsTTY: boolean): boolean {
  return args.pretty ?? (stdoutIsTTY && args.logFile === undefined);
}

export interface UiArgs {
  ui?: { host: string; port: number };
  uiToken?: string;
  /** Records a page's queue holds between two sends (every 100 ms). */
  uiQueue: number;
}

/** `--ui [HOST:]PORT`, HOST defaulting to loopback; `[::1]:8080` for IPv6. */
export function parseUiAddress(raw: string): { host: string; port: number } {
  const m = /^(?:(\[[^\]]+\]|[^:]+):)?(\d+)$/.exec(raw.trim());
  const port = Number(m?.[2]);
  if (m === null || !Number.isInteger(port) || port < 0 || port > 65535)
    throw new UsageError(`--ui "${raw}": expected [HOST:]PORT, e.g. 8080 or 0.0.0.0:8080`);
  return { host: (m[1] ?? DEFAULT_UI_HOST).replace(/^\[|\]$/g, ''), port };
}

/** The token the web view requires: the one given, or a fresh one beyond loopback; none on loopback. */
export function uiToken(args: UiArgs): string | undefined {
  if (args.ui === undefined) return undefined;
  if (args.uiToken !== undefined) return args.uiToken;
  return isLoopback(args.ui.host) ? undefined : randomBytes(18).toString('base64url');
}
