/**
 * The transport flags as users type them, on the built binary (dist/ is built by vitest's
 * globalSetup): mqtts:// and ws:// listeners at once to an mqtts:// mosquitto, the listening record's
 * URLs, the --insecure warning, and the usage errors for flags that cannot apply.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { requireMosquitto } from '../helpers/mosquitto.js';
import { generateCerts, type TestCerts } from './helpers/certs.js';
import { startTransportBroker, type TransportBroker } from './helpers/transport-broker.js';

const BIN = join(dirname(fileURLToPath(import.meta.url)), '../../bin/mqtt-tap.js');

interface Line {
  event: string;
  level: number;
  msg: string;
  [key: string]: unknown;
}

/** A clean environment: no inherited MQTT_TAP_* variables. */
const ENV = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MQTT_TAP_')));

const procs: ChildProcess[] = [];
afterEach(() => {
  for (const p of procs.splice(0)) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
});

function start(args: string[]): {
  proc: ChildProcess;
  lines: Line[];
  waitFor(pred: (l: Line) => boolean, timeoutMs?: number): Promise<Line>;
  exited: Promise<number | null>;
} {
  const proc = spawn(process.execPath, [BIN, ...args, '--no-pretty'], {
    env: ENV,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  procs.push(proc);
  const lines: Line[] = [];
  let buf = '';
  let stderr = '';
  proc.stdout!.on('data', (c: Buffer) => {
    buf += c.toString('utf8');
    for (let nl = buf.indexOf('\n'); nl !== -1; nl = buf.indexOf('\n')) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (line.trim() !== '') lines.push(JSON.parse(line) as Line);
    }
  });
  proc.stderr!.on('data', (c: Buffer) => {
    stderr += c.toString('utf8');
  });
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  return {
    proc,
    lines,
    exited,
    async waitFor(pred, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = lines.find(pred);
        if (found) return found;
        if (Date.now() > deadline || proc.exitCode !== null) {
          throw new Error(`no such line; stderr: ${stderr}; lines: ${JSON.stringify(lines)}`);
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    },
  };
}

function runToEnd(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: ENV }, (err, _stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : null;
      resolve({ code, stderr });
    });
  });
}

describe.concurrent('CLI: transport flags', () => {
  it.each([
    [['-l', 'mqtts://127.0.0.1:0'], 'mqtts:// and wss:// listeners need --tls-cert FILE and --tls-key FILE'],
    [['-l', '127.0.0.1:0', '--tls-cert', 'x.pem'], '--tls-cert: only for an mqtts:// or wss:// --listen'],
    [
      ['-l', 'wss://127.0.0.1:0', '--tls-cert', 'c', '--tls-key', 'k', '--tls-ca', 'ca'],
      '--tls-ca verifies client certificates: add --tls-request-cert',
    ],
    [['-u', '127.0.0.1:1883', '--insecure'], '--insecure: only with an mqtts:// or wss:// --upstream'],
    [
      ['-u', 'ws://127.0.0.1/mqtt', '--upstream-ca', 'ca.pem'],
      '--upstream-ca: only with an mqtts:// or wss://',
    ],
    [
      ['-u', 'mqtts://127.0.0.1', '--upstream-cert', 'c.pem'],
      '--upstream-cert and --upstream-key go together',
    ],
    [['-u', 'http://127.0.0.1'], 'unsupported scheme "http://"'],
    [['-l', 'ws://127.0.0.1:0/mqtt?x=1'], 'a listener path has no query'],
  ])('%j: usage error (exit 2) "%s"', async (args, message) => {
    const { code, stderr } = await runToEnd(args);
    expect(code).toBe(2);
    expect(stderr).toContain(message);
  });

  it('an unreadable --tls-cert: startup fails (exit 1) naming the flag and the file', async () => {
    const { code, stderr } = await runToEnd([
      ...['-l', 'mqtts://127.0.0.1:0', '-u', '127.0.0.1:1', '--tls-cert', '/nonexistent/tap.pem'],
      ...['--tls-key', '/nonexistent/tap.key'],
    ]);
    expect(code).toBe(1);
    expect(stderr).toContain('cannot read --tls-cert /nonexistent/tap.pem');
  });
});

describe.skipIf(!requireMosquitto())('CLI: TLS and WebSocket listeners to an mqtts:// mosquitto', () => {
  let certs: TestCerts;
  let broker: TransportBroker;
  beforeAll(async () => {
    certs = generateCerts();
    broker = await startTransportBroker(certs);
  });
  afterAll(async () => {
    await broker?.stop();
    certs?.remove();
  });

  it('listening names the URLs; clients over mqtts and ws both reach the broker; SIGTERM exits 0', async () => {
    const cli = start([
      ...['-l', 'mqtts://127.0.0.1:0', '-l', 'ws://127.0.0.1:0/mqtt'],
      ...[
        '--tls-cert',
        certs.server,
        '--tls-key',
        certs.serverKey,
        '--tls-ca',
        certs.ca,
        '--tls-request-cert',
      ],
      ...['-u', `mqtts://127.0.0.1:${broker.ports.mtls}`, '--upstream-ca', certs.ca],
      ...['--upstream-cert', certs.client, '--upstream-key', certs.clientKey, '--upstream-alpn', 'mqtt'],
      // The ws:// listener cannot verify its clients: they use mqtt-tap's certificate only when asked.
      '--upstream-cert-for-all',
    ]);
    const listening = await cli.waitFor((l) => l.event === 'listening');
    const forAll = await cli.waitFor((l) => l.event === 'upstream-cert-for-all');
    expect(forAll).toMatchObject({ level: 40, upstream: `mqtts://127.0.0.1:${broker.ports.mtls}` });
    const addresses = listening.addresses as string[];
    expect(addresses).toEqual([
      expect.stringMatching(/^mqtts:\/\/127\.0\.0\.1:\d+$/),
      expect.stringMatching(/^ws:\/\/127\.0\.0\.1:\d+\/mqtt$/),
    ]);
    expect(listening.upstream).toBe(`mqtts://127.0.0.1:${broker.ports.mtls}`);
    for (const [url, extra] of [
      [addresses[0]!, { cert: certs.read(certs.client), key: certs.read(certs.clientKey) }],
      [addresses[1]!, {}],
    ] as const) {
      const client = await mqtt.connectAsync(url, {
        protocolVersion: 5,
        reconnectPeriod: 0,
        ca: certs.read(certs.ca),
        ...extra,
      });
      await client.publishAsync('cli/t', 'x', { qos: 1 });
      await client.endAsync();
    }
    const opens = [
      await cli.waitFor((l) => l.event === 'open' && l.transport === 'tls'),
      await cli.waitFor((l) => l.event === 'open' && l.transport === 'ws'),
    ];
    expect(opens[0]).toMatchObject({
      tls: { protocol: 'TLSv1.3', clientCert: { subject: 'O=mqtt-tap tests, CN=sensor-1', valid: true } },
    });
    expect(opens[1]).toMatchObject({ websocket: { path: '/mqtt', protocol: 'mqtt' } });
    await cli.waitFor((l) => l.event === 'packet' && l.type === 'PUBACK' && l.conn === opens[1]!.conn);
    expect(cli.lines.filter((l) => l.event === 'insecure-upstream' || l.event === 'upstream-error')).toEqual(
      [],
    );
    cli.proc.kill('SIGTERM');
    expect(await cli.exited).toBe(0);
  });

  it('--insecure: a warning record right after listening, and the unverified broker is reached', async () => {
    const cli = start(['-l', '127.0.0.1:0', '-u', `wss://127.0.0.1:${broker.ports.wss}/mqtt`, '--insecure']);
    const warning = await cli.waitFor((l) => l.event === 'insecure-upstream');
    expect(warning).toMatchObject({ level: 40, upstream: `wss://127.0.0.1:${broker.ports.wss}/mqtt` });
    expect(warning.msg).toContain('NOT verified');
    expect(cli.lines.findIndex((l) => l.event === 'insecure-upstream')).toBe(1);
    const listening = cli.lines[0]!;
    const client = await mqtt.connectAsync(`mqtt://${(listening.addresses as string[])[0]}`, {
      protocolVersion: 5,
      reconnectPeriod: 0,
    });
    await client.endAsync();
    await cli.waitFor((l) => l.event === 'close');
    cli.proc.kill('SIGTERM');
    expect(await cli.exited).toBe(0);
  });
});
