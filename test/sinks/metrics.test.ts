/**
 * --metrics' counters as the tap feeds them, read back through prom-client's text exposition: what
 * a scrape shows for given traffic, whatever the log level and the log's selection flags.
 */
import { describe, expect, it } from 'vitest';
import type { CloseInfo, OpenInfo } from '../../src/observe/observer.js';
import { createTap } from '../../src/observe/tap.js';
import { DEFAULT_TAP_OPTIONS, type TapOptions } from '../../src/observe/tap-options.js';
import { VERDICT_CAUSES } from '../../src/session/verdict.js';
import { CLOSE_CAUSES, PacketMetrics } from '../../src/sinks/packet-metrics.js';
import { createMetricsRegistry, type MetricsSources } from '../../src/sinks/prometheus.js';
import { createCollectSink } from '../helpers/collect-sink.js';
import {
  ack,
  connack,
  connect,
  disconnect,
  pingreq,
  pingresp,
  publish,
  suback,
  subscribe,
} from '../helpers/packets.js';

const OPEN: OpenInfo = {
  conn: 'c1',
  client: { address: '127.0.0.1', port: 50000 },
  local: { address: '127.0.0.1', port: 1884 },
  listener: '127.0.0.1:1884',
  upstream: '127.0.0.1:1883',
  transport: 'tcp',
  startedAt: 0,
};
const CLOSE: CloseInfo = { closedBy: 'broker', durationMs: 12, bytes: { fromClient: 0, fromBroker: 0 } };

function metered(
  opts: Partial<TapOptions> = {},
  level: 'trace' | 'error' = 'trace',
  m = new PacketMetrics(),
) {
  const sink = createCollectSink(level);
  const tap = createTap(sink, { ...DEFAULT_TAP_OPTIONS, ...opts, metrics: m });
  return { m, sink, tap, conn: tap.open(OPEN) };
}

/** `name{labels} value` lines of a scrape, as a map. */
async function scrape(m: PacketMetrics, sources: MetricsSources = {}): Promise<Map<string, number>> {
  const text = await createMetricsRegistry(m, sources).metrics();
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

describe('metrics: what the tap counts', () => {
  it('the wrong password in 5.0: CONNACK 0x87 by type, code and name; packets, bytes, connections, closes', async () => {
    const { m, conn } = metered();
    const c = connect({
      version: '5.0',
      clientId: 'dev1',
      username: 'user1',
      password: Buffer.from('wrong_pass'),
    });
    conn.data('client', c, 1000);
    conn.data('broker', connack({ version: '5.0', code: 0x87 }), 1007);
    conn.close(CLOSE);
    const s = await scrape(m);
    expect(s.get('mqtt_tap_reason_codes_total{type="CONNACK",code="0x87",name="Not authorized"}')).toBe(1);
    expect(s.get('mqtt_tap_packets_total{from="client",type="CONNECT"}')).toBe(1);
    expect(s.get('mqtt_tap_packets_total{from="broker",type="CONNACK"}')).toBe(1);
    expect(s.get('mqtt_tap_bytes_total{from="client"}')).toBe(c.length);
    expect(s.get('mqtt_tap_connections_opened_total{listener="127.0.0.1:1884",transport="tcp"}')).toBe(1);
    expect(s.get('mqtt_tap_connections_open{listener="127.0.0.1:1884",transport="tcp"}')).toBe(0);
    expect(s.get('mqtt_tap_closes_total{closed_by="broker"}')).toBe(1);
    expect(s.get('mqtt_tap_response_latency_seconds_count{type="CONNACK",from="broker"}')).toBe(1);
    expect(s.get('mqtt_tap_response_latency_seconds_sum{type="CONNACK",from="broker"}')).toBeCloseTo(0.007);
    expect(s.get('mqtt_tap_response_latency_seconds_bucket{type="CONNACK",from="broker",le="0.005"}')).toBe(
      0,
    );
    expect(s.get('mqtt_tap_response_latency_seconds_bucket{type="CONNACK",from="broker",le="0.01"}')).toBe(1);
    expect(s.get('mqtt_tap_response_latency_seconds_bucket{type="CONNACK",from="broker",le="+Inf"}')).toBe(1);
  });

  it('3.1.1 return codes by their 3.1.1 names; a code the catalogue lacks for the type is "other"', async () => {
    const { m, conn } = metered();
    conn.data('client', connect({ version: '3.1.1', clientId: 'a' }));
    conn.data('broker', connack({ version: '3.1.1', code: 0x05 }));
    const b = metered({}, 'trace', m).conn;
    b.data('client', connect({ version: '3.1.1', clientId: 'b' }));
    b.data('broker', connack({ version: '3.1.1', code: 0x87 }));
    const s = await scrape(m);
    expect(
      s.get(
        'mqtt_tap_reason_codes_total{type="CONNACK",code="0x05",name="Connection Refused, not authorized"}',
      ),
    ).toBe(1);
    expect(s.get('mqtt_tap_reason_codes_total{type="CONNACK",code="other",name="Unknown"}')).toBe(1);
    expect(s.get('mqtt_tap_connections_open{listener="127.0.0.1:1884",transport="tcp"}')).toBe(2);
  });

  it('counts at --level error and outside --client-id and --topic: they select the log, not the metrics', async () => {
    const { m, sink, conn } = metered({ clientId: 'other-*', topic: 'x/#' }, 'error');
    conn.data('client', connect({ version: '5.0', clientId: 'dev1' }), 0);
    conn.data('broker', connack({ version: '5.0' }), 1);
    conn.data('client', publish({ version: '5.0', topic: 'a/b', qos: 1, packetId: 7 }), 10);
    conn.data('broker', ack('PUBACK', { version: '5.0', packetId: 7, code: 0x10 }), 13);
    conn.data(
      'client',
      subscribe({ version: '5.0', packetId: 8, subscriptions: [{ filter: 'a/#' }, { filter: 'b' }] }),
      20,
    );
    conn.data('broker', suback({ version: '5.0', packetId: 8, codes: [0x01, 0x87] }), 22);
    conn.data('client', pingreq(), 30);
    conn.data('broker', pingresp(), 30.2);
    conn.data('client', disconnect({ code: 0 }), 40);
    conn.close({ ...CLOSE, closedBy: 'client' });
    expect(sink.records).toEqual([]);
    const s = await scrape(m);
    expect(
      s.get('mqtt_tap_reason_codes_total{type="PUBACK",code="0x10",name="No matching subscribers"}'),
    ).toBe(1);
    expect(s.get('mqtt_tap_reason_codes_total{type="SUBACK",code="0x01",name="Granted QoS 1"}')).toBe(1);
    expect(s.get('mqtt_tap_reason_codes_total{type="SUBACK",code="0x87",name="Not authorized"}')).toBe(1);
    expect(
      s.get('mqtt_tap_reason_codes_total{type="DISCONNECT",code="0x00",name="Normal disconnection"}'),
    ).toBe(1);
    expect(s.get('mqtt_tap_response_latency_seconds_bucket{type="PUBACK",from="broker",le="0.0025"}')).toBe(
      0,
    );
    expect(s.get('mqtt_tap_response_latency_seconds_bucket{type="PUBACK",from="broker",le="0.005"}')).toBe(1);
    expect(s.get('mqtt_tap_response_latency_seconds_count{type="SUBACK",from="broker"}')).toBe(1);
    expect(s.get('mqtt_tap_response_latency_seconds_bucket{type="PINGRESP",from="broker",le="0.0005"}')).toBe(
      1,
    );
    expect(s.get('mqtt_tap_packets_total{from="client",type="PUBLISH"}')).toBe(1);
  });

  it('PUBACK from a client answering the broker is timed apart from the broker’s', async () => {
    const { m, conn } = metered();
    conn.data('client', connect({ version: '3.1.1', clientId: 'sub' }), 0);
    conn.data('broker', connack({ version: '3.1.1' }), 1);
    conn.data('broker', publish({ version: '3.1.1', topic: 't', qos: 1, packetId: 3 }), 100);
    conn.data('client', ack('PUBACK', { version: '3.1.1', packetId: 3 }), 400);
    const s = await scrape(m);
    expect(s.get('mqtt_tap_response_latency_seconds_count{type="PUBACK",from="client"}')).toBe(1);
    expect(s.get('mqtt_tap_response_latency_seconds_bucket{type="PUBACK",from="client",le="0.25"}')).toBe(0);
    expect(s.get('mqtt_tap_response_latency_seconds_bucket{type="PUBACK",from="client",le="0.5"}')).toBe(1);
    expect(s.get('mqtt_tap_response_latency_seconds_count{type="PUBACK",from="broker"}')).toBe(0);
  });

  it('violations by code, malformed and not-MQTT input by kind', async () => {
    const { m, conn } = metered();
    // A broker's QoS 1 PUBLISH with Packet Identifier 0, then a TLS ClientHello on another connection.
    conn.data('client', connect({ version: '5.0', clientId: 'a' }));
    conn.data('broker', connack({ version: '5.0' }));
    conn.data('broker', Buffer.from('3206000174000000', 'hex'));
    const tls = metered({}, 'trace', m).conn;
    tls.data('client', Buffer.from('160301020001000100', 'hex'));
    tls.close(CLOSE);
    const s = await scrape(m);
    expect(s.get('mqtt_tap_violations_total{code="MQTT_PACKET_ID_ZERO"}')).toBe(1);
    expect(s.get('mqtt_tap_malformed_total{kind="not-mqtt",from="client"}')).toBe(1);
    expect(s.get('mqtt_tap_not_mqtt_total{looks_like="tls"}')).toBe(1);
  });

  it('close verdicts: every cause declared at zero, and each close counted by its verdict, at --level error too', async () => {
    expect([...CLOSE_CAUSES].sort()).toEqual([...VERDICT_CAUSES].sort());
    const { m, conn } = metered({}, 'error');
    let s = await scrape(m);
    for (const cause of CLOSE_CAUSES)
      expect(s.get(`mqtt_tap_close_verdicts_total{cause="${cause}"}`)).toBe(0);
    conn.data('client', connect({ version: '5.0', clientId: 'c' }), 0);
    conn.data('broker', connack({ version: '5.0', code: 0x87 }), 1);
    conn.close(CLOSE);
    metered({}, 'error', m).conn.close(CLOSE);
    s = await scrape(m);
    expect(s.get('mqtt_tap_close_verdicts_total{cause="CONNECTION_REFUSED"}')).toBe(1);
    expect(s.get('mqtt_tap_close_verdicts_total{cause="BROKER_GONE"}')).toBe(1);
  });

  it('declares every catalogue code at zero before any traffic, and nothing else per packet', async () => {
    const s = await scrape(new PacketMetrics());
    expect(s.get('mqtt_tap_reason_codes_total{type="CONNACK",code="0x87",name="Not authorized"}')).toBe(0);
    expect(
      s.get(
        'mqtt_tap_reason_codes_total{type="CONNACK",code="0x04",name="Connection Refused, bad user name or password"}',
      ),
    ).toBe(0);
    const reasonSeries = [...s.keys()].filter((k) => k.startsWith('mqtt_tap_reason_codes_total'));
    // Bounded by the catalogue: 9 coded packet types, a few dozen codes each, one "other" per type.
    expect(reasonSeries.length).toBeGreaterThan(100);
    expect(reasonSeries.length).toBeLessThan(300);
    // prom-client's process metrics are there too.
    expect(s.has('process_cpu_seconds_total')).toBe(true);
  });

  it('--metrics-topic-depth: PUBLISH by topic prefix, aliases resolved, series capped and overflow counted', async () => {
    const m = new PacketMetrics({ topicDepth: 2, topicMax: 2 });
    const { conn } = metered({}, 'trace', m);
    conn.data('client', connect({ version: '3.1.1', clientId: 'a' }));
    for (const topic of ['plant/l1/t', 'plant/l1/h', 'plant', 'plant/l2/t', 'other/x']) {
      conn.data('client', publish({ version: '3.1.1', topic }));
    }
    conn.data('broker', connack({ version: '3.1.1' }));
    conn.data('broker', publish({ version: '3.1.1', topic: 'plant/l1/x' }));
    const s = await scrape(m);
    expect(s.get('mqtt_tap_topic_messages_total{topic="plant/l1",from="client"}')).toBe(2);
    expect(s.get('mqtt_tap_topic_messages_total{topic="plant/l1",from="broker"}')).toBe(1);
    expect(s.get('mqtt_tap_topic_messages_total{topic="plant",from="client"}')).toBe(1);
    expect(s.has('mqtt_tap_topic_messages_total{topic="plant/l2",from="client"}')).toBe(false);
    expect(s.get('mqtt_tap_topic_overflow_messages_total{from="client"}')).toBe(2);
    // Without a depth, no topic series at all.
    expect([...(await scrape(new PacketMetrics())).keys()].some((k) => k.includes('topic'))).toBe(false);
  });

  it('refusals by code and handshake failures by transport', async () => {
    const { m, tap } = metered();
    const failure = {
      listener: 'mqtts://127.0.0.1:8883',
      client: OPEN.client,
      transport: 'tls',
      message: 'x',
    };
    tap.handshakeFailed?.(failure);
    tap.refused?.({ ...failure, transport: 'tcp', code: 'MAX_CONNECTIONS' });
    const s = await scrape(m);
    expect(s.get('mqtt_tap_handshake_failures_total{transport="tls"}')).toBe(1);
    expect(s.get('mqtt_tap_connections_refused_total{code="MAX_CONNECTIONS"}')).toBe(1);
  });

  it('the broker unreachable; log lines and recording bytes dropped and the tap backlog, read when scraped', async () => {
    const { m, conn } = metered();
    conn.upstreamError({ upstream: '127.0.0.1:1883', code: 'ECONNREFUSED', message: 'refused' });
    let dropped = 0;
    const sources: MetricsSources = {
      logDroppedLines: () => dropped,
      recordDroppedBytes: () => 4096,
      tapPendingBytes: () => 123,
    };
    expect((await scrape(m, sources)).get('mqtt_tap_log_dropped_lines_total')).toBe(0);
    dropped = 17;
    const s = await scrape(m, sources);
    expect(s.get('mqtt_tap_upstream_errors_total')).toBe(1);
    expect(s.get('mqtt_tap_log_dropped_lines_total')).toBe(17);
    expect(s.get('mqtt_tap_record_dropped_bytes_total')).toBe(4096);
    expect(s.get('mqtt_tap_tap_pending_bytes')).toBe(123);
  });
});
