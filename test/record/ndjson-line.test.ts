/**
 * The NDJSON writer (record/ndjson-line.ts) against the object form it must equal: for generated
 * conversations of every packet type in every version, the line's bytes are
 * `{"level":L,"time":T,` + JSON.stringify(packetRecord) + `,"msg":` + JSON.stringify(summary) + `}`,
 * whatever room the output has; other records give the line pino itself writes.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import fc from 'fast-check';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import type { ProtocolVersion } from '../../src/protocol/constants.js';
import { decodeFrame } from '../../src/protocol/decode/index.js';
import { Framer } from '../../src/protocol/framer.js';
import type { Frame, Packet } from '../../src/protocol/types.js';
import { RECORD_LIST_MAX, type RecordOptions, SUMMARY_LIST_MAX } from '../../src/record/defaults.js';
import { LEVEL_VALUES, type Level, type LogRecord, type PacketHead } from '../../src/record/log-record.js';
import { type LineOutput, writePacketLine, writeRecordLine } from '../../src/record/ndjson-line.js';
import { packetRecord, packetSummaryText } from '../../src/record/object-form.js';
import { ConnectionSession, type Correlation } from '../../src/session/connection-session.js';
import { createLogSink } from '../../src/sinks/log-sink.js';
import * as mqtt from '../helpers/packets.js';

const RUNS = Number(process.env.FC_RUNS ?? 300);
const TIME = 1_795_722_244_024;

/** A LineOutput over buffers of `size` bytes (larger when a line asks for more), keeping every line. */
function output(size: number, startAt = 0): LineOutput & { text(): string } {
  const done: Buffer[] = [];
  const out = {
    buf: Buffer.alloc(size, 0xee),
    used: startAt,
    reserve(n: number): boolean {
      if (out.used + n <= out.buf.length) return true;
      done.push(out.buf.subarray(0, out.used));
      out.buf = Buffer.alloc(Math.max(size, n), 0xee);
      out.used = 0;
      return true;
    },
    text: () =>
      Buffer.concat([...done, out.buf.subarray(0, out.used)])
        .toString('utf8')
        .slice(startAt),
  };
  return out;
}

/** The line of the object form. */
function expectedLine(
  level: Level,
  head: PacketHead,
  packet: Packet,
  corr: Correlation | undefined,
  opts: RecordOptions,
): string {
  const body = JSON.stringify(packetRecord(packet, opts, corr, { ...head }));
  const msg = JSON.stringify(packetSummaryText(packet, corr, opts));
  return `{"level":${LEVEL_VALUES[level]},"time":${TIME},${body.slice(1, -1)},"msg":${msg}}\n`;
}

/** Each value, or now and then one of the others. */
const mostly = <T>(usual: T, ...others: T[]): fc.Arbitrary<T> =>
  fc.oneof(
    { weight: 6, arbitrary: fc.constant(usual) },
    { weight: 1, arbitrary: fc.constantFrom(...others) },
  );

/** Mostly plain text; some with what JSON escapes, non-ASCII and surrogate pairs; some anything. */
const text = (maxLength: number): fc.Arbitrary<string> =>
  fc.oneof(
    {
      weight: 5,
      arbitrary: fc.string({ unit: fc.constantFrom(...'abcXYZ019/_-. :{}~'.split('')), maxLength }),
    },
    {
      weight: 2,
      arbitrary: fc.string({
        unit: fc.constantFrom('a', '"', '\\', '\n', '\t', '\u0001', '\u007f', 'é', '€', '🙂', '…', '\u2028'),
        maxLength,
      }),
    },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength }) },
  );

/** Topic-like text without NUL (the decoder reports it, the records still compare). */
const name = (maxLength: number) => text(maxLength).map((t) => t.replaceAll('\0', '_'));

const payloadArb = fc.oneof(
  {
    weight: 4,
    arbitrary: fc
      .string({ unit: fc.constantFrom(...'abc 0123/{}:,"\\\n\r\t'.split('')), maxLength: 300 })
      .map((t) => Buffer.from(t, 'latin1')),
  },
  { weight: 2, arbitrary: text(90).map((t) => Buffer.from(t, 'utf8')) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 120 }).map((a) => Buffer.from(a)) },
);

const codeArb = fc.oneof(
  fc.constantFrom(0, 1, 2, 4, 5, 0x10, 0x80, 0x87, 0x8e, 0x92, 0x97),
  fc.integer({ min: 0, max: 255 }),
);

/** MQTT 5 properties of several kinds, binary and user properties included (ignored in 3.x). */
const propsArb = fc.option(
  fc.subarray([
    mqtt.prop(mqtt.P.reasonString, 'why "not"'),
    mqtt.prop(mqtt.P.userProperty, ['k', 'v é']),
    mqtt.prop(mqtt.P.userProperty, ['k', 'again']),
    mqtt.prop(mqtt.P.correlationData, Buffer.from([0, 1, 0xff])),
    mqtt.prop(mqtt.P.authenticationData, Buffer.from('secret')),
    mqtt.prop(mqtt.P.contentType, 'text/plain'),
    mqtt.prop(mqtt.P.subscriptionIdentifier, 300),
    mqtt.prop(mqtt.P.payloadFormatIndicator, 1),
    mqtt.prop(mqtt.P.topicAlias, 2),
  ]),
  { nil: undefined },
);

type Built = (v: ProtocolVersion) => [Buffer, 'client' | 'broker'];

/** One packet of any type, for any version; odd ones come with violations. */
const packetArb: fc.Arbitrary<Built> = fc.oneof(
  fc
    .record({
      clientId: name(20),
      username: fc.option(name(12), { nil: undefined }),
      password: fc.option(fc.uint8Array({ maxLength: 8 }), { nil: undefined }),
      will: fc.option(fc.record({ topic: name(10), payload: payloadArb, qos: fc.constantFrom(0, 1, 2) }), {
        nil: undefined,
      }),
      props: propsArb,
    })
    .map(
      (c): Built =>
        (v) => [
          mqtt.connect({
            version: v,
            clientId: c.clientId,
            ...(c.username === undefined ? {} : { username: c.username }),
            ...(c.password === undefined ? {} : { password: Buffer.from(c.password) }),
            ...(c.will === undefined ? {} : { will: c.will }),
            ...(c.props === undefined ? {} : { properties: c.props }),
          }),
          'client',
        ],
    ),
  fc.record({ sessionPresent: fc.boolean(), code: codeArb, props: propsArb }).map(
    (c): Built =>
      (v) => [mqtt.connack({ version: v, ...c, ...(c.props ? { properties: c.props } : {}) }), 'broker'],
  ),
  fc
    .record({
      topic: fc.oneof(name(30), fc.constant('')),
      qos: mostly(0, 1, 2, 3),
      retain: fc.boolean(),
      dup: mostly(false, true),
      packetId: fc.integer({ min: 0, max: 0xffff }),
      payload: payloadArb,
      props: propsArb,
      from: fc.constantFrom<'client' | 'broker'>('client', 'broker'),
    })
    .map(
      (p): Built =>
        (v) => [mqtt.publish({ version: v, ...p, ...(p.props ? { properties: p.props } : {}) }), p.from],
    ),
  fc
    .record({
      type: fc.constantFrom('PUBACK', 'PUBREC', 'PUBREL', 'PUBCOMP' as const),
      packetId: fc.oneof(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 0, max: 0xffff })),
      code: fc.option(codeArb, { nil: undefined }),
      props: propsArb,
      from: fc.constantFrom<'client' | 'broker'>('client', 'broker'),
    })
    .map(
      (a): Built =>
        (v) => [
          mqtt.ack(a.type, {
            version: v,
            packetId: a.packetId,
            ...(a.code === undefined ? {} : { code: a.code }),
            ...(a.props && a.code !== undefined ? { properties: a.props } : {}),
          }),
          a.from,
        ],
    ),
  fc
    .record({
      packetId: fc.integer({ min: 1, max: 3 }),
      subs: fc.array(fc.record({ filter: name(16), qos: fc.constantFrom(0, 1, 2) }), { maxLength: 4 }),
      props: propsArb,
    })
    .map(
      (s): Built =>
        (v) => [
          mqtt.subscribe({
            version: v,
            packetId: s.packetId,
            subscriptions: s.subs,
            ...(s.props ? { properties: s.props } : {}),
          }),
          'client',
        ],
    ),
  fc
    .record({
      packetId: fc.integer({ min: 1, max: 3 }),
      codes: fc.array(codeArb, { maxLength: 5 }),
      props: propsArb,
    })
    .map(
      (s): Built =>
        (v) => [
          mqtt.suback({
            version: v,
            packetId: s.packetId,
            codes: s.codes,
            ...(s.props ? { properties: s.props } : {}),
          }),
          'broker',
        ],
    ),
  fc.record({ packetId: fc.integer({ min: 1, max: 3 }), filters: fc.array(name(16), { maxLength: 4 }) }).map(
    (u): Built =>
      (v) => [mqtt.unsubscribe({ version: v, ...u }), 'client'],
  ),
  fc.record({ packetId: fc.integer({ min: 1, max: 3 }), codes: fc.array(codeArb, { maxLength: 4 }) }).map(
    (u): Built =>
      (v) => [mqtt.unsuback({ version: v, ...u }), 'broker'],
  ),
  fc.constant((): [Buffer, 'client' | 'broker'] => [mqtt.pingreq(), 'client']),
  fc.constant((): [Buffer, 'client' | 'broker'] => [mqtt.pingresp(), 'broker']),
  fc
    .record({
      code: fc.option(codeArb, { nil: undefined }),
      props: propsArb,
      auth: fc.boolean(),
      from: fc.constantFrom<'client' | 'broker'>('client', 'broker'),
    })
    .map(
      (d): Built =>
        () => {
          const spec = {
            ...(d.code === undefined ? {} : { code: d.code }),
            ...(d.props && d.code !== undefined ? { properties: d.props } : {}),
          };
          return [d.auth ? mqtt.auth(spec) : mqtt.disconnect(spec), d.from];
        },
    ),
);

const headArb: fc.Arbitrary<PacketHead> = fc
  .record(
    {
      conn: fc.constantFrom('c1', 'c12345', 'c"1'),
      from: fc.constantFrom<'client' | 'broker'>('client', 'broker'),
      clientId: text(20),
      username: text(10),
    },
    { requiredKeys: ['conn', 'from'] },
  )
  .map((h) => ({ event: 'packet' as const, ...h }));

const optsArb: fc.Arbitrary<RecordOptions> = fc.record({
  payload: mostly<RecordOptions['payload']>('auto', 'text', 'hex', 'base64', 'none'),
  payloadMax: fc.oneof(fc.constantFrom(256, 60, 61, 59, 30, 31, 1), mostly(256, 0)),
  showSecrets: fc.boolean(),
});

const conversationArb = fc.record({
  version: fc.constantFrom<ProtocolVersion>('3.1', '3.1.1', '5.0'),
  packets: fc.array(packetArb, { minLength: 1, maxLength: 12 }),
  cap: mostly(64 * 1024, 6, 20, 40),
  gaps: fc.array(fc.oneof(fc.constantFrom(0, 3, 1500), fc.double({ min: 0, max: 10, noNaN: true })), {
    minLength: 12,
    maxLength: 12,
  }),
  head: headArb,
  opts: optsArb,
  level: fc.constantFrom<Level>('debug', 'info', 'warn'),
  room: fc.oneof(fc.constant(64 * 1024), fc.integer({ min: 1, max: 600 })),
});

/** The packets of a conversation as the tap sees them: framed with its capture cap, correlated. */
function decoded(c: ConversationSpec): [Packet, Correlation | undefined][] {
  const session = new ConnectionSession(c.version);
  const out: [Packet, Correlation | undefined][] = [];
  let now = 1000;
  for (const [i, build] of c.packets.entries()) {
    const [bytes, from] = build(c.version);
    const frames: Frame[] = [];
    const framer = new Framer({ frame: (f) => frames.push(f), error: () => {} }, { captureCap: c.cap });
    framer.push(bytes);
    now += c.gaps[i] ?? 3;
    for (const f of frames) {
      const packet = decodeFrame(f, session.version);
      out.push([packet, session.observe(from, packet, now)]);
    }
  }
  return out;
}

interface ConversationSpec {
  version: ProtocolVersion;
  packets: Built[];
  cap: number;
  gaps: number[];
}

/** Runs of PUBLISHes alike but for a few fields: lines copied from a template must still be the object form. */
const likePublishesArb = fc.record({
  version: fc.constantFrom<ProtocolVersion>('3.1.1', '5.0'),
  publishes: fc.array(
    fc.record({
      topic: fc.constantFrom('a/b', 'a/c', 'a/"q"'),
      qos: mostly(0, 1),
      retain: mostly(false, true),
      length: fc.constantFrom(1, 8, 60, 61, 70),
      fill: mostly('x', 'y', '"', 'é', '\u0001'),
      props: mostly(false, true),
    }),
    { minLength: 1, maxLength: 40 },
  ),
  heads: fc.array(headArb, { minLength: 1, maxLength: 2 }),
  opts: optsArb,
});

describe('lines of like PUBLISHes', () => {
  it('are the object form whatever changes between them', () => {
    fc.assert(
      fc.property(likePublishesArb, (c) => {
        const session = new ConnectionSession(c.version);
        const out = output(64 * 1024);
        const framer = new Framer({ frame: (f) => frames.push(f), error: () => {} });
        const frames: Frame[] = [];
        let expected = '';
        for (const [i, p] of c.publishes.entries()) {
          const payload = Buffer.from(`${i % 10}${p.fill.repeat(p.length)}`.slice(0, p.length), 'utf8');
          framer.push(
            mqtt.publish({
              version: c.version,
              topic: p.topic,
              qos: p.qos,
              retain: p.retain,
              packetId: i + 1,
              payload,
              ...(p.props ? { properties: [mqtt.prop(mqtt.P.contentType, 'text/plain')] } : {}),
            }),
          );
          const head = c.heads[i % c.heads.length]!;
          for (const f of frames.splice(0)) {
            const packet = decodeFrame(f, session.version, 'client');
            const corr = session.observe('client', packet, 1000 + i);
            expect(writePacketLine(out, 'info', TIME, head, packet, corr, c.opts)).toBe(true);
            expected += expectedLine('info', head, packet, corr, c.opts);
          }
        }
        expect(out.text()).toBe(expected);
      }),
      { numRuns: RUNS },
    );
  });
});

describe('a packet line is the object form, byte for byte', () => {
  it('for generated conversations of every packet type and version, whatever room the output has', () => {
    const types = new Set<string>();
    fc.assert(
      fc.property(conversationArb, (c) => {
        const out = output(c.room);
        let expected = '';
        for (const [packet, corr] of decoded(c)) {
          types.add(`${packet.type} ${packet.protocol}`);
          expect(writePacketLine(out, c.level, TIME, c.head, packet, corr, c.opts)).toBe(true);
          expected += expectedLine(c.level, c.head, packet, corr, c.opts);
        }
        expect(out.text()).toBe(expected);
      }),
      { numRuns: RUNS },
    );
    // Every type in every version (AUTH too, which 3.x reports as a violation).
    expect(types.size).toBe(15 * 3);
  });

  it('every reason code of every packet that has one, in every version', () => {
    const head: PacketHead = { event: 'packet', conn: 'c1', from: 'broker', clientId: 'sensor-7' };
    const opts: RecordOptions = { payload: 'auto', payloadMax: 256, showSecrets: false };
    for (const v of ['3.1', '3.1.1', '5.0'] as const) {
      const session = new ConnectionSession(v);
      const out = output(64 * 1024);
      let expected = '';
      for (let code = 0; code < 256; code++) {
        const frames = [
          mqtt.connack({ version: v, code }),
          mqtt.suback({ version: v, packetId: 1, codes: [code, 0] }),
          mqtt.unsuback({ version: v, packetId: 1, codes: [code] }),
          ...(['PUBACK', 'PUBREC', 'PUBREL', 'PUBCOMP'] as const).map((t) =>
            mqtt.ack(t, { version: v, packetId: 1, code }),
          ),
          mqtt.disconnect({ code }),
          mqtt.auth({ code }),
        ];
        for (const bytes of frames) {
          const packet = decodeFrame(frameOf(bytes), v);
          const corr = session.observe('broker', packet, code);
          writePacketLine(out, 'info', TIME, head, packet, corr, opts);
          expected += expectedLine('info', head, packet, corr, opts);
        }
      }
      expect(out.text()).toBe(expected);
    }
  });

  it('lists at most RECORD_LIST_MAX entries and counts the rest: a large SUBACK is not a 13 MB line', () => {
    const head: PacketHead = { event: 'packet', conn: 'c1', from: 'broker' };
    const opts: RecordOptions = { payload: 'auto', payloadMax: 256, showSecrets: false };
    const n = 60_000;
    const session = new ConnectionSession('5.0');
    const filters = Array.from({ length: 3 * RECORD_LIST_MAX }, (_, i) => `f/${i}`);
    const requests = [
      mqtt.subscribe({ version: '5.0', packetId: 7, subscriptions: filters.map((filter) => ({ filter })) }),
      mqtt.unsubscribe({ version: '5.0', packetId: 8, filters }),
    ];
    for (const bytes of requests) session.observe('client', decodeFrame(frameOf(bytes), '5.0'), 0);
    const answers = [
      mqtt.suback({ version: '5.0', packetId: 7, codes: Array.from({ length: n }, (_, i) => i % 3) }),
      mqtt.unsuback({ version: '5.0', packetId: 8, codes: Array(n).fill(0x80) }),
    ];
    const lines: string[] = [];
    for (const bytes of [...requests, ...answers]) {
      const packet = decodeFrame(frameOf(bytes), '5.0');
      const corr = requests.includes(bytes) ? undefined : session.observe('broker', packet, 0);
      const out = output(4096);
      writePacketLine(out, 'info', TIME, head, packet, corr, opts);
      expect(out.text()).toBe(expectedLine('info', head, packet, corr, opts));
      lines.push(out.text());
    }
    const [sub, unsub, suback, unsuback] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(sub!.subscriptions).toHaveLength(RECORD_LIST_MAX);
    expect(sub!.subscriptionsOmitted).toBe(2 * RECORD_LIST_MAX);
    expect(unsub!.filters).toHaveLength(RECORD_LIST_MAX);
    expect(unsub!.filtersOmitted).toBe(2 * RECORD_LIST_MAX);
    for (const ack of [suback!, unsuback!]) {
      expect(ack.reasons).toHaveLength(RECORD_LIST_MAX);
      expect(ack.reasonsOmitted).toBe(n - RECORD_LIST_MAX);
      expect((ack.reasons as { filter?: string }[])[RECORD_LIST_MAX - 1]!.filter).toBe(
        `f/${RECORD_LIST_MAX - 1}`,
      );
    }
    expect(suback!.msg).toMatch(
      new RegExp(`^SUBACK f/0 → 0x00 Granted QoS 0, .*, … ${n - SUMMARY_LIST_MAX} more`),
    );
    expect(sub!.msg).toMatch(new RegExp(`, … ${3 * RECORD_LIST_MAX - SUMMARY_LIST_MAX} more$`));
    // Each line is bounded by the caps, not by the packet: about 200 bytes per listed code.
    for (const line of lines) expect(line.length).toBeLessThan(300 * RECORD_LIST_MAX);
  });

  it('strings JSON must escape, lone surrogates included, in the head, the fields and the summary', () => {
    const head: PacketHead = {
      event: 'packet',
      conn: 'c\u0000',
      from: 'client',
      clientId: '\ud800 lone',
      username: 'é"\\',
    };
    const opts: RecordOptions = { payload: 'auto', payloadMax: 256, showSecrets: true };
    const packets = [
      mqtt.publish({ version: '5.0', topic: 'a/"\\/\u0001/🙂', payload: Buffer.from(`x${'🙂'.repeat(40)}`) }),
      mqtt.publish({
        version: '5.0',
        topic: 't',
        payload: Buffer.from('"quoted" \\ and\ttab\r\n'.repeat(4)),
      }),
      mqtt.connect({
        version: '5.0',
        clientId: '\u2028',
        username: 'u\u007f',
        password: Buffer.from('pw é'),
      }),
    ];
    const out = output(64);
    let expected = '';
    for (const bytes of packets) {
      const packet = decodeFrame(frameOf(bytes), '5.0');
      writePacketLine(out, 'info', TIME, head, packet, undefined, opts);
      expected += expectedLine('info', head, packet, undefined, opts);
    }
    expect(out.text()).toBe(expected);
    expect(() => JSON.parse(expected.split('\n')[0]!)).not.toThrow();
  });

  it('writes nothing when the output drops the line', () => {
    const out = output(1024, 10);
    out.reserve = () => false;
    const packet = decodeFrame(
      frameOf(mqtt.publish({ version: '5.0', topic: 't', payload: Buffer.from('x') })),
      '5.0',
    );
    const head: PacketHead = { event: 'packet', conn: 'c1', from: 'client' };
    expect(writePacketLine(out, 'info', TIME, head, packet, undefined, DEFAULT_OPTS)).toBe(false);
    expect(writeRecordLine(out, 'info', TIME, { event: 'open' }, 'm')).toBe(false);
    expect(out.used).toBe(10);
  });
});

const DEFAULT_OPTS: RecordOptions = { payload: 'auto', payloadMax: 256, showSecrets: false };

function frameOf(bytes: Buffer): Frame {
  const frames: Frame[] = [];
  new Framer({ frame: (f) => frames.push(f), error: () => {} }).push(bytes);
  expect(frames).toHaveLength(1);
  return frames[0]!;
}

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

describe('any other record gives the line pino writes', () => {
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
  ];
  for (const [level, record, msg] of records) {
    it(`${level} ${record.event}`, () => {
      const out = output(256);
      expect(writeRecordLine(out, level, TIME, record, msg)).toBe(true);
      expect(out.text()).toBe(pinoLine(level, record, msg));
    });
  }

  it('refuses what JSON cannot hold, writing nothing', () => {
    const out = output(256);
    expect(writeRecordLine(out, 'info', TIME, { event: 'x', big: 1n }, 'm')).toBeUndefined();
    expect(out.used).toBe(0);
  });
});

describe('through the log sink', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mqtt-tap-line-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a line larger than a batch buffer arrives whole, between the lines around it', async () => {
    const file = join(dir, 'big.ndjson');
    const sink = createLogSink({ level: 'info', destination: file, pretty: false, clock: () => TIME });
    const head: PacketHead = { event: 'packet', conn: 'c1', from: 'client' };
    // User properties of quotes: each escaped, twice the bytes, more than one batch buffer holds.
    const big = mqtt.publish({
      version: '5.0',
      topic: 'big',
      properties: Array.from({ length: 12 }, () => mqtt.prop(mqtt.P.userProperty, ['k', '"'.repeat(60_000)])),
      payload: Buffer.from('p'),
    });
    const small = mqtt.publish({ version: '5.0', topic: 'small', payload: Buffer.from('s') });
    const frames: Frame[] = [];
    const framer = new Framer(
      { frame: (f) => frames.push(f), error: () => {} },
      { captureCap: 16 * 1024 * 1024 },
    );
    for (let i = 0; i < 3; i++) {
      for (let k = 0; k < 1000; k++) framer.push(small);
      framer.push(big);
    }
    framer.push(small);
    const packets = frames.map((f) => decodeFrame(f, '5.0'));
    let expected = '';
    for (const packet of packets) {
      sink.writePacket('info', head, packet, undefined, DEFAULT_OPTS);
      expected += expectedLine('info', head, packet, undefined, DEFAULT_OPTS);
    }
    await sink.close();
    expect(Math.max(...expected.split('\n').map((l) => l.length))).toBeGreaterThan(1024 * 1024);
    expect(readFileSync(file, 'utf8')).toBe(expected);
  });
});
