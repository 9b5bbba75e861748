/**
 * `mqtt-tap --record` and `mqtt-tap replay` as users run them (bin/mqtt-tap.js → dist/, rebuilt
 * when older than src/): the recording is flushed on SIGINT, the exit log says what was recorded,
 * and replaying the file prints the packet records the live log holds.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AedesBroker, startAedes } from '../helpers/aedes-broker.js';
import { freePort, waitForPort } from '../helpers/free-port.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = join(ROOT, 'bin/mqtt-tap.js');

type Rec = Record<string, unknown>;

const ndjson = (text: string): Rec[] =>
  text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Rec);

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** What the live log and the replay must agree on (times and per-run HMAC tags aside). */
function packets(records: Rec[]): unknown[] {
  return records
    .filter((r) => r.event === 'packet')
    .map((r) => {
      const { time: _t, ms: _ms, msg, ...rest } = r;
      const pw = rest.password as Rec | undefined;
      if (pw?.hmac !== undefined) pw.hmac = '…';
      const req = rest.request as Rec | undefined;
      if (req !== undefined) req.ms = '…';
      // Timings are the same instants read from two clocks: equal up to rounding.
      return { ...rest, msg: String(msg).replace(/\d+(\.\d+)? ms/g, '… ms') };
    });
}

describe('mqtt-tap --record and mqtt-tap replay (the binary)', () => {
  let dir: string;
  let broker: AedesBroker;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mqtt-tap-record-cli-'));
    broker = await startAedes({ credentials: { username: 'u', password: 'sekrit-pw' } });
  }, 90_000);

  afterAll(async () => {
    await broker?.close();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('records, flushes on SIGINT, reports, and replays to the live packet records', async () => {
    const port = await freePort();
    const file = join(dir, 'session.pcapng');
    const log = join(dir, 'live.ndjson');
    const proc: ChildProcess = spawn(
      process.execPath,
      [
        BIN,
        '-l',
        `127.0.0.1:${port}`,
        '-u',
        `127.0.0.1:${broker.port}`,
        '--log-file',
        log,
        '--record',
        file,
        '--record-rotate',
        '1GiB',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
    await waitForPort(port);
    const url = `mqtt://127.0.0.1:${port}`;
    const bad = await mqtt
      .connectAsync(url, { username: 'u', password: 'wrong', reconnectPeriod: 0 })
      .catch((e: Error) => e);
    expect(bad).toBeInstanceOf(Error);
    const client = await mqtt.connectAsync(url, {
      username: 'u',
      password: 'sekrit-pw',
      reconnectPeriod: 0,
      clientId: 'cli-rec',
    });
    await client.subscribeAsync('t/#', { qos: 1 });
    const got = new Promise((r) => client.once('message', r));
    await client.publishAsync('t/1', 'hello', { qos: 1 });
    await client.publishAsync('t/2', Buffer.alloc(100_000, 0x62), { qos: 0 });
    await got;
    await client.endAsync();
    await new Promise((r) => setTimeout(r, 200));
    proc.kill('SIGINT');
    expect(await exited).toBe(0);

    // --record-rotate 1GiB: one part.
    const recorded = join(dir, 'session-0001.pcapng');
    const bytes = readFileSync(recorded);
    expect(bytes.includes(Buffer.from('sekrit-pw'))).toBe(false);
    expect(bytes.includes(Buffer.from('*********'))).toBe(true);
    const live = ndjson(readFileSync(log, 'utf8'));
    const summary = live.find((r) => r.event === 'recording');
    expect(summary).toMatchObject({ files: [recorded], droppedBytes: 0 });
    expect(summary!.recordedBytes).toBeGreaterThan(100_000);

    const replayed = await run(['replay', recorded]);
    expect(replayed.code).toBe(0);
    // Three: waitForPort's probe, the refused login, the session.
    expect(replayed.stderr).toMatch(/^mqtt-tap replay: \d+ packets, 3 MQTT connections\n$/);
    const out = ndjson(replayed.stdout);
    expect(packets(out)).toEqual(packets(live));
    expect(packets(out).length).toBeGreaterThanOrEqual(10);
    // Open and close records come back as they were logged.
    // The verdict's evidence times come from the tap's clock live and the recording's in replay.
    const strip = (rs: Rec[], event: string) =>
      rs
        .filter((r) => r.event === event)
        .map(({ time: _t, ...rest }) => {
          const verdict = rest.verdict as { evidence: Rec[] } | undefined;
          for (const e of verdict?.evidence ?? []) e.time = '…';
          return rest;
        });
    expect(strip(out, 'open')).toEqual(strip(live, 'open'));
    expect(strip(out, 'close')).toEqual(strip(live, 'close'));

    const summaryRun = await run(['replay', '--summary', recorded]);
    // One line per connection, then the totals.
    const lines = summaryRun.stdout.trim().split('\n');
    expect(lines.filter((l) => /^c\d+ {2}/.test(l))).toHaveLength(3);
    expect(lines[3]).toBe('verdicts of 3 closed connections:');
    expect(lines.at(-1)).toBe('takeovers 0; flapping client ids: none');
    expect(summaryRun.stdout).toMatch(/"cli-rec" .* last DISCONNECT/);
  }, 60_000);

  it('a bad --record-rotate is a usage error; an unwritable --record a startup failure', async () => {
    const usage = await run([
      '-u',
      `127.0.0.1:${broker.port}`,
      '--record',
      join(dir, 'x.pcapng'),
      '--record-rotate',
      'lots',
    ]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/--record-rotate: invalid size "lots"/);
    const port = await freePort();
    const cannot = await run([
      '-l',
      `127.0.0.1:${port}`,
      '-u',
      `127.0.0.1:${broker.port}`,
      '--record',
      join(dir, 'no', 'such', 'dir', 'x.pcapng'),
    ]);
    expect(cannot.code).toBe(1);
    expect(cannot.stderr).toMatch(/ENOENT/);
  }, 30_000);
});
