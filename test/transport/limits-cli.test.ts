/**
 * The limit and policy flags on the built CLI: usage errors for values or combinations that cannot
 * apply, and the flags taken from MQTT_TAP_* variables like every other.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { BIN } from '../e2e/helpers/build-dist.js';
import { plainServer, waitUntil } from '../proxy/harness.js';

const ENV = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MQTT_TAP_')));

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

function runToEnd(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: ENV }, (err, _stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : null, stderr });
    });
  });
}

describe.concurrent('limit and policy flags: usage errors (exit 2)', () => {
  it.each([
    [['--ws-origin', 'http://localhost:3000'], '--ws-origin: only for a ws:// or wss:// --listen'],
    [['-l', 'ws://127.0.0.1:0/mqtt', '--ws-origin', 'localhost:3000'], 'is not an origin'],
    [['--ws-max-message', '16MiB'], '--ws-max-message: only with a ws:// or wss:// --listen or --upstream'],
    [['-l', 'ws://127.0.0.1:0/mqtt', '--ws-max-message', '1GiB'], '--ws-max-message: at most'],
    [['-l', 'ws://127.0.0.1:0/mqtt', '--ws-max-message', 'lots'], '--ws-max-message: invalid size'],
    [['--max-connections', '0'], '--max-connections must be a whole number from 1'],
    [
      ['-u', 'mqtts://127.0.0.1', '--upstream-cert', 'c.pem', '--upstream-key', 'k.pem'],
      '--upstream-cert: clients of 127.0.0.1:1884 cannot show a certificate',
    ],
    [
      ['-u', 'mqtts://127.0.0.1', '--upstream-cert', 'c.pem', '--upstream-key', 'k.pem'],
      'or let every client use the certificate: --upstream-cert-for-all',
    ],
    [
      [
        ...['-l', 'mqtts://127.0.0.1:0', '--tls-cert', 'c', '--tls-key', 'k', '--tls-request-cert'],
        ...['-u', 'mqtts://127.0.0.1', '--upstream-cert', 'c.pem', '--upstream-key', 'k.pem'],
      ],
      'checked against no CA of yours (no --tls-ca)',
    ],
    [
      ['-u', 'mqtts://127.0.0.1', '--upstream-cert-for-all'],
      '--upstream-cert-for-all: only with --upstream-cert',
    ],
  ])('%j: "%s"', async (args, message) => {
    const { code, stderr } = await runToEnd(args);
    expect(code).toBe(2);
    expect(stderr).toContain(message);
  });
});

describe('limit flags from MQTT_TAP_* variables', () => {
  it('MQTT_TAP_MAX_CONNECTIONS, MQTT_TAP_WS_ORIGIN and MQTT_TAP_WS_MAX_MESSAGE apply', async () => {
    const broker = await plainServer((s) => s.resume());
    cleanups.push(() => broker.close());
    const proc: ChildProcess = spawn(
      process.execPath,
      [BIN, '-l', 'ws://127.0.0.1:0/mqtt', '-u', `127.0.0.1:${broker.port}`, '--no-pretty'],
      {
        env: {
          ...ENV,
          MQTT_TAP_MAX_CONNECTIONS: '1',
          MQTT_TAP_WS_ORIGIN: 'http://localhost:3000,https://app.example',
          MQTT_TAP_WS_MAX_MESSAGE: '1KiB',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    cleanups.push(() => proc.kill('SIGKILL'));
    const lines: Array<Record<string, unknown>> = [];
    let buf = '';
    proc.stdout!.on('data', (c: Buffer) => {
      buf += c.toString();
      for (let nl = buf.indexOf('\n'); nl !== -1; nl = buf.indexOf('\n')) {
        lines.push(JSON.parse(buf.slice(0, nl)) as Record<string, unknown>);
        buf = buf.slice(nl + 1);
      }
    });
    await waitUntil(() => lines.some((l) => l.event === 'listening'), 10_000, 'listening');
    const url = (lines.find((l) => l.event === 'listening')!.addresses as string[])[0]!;

    const open = (origin: string): Promise<{ ws: WebSocket; closed: Promise<number> }> =>
      new Promise((resolve, reject) => {
        const ws = new WebSocket(url, ['mqtt'], { origin });
        ws.on('error', () => {});
        cleanups.push(() => ws.terminate());
        const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
        ws.once('open', () => resolve({ ws, closed }));
        ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
      });
    const first = await open('https://app.example');
    await waitUntil(() => broker.sockets.size === 1, 5000, 'first client forwarded');
    await expect(open('https://other.example')).rejects.toThrow('HTTP 403');
    const second = await open('http://localhost:3000');
    expect(await second.closed).toBe(1013);
    first.ws.send(Buffer.alloc(1025));
    expect(await first.closed).toBe(1009);
    await waitUntil(
      () =>
        lines.some(
          (l) => l.event === 'close' && (l.error as { code?: string })?.code === 'WS_MESSAGE_TOO_BIG',
        ),
      5000,
      'the close record',
    );
    expect(lines.filter((l) => l.event === 'refused').map((l) => l.code)).toEqual(['MAX_CONNECTIONS']);
    expect(lines.filter((l) => l.event === 'handshake-failed').map((l) => l.code)).toEqual([
      'WS_ORIGIN_FORBIDDEN',
    ]);
  });
});
