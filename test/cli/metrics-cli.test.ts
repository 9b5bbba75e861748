/**
 * --metrics on the real binary: /metrics, /healthz and /readyz over HTTP, readiness following the
 * broker and the shutdown, the flag from MQTT_TAP_METRICS, and the flags that need it.
 */
import { execFile } from 'node:child_process';
import { request } from 'node:http';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { ROOT } from '../e2e/helpers/build-dist.js';
import { type Cli, startCli } from '../e2e/helpers/cli.js';
import { Cleanups } from '../e2e/helpers/tap-proxy.js';
import { type AedesBroker, startAedes } from '../helpers/aedes-broker.js';
import { freePort } from '../helpers/free-port.js';

const cleanups = new Cleanups();
afterEach(() => cleanups.run());

function get(url: string, method = 'GET'): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
      });
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

async function aedes(): Promise<AedesBroker> {
  const broker = await startAedes();
  cleanups.add(() => broker.close());
  return broker;
}

/** The base URL of the metrics endpoint the `listening` record names. */
function metricsBase(cli: Cli): string {
  const listening = cli.log().find((r) => r.event === 'listening')!;
  return String(listening.metrics).replace(/\/metrics$/, '');
}

describe('--metrics', () => {
  it('serves the counters, /healthz, and /readyz that follows the broker', async () => {
    const broker = await aedes();
    const port = await freePort();
    const cli = await startCli(cleanups, [
      '-l',
      `127.0.0.1:${port}`,
      '-u',
      `127.0.0.1:${broker.port}`,
      '--metrics',
      '127.0.0.1:0',
    ]);
    const base = metricsBase(cli);
    expect(base).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);

    expect(await get(`${base}/healthz`)).toMatchObject({ status: 200, body: 'ok\n' });
    const ready = await get(`${base}/readyz`);
    expect(ready.status).toBe(200);
    expect(ready.body).toMatch(new RegExp(`^ready: broker 127\\.0\\.0\\.1:${broker.port} reachable`));

    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, {
      protocolVersion: 4,
      reconnectPeriod: 0,
    });
    await client.publishAsync('a/b', 'x', { qos: 1 });
    await client.endAsync();
    await cli.waitForRecord((r) => r.event === 'close');
    const scraped = await get(`${base}/metrics`);
    expect(scraped.status).toBe(200);
    expect(scraped.type).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(scraped.body).toContain(
      'mqtt_tap_reason_codes_total{type="CONNACK",code="0x00",name="Connection Accepted"} 1',
    );
    expect(scraped.body).toContain('mqtt_tap_response_latency_seconds_count{type="PUBACK",from="broker"} 1');
    expect(scraped.body).toContain(
      `mqtt_tap_connections_opened_total{listener="127.0.0.1:${port}",transport="tcp"} 1`,
    );
    expect(scraped.body).toMatch(/^process_cpu_seconds_total \d/m);

    expect((await get(`${base}/nothing`)).status).toBe(404);
    expect((await get(`${base}/metrics`, 'POST')).status).toBe(405);

    // The broker goes away: not ready (once the last answer, kept for a second, is stale).
    await broker.close();
    await new Promise((r) => setTimeout(r, 1100));
    const down = await get(`${base}/readyz`);
    expect(down.status).toBe(503);
    expect(down.body).toMatch(/^not ready: broker 127\.0\.0\.1:\d+ unreachable: ECONNREFUSED/);
    cli.proc.kill('SIGTERM');
    expect((await cli.exited).code).toBe(0);
  });

  it('/readyz says not ready from the signal on, while connections get their grace period', async () => {
    const broker = await aedes();
    const port = await freePort();
    const metrics = await freePort();
    const cli = await startCli(cleanups, [
      '-l',
      `127.0.0.1:${port}`,
      '-u',
      `127.0.0.1:${broker.port}`,
      '--metrics',
      String(metrics),
    ]);
    expect(metricsBase(cli)).toBe(`http://127.0.0.1:${metrics}`);
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, {
      protocolVersion: 4,
      reconnectPeriod: 0,
    });
    client.stream.on('error', () => {});
    cleanups.add(() => client.end(true));
    expect((await get(`http://127.0.0.1:${metrics}/readyz`)).status).toBe(200);
    cli.proc.kill('SIGTERM');
    await cli.waitForRecord((r) => r.event === 'shutdown');
    const during = await get(`http://127.0.0.1:${metrics}/readyz`);
    expect(during).toMatchObject({ status: 503, body: 'not ready: shutting down\n' });
    expect((await get(`http://127.0.0.1:${metrics}/healthz`)).status).toBe(200);
    expect((await cli.exited).code).toBe(0);
  });

  it('is set by MQTT_TAP_METRICS; the topic flags need it', async () => {
    const broker = await aedes();
    const metrics = await freePort();
    const run = (args: string[], env: NodeJS.ProcessEnv = {}) =>
      new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const base = Object.fromEntries(
          Object.entries(process.env).filter(([k]) => !k.startsWith('MQTT_TAP_')),
        );
        execFile(
          process.execPath,
          [join(ROOT, 'bin/mqtt-tap.js'), ...args],
          { env: { ...base, ...env } },
          (err, _out, stderr) => resolve({ code: err === null ? 0 : (err.code as number), stderr }),
        );
      });
    const refused = await run(['-u', `127.0.0.1:${broker.port}`, '--metrics-topic-depth', '2']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('--metrics-topic-depth: only with --metrics');
    const noDepth = await run([
      '-u',
      `127.0.0.1:${broker.port}`,
      '--metrics',
      '0',
      '--metrics-topic-max',
      '5',
    ]);
    expect(noDepth.code).toBe(2);
    expect(noDepth.stderr).toContain('--metrics-topic-max: only with --metrics-topic-depth');

    const port = await freePort();
    const cli = await startCli(
      cleanups,
      ['-l', `127.0.0.1:${port}`, '-u', `127.0.0.1:${broker.port}`, '--metrics-topic-depth', '1'],
      {
        env: { MQTT_TAP_METRICS: `127.0.0.1:${metrics}` },
      },
    );
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, {
      protocolVersion: 4,
      reconnectPeriod: 0,
    });
    await client.publishAsync('plant/l1/t', 'x');
    await client.endAsync();
    await cli.waitForRecord((r) => r.event === 'close');
    const body = (await get(`http://127.0.0.1:${metrics}/metrics`)).body;
    expect(body).toContain('mqtt_tap_topic_messages_total{topic="plant",from="client"} 1');
  });
});
