/**
 * The log never holds forwarding hostage: the real binary with a stdout nobody reads, a reader that
 * goes away (`| head -1`), a full disk and a paused terminal. Forwarding goes on, memory stays
 * within the log buffer, lost lines are counted, and shutdown ends within the grace period plus a
 * second whatever the log does.
 */
import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { SHUTDOWN_GRACE_MS } from '../../src/cli/proxy-command.js';
import { freePort, waitForPort } from '../helpers/free-port.js';
import { type Mosquitto, requireMosquitto, startMosquitto } from '../helpers/mosquitto.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = join(ROOT, 'bin/mqtt-tap.js');
/** "Within the grace period plus one second", with room for a loaded machine. */
const SHUTDOWN_BOUND_MS = SHUTDOWN_GRACE_MS + 3000;

interface LogRecord {
  event: string;
  level: number;
  [key: string]: unknown;
}

interface Tap {
  proc: ChildProcess;
  port: number;
  records: LogRecord[];
  stderr(): string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Stops reading stdout: the pipe fills and the log's writes wait. */
  stall(): void;
  /** Reads stdout again. */
  read(): void;
  waitFor(pred: (r: LogRecord) => boolean, timeoutMs?: number): Promise<LogRecord>;
}

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

async function broker(): Promise<Mosquitto> {
  const b = await startMosquitto();
  cleanups.push(() => b.stop());
  return b;
}

/** The binary with stdout a pipe to this process; resolves once it has logged `listening`. */
async function startTap(upstreamPort: number, extra: string[] = []): Promise<Tap> {
  const port = await freePort();
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MQTT_TAP_')));
  const proc = spawn(
    process.execPath,
    [BIN, '-l', `127.0.0.1:${port}`, '-u', `127.0.0.1:${upstreamPort}`, '--no-pretty', ...extra],
    { env: base, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once('exit', (code, signal) => resolve({ code, signal })),
  );
  cleanups.push(async () => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    await exit;
  });
  const records: LogRecord[] = [];
  const waiters = new Set<() => void>();
  let partial = '';
  let stderr = '';
  proc.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  proc.stdout!.on('data', (chunk: Buffer) => {
    partial += chunk.toString('utf8');
    const lines = partial.split('\n');
    partial = lines.pop()!;
    for (const line of lines) if (line !== '') records.push(JSON.parse(line) as LogRecord);
    for (const w of waiters) w();
  });
  const tap: Tap = {
    proc,
    port,
    records,
    stderr: () => stderr,
    exit,
    stall: () => proc.stdout!.pause(),
    read: () => proc.stdout!.resume(),
    waitFor(pred, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const found = records.find(pred);
          if (found === undefined) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(found);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no such record in ${timeoutMs} ms; stderr: ${stderr}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
  };
  await tap.waitFor((r) => r.event === 'listening');
  return tap;
}

/** Kilobytes of the process's resident memory now, or at its peak (VmHWM). */
function memoryKb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no ${field} for ${pid}`);
  return Number(m[1]);
}

/**
 * Publishes `count` QoS 0 messages of `size` bytes through the proxy, with a QoS 1 message every
 * hundred and at the end: it resolves once the broker has acknowledged them all, which is
 * forwarding going on both ways.
 */
async function publish(port: number, count: number, size: number): Promise<void> {
  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0 });
  const payload = Buffer.alloc(size, 'x');
  try {
    for (let i = 1; i <= count; i++) {
      client.publish('log/backpressure', payload, { qos: 0 });
      if (i % 100 === 0) await client.publishAsync('log/backpressure', 'sync', { qos: 1 });
    }
    await client.publishAsync('log/backpressure', 'last', { qos: 1 });
  } finally {
    await client.endAsync();
  }
}

/** An MQTT client that connects through the proxy and stays, idle: shutdown waits the whole grace period for it. */
async function idleClient(port: number): Promise<void> {
  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0, keepalive: 0 });
  client.stream.on('error', () => {});
  cleanups.push(() => client.end(true));
}

/** Resolves once the proxy refuses new connections: it has taken the first signal. */
async function untilRefused(port: number): Promise<void> {
  for (;;) {
    const refused = await new Promise<boolean>((resolve) => {
      const socket = connect({ host: '127.0.0.1', port });
      socket.once('connect', () => {
        socket.destroy();
        resolve(false);
      });
      socket.once('error', () => resolve(true));
    });
    if (refused) return;
    await new Promise((r) => setTimeout(r, 20));
  }
}

const logErrorLines = (stderr: string): string[] =>
  stderr.split('\n').filter((l) => l.includes('cannot write the log'));

describe.skipIf(!requireMosquitto())('mqtt-tap CLI: a log that cannot keep up', () => {
  it('a stdout nobody reads: forwarding goes on, memory stays within the log buffer, the lines lost are counted and reported', async () => {
    const b = await broker();
    // Each PUBLISH line carries its 60 kB payload: ~180 MB of log in all.
    const tap = await startTap(b.port, ['--log-buffer', '1MiB', '--payload-max', '65536']);
    const pid = tap.proc.pid!;
    const before = memoryKb(pid, 'VmRSS');
    tap.stall();
    await publish(tap.port, 3000, 60_000);
    // Unbounded, the log alone would have taken ~180 MB.
    expect(memoryKb(pid, 'VmHWM') - before).toBeLessThan(120 * 1024);

    tap.read();
    const notice = await tap.waitFor((r) => r.event === 'log-dropped');
    expect(notice).toMatchObject({ level: 40, lines: expect.any(Number) });
    expect(notice.lines).toBeGreaterThan(0);
    tap.proc.kill('SIGTERM');
    expect((await tap.exit).code).toBe(0);
    const stopped = tap.records.find((r) => r.event === 'stopped');
    const reported = tap.records
      .filter((r) => r.event === 'log-dropped')
      .reduce((sum, r) => sum + (r.lines as number), 0);
    expect(stopped?.logDroppedLines).toBe(reported);
    expect(tap.stderr()).toBe('');
  });

  it('`| head -1`: the reader goes away; one line on stderr, forwarding goes on, memory stays flat', async () => {
    const b = await broker();
    const tap = await startTap(b.port, ['--payload-max', '65536']);
    // head has its line and exits: the next write of the log fails with EPIPE.
    tap.proc.stdout!.destroy();
    await publish(tap.port, 10, 100);
    const before = memoryKb(tap.proc.pid!, 'VmRSS');
    await publish(tap.port, 3000, 60_000);
    expect(memoryKb(tap.proc.pid!, 'VmHWM') - before).toBeLessThan(120 * 1024);
    const t0 = Date.now();
    tap.proc.kill('SIGTERM');
    // The log is incomplete: exit code 1.
    expect((await tap.exit).code).toBe(1);
    expect(Date.now() - t0).toBeLessThan(SHUTDOWN_BOUND_MS);
    expect(logErrorLines(tap.stderr())).toEqual([expect.stringContaining('EPIPE')]);
    expect(tap.stderr().trim().split('\n')).toHaveLength(1);
  });

  it('a full disk (--log-file /dev/full): one line on stderr, forwarding goes on, a prompt exit', async () => {
    const b = await broker();
    const port = await freePort();
    const proc = spawn(
      process.execPath,
      [BIN, '-l', `127.0.0.1:${port}`, '-u', `127.0.0.1:${b.port}`, '--log-file', '/dev/full'],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    const exit = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
    cleanups.push(async () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      await exit;
    });
    let stderr = '';
    proc.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
    });
    await waitForPort(port);
    await publish(port, 1000, 10_000);
    const t0 = Date.now();
    proc.kill('SIGTERM');
    expect(await exit).toBe(1);
    expect(Date.now() - t0).toBeLessThan(SHUTDOWN_BOUND_MS);
    expect(logErrorLines(stderr)).toEqual([expect.stringContaining('ENOSPC')]);
    // Besides it, only the line that says where the log goes.
    expect(stderr.trim().split('\n')).toHaveLength(2);
  });

  it('SIGTERM with stdout blocked: exits within the grace period plus a second, and says the last records are lost', async () => {
    const b = await broker();
    const tap = await startTap(b.port, ['--payload-max', '65536']);
    tap.stall();
    await idleClient(tap.port);
    // Far more than a pipe holds.
    await publish(tap.port, 200, 60_000);
    const t0 = Date.now();
    tap.proc.kill('SIGTERM');
    expect((await tap.exit).code).toBe(1);
    expect(Date.now() - t0).toBeLessThan(SHUTDOWN_BOUND_MS);
    expect(tap.stderr()).toContain('did not take the last records in time');
  });

  it('a second SIGTERM exits at once, whatever is still waiting', async () => {
    const b = await broker();
    const tap = await startTap(b.port, ['--payload-max', '65536']);
    tap.stall();
    await idleClient(tap.port);
    await publish(tap.port, 200, 60_000);
    const t0 = Date.now();
    tap.proc.kill('SIGTERM');
    await untilRefused(tap.port);
    tap.proc.kill('SIGTERM');
    // 128 + SIGTERM: stopped by the signal, not by the end of the grace period.
    expect((await tap.exit).code).toBe(143);
    expect(Date.now() - t0).toBeLessThan(SHUTDOWN_BOUND_MS);
  });

  const script = spawnSync('script', ['--version']).status === 0;
  it.skipIf(!script)(
    'pretty output on a paused terminal: forwarding goes on, and SIGTERM ends it in time',
    async () => {
      const b = await broker();
      const port = await freePort();
      const dir = mkdtempSync(join(tmpdir(), 'mqtt-tap-tty-'));
      cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
      const pidFile = join(dir, 'pid');
      // script(1) gives mqtt-tap a terminal; this process never reads it, so the terminal fills up.
      const command = `echo $$ > ${pidFile}; exec ${process.execPath} ${BIN} -l 127.0.0.1:${port} -u 127.0.0.1:${b.port}`;
      const term = spawn('script', ['-q', '-c', command, '/dev/null'], { stdio: ['pipe', 'pipe', 'ignore'] });
      term.stdout!.pause();
      cleanups.push(() => term.kill('SIGKILL'));
      await waitForPort(port);
      const pid = Number(readFileSync(pidFile, 'utf8'));
      cleanups.push(() => {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone
        }
      });
      await publish(port, 5000, 100);
      const t0 = Date.now();
      process.kill(pid, 'SIGTERM');
      // Exited (a zombie until script, stuck on its own output, reaps it) or gone.
      const running = (): boolean => {
        try {
          return readFileSync(`/proc/${pid}/stat`, 'utf8').split(' ')[2] !== 'Z';
        } catch {
          return false;
        }
      };
      while (running() && Date.now() - t0 < SHUTDOWN_BOUND_MS + 2000)
        await new Promise((r) => setTimeout(r, 50));
      expect(running()).toBe(false);
      expect(Date.now() - t0).toBeLessThan(SHUTDOWN_BOUND_MS);
    },
  );
});

describe('mqtt-tap CLI: --log-buffer', () => {
  it('takes a size; refuses one too small to hold a few lines (exit code 2)', async () => {
    const run = (args: string[]): Promise<{ code: number | null; stderr: string }> =>
      new Promise((resolve) =>
        execFile(process.execPath, [BIN, ...args], (err, _stdout, stderr) =>
          resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stderr }),
        ),
      );
    const [small, bad] = await Promise.all([run(['--log-buffer', '1k']), run(['--log-buffer', 'lots'])]);
    expect(small).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('--log-buffer must be at least 64KiB'),
    });
    expect(bad).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('--log-buffer: invalid size "lots"'),
    });
  });
});
