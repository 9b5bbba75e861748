import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_RECORD_OPTIONS } from '../../src/record/defaults.js';
import { createLogSink } from '../../src/sinks/log-sink.js';
import { formatPrettyLine } from '../../src/sinks/pretty-line.js';
import { decodeStream } from '../helpers/packets.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function tempFile(name = 'log.ndjson'): string {
  const dir = mkdtempSync(join(tmpdir(), 'mqtt-tap-sink-'));
  dirs.push(dir);
  return join(dir, 'nested', name);
}
const lines = (file: string): string[] =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l !== '');

describe('log sink (NDJSON)', () => {
  it('writes one JSON object per record with level, time, msg and the record; no pid/hostname', async () => {
    const file = tempFile();
    const sink = createLogSink({ level: 'info', destination: file, pretty: false });
    sink.write(
      'warn',
      { event: 'packet', conn: 'c1', from: 'broker', type: 'CONNACK' },
      'CONNACK 0x87 Not authorized',
    );
    await sink.close();
    const [only, ...rest] = lines(file);
    expect(rest).toEqual([]);
    const rec = JSON.parse(only!);
    expect(rec).toEqual({
      level: 40,
      time: expect.any(Number),
      event: 'packet',
      conn: 'c1',
      from: 'broker',
      type: 'CONNACK',
      msg: 'CONNACK 0x87 Not authorized',
    });
  });

  it('honours the level and says so cheaply', async () => {
    const file = tempFile();
    const sink = createLogSink({ level: 'info', destination: file, pretty: false });
    expect(sink.isLevelEnabled('debug')).toBe(false);
    expect(sink.isLevelEnabled('warn')).toBe(true);
    sink.write('debug', { event: 'packet' }, 'PINGREQ');
    sink.write('info', { event: 'packet' }, 'PUBLISH');
    await sink.close();
    expect(lines(file).map((l) => JSON.parse(l).msg)).toEqual(['PUBLISH']);
  });

  it('loses nothing: 100 000 records, flush() resolves only when all are on disk', async () => {
    const file = tempFile();
    const sink = createLogSink({ level: 'info', destination: file, pretty: false });
    for (let i = 0; i < 100_000; i++) sink.write('info', { event: 'packet', conn: 'c1', i }, `PUBLISH ${i}`);
    await sink.flush();
    const got = lines(file);
    expect(got).toHaveLength(100_000);
    expect(JSON.parse(got.at(-1)!).i).toBe(99_999);
    await sink.close();
  });

  it('reuses its buffers only once written: records over many turns, some huge, arrive whole and in order', async () => {
    const file = tempFile();
    const sink = createLogSink({ level: 'info', destination: file, pretty: false });
    const text = (i: number): string =>
      // Every 2999th line is too long for one batch buffer (over 1 MiB / 3 UTF-16 units).
      i % 2999 === 0 ? 'x'.repeat(350_000 + (i % 7)) : `payload-${i}-`.repeat(1 + (i % 40));
    let i = 0;
    for (let turn = 0; turn < 40; turn++) {
      for (let k = 0; k < 3_000; k++, i++) sink.write('info', { event: 'packet', i, text: text(i) }, `m${i}`);
      // Let writes complete between turns, so that written buffers come back and are reused.
      await new Promise((r) => setTimeout(r, turn % 4 === 0 ? 5 : 0));
    }
    await sink.flush();
    const got = lines(file);
    expect(got).toHaveLength(i);
    got.forEach((line, n) => {
      const rec = JSON.parse(line);
      expect(rec.i).toBe(n);
      expect(rec.text).toBe(text(n));
    });
    await sink.close();
  });

  it('batches, yet a lone record reaches the file within the flush interval', async () => {
    const file = tempFile();
    const sink = createLogSink({ level: 'info', destination: file, pretty: false, flushIntervalMs: 50 });
    sink.write('info', { event: 'open', conn: 'c9' }, 'open');
    const t0 = Date.now();
    for (;;) {
      let content = '';
      try {
        content = readFileSync(file, 'utf8');
      } catch {}
      if (content.includes('"c9"')) break;
      if (Date.now() - t0 > 2000) throw new Error('record not written within 2 s');
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(Date.now() - t0).toBeLessThan(1000);
    await sink.close();
  });
});

describe('log sink: the destination', () => {
  it("the log file, and the directories made for it, are the operator's alone (0600, 0700)", async () => {
    const file = tempFile();
    const sink = createLogSink({ level: 'info', destination: file, pretty: false });
    sink.write('info', { event: 'open', conn: 'c1' }, 'open');
    await sink.close();
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(dirname(file)).mode & 0o777).toBe(0o700);
  });

  it('a record with an err field: exactly the line pino writes', async () => {
    const file = tempFile();
    const time = 1_795_722_244_024;
    const sink = createLogSink({ level: 'info', destination: file, pretty: false, clock: () => time });
    const record = {
      event: 'internal-error',
      where: 'observer',
      err: { message: 'boom', stack: 'Error: boom' },
    };
    sink.write('error', record, 'internal error in the observer');
    await sink.close();
    let expected = '';
    const stream = new Writable({
      write(chunk, _enc, done) {
        expected += String(chunk);
        done();
      },
    });
    pino({ base: null, timestamp: () => `,"time":${time}` }, stream).error(
      record,
      'internal error in the observer',
    );
    expect(readFileSync(file, 'utf8')).toBe(expected);
  });

  it('a destination that fails (disk full): reported once, and from then on nothing is logged', async () => {
    const errors: Error[] = [];
    const sink = createLogSink({
      level: 'info',
      destination: '/dev/full',
      pretty: false,
      onError: (err) => errors.push(err),
    });
    for (let i = 0; i < 10_000; i++) sink.write('info', { event: 'packet', i }, 'x');
    await sink.flush();
    expect(errors.map((e) => (e as NodeJS.ErrnoException).code)).toEqual(['ENOSPC']);
    expect(sink.isLevelEnabled('error')).toBe(false);
    for (let i = 0; i < 10_000; i++) sink.write('error', { event: 'packet', i }, 'x');
    await sink.flush();
    expect(errors).toHaveLength(1);
    expect(await sink.close()).toBe(false);
  });

  it('a named pipe nobody reads: lines beyond the buffer are dropped, and close() gives up in time', async () => {
    const fifo = tempFile('log.fifo');
    execFileSync('mkdir', ['-p', dirname(fifo)]);
    execFileSync('mkfifo', [fifo]);
    // A reader that never reads: the pipe fills and stays full.
    const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      const sink = createLogSink({
        level: 'info',
        destination: fifo,
        pretty: false,
        bufferBytes: 256 * 1024,
      });
      for (let i = 0; i < 5_000; i++) sink.write('info', { event: 'packet', i, pad: 'x'.repeat(500) }, 'x');
      // Give the destination time to take what fits in the pipe.
      await new Promise((r) => setTimeout(r, 100));
      expect(sink.droppedLines()).toBeGreaterThan(3_000);
      const t0 = Date.now();
      expect(await sink.close(200)).toBe(false);
      expect(Date.now() - t0).toBeLessThan(5_000);
    } finally {
      closeSync(reader);
    }
  });
});

describe('log sink (pretty)', () => {
  it('one line per record: time LEVEL conn from→ msg, extra fields hidden', async () => {
    const file = tempFile('pretty.log');
    const sink = createLogSink({ level: 'info', destination: file, pretty: true });
    sink.write('info', { event: 'listening', addresses: ['127.0.0.1:1884'] }, 'listening on 127.0.0.1:1884');
    sink.write('info', { event: 'open', conn: 'c1', client: '127.0.0.1:5000' }, 'open 127.0.0.1:5000');
    sink.write(
      'info',
      { event: 'packet', conn: 'c1', from: 'client', type: 'CONNECT' },
      'CONNECT clientId=dev',
    );
    sink.write('warn', { event: 'packet', conn: 'c1', from: 'broker' }, 'CONNACK 0x04 Connection Refused');
    await sink.close();
    const got = lines(file);
    expect(got).toEqual([
      expect.stringMatching(/^\d\d:\d\d:\d\d\.\d{3} INFO {2}listening on 127\.0\.0\.1:1884$/),
      expect.stringMatching(/^\d\d:\d\d:\d\d\.\d{3} INFO {2}c1 {11}open 127\.0\.0\.1:5000$/),
      expect.stringMatching(/^\d\d:\d\d:\d\d\.\d{3} INFO {2}c1 {3}client→ CONNECT clientId=dev$/),
      expect.stringMatching(/^\d\d:\d\d:\d\d\.\d{3} WARN {2}c1 {3}broker→ CONNACK 0x04 Connection Refused$/),
    ]);
  });

  it('colours when asked, and never lets network strings drive the terminal', () => {
    const time = new Date(2026, 0, 2, 3, 4, 5, 6).getTime();
    const line = formatPrettyLine(
      40,
      time,
      { event: 'packet', conn: 'c7', from: 'broker' },
      'SUBACK evil/\u001b[2J\u0007topic\n→ 0x87',
      true,
    );
    expect(line).toContain('\u001b[33mWARN \u001b[39m');
    expect(line).toContain('\u001b[35mbroker→\u001b[39m');
    expect(line).not.toContain('\u001b[2J');
    expect(line).not.toContain('\u0007');
    expect(line).not.toContain('\n');
    expect(formatPrettyLine(30, time, { event: 'x' }, 'plain', false)).toBe('03:04:05.006 INFO  plain');
    expect(
      formatPrettyLine(
        50,
        time,
        { event: 'internal-error', err: { message: 'boom' } },
        'observer failed',
        false,
      ),
    ).toBe('03:04:05.006 ERROR observer failed: boom');
  });
});

describe('pretty view: the words under the line', () => {
  const time = new Date(2026, 0, 2, 3, 4, 5, 6).getTime();

  it("a failure code's description from the spec, indented under the packet's line", async () => {
    const file = tempFile();
    const sink = createLogSink({ level: 'info', destination: file, pretty: true });
    const head = { event: 'packet' as const, conn: 'c2', from: 'broker' as const };
    const [connack] = decodeStream(
      [Buffer.from('20030087 00'.replace(' ', ''), 'hex')],
      '5.0',
      {},
      'broker',
    ).packets;
    sink.writePacket('warn', head, connack!, undefined, DEFAULT_RECORD_OPTIONS);
    const [suback] = decodeStream([Buffer.from('9006000100870080', 'hex')], '5.0', {}, 'broker').packets;
    sink.writePacket('warn', head, suback!, undefined, DEFAULT_RECORD_OPTIONS);
    const [ok] = decodeStream(
      [Buffer.from('20030000 00'.replace(' ', ''), 'hex')],
      '5.0',
      {},
      'broker',
    ).packets;
    sink.writePacket('info', head, ok!, undefined, DEFAULT_RECORD_OPTIONS);
    await sink.close();
    const got = lines(file).map((l) => l.slice(13));
    expect(got).toEqual([
      'WARN  c2   broker→ CONNACK 0x87 Not authorized',
      '                     The Client is not authorized to connect.',
      'WARN  c2   broker→ SUBACK 0x87 Not authorized, 0x00 Granted QoS 0, 0x80 Unspecified error',
      '                     0x87: The Client is not authorized to make this subscription.',
      '                     0x80: The subscription is not accepted and the Server either does not wish to reveal the reason or none of the other Reason Codes apply.',
      'INFO  c2   broker→ CONNACK 0x00 Success',
    ]);
  });

  it("a close's verdict as one sentence under the close line", () => {
    const line = formatPrettyLine(
      30,
      time,
      {
        event: 'close',
        conn: 'c3',
        closedBy: 'broker',
        verdict: {
          cause: 'KEEP_ALIVE_TIMEOUT',
          detail: 'keep-alive 60 s, nothing from the client for 91 s',
          rule: 'MQTT-3.1.2-22',
          evidence: [],
        },
      },
      'close by broker after 121000 ms, 2↑ 1↓ packets',
      false,
    );
    expect(line.split('\n')).toEqual([
      '03:04:05.006 INFO  c3           close by broker after 121000 ms, 2↑ 1↓ packets',
      '                                  closed by the broker: keep-alive 60 s, nothing from the client for 91 s (MQTT-3.1.2-22)',
    ]);
  });
});
