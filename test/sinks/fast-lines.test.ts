/**
 * The sink's fast paths (packet-line.ts: PUBLISH and ack lines written byte by byte; packet-json.ts:
 * PUBLISH and ack records serialised field by field) against the general path they stand in for:
 * packetRecord + summarize + JSON.stringify, for generated packets of every kind they may see.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { type AnnotateOptions, packetRecord } from '../../src/annotate/packet-record.js';
import { summarize } from '../../src/annotate/summary.js';
import type { ProtocolVersion } from '../../src/protocol/constants.js';
import { decodeFrame } from '../../src/protocol/decode/index.js';
import { Framer } from '../../src/protocol/framer.js';
import type {
  AckPacket,
  ConnackPacket,
  DisconnectPacket,
  Frame,
  Packet,
  PublishPacket,
  SubackPacket,
} from '../../src/protocol/types.js';
import { ConnectionSession, type Correlation } from '../../src/session/connection-session.js';
import { createLogSink } from '../../src/sinks/log-sink.js';
import { ndjsonLine } from '../../src/sinks/ndjson-line.js';
import { packetJsonFields } from '../../src/sinks/packet-json.js';
import {
  ackLineBound,
  publishLineBound,
  reasonLineBound,
  subackLineBound,
  writeAckLine,
  writeConnackLine,
  writeDisconnectLine,
  writePublishLine,
  writeSubackLine,
} from '../../src/sinks/packet-line.js';
import type { PacketHead } from '../../src/sinks/sink.js';
import { connack, connect, disconnect, P, prop, suback, subscribe, vbi } from '../helpers/packets.js';

const RUNS = Number(process.env.FC_RUNS ?? 600);
const TIME = 1_795_722_244_024;

function frameOf(bytes: Buffer, cap = 64 * 1024): Frame {
  const frames: Frame[] = [];
  const framer = new Framer({ frame: (f) => frames.push(f), error: () => {} }, { captureCap: cap });
  framer.push(bytes);
  expect(frames).toHaveLength(1);
  return frames[0]!;
}

interface PublishSpec {
  version: ProtocolVersion;
  topic: string;
  qos: number;
  retain: boolean;
  dup: boolean;
  packetId: number;
  payload: Buffer;
  /** 5.0 only: a Payload Format Indicator property (a case the fast path leaves alone). */
  formatIndicator: boolean;
}

function publishBytes(s: PublishSpec): Buffer {
  const topic = Buffer.from(s.topic, 'utf8');
  const body = [topic.length >> 8, topic.length & 0xff, ...topic];
  if (s.qos > 0) body.push(s.packetId >> 8, s.packetId & 0xff);
  if (s.version === '5.0') body.push(...(s.formatIndicator ? [2, 0x01, 1] : [0]));
  const first = 0x30 | (s.dup ? 8 : 0) | (s.qos << 1) | (s.retain ? 1 : 0);
  return Buffer.concat([
    Buffer.from([first]),
    vbi(body.length + s.payload.length),
    Buffer.from(body),
    s.payload,
  ]);
}

/** Each value, or now and then one of the others. */
const mostly = <T>(usual: T, ...others: T[]): fc.Arbitrary<T> =>
  fc.oneof(
    { weight: 7, arbitrary: fc.constant(usual) },
    { weight: 1, arbitrary: fc.constantFrom(...others) },
  );

/** Mostly plain text (what the fast path takes), some with what JSON escapes, some anything. */
const text = (maxLength: number) =>
  fc.oneof(
    {
      weight: 6,
      arbitrary: fc.string({ unit: fc.constantFrom(...'abcXYZ019/_-. :{}~'.split('')), maxLength }),
    },
    {
      weight: 1,
      arbitrary: fc.string({
        unit: fc.constantFrom('a', '"', '\\', '\n', '\t', '\u0001', 'é', '🙂', '…', '\u007f'),
        maxLength,
      }),
    },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength }) },
  );

const payloadArb = fc.oneof(
  // Printable ASCII of every length around the 60-character summary cut and the preview limit.
  {
    weight: 6,
    arbitrary: fc
      .string({ unit: fc.constantFrom(...'abc 0123/{}:,"\\\n\r\t'.split('')), maxLength: 300 })
      .map((t) => Buffer.from(t, 'latin1')),
  },
  { weight: 1, arbitrary: text(80).map((t) => Buffer.from(t.replaceAll('\0', '_'), 'utf8')) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 120 }).map((a) => Buffer.from(a)) },
);

const specArb: fc.Arbitrary<PublishSpec> = fc.record({
  version: fc.constantFrom<ProtocolVersion>('3.1.1', '5.0', '3.1'),
  topic: fc.oneof(text(40), fc.constant('sensors/1/temp')).map((t) => t.replaceAll('\0', '_') || 't'),
  qos: fc.oneof(fc.constantFrom(0, 1, 2), mostly(0, 3)),
  retain: fc.boolean(),
  dup: mostly(false, true),
  packetId: fc.integer({ min: 0, max: 0xffff }),
  payload: payloadArb,
  formatIndicator: mostly(false, true),
});

const headArb: fc.Arbitrary<PacketHead> = fc
  .record(
    {
      conn: fc.constantFrom('c1', 'c12345', 'c"1'),
      from: fc.constantFrom<'client' | 'broker'>('client', 'broker'),
      clientId: text(30),
      username: text(12),
    },
    { requiredKeys: ['conn', 'from'] },
  )
  .map((h) => ({ event: 'packet' as const, ...h }));

const optsArb: fc.Arbitrary<AnnotateOptions> = fc.record({
  payload: mostly<AnnotateOptions['payload']>('auto', 'text', 'hex', 'base64', 'none'),
  payloadMax: fc.oneof(fc.constantFrom(256, 60, 61, 59, 1), mostly(256, 0)),
  showSecrets: fc.constant(false),
});

/** The line the general path writes: the record built, summarised and serialised. */
function generalLine(
  head: PacketHead,
  packet: Packet,
  opts: AnnotateOptions,
  level = 30,
  corr?: Correlation,
): string {
  const rec = packetRecord(packet, opts, corr, { ...head });
  const body = JSON.stringify(rec);
  return `{"level":${level},"time":${TIME},${body.slice(1, -1)},"msg":${JSON.stringify(summarize(rec))}}\n`;
}

describe('packet-line: PUBLISH lines written byte by byte', () => {
  it('writes exactly the general path line whenever it writes one (and often does)', () => {
    let fast = 0;
    let total = 0;
    const out = Buffer.alloc(256 * 1024);
    fc.assert(
      fc.property(specArb, headArb, optsArb, mostly(64 * 1024, 8), (spec, head, opts, cap) => {
        const packet = decodeFrame(frameOf(publishBytes(spec), cap), spec.version) as PublishPacket;
        total++;
        const bound = publishLineBound(head, packet, undefined, opts);
        if (bound === undefined) return;
        out.fill(0xee);
        const end = writePublishLine(out, 100, 30, TIME, head, packet, opts);
        if (end < 0) return;
        fast++;
        expect(end - 100).toBeLessThanOrEqual(bound);
        expect(out.toString('utf8', 100, end)).toBe(generalLine(head, packet, opts));
        // Nothing written past what it says.
        expect(out[end]).toBe(0xee);
      }),
      { numRuns: RUNS },
    );
    // The generators must exercise the fast path, not only its refusals.
    expect(fast).toBeGreaterThan(total / 10);
  });

  it('leaves alone what it does not write: properties, violations, aliases, cut packets', () => {
    const opts: AnnotateOptions = { payload: 'auto', payloadMax: 256, showSecrets: false };
    const head: PacketHead = { event: 'packet', conn: 'c1', from: 'client' };
    const base: PublishSpec = {
      version: '5.0',
      topic: 'a/b',
      qos: 0,
      retain: false,
      dup: false,
      packetId: 1,
      payload: Buffer.from('hello'),
      formatIndicator: false,
    };
    const decode = (s: PublishSpec, cap?: number): PublishPacket =>
      decodeFrame(frameOf(publishBytes(s), cap), s.version) as PublishPacket;
    expect(publishLineBound(head, decode(base), undefined, opts)).toBeTypeOf('number');
    expect(
      publishLineBound(head, decode({ ...base, formatIndicator: true }), undefined, opts),
    ).toBeUndefined();
    expect(publishLineBound(head, decode({ ...base, dup: true }), undefined, opts)).toBeUndefined();
    expect(publishLineBound(head, decode(base, 4), undefined, opts)).toBeUndefined();
    expect(publishLineBound(head, decode(base), { topic: 'x' }, opts)).toBeUndefined();
    expect(publishLineBound(head, decode(base), undefined, { ...opts, payload: 'hex' })).toBeUndefined();
  });
});

/** PUBLISH then its acknowledgements through a session, so that acks carry `request`. */
function exchange(
  version: ProtocolVersion,
  qos: number,
  code: number,
  topic: string,
  packetId = 7,
): [Packet, Correlation | undefined][] {
  const session = new ConnectionSession(version);
  const pub = publishBytes({
    version,
    topic,
    qos,
    retain: false,
    dup: false,
    packetId,
    payload: Buffer.from('x'),
    formatIndicator: false,
  });
  const id = [packetId >> 8, packetId & 0xff];
  const ack = (type: number, flags = 0): Buffer =>
    Buffer.from(version === '5.0' ? [(type << 4) | flags, 3, ...id, code] : [(type << 4) | flags, 2, ...id]);
  const sequence: [Buffer, 'client' | 'broker'][] = [[pub, 'client']];
  if (qos === 1) sequence.push([ack(4), 'broker']);
  if (qos === 2) sequence.push([ack(5), 'broker'], [ack(6, 2), 'client'], [ack(7), 'broker']);
  // An ack nobody asked for (no request to correlate).
  sequence.push([ack(4), 'broker']);
  let t = 1000;
  return sequence.map(([bytes, from]) => {
    const packet = decodeFrame(frameOf(bytes), version);
    t += 3;
    return [packet, session.observe(from, packet, t)];
  });
}

const ANNOTATE: AnnotateOptions = { payload: 'auto', payloadMax: 256, showSecrets: false };

describe('acknowledgements: written byte by byte, serialised field by field', () => {
  const exchanges = fc.tuple(
    headArb,
    fc.constantFrom<ProtocolVersion>('3.1.1', '5.0', '3.1'),
    fc.constantFrom(1, 2),
    fc.oneof(fc.constantFrom(0, 0x10, 0x87, 0x92), fc.integer({ min: 0, max: 255 })),
    text(20).map((t) => t.replaceAll('\0', '_') || 't'),
    fc.oneof(fc.constant(7), fc.integer({ min: 0, max: 0xffff })),
  );

  it('packet-line writes exactly the general path line whenever it writes one', () => {
    let taken = 0;
    const out = Buffer.alloc(64 * 1024);
    fc.assert(
      fc.property(exchanges, ([head, version, qos, code, topic, id]) => {
        for (const [packet, corr] of exchange(version, qos, code, topic, id)) {
          if (packet.type === 'PUBLISH') continue;
          const bound = ackLineBound(head, packet as AckPacket, corr);
          if (bound === undefined) continue;
          const end = writeAckLine(out, 0, 40, TIME, head, packet as AckPacket, corr);
          if (end < 0) continue;
          taken++;
          expect(end).toBeLessThanOrEqual(bound);
          expect(out.toString('utf8', 0, end)).toBe(generalLine(head, packet, ANNOTATE, 40, corr));
        }
      }),
      { numRuns: RUNS / 2 },
    );
    expect(taken).toBeGreaterThan(RUNS / 4);
  });

  it('packet-json gives JSON.stringify text for every record it takes', () => {
    let taken = 0;
    fc.assert(
      fc.property(exchanges, ([head, version, qos, code, topic, id]) => {
        for (const [packet, corr] of exchange(version, qos, code, topic, id)) {
          const record = packetRecord(packet, ANNOTATE, corr, { ...head });
          const fields = packetJsonFields(record);
          if (fields === undefined) continue;
          taken++;
          expect(`{${fields}}`).toBe(JSON.stringify(record));
        }
      }),
      { numRuns: RUNS / 2 },
    );
    expect(taken).toBeGreaterThan(RUNS / 2);
  });

  it('has room for every reason code of every acknowledgement', () => {
    const head: PacketHead = { event: 'packet', conn: 'c1', from: 'broker' };
    const out = Buffer.alloc(64 * 1024);
    for (const type of [4, 5, 6, 7]) {
      for (let code = 0; code < 256; code++) {
        const packet = decodeFrame(
          frameOf(Buffer.from([(type << 4) | (type === 6 ? 2 : 0), 3, 0, 1, code])),
          '5.0',
        ) as AckPacket;
        const bound = ackLineBound(head, packet, undefined);
        if (bound === undefined) continue;
        const end = writeAckLine(out, 0, 30, TIME, head, packet, undefined);
        expect(end).toBeGreaterThan(0);
        expect(end).toBeLessThanOrEqual(bound);
        expect(out.toString('utf8', 0, end)).toBe(generalLine(head, packet, ANNOTATE, 30));
      }
    }
  });
});

/** One answer line through whichever writer takes its type; undefined when it declines. */
function answerLine(
  out: Buffer,
  head: PacketHead,
  packet: Packet,
  corr: Correlation | undefined,
): { end: number; bound: number } | undefined {
  let bound: number | undefined;
  let end: number;
  switch (packet.type) {
    case 'CONNACK':
      bound = reasonLineBound(head, packet, corr);
      if (bound === undefined) return undefined;
      end = writeConnackLine(out, 0, 40, TIME, head, packet, corr);
      break;
    case 'DISCONNECT':
      bound = reasonLineBound(head, packet, corr);
      if (bound === undefined) return undefined;
      end = writeDisconnectLine(out, 0, 40, TIME, head, packet, corr);
      break;
    case 'SUBACK':
      bound = subackLineBound(head, packet, corr);
      if (bound === undefined) return undefined;
      end = writeSubackLine(out, 0, 40, TIME, head, packet, corr);
      break;
    default:
      return undefined;
  }
  return end < 0 ? undefined : { end, bound };
}

const codeArb = fc.oneof(
  fc.constantFrom(0, 1, 2, 4, 5, 0x80, 0x87, 0x8f, 0x97),
  fc.integer({ min: 0, max: 255 }),
);

describe('CONNACK, SUBACK and DISCONNECT: written byte by byte', () => {
  /** A connection's opening and close as a session sees them, so answers carry their `ms`. */
  const conversations = fc.record({
    head: headArb,
    version: fc.constantFrom<ProtocolVersion>('3.1.1', '5.0', '3.1'),
    sessionPresent: fc.boolean(),
    connackCode: codeArb,
    asked: mostly(true, false),
    filters: fc.array(
      fc
        .oneof(text(20), fc.constantFrom('a/#', 'sensors/+/temp', '$share/g/x'))
        .map((t) => t.replaceAll('\0', '_') || 'f'),
      { minLength: 1, maxLength: 4 },
    ),
    subackCodes: fc.array(codeArb, { minLength: 0, maxLength: 5 }),
    disconnectCode: fc.option(codeArb, { nil: undefined }),
    properties: mostly(false, true),
    gap: fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom(0, 3, 1500) },
      { weight: 1, arbitrary: fc.double({ min: 0, max: 10, noNaN: true }) },
    ),
  });

  it('writes exactly the general path line whenever it writes one (and often does)', () => {
    let taken = 0;
    let eligible = 0;
    const out = Buffer.alloc(64 * 1024);
    fc.assert(
      fc.property(conversations, (c) => {
        const v = c.version;
        const session = new ConnectionSession(v);
        const withProps = c.properties && v === '5.0';
        const sequence: [Buffer, 'client' | 'broker'][] = [
          [connect({ version: v, clientId: 'dev' }), 'client'],
          [
            connack({
              version: v,
              sessionPresent: c.sessionPresent,
              code: c.connackCode,
              ...(withProps ? { properties: [prop(P.maximumQoS, 1)] } : {}),
            }),
            'broker',
          ],
          [
            suback({
              version: v,
              packetId: 5,
              codes: c.subackCodes,
              ...(withProps ? { properties: [prop(P.reasonString, 'why')] } : {}),
            }),
            'broker',
          ],
          [
            v === '5.0'
              ? disconnect(c.disconnectCode === undefined ? {} : { code: c.disconnectCode })
              : disconnect(),
            'client',
          ],
        ];
        if (c.asked) {
          const subs = c.filters.map((filter) => ({ filter, qos: 1 }));
          sequence.splice(2, 0, [subscribe({ version: v, packetId: 5, subscriptions: subs }), 'client']);
        }
        let t = 1000;
        for (const [bytes, from] of sequence) {
          const packet = decodeFrame(frameOf(bytes), v);
          t += c.gap;
          const corr = session.observe(from, packet, t);
          if (packet.type === 'CONNECT' || packet.type === 'SUBSCRIBE') continue;
          if (packet.violations.length === 0 && !('properties' in packet && packet.properties)) eligible++;
          const written = answerLine(out, c.head, packet, corr);
          if (written === undefined) continue;
          taken++;
          expect(written.end).toBeLessThanOrEqual(written.bound);
          expect(out.toString('utf8', 0, written.end)).toBe(generalLine(c.head, packet, ANNOTATE, 40, corr));
        }
      }),
      { numRuns: RUNS },
    );
    // Of the answers without properties or violations, many are plain; the rest have a client id,
    // user name or filter JSON escapes, or a time that is not a whole number of milliseconds.
    expect(taken).toBeGreaterThan(eligible / 3);
  });

  it('has room for every code of every version, and writes what the general path does', () => {
    const head: PacketHead = { event: 'packet', conn: 'c1', from: 'broker', clientId: 'sensor-7' };
    const out = Buffer.alloc(64 * 1024);
    let taken = 0;
    for (const v of ['3.1', '3.1.1', '5.0'] as const) {
      for (let code = 0; code < 256; code++) {
        const packets: [Packet, Correlation | undefined][] = [
          [decodeFrame(frameOf(connack({ version: v, code })), v), { ms: 2 }],
          [
            decodeFrame(frameOf(suback({ version: v, packetId: 1, codes: [code, code] })), v),
            {
              filters: ['a/b', 'c/#'],
              ms: 0,
            },
          ],
          [decodeFrame(frameOf(suback({ version: v, packetId: 1, codes: [code] })), v), undefined],
          [decodeFrame(frameOf(v === '5.0' ? disconnect({ code }) : disconnect()), v), undefined],
        ];
        for (const [packet, corr] of packets) {
          const written = answerLine(out, head, packet, corr);
          // Every code the packet may carry is written here; the others come with a violation.
          expect(written !== undefined).toBe(packet.violations.length === 0);
          if (written === undefined) continue;
          taken++;
          expect(written.end).toBeLessThanOrEqual(written.bound);
          expect(out.toString('utf8', 0, written.end)).toBe(generalLine(head, packet, ANNOTATE, 40, corr));
        }
      }
    }
    expect(taken).toBeGreaterThan(100);
  });

  it('leaves alone what it does not write: properties, violations, foreign correlations', () => {
    const head: PacketHead = { event: 'packet', conn: 'c1', from: 'broker' };
    const ok = decodeFrame(frameOf(connack({ version: '5.0' })), '5.0') as ConnackPacket;
    expect(reasonLineBound(head, ok, undefined)).toBeTypeOf('number');
    const withProps = decodeFrame(
      frameOf(connack({ version: '5.0', properties: [prop(P.maximumQoS, 1)] })),
      '5.0',
    ) as ConnackPacket;
    expect(reasonLineBound(head, withProps, undefined)).toBeUndefined();
    expect(reasonLineBound(head, ok, { request: { topic: 't', ms: 1 } })).toBeUndefined();
    const bad = decodeFrame(frameOf(disconnect({ code: 0x01 })), '5.0') as DisconnectPacket;
    expect(bad.violations.length).toBeGreaterThan(0);
    expect(reasonLineBound(head, bad, undefined)).toBeUndefined();
    const sub = decodeFrame(
      frameOf(suback({ version: '5.0', packetId: 1, codes: [0] })),
      '5.0',
    ) as SubackPacket;
    expect(subackLineBound(head, sub, { filters: ['a'], ms: 1 })).toBeTypeOf('number');
    expect(subackLineBound(head, sub, { topic: 'x' })).toBeUndefined();
    // A filter JSON would escape: the general path writes that line.
    expect(writeSubackLine(Buffer.alloc(4096), 0, 30, TIME, head, sub, { filters: ['a"b'] })).toBe(-1);
    // A time that is not a whole number of milliseconds: likewise.
    expect(writeConnackLine(Buffer.alloc(4096), 0, 30, TIME, head, ok, { ms: 1.5 })).toBe(-1);
  });
});

describe('the log sink writes the same file through either path', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mqtt-tap-fast-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** The file the sink writes for `packets`, through writePacket when `fast` (else write()). */
  async function sinkFile(
    name: string,
    packets: [Packet, Correlation | undefined][],
    head: PacketHead,
    opts: AnnotateOptions,
    fast: boolean,
  ): Promise<{ text: string; taken: number }> {
    const file = join(dir, `${name}-${fast}.ndjson`);
    const sink = createLogSink({ level: 'info', destination: file, pretty: false, clock: () => TIME });
    let taken = 0;
    for (const [packet, corr] of packets) {
      if (fast && sink.writePacket?.('info', { ...head }, packet, corr, opts)) {
        taken++;
        continue;
      }
      const rec = packetRecord(packet, opts, corr, { ...head });
      sink.write('info', rec, summarize(rec));
    }
    await sink.close();
    return { text: readFileSync(file, 'utf8'), taken };
  }

  it('writePacket lines equal write() lines for the same packets', async () => {
    const opts: AnnotateOptions = { payload: 'auto', payloadMax: 256, showSecrets: false };
    const packets = [
      { topic: 'plain/topic', payload: Buffer.from('21.5'), qos: 0 },
      { topic: 'q/1', payload: Buffer.alloc(0), qos: 1 },
      { topic: 'long', payload: Buffer.from('x'.repeat(400)), qos: 2 },
      { topic: 'é/unicode', payload: Buffer.from('🙂'), qos: 0 },
      { topic: 'bin', payload: Buffer.from([0, 1, 2, 0xff]), qos: 0 },
    ].map((p) =>
      decodeFrame(
        frameOf(
          publishBytes({
            version: '5.0',
            retain: true,
            dup: false,
            packetId: 9,
            formatIndicator: false,
            ...p,
          }),
        ),
        '5.0',
      ),
    );
    const head: PacketHead = { event: 'packet', conn: 'c9', from: 'broker', clientId: 'dev-1' };
    const items = packets.map((p): [Packet, undefined] => [p, undefined]);
    const general = (await sinkFile('publish', items, head, opts, false)).text;
    const fast = await sinkFile('publish', items, head, opts, true);
    expect(fast.text).toBe(general);
    expect(fast.taken).toBe(3);
    expect(general.split('\n')).toHaveLength(packets.length + 1);
    // And both are what pino's own serialiser would have written (ndjson-line.test.ts checks that).
    const first = packetRecord(packets[0]!, opts, undefined, { ...head });
    expect(general.split('\n')[0]).toBe(ndjsonLine('info', first, summarize(first), TIME)?.trimEnd());
  });

  it('writePacket answer lines (CONNACK, SUBACK, DISCONNECT) equal write() lines', async () => {
    const v = '5.0';
    const answers: [Packet, Correlation | undefined][] = [
      [decodeFrame(frameOf(connack({ version: v, sessionPresent: false, code: 0x87 })), v), { ms: 12 }],
      [
        decodeFrame(frameOf(suback({ version: v, packetId: 3, codes: [1, 0x87] })), v),
        {
          filters: ['plant/#', 'secret/+'],
          ms: 4,
        },
      ],
      [decodeFrame(frameOf(suback({ version: v, packetId: 4, codes: [0] })), v), { filters: ['é/x'], ms: 1 }],
      [decodeFrame(frameOf(disconnect({ code: 0x8e })), v), undefined],
    ];
    const head: PacketHead = { event: 'packet', conn: 'c9', from: 'broker', clientId: 'dev-1' };
    const general = (await sinkFile('answers', answers, head, ANNOTATE, false)).text;
    const fast = await sinkFile('answers', answers, head, ANNOTATE, true);
    expect(fast.text).toBe(general);
    // The non-ASCII filter takes the general path.
    expect(fast.taken).toBe(3);
    expect(general).toContain(
      '"msg":"SUBACK plant/# → 0x01 Granted QoS 1, secret/+ → 0x87 Not authorized (4 ms)"',
    );
  });
});
