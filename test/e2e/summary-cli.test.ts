/**
 * `--summary` as users run it: the proxy in front of Debian's mosquitto prints the totals on
 * stderr at shutdown (here with --summary and --flapping from MQTT_TAP_* variables), and
 * `replay --summary` of its recording prints the same totals after its per-connection lines.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/free-port.js';
import { requireMosquitto, startMosquitto } from '../helpers/mosquitto.js';
import { BIN } from './helpers/build-dist.js';
import { startCli, stopCli } from './helpers/cli.js';
import { Cleanups, mqttConnect, until } from './helpers/tap-proxy.js';

const cleanups = new Cleanups();
afterEach(() => cleanups.run());

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MQTT_TAP_')));
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env, encoding: 'utf8' }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr });
    });
  });
}

describe.skipIf(!requireMosquitto())('--summary, live and in replay, with mosquitto 2.0.11', () => {
  it('the live totals at shutdown; replay --summary of the recording gives the same totals', async () => {
    const broker = await startMosquitto();
    cleanups.add(() => broker.stop());
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'mqtt-tap-summary-'));
    cleanups.add(() => rmSync(dir, { recursive: true, force: true }));
    const recording = join(dir, 'live.pcapng');
    const live = await startCli(cleanups, ['-l', `127.0.0.1:${port}`, '-u', `127.0.0.1:${broker.port}`], {
      env: { MQTT_TAP_SUMMARY: 'true', MQTT_TAP_FLAPPING: '2/1m', MQTT_TAP_RECORD: recording },
    });
    const url = `mqtt://127.0.0.1:${port}`;
    const closes = (): number => live.log().filter((r) => r.event === 'close').length;
    // Three connections with one client id, each taking the session over from the one before.
    for (const [i, user] of ['dev-a', 'dev-b', 'dev-a'].entries()) {
      const client = await mqttConnect(cleanups, url, 4, { clientId: 'twin', username: user });
      if (i > 0) await until(() => closes() === i, `mosquitto closing connection ${i}`, 15_000);
      if (i === 2) await client.endAsync();
    }
    const solo = await mqttConnect(cleanups, url, 5, { clientId: 'solo' });
    await solo.endAsync();
    await until(() => closes() === 4, 'four close records', 15_000);
    expect(await stopCli(live)).toBe(0);

    // The cause lines, counted here from the close records' verdicts.
    const causes = new Map<string, Map<string, number>>();
    for (const r of live.log().filter((x) => x.event === 'close')) {
      const cause = (r.verdict as { cause?: string } | undefined)?.cause ?? 'no verdict';
      const ids = causes.get(cause) ?? new Map<string, number>();
      ids.set(JSON.stringify(r.clientId), (ids.get(JSON.stringify(r.clientId)) ?? 0) + 1);
      causes.set(cause, ids);
    }
    const total = (ids: Map<string, number>): number => [...ids.values()].reduce((a, b) => a + b, 0);
    const sorted = [...causes.entries()].sort((a, b) => total(b[1]) - total(a[1]) || (a[0] < b[0] ? -1 : 1));
    const width = Math.max(...sorted.map(([c]) => c.length));
    const totals = [
      'verdicts of 4 closed connections:',
      ...sorted.map(
        ([cause, ids]) =>
          `  ${cause.padEnd(width)}  ${total(ids)}  ${[...ids.entries()]
            .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
            .map(([id, n]) => `${id} ${n}`)
            .join(', ')}`,
      ),
      'takeovers 2; flapping client ids: "twin"',
    ];
    // Every close record has a verdict; mosquitto closed two connections for the takeovers.
    expect(causes.has('no verdict')).toBe(false);
    expect(causes.get('SESSION_TAKEN_OVER')).toEqual(new Map([['"twin"', 2]]));
    const stderrLines = live.stderr().trim().split('\n');
    const at = stderrLines.indexOf(totals[0]!);
    expect(stderrLines.slice(at, at + totals.length), live.stderr()).toEqual(totals);
    const flapping = live.log().filter((r) => r.event === 'flapping');
    expect(flapping).toHaveLength(1);
    expect(flapping[0]).toMatchObject({
      clientId: 'twin',
      takeovers: 2,
      rule: { count: 2, windowMs: 60_000 },
    });

    const replay = await run(['replay', '--summary', '--flapping', '2/60s', recording]);
    expect(replay.code).toBe(0);
    const out = replay.stdout.trim().split('\n');
    const perConnection = out.filter((l) => /^c\d+ {2}/.test(l));
    expect(perConnection.map((l) => l.split('  ')[2])).toEqual(['"twin"', '"twin"', '"twin"', '"solo"']);
    // The flapping warning, as replay --summary shows a record of no connection. Its time span
    // comes from the recording's timestamps, which may differ from the live clock by a millisecond.
    const span = (l: string): string => l.replace(/ in \d+ ms /, ' in … ms ');
    expect(out.filter((l) => l.startsWith('warning: ')).map(span)).toEqual([
      span(`warning: ${flapping[0]!.msg}`),
    ]);
    expect(out.slice(-totals.length)).toEqual(totals);
  });

  it('a bad --flapping is a usage error', async () => {
    const r = await run(['--flapping', '3 per minute']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--flapping must be N/DURATION');
  });
});
