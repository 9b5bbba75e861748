/**
 * The real binary (bin/mqtt-tap.js → dist/) as users run it: flags, MQTT_TAP_* variables, the first
 * records, the embedded broker, signals, exit codes (dist/ is built by the vitest globalSetup).
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { type AedesBroker, startAedes } from '../helpers/aedes-broker.js';
import { freePort } from '../helpers/free-port.js';
import { requireMosquitto } from '../helpers/mosquitto.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = join(ROOT, 'bin/mqtt-tap.js');

interface Record {
  level: number;
  time: number;
  msg: string;
  event: string;
  [key: string]: unknown;
}

interface Cli {
  proc: ChildProcess;
  records: Record[];
  stderr: () => string;
  waitFor(pred: (r: Record) => boolean, timeoutMs?: number): Promise<Record>;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const running: Cli[] = [];
afterEach(async () => {
  for (const cli of running.splice(0)) {
    if (cli.proc.exitCode === null && cli.proc.signalCode === null) cli.proc.kill('SIGKILL');
    await cli.exit;
  }
});

function startCli(args: string[], env: NodeJS.ProcessEnv = {}): Cli {
  // A clean environment: no inherited MQTT_TAP_* and no colour decisions from the runner.
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MQTT_TAP_')));
  const proc = spawn(process.execPath, [BIN, ...args], {
    env: { ...base, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const records: Record[] = [];
  const waiters = new Set<() => void>();
  let buffered = '';
  let stderr = '';
  proc.stdout!.on('data', (chunk: Buffer) => {
    buffered += chunk.toString('utf8');
    let nl = buffered.indexOf('\n');
    while (nl !== -1) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      if (line.trim() !== '') records.push(JSON.parse(line) as Record);
      nl = buffered.indexOf('\n');
    }
    for (const w of waiters) w();
  });
  proc.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const cli: Cli = {
    proc,
    records,
    stderr: () => stderr,
    exit,
    waitFor(pred, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const found = records.find(pred);
          if (found) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve(found);
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(
            new Error(
              `no such record in ${timeoutMs} ms; stderr: ${stderr}; records: ${JSON.stringify(records)}`,
            ),
          );
        }, timeoutMs);
        waiters.add(check);
        void exit.then(() => setTimeout(check, 50));
        check();
      });
    },
  };
  running.push(cli);
  return cli;
}

/** Resolves once the CLI says on stderr that it listens (with --log-file, stdout has no records). */
function listening(cli: Cli): Promise<void> {
  return new Promise((resolve) => {
    const check = (): void =>
      cli.stderr().includes('listening on') ? resolve() : void setTimeout(check, 20);
    check();
  });
}

function runToEnd(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: { ...process.env, ...env } }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr });
    });
  });
}

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

async function aedes(): Promise<AedesBroker> {
  const broker = await startAedes();
  cleanups.push(() => broker.close());
  return broker;
}

describe('mqtt-tap CLI: usage', () => {
  it('--help lists every flag, the MQTT_TAP_ variables and examples; --version prints the package version', async () => {
    const [help, version] = await Promise.all([runToEnd(['--help']), runToEnd(['--version'])]);
    expect(help.code).toBe(0);
    for (const flag of [
      '--listen',
      '--upstream',
      '--log-file',
      '--pretty',
      '--level',
      '--payload',
      '--payload-max',
      '--capture-max',
      '--show-secrets',
      '--client-id',
      '--topic',
      '--version',
      '--help',
      'decode',
      'Examples:',
      'MQTT_TAP_',
    ]) {
      expect(help.stdout).toContain(flag);
    }
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(version.stdout.trim()).toBe(pkg.version);
  });

  it('refuses unknown flags and bad values with exit code 2, naming the variable a bad option came from', async () => {
    const [bogus, topic, port, scheme, env] = await Promise.all([
      runToEnd(['--bogus']),
      runToEnd(['--topic', 'a/#/b']),
      runToEnd(['-l', '70000']),
      runToEnd(['-u', 'ftp://broker:21']),
      runToEnd([], { MQTT_TAP_UPSTREM: 'x:1' }),
    ]);
    expect(bogus).toMatchObject({ code: 2, stderr: expect.stringContaining('Unknown argument: bogus') });
    expect(topic).toMatchObject({ code: 2, stderr: expect.stringContaining('"#"') });
    expect(port).toMatchObject({ code: 2, stderr: expect.stringContaining('out of range') });
    expect(scheme).toMatchObject({ code: 2, stderr: expect.stringContaining('unsupported scheme "ftp://"') });
    expect(env).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('from environment: MQTT_TAP_UPSTREM'),
    });
  });

  it('a listen port already taken: an error record, a message on stderr, exit code 1', async () => {
    const broker = await aedes();
    const port = await freePort();
    const holder = startCli(['-l', String(port), '-u', `127.0.0.1:${broker.port}`]);
    await holder.waitFor((r) => r.event === 'listening');
    const second = startCli(['-l', String(port), '-u', `127.0.0.1:${broker.port}`]);
    expect((await second.exit).code).toBe(1);
    expect(second.records.map((r) => r.event)).toEqual(['startup-failed']);
    expect(second.stderr()).toContain('EADDRINUSE');
  });
});

describe('mqtt-tap CLI: proxying', () => {
  it('first record is listening; packets flow; SIGTERM closes within the grace period and exits 0', async () => {
    const broker = await aedes();
    const port = await freePort();
    const cli = startCli(['-l', `127.0.0.1:${port}`, '-u', `mqtt://127.0.0.1:${broker.port}`, '--no-pretty']);
    const listening = await cli.waitFor((r) => r.event === 'listening');
    expect(cli.records[0]).toBe(listening);
    expect(listening).toMatchObject({
      level: 30,
      addresses: [`127.0.0.1:${port}`],
      upstream: `127.0.0.1:${broker.port}`,
      embedded: false,
    });
    expect(listening).not.toHaveProperty('pid');
    expect(listening).not.toHaveProperty('hostname');

    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, {
      protocolVersion: 4,
      clientId: 'cli-test',
      reconnectPeriod: 0,
    });
    client.stream.on('error', () => {});
    await cli.waitFor((r) => r.event === 'packet' && r.from === 'broker');
    const t0 = Date.now();
    cli.proc.kill('SIGTERM');
    const { code } = await cli.exit;
    expect(code).toBe(0);
    expect(Date.now() - t0).toBeLessThan(4000);
    const events = cli.records.map((r) => r.event);
    expect(events.slice(-3)).toEqual(['shutdown', 'close', 'stopped']);
    // The idle MQTT connection outlived the grace period: the proxy closed it, and said so.
    expect(cli.records.find((r) => r.event === 'close')).toMatchObject({ closedBy: 'proxy' });
    client.end(true);
  });

  it('keeps V8 young generation at its initial size, where a plain node process grows it', async () => {
    // Two 16 MiB semi-spaces are resident memory for every connection count (docs/performance.md).
    const broker = await aedes();
    const dir = mkdtempSync(join(tmpdir(), 'mqtt-tap-young-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const helper = join(ROOT, 'test/helpers/young-generation.cjs');
    const plainFile = join(dir, 'plain.txt');
    const plain = spawn(process.execPath, ['--require', helper, '-e', ''], {
      env: { ...process.env, YOUNG_GEN_FILE: plainFile },
      stdio: 'ignore',
    });
    await new Promise((resolve) => plain.once('exit', resolve));
    const tapFile = join(dir, 'tap.txt');
    const cli = startCli(['-l', `127.0.0.1:${await freePort()}`, '-u', `127.0.0.1:${broker.port}`], {
      NODE_OPTIONS: `--require ${helper}`,
      YOUNG_GEN_FILE: tapFile,
    });
    await cli.waitFor((r) => r.event === 'listening');
    cli.proc.kill('SIGTERM');
    expect((await cli.exit).code).toBe(0);
    const MiB = 1024 * 1024;
    // The helper's allocations do make it grow: the check below is not vacuous.
    expect(Number(readFileSync(plainFile, 'utf8'))).toBeGreaterThan(16 * MiB);
    expect(Number(readFileSync(tapFile, 'utf8'))).toBeLessThanOrEqual(2 * MiB);
  });

  it('loads only what its flags use: no WebSocket, pino, embedded-broker, recorder, replay, metrics or web view code for a TCP proxy', async () => {
    // What a process loads stays in its heap; past 8 MB of old generation V8 answered socket-read
    // garbage with mark-compact collections (docs/performance.md).
    const broker = await aedes();
    const dir = mkdtempSync(join(tmpdir(), 'mqtt-tap-modules-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const list = join(dir, 'modules.txt');
    const cli = startCli(
      [
        '-l',
        `127.0.0.1:${await freePort()}`,
        '-u',
        `127.0.0.1:${broker.port}`,
        '--log-file',
        join(dir, 'log'),
      ],
      {
        NODE_OPTIONS: `--require ${join(ROOT, 'test/helpers/loaded-modules.cjs')}`,
        LOADED_MODULES_FILE: list,
      },
    );
    await listening(cli);
    cli.proc.kill('SIGTERM');
    expect((await cli.exit).code).toBe(0);
    const loaded = readFileSync(list, 'utf8').split('\n');
    // The hooks saw the proxy's own modules: the list is real.
    expect(loaded.some((m) => m.endsWith('/dist/src/proxy/server.js'))).toBe(true);
    for (const unused of [
      '/node_modules/ws/',
      // pino writes only records the log's own encoder leaves to it (an err field): none here.
      '/node_modules/pino/',
      '/node_modules/aedes/',
      '/dist/src/proxy/embedded-broker.js',
      '/dist/src/observe/pcapng-recorder.js',
      '/dist/src/replay/replay.js',
      '/dist/src/replay/pcap-reader.js',
      '/dist/src/protocol/catalogue/rules.js',
      '/dist/src/proxy/proxy-protocol.js',
      '/dist/src/protocol/proxy-header.js',
      // --metrics only.
      '/node_modules/prom-client/',
      '/dist/src/sinks/packet-metrics.js',
      '/dist/src/sinks/prometheus.js',
      '/dist/src/proxy/metrics-server.js',
      // Without --ui the log is the only sink: no hub, no tee, no server.
      '/dist/src/ui/hub.js',
      '/dist/src/ui/server.js',
      '/dist/src/ui/page.js',
    ]) {
      expect(loaded.filter((m) => m.includes(unused))).toEqual([]);
    }
  });

  it('every flag from MQTT_TAP_* variables; NDJSON to --log-file with nothing lost at exit', async () => {
    const broker = await aedes();
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'mqtt-tap-cli-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const logFile = join(dir, 'logs', 'tap.ndjson');
    const cli = startCli([], {
      MQTT_TAP_LISTEN: `127.0.0.1:${port}`,
      MQTT_TAP_UPSTREAM: `127.0.0.1:${broker.port}`,
      MQTT_TAP_LOG_FILE: logFile,
      MQTT_TAP_LEVEL: 'debug',
      MQTT_TAP_PAYLOAD: 'hex',
    });
    await listening(cli);
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, {
      protocolVersion: 4,
      reconnectPeriod: 0,
    });
    for (let i = 0; i < 200; i++) client.publish('t/x', `m${i}`, { qos: 0 });
    await client.publishAsync('t/x', 'last', { qos: 1 });
    await client.endAsync();
    await new Promise((r) => setTimeout(r, 100));
    cli.proc.kill('SIGINT');
    expect((await cli.exit).code).toBe(0);
    expect(cli.records).toEqual([]); // stdout stays clean; records went to the file
    const lines = readFileSync(logFile, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record);
    expect(lines[0]).toMatchObject({ event: 'listening', addresses: [`127.0.0.1:${port}`] });
    const publishes = lines.filter((r) => r.event === 'packet' && r.type === 'PUBLISH');
    expect(publishes).toHaveLength(201);
    // --payload hex (from MQTT_TAP_PAYLOAD) reached the tap.
    expect(JSON.stringify(publishes.at(-1))).toContain('6c617374');
    expect(lines.at(-1)).toMatchObject({ event: 'stopped' });
  });

  it('pretty output when asked: one line per record, time LEVEL conn from→ msg', async () => {
    const broker = await aedes();
    const port = await freePort();
    const proc = spawn(
      process.execPath,
      [BIN, '-l', String(port), '-u', `127.0.0.1:${broker.port}`, '--pretty'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    proc.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    const exited = new Promise((r) => proc.once('exit', r));
    cleanups.push(() => {
      proc.kill('SIGKILL');
      return exited;
    });
    while (!out.includes('listening on')) await new Promise((r) => setTimeout(r, 20));
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, {
      protocolVersion: 4,
      reconnectPeriod: 0,
    });
    await client.endAsync();
    while (!out.includes('close by')) await new Promise((r) => setTimeout(r, 20));
    proc.kill('SIGINT');
    await exited;
    const lines = out.trim().split('\n');
    expect(lines[0]).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO {2}listening on /);
    expect(lines).toContainEqual(
      expect.stringMatching(/^\d\d:\d\d:\d\d\.\d{3} INFO {2}c\d+ +client→ CONNECT /),
    );
    expect(lines).toContainEqual(
      expect.stringMatching(/^\d\d:\d\d:\d\d\.\d{3} INFO {2}c\d+ +broker→ CONNACK /),
    );
    expect(out).not.toContain('\u001b['); // not a terminal: no colours
  });
});

describe('mqtt-tap CLI: embedded broker', () => {
  it('--embedded aedes: says so first, and that MQTT 5.0 is refused with return code 1', async () => {
    const port = await freePort();
    const cli = startCli(['-l', String(port), '--embedded', 'aedes', '--no-pretty']);
    const [listening, embedded] = [
      await cli.waitFor((r) => r.event === 'listening'),
      await cli.waitFor((r) => r.event === 'embedded-broker'),
    ];
    expect(cli.records.slice(0, 2)).toEqual([listening, embedded]);
    expect(listening).toMatchObject({ embedded: 'aedes' });
    expect(embedded).toMatchObject({ level: 40, kind: 'aedes', protocols: ['3.1', '3.1.1'] });
    expect(embedded.msg).toContain('refuses an MQTT 5.0 CONNECT with return code 1');
    const err = await mqtt
      .connectAsync(`mqtt://127.0.0.1:${port}`, { protocolVersion: 5, reconnectPeriod: 0 })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err).toMatchObject({ code: 1 });
    cli.proc.kill('SIGINT');
    expect((await cli.exit).code).toBe(0);
  });

  it.skipIf(!requireMosquitto())(
    'default: mosquitto when installed, MQTT 5.0 accepted, stopped with mqtt-tap',
    async () => {
      const port = await freePort();
      const cli = startCli(['-l', String(port), '--no-pretty']);
      const embedded = await cli.waitFor((r) => r.event === 'embedded-broker');
      expect(embedded).toMatchObject({ level: 30, kind: 'mosquitto', protocols: ['3.1', '3.1.1', '5.0'] });
      const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, {
        protocolVersion: 5,
        reconnectPeriod: 0,
      });
      await client.endAsync();
      cli.proc.kill('SIGINT');
      expect((await cli.exit).code).toBe(0);
      const address = String(embedded.address);
      const [host, brokerPort] = [address.split(':')[0]!, Number(address.split(':')[1])];
      const refused = await mqtt
        .connectAsync(`mqtt://${host}:${brokerPort}`, { reconnectPeriod: 0, connectTimeout: 1000 })
        .then(
          (c) => c.endAsync(true).then(() => false),
          () => true,
        );
      expect(refused).toBe(true);
    },
  );
});
