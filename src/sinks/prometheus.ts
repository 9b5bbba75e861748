/**
 * The Prometheus view of the metrics: a prom-client registry whose mqtt-tap series are read from
 * PacketMetrics when scraped, plus prom-client's process and Node.js metrics. Loaded only with
 * --metrics.
 */
import { collectDefaultMetrics, type Metric, Registry } from 'prom-client';
import { PACKET_TYPE_NAMES } from '../protocol/constants.js';
import {
  CLOSE_CAUSES,
  CLOSED_BY,
  DIRECTIONS,
  FRAMING_KINDS,
  LATENCY_BUCKETS_MS,
  LATENCY_SERIES,
  NOT_MQTT_KINDS,
  type PacketMetrics,
  REFUSAL_CODES,
} from './packet-metrics.js';

/** Figures kept elsewhere (the log, the recorder, the deferred tap), read at scrape time. */
export interface MetricsSources {
  logDroppedLines?: () => number;
  recordDroppedBytes?: () => number;
  /** Bytes forwarded and not yet decoded (the tap runs behind the forwarding). */
  tapPendingBytes?: () => number;
}

export interface MetricsRegistry {
  contentType: string;
  /** The text exposition of every metric. */
  metrics(): Promise<string>;
  /** Names of the metric families (without _bucket, _sum, _count). */
  names(): string[];
}

interface Sample {
  labels: Record<string, string | number>;
  value: number;
  metricName?: string;
}

type Kind = 'counter' | 'gauge' | 'histogram';

/** A metric whose samples are computed when scraped (prom-client asks each metric for get()). */
function register(registry: Registry, name: string, help: string, type: Kind, samples: () => Sample[]): void {
  const metric = {
    name,
    help,
    type,
    aggregator: 'sum',
    get: async () => ({ name, help, type, aggregator: 'sum', values: samples() }),
    reset: () => {},
  };
  registry.registerMetric(metric as unknown as Metric);
}

export function createMetricsRegistry(m: PacketMetrics, sources: MetricsSources = {}): MetricsRegistry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });

  type ListenerCounts = PacketMetrics['listeners'] extends Map<string, infer L> ? L : never;
  const byListener = (value: (l: ListenerCounts) => number) => (): Sample[] =>
    [...m.listeners.values()].map((l) => ({
      labels: { listener: l.listener, transport: l.transport },
      value: value(l),
    }));
  register(
    registry,
    'mqtt_tap_connections_opened_total',
    'Client connections accepted and forwarded, by listener and transport.',
    'counter',
    byListener((l) => l.opened),
  );
  register(
    registry,
    'mqtt_tap_connections_open',
    'Client connections open now, by listener and transport.',
    'gauge',
    byListener((l) => l.open),
  );
  register(
    registry,
    'mqtt_tap_connections_refused_total',
    'Clients mqtt-tap closed itself before dialling the broker, by code.',
    'counter',
    () => REFUSAL_CODES.map((code, i) => ({ labels: { code }, value: m.refusals[i]! })),
  );
  register(
    registry,
    'mqtt_tap_handshake_failures_total',
    'TLS, WebSocket or PROXY protocol handshakes that failed, by transport.',
    'counter',
    () => [...m.handshakeFailures].map(([transport, value]) => ({ labels: { transport }, value })),
  );
  register(
    registry,
    'mqtt_tap_upstream_errors_total',
    'Connections whose broker could not be reached.',
    'counter',
    () => [{ labels: {}, value: m.upstreamErrors }],
  );
  register(registry, 'mqtt_tap_closes_total', 'Connections closed, by who closed first.', 'counter', () =>
    CLOSED_BY.map((by, i) => ({ labels: { closed_by: by }, value: m.closedBy[i]! })),
  );
  register(
    registry,
    'mqtt_tap_close_verdicts_total',
    "Connections closed, by the close record's verdict cause.",
    'counter',
    () => CLOSE_CAUSES.map((cause, i) => ({ labels: { cause }, value: m.causes[i]! })),
  );
  register(
    registry,
    'mqtt_tap_bytes_total',
    'MQTT bytes forwarded, by the side that sent them.',
    'counter',
    () => DIRECTIONS.map((from, d) => ({ labels: { from }, value: m.bytes[d]! })),
  );
  register(
    registry,
    'mqtt_tap_packets_total',
    'MQTT packets decoded, by the side that sent them and type.',
    'counter',
    () =>
      DIRECTIONS.flatMap((from, d) =>
        PACKET_TYPE_NAMES.slice(1).map((type, t) => ({
          labels: { from, type: type! },
          value: m.packets[d * 16 + t + 1]!,
        })),
      ),
  );
  register(
    registry,
    'mqtt_tap_reason_codes_total',
    'Return and reason codes seen, by packet type, code and its name in the spec (code "other": not defined for that type).',
    'counter',
    () =>
      m.reasonSeries.map((s, i) => ({
        labels: { type: s.type, code: s.code, name: s.name },
        value: m.reasonCounts[i]!,
      })),
  );
  register(registry, 'mqtt_tap_violations_total', 'Spec violations found, by code.', 'counter', () =>
    m.violationCodes.map((code, i) => ({ labels: { code }, value: m.violations[i]! })),
  );
  register(
    registry,
    'mqtt_tap_malformed_total',
    'Directions that stopped being decoded: malformed, truncated or not MQTT, by side.',
    'counter',
    () =>
      DIRECTIONS.flatMap((from, d) =>
        FRAMING_KINDS.map((kind, k) => ({
          labels: { kind, from },
          value: m.framingErrors[d * FRAMING_KINDS.length + k]!,
        })),
      ),
  );
  register(
    registry,
    'mqtt_tap_not_mqtt_total',
    'Streams that were not MQTT, by what they look like.',
    'counter',
    () => NOT_MQTT_KINDS.map((looks_like, i) => ({ labels: { looks_like }, value: m.notMqtt[i]! })),
  );
  register(
    registry,
    'mqtt_tap_response_latency_seconds',
    'Time from a request to its answer (CONNECT to CONNACK, PUBLISH to PUBACK/PUBREC/PUBCOMP, SUBSCRIBE to SUBACK, UNSUBSCRIBE to UNSUBACK, PINGREQ to PINGRESP), by answer type and the side that answered.',
    'histogram',
    () => latencySamples(m),
  );
  register(
    registry,
    'mqtt_tap_log_dropped_lines_total',
    'Log lines dropped because the log destination could not keep up (--log-buffer).',
    'counter',
    () => [{ labels: {}, value: sources.logDroppedLines?.() ?? 0 }],
  );
  register(
    registry,
    'mqtt_tap_record_dropped_bytes_total',
    'Bytes the --record recording lost because the disk was slower than the traffic.',
    'counter',
    () => [{ labels: {}, value: sources.recordDroppedBytes?.() ?? 0 }],
  );
  register(registry, 'mqtt_tap_tap_pending_bytes', 'Bytes forwarded but not decoded yet.', 'gauge', () => [
    { labels: {}, value: sources.tapPendingBytes?.() ?? 0 },
  ]);
  if (m.topicDepth > 0) {
    register(
      registry,
      'mqtt_tap_topic_messages_total',
      `PUBLISH packets by the first ${m.topicDepth} levels of their topic and the side that sent them (at most ${m.topicMax} topics).`,
      'counter',
      () =>
        [...m.topics].flatMap(([topic, counts]) =>
          DIRECTIONS.map((from, d) => ({ labels: { topic, from }, value: counts[d]! })),
        ),
    );
    register(
      registry,
      'mqtt_tap_topic_overflow_messages_total',
      'PUBLISH packets of topics beyond --metrics-topic-max, by the side that sent them.',
      'counter',
      () => DIRECTIONS.map((from, d) => ({ labels: { from }, value: m.topicOverflow[d]! })),
    );
  }

  return {
    contentType: registry.contentType,
    metrics: () => registry.metrics(),
    names: () => registry.getMetricsAsArray().map((x) => x.name),
  };
}

/** Cumulative buckets in seconds, with _sum and _count, per latency series. */
function latencySamples(m: PacketMetrics): Sample[] {
  const out: Sample[] = [];
  const width = LATENCY_BUCKETS_MS.length + 1;
  LATENCY_SERIES.forEach(({ type, from }, s) => {
    let cumulative = 0;
    for (let b = 0; b < width; b++) {
      cumulative += m.latencyCounts[s * width + b]!;
      const le = b < LATENCY_BUCKETS_MS.length ? LATENCY_BUCKETS_MS[b]! / 1000 : '+Inf';
      out.push({
        metricName: 'mqtt_tap_response_latency_seconds_bucket',
        labels: { type, from, le },
        value: cumulative,
      });
    }
    out.push({
      metricName: 'mqtt_tap_response_latency_seconds_sum',
      labels: { type, from },
      value: m.latencySums[s]! / 1000,
    });
    out.push({
      metricName: 'mqtt_tap_response_latency_seconds_count',
      labels: { type, from },
      value: m.latencyTotals[s]!,
    });
  });
  return out;
}
