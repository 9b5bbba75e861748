/**
 * The counters behind --metrics, fed by the tap with what it already decoded. Every series is
 * known in advance (directions, packet types, the reason code catalogue, the violation codes,
 * the close causes), so a packet only increments numbers at precomputed indexes: no allocation,
 * no label strings, no lookups by name on the packet path. prom-client reads them at scrape time
 * (prometheus.ts); this module does not import it.
 */

import { PacketType, type ProtocolVersion } from '../protocol/constants.js';
import type { Direction } from '../protocol/direction.js';
import { CODED_TYPES, codeAt, codeCount } from '../protocol/packet-codes.js';
import type { FramingError, Packet } from '../protocol/types.js';
import { VIOLATIONS } from '../protocol/violations.js';
import { hexByte, reasonInfo } from '../record/reason.js';
import type { Correlation } from '../session/connection-session.js';
import { DEFAULT_TOPIC_MAX } from './metrics-limits.js';

export const DIRECTIONS: readonly Direction[] = ['client', 'broker'];

/**
 * What the `close` record's `verdict.cause` may say (session/verdict.ts); pre-declared so that a
 * cause's first close shows as an increase. A cause not in this list counts as UNKNOWN.
 */
export const CLOSE_CAUSES = [
  'CLIENT_DISCONNECT',
  'SERVER_DISCONNECT',
  'CONNECTION_REFUSED',
  'KEEP_ALIVE_TIMEOUT',
  'SESSION_TAKEN_OVER',
  'PROTOCOL_ERROR',
  'CLIENT_GONE',
  'BROKER_GONE',
  'IDLE_TIMEOUT_SUSPECTED',
  'UPSTREAM_UNREACHABLE',
  'TLS_HANDSHAKE_FAILED',
  'PROXY_SHUTDOWN',
  'UNKNOWN',
] as const;

export const CLOSED_BY = ['client', 'broker', 'proxy'] as const;
export const FRAMING_KINDS: readonly FramingError['kind'][] = ['malformed', 'truncated', 'not-mqtt'];
export const NOT_MQTT_KINDS = ['tls', 'http', 'proxy-v1', 'proxy-v2', 'ssh', 'unknown'] as const;
/** Codes of the clients mqtt-tap refuses itself (server.ts). */
export const REFUSAL_CODES = ['MAX_CONNECTIONS', 'CLIENT_CERT_NOT_VERIFIED'] as const;

/** Answers whose time since their request is measured, and who sends them. */
export const LATENCY_SERIES: readonly { type: string; from: Direction }[] = [
  { type: 'CONNACK', from: 'broker' },
  { type: 'PUBACK', from: 'broker' },
  { type: 'PUBACK', from: 'client' },
  { type: 'PUBREC', from: 'broker' },
  { type: 'PUBREC', from: 'client' },
  { type: 'PUBCOMP', from: 'broker' },
  { type: 'PUBCOMP', from: 'client' },
  { type: 'SUBACK', from: 'broker' },
  { type: 'UNSUBACK', from: 'broker' },
  { type: 'PINGRESP', from: 'broker' },
];
/** Upper bounds of the latency buckets, in milliseconds (exported in seconds). */
export const LATENCY_BUCKETS_MS: readonly number[] = [
  0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000,
];

/** Series of the reason code counter: one per distinct (type, code, name) of the catalogue. */
export interface ReasonSeries {
  type: string;
  /** `0x87`, or `other` for a code the catalogue does not define for that type and version. */
  code: string;
  name: string;
}

const VERSION_INDEX: Record<ProtocolVersion, number> = { '3.1': 0, '3.1.1': 1, '5.0': 2 };
const VERSIONS: readonly ProtocolVersion[] = ['3.1', '3.1.1', '5.0'];
/** [version][type][code] → series index, built once from the catalogue. */
function reasonTable(): { series: ReasonSeries[]; slots: Int32Array } {
  const series: ReasonSeries[] = [];
  const byKey = new Map<string, number>();
  const slots = new Int32Array(3 * 16 * 256).fill(-1);
  const slotOf = (s: ReasonSeries): number => {
    const key = `${s.type}\u0000${s.code}\u0000${s.name}`;
    let i = byKey.get(key);
    if (i === undefined) {
      i = series.length;
      series.push(s);
      byKey.set(key, i);
    }
    return i;
  };
  for (const type of CODED_TYPES) {
    const other = slotOf({ type, code: 'other', name: 'Unknown' });
    for (const version of VERSIONS) {
      const base = (VERSION_INDEX[version] * 16 + PacketType[type]) * 256;
      for (let code = 0; code < 256; code++) {
        const info = reasonInfo(version, type, code);
        slots[base + code] =
          info.name === 'Unknown' ? other : slotOf({ type, code: hexByte(code), name: info.name });
      }
    }
  }
  return { series, slots };
}

export interface PacketMetricsOptions {
  /** PUBLISH counted by the first N levels of their topic (0: not at all). */
  topicDepth?: number;
  /** Most topic series; PUBLISH of further topics count as overflow. */
  topicMax?: number;
}

/** What the tap tells the metrics about one connection. */
export interface ConnectionMetrics {
  chunk(from: Direction, bytes: number): void;
  packet(from: Direction, packet: Packet, corr: Correlation | undefined): void;
  /** A packet shown by its shape only (withheld: may hold credentials): its type and violations. */
  withheld(from: Direction, packet: Packet): void;
  framingError(from: Direction, error: FramingError): void;
  /** A violation found outside a packet (the client's silence at close). */
  violation(code: string): void;
  upstreamError(): void;
  /** `cause`: the close verdict's cause. */
  closed(closedBy: string, cause: string | undefined): void;
}

export class PacketMetrics {
  readonly reasonSeries: readonly ReasonSeries[];
  private readonly reasonSlots: Int32Array;
  readonly reasonCounts: Float64Array;
  /** [direction * 16 + type]. */
  readonly packets = new Float64Array(32);
  readonly bytes = new Float64Array(2);
  readonly violationCodes: readonly string[] = Object.keys(VIOLATIONS);
  private readonly violationIndex = new Map<string, number>(this.violationCodes.map((c, i) => [c, i]));
  readonly violations = new Float64Array(this.violationCodes.length);
  /** [direction * FRAMING_KINDS.length + kind]. */
  readonly framingErrors = new Float64Array(2 * FRAMING_KINDS.length);
  readonly notMqtt = new Float64Array(NOT_MQTT_KINDS.length);
  readonly causes = new Float64Array(CLOSE_CAUSES.length);
  readonly closedBy = new Float64Array(CLOSED_BY.length);
  readonly refusals = new Float64Array(REFUSAL_CODES.length);
  upstreamErrors = 0;
  /** Handshake failures by transport (a handful of names). */
  readonly handshakeFailures = new Map<string, number>();
  /** Connections by listener and transport: opened (counter) and open now (gauge). */
  readonly listeners = new Map<
    string,
    { listener: string; transport: string; opened: number; open: number }
  >();
  /** Latency histograms: [series][bucket] counts (not cumulative), sums in ms. */
  readonly latencyCounts: Float64Array;
  readonly latencySums: Float64Array;
  readonly latencyTotals: Float64Array;
  /** [direction * 16 + type] → latency series index, -1 when not measured. */
  private readonly latencySlot = new Int8Array(32).fill(-1);
  readonly topicDepth: number;
  readonly topicMax: number;
  /** Topic prefix → [messages from client, messages from broker]. */
  readonly topics = new Map<string, Float64Array>();
  readonly topicOverflow = new Float64Array(2);

  constructor(opts: PacketMetricsOptions = {}) {
    const { series, slots } = reasonTable();
    this.reasonSeries = series;
    this.reasonSlots = slots;
    this.reasonCounts = new Float64Array(series.length);
    const n = LATENCY_SERIES.length;
    this.latencyCounts = new Float64Array(n * (LATENCY_BUCKETS_MS.length + 1));
    this.latencySums = new Float64Array(n);
    this.latencyTotals = new Float64Array(n);
    LATENCY_SERIES.forEach((s, i) => {
      this.latencySlot[DIRECTIONS.indexOf(s.from) * 16 + PacketType[s.type as 'CONNACK']] = i;
    });
    this.topicDepth = opts.topicDepth ?? 0;
    this.topicMax = opts.topicMax ?? DEFAULT_TOPIC_MAX;
  }

  /** A connection opened on `listener` (as records show it) over `transport`. */
  open(listener: string, transport: string): ConnectionMetrics {
    const key = `${listener} ${transport}`;
    let l = this.listeners.get(key);
    if (l === undefined) {
      l = { listener, transport, opened: 0, open: 0 };
      this.listeners.set(key, l);
    }
    l.opened++;
    l.open++;
    return new MeteredConnection(this, l);
  }

  refused(code: string): void {
    const i = (REFUSAL_CODES as readonly string[]).indexOf(code);
    if (i >= 0) this.refusals[i]!++;
  }

  handshakeFailed(transport: string): void {
    this.handshakeFailures.set(transport, (this.handshakeFailures.get(transport) ?? 0) + 1);
  }

  /** The packet path: array increments at precomputed indexes. */
  countPacket(d: number, packet: Packet, corr: Correlation | undefined): void {
    const type: number = PacketType[packet.type];
    this.packets[d * 16 + type]!++;
    const v = VERSION_INDEX[packet.protocol] * 16 + type;
    for (let i = 0, n = codeCount(packet); i < n; i++) {
      this.reasonCounts[this.reasonSlots[v * 256 + codeAt(packet, i)]!]!++;
    }
    if (packet.type === 'PUBLISH' && this.topicDepth > 0) this.countTopic(d, corr?.topic ?? packet.topic);
    if (corr !== undefined) {
      const ms = corr.request?.ms ?? corr.ms;
      const slot = this.latencySlot[d * 16 + type]!;
      if (ms !== undefined && slot >= 0) this.observeLatency(slot, ms);
    }
    const violations = packet.violations;
    for (let i = 0; i < violations.length; i++) this.countViolation(violations[i]!.code);
  }

  countViolation(code: string): void {
    const i = this.violationIndex.get(code);
    if (i !== undefined) this.violations[i]!++;
  }

  countFramingError(d: number, error: FramingError): void {
    this.framingErrors[d * FRAMING_KINDS.length + FRAMING_KINDS.indexOf(error.kind)]!++;
    if (error.kind === 'not-mqtt') {
      const i = NOT_MQTT_KINDS.indexOf((error.looksLike ?? 'unknown') as (typeof NOT_MQTT_KINDS)[number]);
      this.notMqtt[i >= 0 ? i : NOT_MQTT_KINDS.length - 1]!++;
    }
  }

  countClose(closedBy: string, cause: string | undefined): void {
    const by = (CLOSED_BY as readonly string[]).indexOf(closedBy);
    if (by >= 0) this.closedBy[by]!++;
    if (cause === undefined) return;
    const i = (CLOSE_CAUSES as readonly string[]).indexOf(cause);
    this.causes[i >= 0 ? i : CLOSE_CAUSES.length - 1]!++;
  }

  private observeLatency(slot: number, ms: number): void {
    const buckets = LATENCY_BUCKETS_MS;
    let b = 0;
    while (b < buckets.length && ms > buckets[b]!) b++;
    this.latencyCounts[slot * (buckets.length + 1) + b]!++;
    this.latencySums[slot]! += ms;
    this.latencyTotals[slot]!++;
  }

  /** The first `topicDepth` levels of `topic`, while there is room for a new series. */
  private countTopic(d: number, topic: string): void {
    let end = -1;
    for (let level = 0; level < this.topicDepth; level++) {
      end = topic.indexOf('/', end + 1);
      if (end === -1) break;
    }
    const prefix = end === -1 ? topic : topic.slice(0, end);
    let counts = this.topics.get(prefix);
    if (counts === undefined) {
      if (this.topics.size >= this.topicMax) {
        this.topicOverflow[d]!++;
        return;
      }
      counts = new Float64Array(2);
      this.topics.set(prefix, counts);
    }
    counts[d]!++;
  }
}

class MeteredConnection implements ConnectionMetrics {
  private closedOnce = false;

  constructor(
    private readonly m: PacketMetrics,
    private readonly listener: { open: number },
  ) {}

  chunk(from: Direction, bytes: number): void {
    this.m.bytes[from === 'client' ? 0 : 1]! += bytes;
  }

  packet(from: Direction, packet: Packet, corr: Correlation | undefined): void {
    this.m.countPacket(from === 'client' ? 0 : 1, packet, corr);
  }

  withheld(from: Direction, packet: Packet): void {
    this.m.packets[(from === 'client' ? 0 : 1) * 16 + PacketType[packet.type]]!++;
    for (const v of packet.violations) this.m.countViolation(v.code);
  }

  framingError(from: Direction, error: FramingError): void {
    this.m.countFramingError(from === 'client' ? 0 : 1, error);
  }

  violation(code: string): void {
    this.m.countViolation(code);
  }

  upstreamError(): void {
    this.m.upstreamErrors++;
  }

  closed(closedBy: string, cause: string | undefined): void {
    if (this.closedOnce) return;
    this.closedOnce = true;
    this.listener.open--;
    this.m.countClose(closedBy, cause);
  }
}
