/**
 * The PROXY protocol flags of the built CLI: usage errors for an upstream that cannot take a
 * header, and both flags from MQTT_TAP_* variables on a live connection.
 */
import { execFile, spawn } from 'node:child_process';
import * as net from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeProxyHeader } from '../../src/protocol/proxy-header.js';
import { freePort } from '../helpers/free-port.js';
import { connect } from '../helpers/packets.js';
import { plainServer, waitUntil } from '../proxy/harness.js';

const BIN = join(dirname(fileURLToPath(import.meta.url)), '../../bin/mqtt-tap.js');
const cleanEnv = (): NodeJS.ProcessEnv =>
  Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MQTT_TAP_')));

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

function runToEnd(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: cleanEnv() }, (err, _stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stderr });
    });
  });
}

describe('mqtt-tap CLI: PROXY protocol flags', () => {
  it('--upstream-proxy-protocol needs a TCP or mqtts:// upstream: exit code 2 otherwise', async () => {
    const [embedded, ws, bad] = await Promise.all([
      runToEnd(['--upstream-proxy-protocol', 'v2']),
      runToEnd(['-u', 'ws://127.0.0.1:8080/mqtt', '--upstream-proxy-protocol', 'v1']),
      runToEnd(['-u', '127.0.0.1:1883', '--upstream-proxy-protocol', 'v3']),
    ]);
    expect(embedded).toMatchObject({ code: 2, stderr: expect.stringContaining('needs an --upstream') });
    expect(ws).toMatchObject({ code: 2, stderr: expect.stringContaining('only with a TCP or mqtts://') });
    expect(bad).toMatchObject({ code: 2, stderr: expect.stringContaining('Choices: "v1", "v2"') });
  });

  it('MQTT_TAP_ACCEPT_PROXY_PROTOCOL and MQTT_TAP_UPSTREAM_PROXY_PROTOCOL: v1 in, v2 out, same client', async () => {
    const received: Buffer[] = [];
    const broker = await plainServer((s) => s.on('data', (c: Buffer) => received.push(c)));
    cleanups.push(() => broker.close());
    const port = await freePort();
    const proc = spawn(process.execPath, [BIN, '--no-pretty'], {
      env: {
        ...cleanEnv(),
        MQTT_TAP_LISTEN: `127.0.0.1:${port}`,
        MQTT_TAP_UPSTREAM: `127.0.0.1:${broker.port}`,
        MQTT_TAP_ACCEPT_PROXY_PROTOCOL: 'true',
        MQTT_TAP_UPSTREAM_PROXY_PROTOCOL: 'v2',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise((r) => proc.once('exit', r));
    cleanups.push(async () => {
      proc.kill('SIGKILL');
      await exited;
    });
    let out = '';
    proc.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
    });
    const records = (): Array<Record<string, unknown>> =>
      out
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
    await waitUntil(() => records().some((r) => r.event === 'listening'), 10_000, 'listening');

    const CONNECT = connect({ version: '3.1.1', clientId: 'env-client' });
    const client = net.connect({ host: '127.0.0.1', port });
    cleanups.push(() => client.destroy());
    client.write(Buffer.concat([Buffer.from('PROXY TCP4 203.0.113.9 127.0.0.1 40001 1883\r\n'), CONNECT]));
    const expected = Buffer.concat([
      encodeProxyHeader(2, { address: '203.0.113.9', port: 40001 }, { address: '127.0.0.1', port: 1883 }),
      CONNECT,
    ]);
    await waitUntil(() => Buffer.concat(received).length >= expected.length, 10_000, 'the broker bytes');
    expect(Buffer.concat(received)).toEqual(expected);
    await waitUntil(() => records().some((r) => r.event === 'open'), 10_000, 'open');
    expect(records().find((r) => r.event === 'open')).toMatchObject({
      client: '203.0.113.9:40001',
      proxied: { version: 1, destination: '127.0.0.1:1883' },
    });
  });
});
