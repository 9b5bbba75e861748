/**
 * The embedded mosquitto dies with mqtt-tap however mqtt-tap ends: a signal it does not handle
 * (SIGHUP), SIGTERM before its handlers are installed (during start-up), SIGKILL (an OOM kill).
 * Real processes, checked by pid.
 */
import { spawn } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/free-port.js';
import { requireMosquitto } from '../helpers/mosquitto.js';
import { BIN } from './helpers/build-dist.js';
import { startCli } from './helpers/cli.js';
import { Cleanups } from './helpers/tap-proxy.js';

const cleanups = new Cleanups();
afterEach(() => cleanups.run());

/** State and parent of `pid` from /proc/PID/stat; undefined once it is gone. */
function stat(pid: number): { state: string; ppid: number; comm: string } | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  const close = text.lastIndexOf(')');
  const [state, ppid] = text.slice(close + 2).split(' ');
  return { state: state!, ppid: Number(ppid), comm: text.slice(text.indexOf('(') + 1, close) };
}

/** Running: not gone and not a zombie waiting to be reaped. */
function running(pid: number): boolean {
  const s = stat(pid);
  return s !== undefined && s.state !== 'Z';
}

function childrenOf(pid: number): { pid: number; comm: string }[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .map((d) => ({ pid: Number(d), s: stat(Number(d)) }))
    .filter((c) => c.s?.ppid === pid)
    .map((c) => ({ pid: c.pid, comm: c.s!.comm }));
}

/** Kills `pid` after the test if it is still there: a failing run must not leave a broker behind. */
function reap(pid: number): void {
  cleanups.add(() => {
    if (running(pid)) process.kill(pid, 'SIGKILL');
  });
}

/** Whether `pid` stopped running within `ms`. */
async function goneWithin(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (!running(pid)) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return !running(pid);
}

describe.skipIf(!requireMosquitto())('the embedded mosquitto dies with mqtt-tap', () => {
  it.each(['SIGHUP', 'SIGKILL'] as const)(
    '%s of a running mqtt-tap: no mosquitto left within 2 s',
    async (signal) => {
      const cli = await startCli(cleanups, [
        '-l',
        `127.0.0.1:${await freePort()}`,
        '--embedded',
        'mosquitto',
      ]);
      await cli.waitForRecord((r) => r.event === 'embedded-broker');
      const brokers = childrenOf(cli.pid).filter((c) => c.comm === 'mosquitto');
      expect(brokers).toHaveLength(1);
      const broker = brokers[0]!.pid;
      reap(broker);
      const config = readFileSync(`/proc/${broker}/cmdline`, 'utf8').split('\0')[2]!;
      expect(config).toMatch(/mqtt-tap-mosquitto-.*\/mosquitto\.conf$/);
      cli.proc.kill(signal);
      await cli.exited;
      expect(await goneWithin(broker, 2000), `mosquitto pid ${broker} still running`).toBe(true);
      // Its generated config goes too, once the broker has gone.
      for (let i = 0; i < 40 && existsSync(config); i++) await new Promise((r) => setTimeout(r, 25));
      expect(existsSync(config)).toBe(false);
    },
  );

  it('SIGTERM while mqtt-tap waits for its broker to start: no broker left within 2 s', async () => {
    // A `mosquitto` first on PATH that never says it is running: start-up lasts until we signal.
    const dir = mkdtempSync(join(tmpdir(), 'mqtt-tap-fake-broker-'));
    cleanups.add(() => rmSync(dir, { recursive: true, force: true }));
    const pidFile = join(dir, 'pid');
    writeFileSync(join(dir, 'mosquitto'), `#!/bin/sh\necho $$ > '${pidFile}'\nexec sleep 60\n`);
    chmodSync(join(dir, 'mosquitto'), 0o755);
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MQTT_TAP_')));
    env.PATH = `${dir}:${env.PATH ?? ''}`;
    const tap = spawn(
      process.execPath,
      [BIN, '-l', `127.0.0.1:${await freePort()}`, '--log-file', join(dir, 'log')],
      {
        env,
        stdio: 'ignore',
      },
    );
    const exited = new Promise((r) => tap.once('exit', r));
    cleanups.add(async () => {
      if (tap.exitCode === null && tap.signalCode === null) tap.kill('SIGKILL');
      await exited;
    });
    let broker = 0;
    for (let i = 0; i < 200 && broker === 0; i++) {
      await new Promise((r) => setTimeout(r, 25));
      try {
        broker = Number(readFileSync(pidFile, 'utf8'));
      } catch {
        // not started yet
      }
    }
    expect(broker).toBeGreaterThan(0);
    reap(broker);
    tap.kill('SIGTERM');
    await exited;
    expect(await goneWithin(broker, 2000), `broker pid ${broker} still running`).toBe(true);
  });
});
