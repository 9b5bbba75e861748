/**
 * Prometheus (Debian's) scrapes a live mqtt-tap in front of mosquitto with a password file, during a
 * wrong-password attempt and a QoS 1 flow; its query API then answers what the dashboard asks. Every
 * process is started here and stopped by its PID.
 */
import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/free-port.js';
import { dashboardQueries } from '../helpers/grafana-dashboard.js';
import { MOSQUITTO_PUB, requireMosquitto, startMosquitto } from '../helpers/mosquitto.js';
import { requirePrometheus, startPrometheus } from '../helpers/prometheus.js';
import { startCli, stopCli } from './helpers/cli.js';
import { Cleanups, runTool } from './helpers/tap-proxy.js';

const cleanups = new Cleanups();
afterEach(() => cleanups.run());

const USER = { username: 'user1', password: 'right_pass' };
const PUBLISHES = 20;

describe.skipIf(!requireMosquitto() || !requirePrometheus())('Prometheus scraping mqtt-tap', () => {
  it('has the CONNACK 0x87 of a wrong password and a PUBACK latency histogram; every dashboard query runs', async () => {
    const broker = await startMosquitto({ users: [USER] });
    cleanups.add(() => broker.stop());
    const port = await freePort();
    const metricsPort = await freePort();
    const cli = await startCli(cleanups, [
      '-l',
      `127.0.0.1:${port}`,
      '-u',
      `127.0.0.1:${broker.port}`,
      '--metrics',
      `127.0.0.1:${metricsPort}`,
    ]);
    const prometheus = await startPrometheus([`127.0.0.1:${metricsPort}`]);
    cleanups.add(() => prometheus.stop());
    // The series exist at zero before the traffic: the increase over a range counts its first events.
    const zero = 'mqtt_tap_reason_codes_total{type="CONNACK",code="0x87",name="Not authorized"}';
    await prometheus.waitFor(zero, (r) => r.length === 1 && r[0]!.value[1] === '0');

    const refused = await runTool(MOSQUITTO_PUB, [
      ...['-h', '127.0.0.1', '-p', String(port), '-V', 'mqttv5'],
      ...['-u', USER.username, '-P', 'wrong_pass', '-i', 'test-client5', '-t', 't', '-m', 'x'],
    ]);
    expect(refused.code).not.toBe(0);
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, {
      protocolVersion: 5,
      ...USER,
      reconnectPeriod: 0,
    });
    for (let i = 0; i < PUBLISHES; i++) await client.publishAsync('plant/t1', `${i}`, { qos: 1 });
    await client.endAsync();

    const [refusal] = await prometheus.waitFor(zero, (r) => r[0]?.value[1] === '1');
    expect(refusal!.metric).toMatchObject({
      job: 'mqtt-tap',
      type: 'CONNACK',
      code: '0x87',
      name: 'Not authorized',
    });
    const count = 'mqtt_tap_response_latency_seconds_count{type="PUBACK",from="broker"}';
    await prometheus.waitFor(count, (r) => Number(r[0]?.value[1]) === PUBLISHES);
    const buckets = await prometheus.query(
      'mqtt_tap_response_latency_seconds_bucket{type="PUBACK",from="broker"}',
    );
    expect(buckets.find((b) => b.metric.le === '+Inf')?.value[1]).toBe(String(PUBLISHES));
    const [p99] = await prometheus.query(
      'histogram_quantile(0.99, sum by (le) (rate(mqtt_tap_response_latency_seconds_bucket{type="PUBACK",from="broker"}[1m])))',
    );
    expect(Number(p99!.value[1])).toBeGreaterThan(0);
    expect(Number(p99!.value[1])).toBeLessThan(30);

    // The dashboard: every query is accepted, and the reason-code panel shows the refusal.
    for (const q of dashboardQueries())
      await expect(prometheus.query(q.expr), `${q.panel} ${q.refId}`).resolves.toBeDefined();
    const panel = dashboardQueries().find((q) => q.panel === 'Reason codes')!;
    const shown = await prometheus.query(panel.expr.replace('[1m]', '[5m]'));
    expect(shown.map((r) => r.metric)).toEqual(
      expect.arrayContaining([{ type: 'CONNACK', code: '0x87', name: 'Not authorized' }]),
    );
    const opened = await prometheus.query('sum(mqtt_tap_connections_opened_total)');
    expect(opened[0]!.value[1]).toBe('2');
    expect(await stopCli(cli)).toBe(0);
  });
});
