import { execFileSync } from 'node:child_process';
import {
  closeSync,
  constants,
  mkdtempSync,
  openSync,
  readFileSync,
  readSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqttPacket from 'mqtt-packet';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import yargs from 'yargs';
import { replayCommand } from '../../src/cli/replay-command.js';
import { fileHeader, type Segment, TcpConversation } from '../../src/observe/pcapng-writer.js';
import { type CapturedPacket, parseCapture } from '../../src/replay/pcap-reader.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'mqtt-tap-replay-cmd-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
  vi.restoreAllMocks();
  process.exitCode = undefined;
});

const g = (p: object): Buffer => mqttPacket.generate(p as mqttPacket.Packet, { protocolVersion: 4 });

/** A tcpdump-like capture (no comments of ours) of one 3.1.1 session refused, one accepted. */
function capture(): string {
  const parts = [fileHeader()];
  const t0 = Date.UTC(2025, 0, 2, 3, 4, 5, 678) * 1000 + 901;
  let t = t0;
  const at = (dt: number): number => {
    t += dt;
    return t;
  };
  const session = (port: number, connack: Buffer, more: { from: 'client' | 'broker'; bytes: Buffer }[]) => {
    const conv = new TcpConversation({ address: '10.0.0.1', port }, { address: '10.0.0.2', port: 1883 });
    const segs: Segment[] = [conv.syn(t), ...conv.accept(at(50))];
    const connect = g({
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: 4,
      clientId: `dev-${port}`,
      clean: true,
      keepalive: 10,
    });
    segs.push(...conv.data('client', connect, at(1000)));
    segs.push(...conv.data('broker', connack, at(2500)));
    for (const m of more) segs.push(...conv.data(m.from, m.bytes, at(1000)));
    segs.push(...conv.finish('client', at(1000)));
    for (const s of segs) {
      const b = Buffer.alloc(conv.path.blockLength(s));
      conv.path.writeBlock(b, 0, s);
      parts.push(b);
    }
  };
  session(40_001, Buffer.from('20020005', 'hex'), []);
  session(40_002, Buffer.from('20020000', 'hex'), [
    {
      from: 'client',
      bytes: g({ cmd: 'publish', topic: 'a/b', payload: Buffer.from('hi'), qos: 1, messageId: 9 }),
    },
    { from: 'broker', bytes: g({ cmd: 'puback', messageId: 9 }) },
    { from: 'client', bytes: g({ cmd: 'disconnect' }) },
  ]);
  const file = join(dir, 'cap.pcapng');
  writeFileSync(file, Buffer.concat(parts));
  return file;
}

async function run(args: string[]): Promise<void> {
  await yargs([]).command(replayCommand).strict().exitProcess(false).parseAsync(args);
}

const lines = (file: string): Record<string, unknown>[] =>
  readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);

describe('mqtt-tap replay', () => {
  it('writes the records with the capture time as pino `time`', async () => {
    const file = capture();
    const out = join(dir, 'out.ndjson');
    vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    await run(['replay', file, '--log-file', out]);
    const recs = lines(out);
    expect(recs.map((r) => `${r.event}${r.type ? ` ${r.type}` : ''}`)).toEqual([
      'open',
      'packet CONNECT',
      'packet CONNACK',
      'session',
      'close',
      'open',
      'packet CONNECT',
      'packet CONNACK',
      'session',
      'packet PUBLISH',
      'packet PUBACK',
      'packet DISCONNECT',
      'close',
    ]);
    const packetTimes = parseCapture(readFileSync(file))
      .filter((e): e is CapturedPacket => e.kind === 'packet')
      .map((p) => Math.floor(p.tsUs / 1000));
    // Every record carries the time of the packet that completed it.
    for (const r of recs) expect(packetTimes).toContain(r.time);
    expect(recs[0]!.time).toBe(Date.UTC(2025, 0, 2, 3, 4, 5, 678));
    expect(recs[2]).toMatchObject({ level: 40, reason: { code: 5 }, ms: 3 });
    expect(recs[3]).toMatchObject({ event: 'session', version: '3.1.1', accepted: false, keepAlive: 10 });
    expect(recs[10]).toMatchObject({ request: { topic: 'a/b', ms: 1 } });
    expect(recs[4]).toMatchObject({ closedBy: 'client', durationMs: 4.55, clientId: 'dev-40001' });
  });

  it('--level, --client-id, --pretty', async () => {
    const file = capture();
    vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const warn = join(dir, 'warn.ndjson');
    await run(['replay', file, '--log-file', warn, '--level', 'warn']);
    expect(lines(warn).map((r) => r.type)).toEqual(['CONNACK']);
    const one = join(dir, 'one.ndjson');
    await run(['replay', file, '--log-file', one, '--client-id', 'dev-40002']);
    expect(
      lines(one)
        .filter((r) => r.event === 'packet')
        .map((r) => r.clientId),
    ).toEqual(new Array(5).fill('dev-40002'));
    const pretty = join(dir, 'pretty.log');
    await run(['replay', file, '--log-file', pretty, '--pretty']);
    const first = readFileSync(pretty, 'utf8').split('\n')[0]!;
    const d = new Date(Date.UTC(2025, 0, 2, 3, 4, 5, 678));
    const hhmm = `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}:05.678`;
    expect(first.startsWith(`${hhmm} INFO  c1`)).toBe(true);
  });

  it('--summary prints one line per connection', async () => {
    const file = capture();
    const out: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
      out.push(String(chunk));
      return true;
    });
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    await run(['replay', '--summary', file]);
    expect(out).toEqual([
      'c1  10.0.0.1:40001  "dev-40001"  4.55 ms  ↑1 ↓1  last CONNACK 0x05 Connection Refused, not authorized  errors 1  verdict CONNECTION_REFUSED\n',
      // A 3.1.1 DISCONNECT carries no reason code.
      'c2  10.0.0.1:40002  "dev-40002"  7.55 ms  ↑3 ↓2  last DISCONNECT  errors 0  verdict CLIENT_DISCONNECT\n',
      // The totals: the close records by verdict cause, with their client ids.
      'verdicts of 2 closed connections:\n',
      '  CLIENT_DISCONNECT   1  "dev-40002" 1\n',
      '  CONNECTION_REFUSED  1  "dev-40001" 1\n',
      'takeovers 0; flapping client ids: none\n',
    ]);
    expect(String(err.mock.calls.at(-1)?.[0])).toBe('mqtt-tap replay: 19 packets, 2 MQTT connections\n');
  });

  it('a missing file: a message and exit code 1', async () => {
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    await run(['replay', '--summary', join(dir, 'nope.pcapng')]);
    expect(process.exitCode).toBe(1);
    expect(String(err.mock.calls[0]?.[0])).toMatch(/^mqtt-tap replay: ENOENT/);
  });
});

describe('mqtt-tap replay behind a slow reader', () => {
  /** One 3.1.1 connection publishing `count` messages of `size` bytes. */
  function publishes(count: number, size: number): string {
    const conv = new TcpConversation(
      { address: '10.0.0.1', port: 40_003 },
      { address: '10.0.0.2', port: 1883 },
    );
    let t = Date.UTC(2025, 0, 2) * 1000;
    /** Microseconds of the next segment, `dt` after the last. */
    const at = (dt: number): number => {
      t += dt;
      return t;
    };
    const segs: Segment[] = [conv.syn(t), ...conv.accept(at(50))];
    const connect = { cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'bulk', clean: true };
    segs.push(...conv.data('client', g(connect), at(1000)));
    segs.push(...conv.data('broker', Buffer.from('20020000', 'hex'), at(1000)));
    const payload = Buffer.alloc(size, 'p');
    for (let i = 0; i < count; i++) {
      segs.push(...conv.data('client', g({ cmd: 'publish', topic: 'bulk/t', payload, qos: 0 }), at(100)));
    }
    segs.push(...conv.finish('client', at(1000)));
    const parts = [fileHeader()];
    for (const seg of segs) {
      const b = Buffer.alloc(conv.path.blockLength(seg));
      conv.path.writeBlock(b, 0, seg);
      parts.push(b);
    }
    const file = join(dir, 'bulk.pcapng');
    writeFileSync(file, Buffer.concat(parts));
    return file;
  }

  it('reads the capture no faster than the records are written: none is dropped', async () => {
    const file = publishes(600, 1000);
    const fifo = join(dir, 'out.fifo');
    execFileSync('mkfifo', [fifo]);
    // The reader: 16 KiB every 5 ms, far slower than replay writes.
    const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    const got: Buffer[] = [];
    const chunk = Buffer.alloc(16 * 1024);
    const timer = setInterval(() => {
      try {
        const n = readSync(reader, chunk);
        if (n > 0) got.push(Buffer.from(chunk.subarray(0, n)));
      } catch {
        // EAGAIN: nothing yet.
      }
    }, 5);
    vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      await run(['replay', file, '--log-file', fifo, '--log-buffer', '64KiB', '--payload-max', '2000']);
      await new Promise((r) => setTimeout(r, 100));
    } finally {
      clearInterval(timer);
    }
    for (;;) {
      try {
        const n = readSync(reader, chunk);
        if (n <= 0) break;
        got.push(Buffer.from(chunk.subarray(0, n)));
      } catch {
        break;
      }
    }
    closeSync(reader);
    const recs = Buffer.concat(got)
      .toString('utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(recs.filter((r) => r.event === 'log-dropped')).toEqual([]);
    expect(recs.filter((r) => r.type === 'PUBLISH')).toHaveLength(600);
  });
});
