import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { packetRecord } from '../../src/annotate/packet-record.js';
import { summarize } from '../../src/annotate/summary.js';
import { decodeFrame } from '../../src/protocol/decode/index.js';
import { Framer } from '../../src/protocol/framer.js';
import type { Frame } from '../../src/protocol/types.js';
import { ndjsonLine } from '../../src/sinks/ndjson-line.js';
import type { Level, LogRecord } from '../../src/sinks/sink.js';

const TIME = 1_795_722_244_024;

/** The line pino itself writes for `logger[level](record, msg)` with the sink's options. */
function pinoLine(level: Level, record: LogRecord, msg: string): string {
  let out = '';
  const stream = new Writable({
    write(chunk, _enc, done) {
      out += String(chunk);
      done();
    },
  });
  const logger = pino({ level: 'trace', base: null, timestamp: () => `,"time":${TIME}` }, stream);
  logger[level](record, msg);
  return out;
}

function packetRecords(hex: string): LogRecord[] {
  const frames: Frame[] = [];
  const framer = new Framer({ frame: (f) => frames.push(f), error: () => {} });
  framer.push(Buffer.from(hex.replace(/\s+/g, ''), 'hex'));
  return frames.map((f) => {
    const rec = packetRecord(decodeFrame(f, '5.0'), { payload: 'auto', payloadMax: 256, showSecrets: false });
    return { event: 'packet', conn: 'c1', from: 'client', ...rec, msgCheck: summarize(rec) };
  });
}

describe('the NDJSON fast path writes exactly the line pino writes', () => {
  const records: [Level, LogRecord, string][] = [
    [
      'info',
      { event: 'open', conn: 'c1', client: '127.0.0.1:5000', upstream: 'b:1883', transport: 'tcp' },
      'open → b',
    ],
    [
      'warn',
      { event: 'packet', conn: 'c2', text: 'quotes " and \\ and\nnewline, é, 🙂, \u0001' },
      'msg "quoted"\n',
    ],
    [
      'error',
      { event: 'malformed', conn: 'c3', hex: '16 03 01', offset: 0, nested: { a: [1, null, true] } },
      'x',
    ],
    ['debug', { event: 'packet', conn: 'c4', undefinedField: undefined, n: -0.5 }, ''],
    ...packetRecords(
      // CONNECT 5.0 with properties, PUBLISH with user properties and binary correlation data, SUBACK.
      '10 10 0004 4d515454 05 02 003c 00 0003 616263' +
        '30 1c 0003 612f62 13 26 0001 6b 0001 76 09 0004 deadbeef 01 01 6869 c3a9' +
        '90 04 0001 00 87',
    ).map((r): [Level, LogRecord, string] => ['info', r, String(r.msgCheck)]),
  ];

  for (const [level, record, msg] of records) {
    it(`${level} ${String(record.type ?? record.event)}`, () => {
      expect(ndjsonLine(level, record, msg, TIME)).toBe(pinoLine(level, record, msg));
    });
  }

  it('leaves records with an err field to pino (its error serialiser reshapes them)', () => {
    expect(ndjsonLine('error', { event: 'internal-error', err: new Error('x') }, 'm', TIME)).toBeUndefined();
  });
});
