/**
 * Property tests (fast-check): valid packets decode the same whatever the chunking; random bytes
 * never throw out of the codec and never make it hold more than the capture cap; a huge PUBLISH
 * yields its header fields while holding at most the cap.
 */
import fc from 'fast-check';
import mqttPacket from 'mqtt-packet';
import { describe, expect, it } from 'vitest';
import {
  PROPERTIES,
  type PropertyDef,
  type PropertyPacket,
} from '../../src/protocol/catalogue/properties.js';
import {
  type ReasonPacket,
  V3_CONNACK_RETURN_CODES,
  V3_SUBACK_RETURN_CODES,
  V5_REASON_CODES,
} from '../../src/protocol/catalogue/reason-codes.js';
import { PACKET_TYPE_NAMES, type ProtocolVersion } from '../../src/protocol/constants.js';
import { decodeFrame } from '../../src/protocol/decode/index.js';
import { Framer } from '../../src/protocol/framer.js';
import { SNIFF_BYTES } from '../../src/protocol/sniff.js';
import type { Frame, Packet } from '../../src/protocol/types.js';
import { VIOLATIONS } from '../../src/protocol/violations.js';
import { splitAt } from '../helpers/hex.js';
import {
  type AckType,
  ack,
  auth,
  connack,
  connect,
  decodeStream,
  disconnect,
  P,
  pingreq,
  pingresp,
  plain,
  prop,
  publish,
  suback,
  subscribe,
  unsuback,
  unsubscribe,
  vbi,
} from '../helpers/packets.js';

const RUNS = Number(process.env.FC_RUNS ?? 200);

// ---------------------------------------------------------------------------------------------
// Arbitraries for valid packets, built with the test builders.

/** A UTF-8 Encoded String the spec allows (§1.5.4): any code point but U+0000, no lone surrogates. */
const text = (maxLength = 12): fc.Arbitrary<string> =>
  fc.string({ unit: 'binary', maxLength }).map((s) => s.replaceAll('\0', '_'));

/** A Topic Name: at least one character, no wildcards (§4.7). */
const topicName = text(16).map((s) => s.replace(/[+#]/g, '_') || 't');

/** A Topic Filter with wildcards placed as §4.7.1 allows; never a Shared Subscription. */
const topicFilter = fc
  .tuple(
    fc.array(
      fc.oneof(
        text(6).map((s) => s.replace(/[/+#]/g, '_')),
        fc.constant('+'),
      ),
      {
        minLength: 1,
        maxLength: 4,
      },
    ),
    fc.boolean(),
  )
  .map(([levels, hash]) => [...levels, ...(hash ? ['#'] : [])].join('/'))
  .map((f) => (f === '' || f.startsWith('$share/') ? 'x' : f));

const packetId = fc.integer({ min: 1, max: 65_535 });
const qos = fc.integer({ min: 0, max: 2 });
const bytes = (maxLength = 40): fc.Arbitrary<Buffer> =>
  fc.uint8Array({ maxLength }).map((a) => Buffer.from(a));

/** A valid value for a property (the 0/1 and non-zero rules of §3.1.2.11, §3.2.2.3, §3.3.2.3). */
function propertyValue(def: PropertyDef): fc.Arbitrary<number | string | Buffer | readonly [string, string]> {
  switch (def.id) {
    case P.payloadFormatIndicator:
    case P.requestProblemInformation:
    case P.requestResponseInformation:
    case P.maximumQoS:
    case P.retainAvailable:
    case P.wildcardSubscriptionAvailable:
    case P.subscriptionIdentifierAvailable:
    case P.sharedSubscriptionAvailable:
      return fc.integer({ min: 0, max: 1 });
    case P.subscriptionIdentifier:
      return fc.integer({ min: 1, max: 268_435_455 });
    case P.receiveMaximum:
    case P.topicAlias:
      return fc.integer({ min: 1, max: 65_535 });
    case P.maximumPacketSize:
      return fc.integer({ min: 1, max: 0xffff_ffff });
  }
  switch (def.type) {
    case 'byte':
      return fc.integer({ min: 0, max: 255 });
    case 'twoByteInteger':
      return fc.integer({ min: 0, max: 65_535 });
    case 'fourByteInteger':
      return fc.integer({ min: 0, max: 0xffff_ffff });
    case 'varint':
      return fc.integer({ min: 0, max: 268_435_455 });
    case 'utf8':
      return text();
    case 'binary':
      return bytes();
    case 'utf8Pair':
      return fc.tuple(text(6), text(6));
  }
}

/** Properties allowed in `packet`, each at most once except the repeatable ones, in random order. */
function properties(packet: PropertyPacket): fc.Arbitrary<Buffer[]> {
  const defs = PROPERTIES.filter((d) => d.packets.includes(packet));
  return fc
    .subarray(defs, { maxLength: Math.min(5, defs.length) })
    .chain((chosen) =>
      fc.tuple(
        ...chosen.map((d) =>
          fc
            .array(propertyValue(d), { minLength: 1, maxLength: d.repeatable.includes(packet) ? 3 : 1 })
            .map((values) => values.map((v) => prop(d.id, v))),
        ),
      ),
    )
    .chain((groups) => fc.shuffledSubarray(groups.flat(), { minLength: groups.flat().length }));
}

const maybeProps = (v: ProtocolVersion, packet: PropertyPacket) =>
  v === '5.0' ? fc.option(properties(packet), { nil: undefined }) : fc.constant(undefined);

function codeFor(v: ProtocolVersion, packet: ReasonPacket): fc.Arbitrary<number> {
  if (v !== '5.0') {
    if (packet === 'CONNACK') return fc.constantFrom(...V3_CONNACK_RETURN_CODES.map((e) => e.code));
    // 3.1's SUBACK has no 0x80 Failure.
    const codes = V3_SUBACK_RETURN_CODES.map((e) => e.code).filter((c) => v === '3.1.1' || c !== 0x80);
    return fc.constantFrom(...codes);
  }
  return fc.constantFrom(...V5_REASON_CODES[packet].map((e) => e.code));
}

/** Any one valid packet of `v`: all 15 types (AUTH in 5.0 only). */
function validPacket(v: ProtocolVersion): fc.Arbitrary<Buffer> {
  const v5 = v === '5.0';
  const connectArb = fc
    .record({
      clientId: text(23),
      clean: fc.boolean(),
      keepAlive: fc.integer({ min: 0, max: 65_535 }),
      will: fc.option(
        fc.record({
          topic: topicName,
          payload: bytes(),
          qos,
          retain: fc.boolean(),
          properties: maybeProps(v, 'WILL'),
        }),
        { nil: undefined },
      ),
      username: fc.option(text(), { nil: undefined }),
      password: fc.option(bytes(), { nil: undefined }),
      properties: maybeProps(v, 'CONNECT'),
    })
    // 3.x: a password needs a user name [MQTT-3.1.2-22].
    .map((s) => connect({ version: v, ...s, username: s.username ?? (v5 ? undefined : 'u') }));
  const connackArb = codeFor(v, 'CONNACK').chain((code) =>
    fc
      .record({ sessionPresent: fc.boolean(), properties: maybeProps(v, 'CONNACK') })
      .map((s) => connack({ version: v, code, ...s, sessionPresent: code === 0 && s.sessionPresent })),
  );
  const publishArb = fc
    .record({
      topic: topicName,
      qos,
      retain: fc.boolean(),
      dup: fc.boolean(),
      packetId,
      properties: maybeProps(v, 'PUBLISH'),
      payload: bytes(300),
    })
    .map((s) => publish({ version: v, ...s, dup: s.qos > 0 && s.dup }));
  const ackArb = fc.constantFrom<AckType>('PUBACK', 'PUBREC', 'PUBREL', 'PUBCOMP').chain((type) =>
    fc
      .record({
        packetId,
        code: v5 ? fc.option(codeFor(v, type), { nil: undefined }) : fc.constant(undefined),
        properties: maybeProps(v, type),
      })
      .map((s) => ack(type, { version: v, ...s })),
  );
  const subscribeArb = fc
    .record({
      packetId,
      properties: maybeProps(v, 'SUBSCRIBE'),
      subscriptions: fc.array(
        fc.record({
          filter: topicFilter,
          qos,
          noLocal: v5 ? fc.boolean() : fc.constant(false),
          retainAsPublished: v5 ? fc.boolean() : fc.constant(false),
          retainHandling: v5 ? fc.integer({ min: 0, max: 2 }) : fc.constant(0),
        }),
        { minLength: 1, maxLength: 4 },
      ),
    })
    .map((s) => subscribe({ version: v, ...s }));
  const subackArb = fc
    .record({
      packetId,
      properties: maybeProps(v, 'SUBACK'),
      codes: fc.array(codeFor(v, 'SUBACK'), { minLength: 1, maxLength: 4 }),
    })
    .map((s) => suback({ version: v, ...s }));
  const unsubscribeArb = fc
    .record({
      packetId,
      properties: maybeProps(v, 'UNSUBSCRIBE'),
      filters: fc.array(topicFilter, { minLength: 1, maxLength: 4 }),
    })
    .map((s) => unsubscribe({ version: v, ...s }));
  const unsubackArb = fc
    .record({
      packetId,
      properties: maybeProps(v, 'UNSUBACK'),
      codes: v5 ? fc.array(codeFor(v, 'UNSUBACK'), { maxLength: 4 }) : fc.constant(undefined),
    })
    .map((s) => unsuback({ version: v, ...s }));
  const reasonOnly = (packet: 'DISCONNECT' | 'AUTH') =>
    fc
      .option(
        fc.record({
          code: codeFor(v, packet),
          properties: fc.option(properties(packet), { nil: undefined }),
        }),
        { nil: undefined },
      )
      .map((s) => (packet === 'AUTH' ? auth(s) : disconnect(s)));
  const all = [
    connectArb,
    connackArb,
    publishArb,
    ackArb,
    subscribeArb,
    subackArb,
    unsubscribeArb,
    unsubackArb,
    fc.constant(pingreq()),
    fc.constant(pingresp()),
    v5 ? reasonOnly('DISCONNECT') : fc.constant(disconnect()),
  ];
  return fc.oneof(...all, ...(v5 ? [reasonOnly('AUTH')] : []));
}

/** A stream of valid packets of one version, and cut points into it. */
const stream = fc
  .constantFrom<ProtocolVersion>('3.1', '3.1.1', '5.0')
  .chain((v) => fc.tuple(fc.constant(v), fc.array(validPacket(v), { minLength: 1, maxLength: 12 })))
  .chain(([v, packets]) => {
    const whole = Buffer.concat(packets);
    return fc.tuple(
      fc.constant(v),
      fc.constant(packets),
      fc
        .uniqueArray(fc.integer({ min: 0, max: whole.length }), { maxLength: 20 })
        .map((cuts) => cuts.sort((a, b) => a - b)),
    );
  });

describe('valid packets split at random chunk boundaries decode identically', () => {
  it('random cuts and byte by byte: same packets as unsplit; no violations', () => {
    fc.assert(
      fc.property(stream, ([v, packets, cuts]) => {
        const whole = Buffer.concat(packets);
        const reference = decodeStream(whole, v);
        expect(reference.errors).toEqual([]);
        expect(reference.packets).toHaveLength(packets.length);
        for (const p of reference.packets) expect(p.violations, JSON.stringify(plain(p))).toEqual([]);
        const expected = plain(reference.packets);
        expect(plain(decodeStream(splitAt(whole, cuts), v).packets)).toEqual(expected);
        const single: Buffer[] = [];
        for (let i = 0; i < whole.length; i++) single.push(whole.subarray(i, i + 1));
        expect(plain(decodeStream(single, v).packets)).toEqual(expected);
      }),
      { numRuns: RUNS },
    );
  });

  it('mqtt-packet generated 3.1.1 and 5.0 streams: random cuts give the same packets', () => {
    const generated = fc.constantFrom(4, 5).chain((protocolVersion) =>
      fc.tuple(
        fc.constant(protocolVersion),
        fc.array(
          fc.oneof(
            fc.record({
              cmd: fc.constant('publish' as const),
              topic: topicName,
              qos: fc.constantFrom(0, 1, 2) as fc.Arbitrary<0 | 1 | 2>,
              messageId: packetId,
              retain: fc.boolean(),
              dup: fc.constant(false),
              payload: bytes(200),
            }),
            fc.record({ cmd: fc.constant('puback' as const), messageId: packetId }),
            fc.record({
              cmd: fc.constant('subscribe' as const),
              messageId: packetId,
              subscriptions: fc.array(
                fc.record({ topic: topicFilter, qos: fc.constantFrom(0, 1, 2) as fc.Arbitrary<0 | 1 | 2> }),
                { minLength: 1, maxLength: 3 },
              ),
            }),
            fc.constant({ cmd: 'pingreq' as const }),
          ),
          { minLength: 1, maxLength: 10 },
        ),
      ),
    );
    fc.assert(
      fc.property(generated, fc.array(fc.nat(), { maxLength: 10 }), ([protocolVersion, objects], rawCuts) => {
        const whole = Buffer.concat(
          objects.map((o) => mqttPacket.generate(o as mqttPacket.Packet, { protocolVersion })),
        );
        const v: ProtocolVersion = protocolVersion === 5 ? '5.0' : '3.1.1';
        const cuts = [...new Set(rawCuts.map((c) => c % (whole.length + 1)))].sort((a, b) => a - b);
        const reference = decodeStream(whole, v);
        expect(reference.packets).toHaveLength(objects.length);
        expect(plain(decodeStream(splitAt(whole, cuts), v).packets)).toEqual(plain(reference.packets));
      }),
      { numRuns: RUNS },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Random bytes never throw and never make the framer hold more than the cap.

const CODES = new Set(Object.keys(VIOLATIONS));

function checkPacket(p: Packet, f: Frame): void {
  expect(p.type).toBe(PACKET_TYPE_NAMES[f.type]);
  expect(p.length).toBe(f.headerLength + f.remainingLength);
  expect(p.offset).toBe(f.offset);
  for (const v of p.violations) {
    expect(CODES.has(v.code), v.code).toBe(true);
    expect(typeof v.detail).toBe('string');
  }
  if (p.type === 'PUBLISH') {
    expect(p.payload.data.length).toBeLessThanOrEqual(p.payload.length);
    expect(p.payload.length).toBeLessThanOrEqual(f.remainingLength);
  }
  JSON.stringify(p); // plain data, printable by a logger
}

/** Frame-shaped noise: a random first byte and a body of random bytes of the declared length. */
const noisyFrames = fc.array(
  fc
    .tuple(fc.integer({ min: 0x10, max: 0xff }), fc.uint8Array({ maxLength: 80 }))
    .map(([first, body]) => Buffer.concat([Buffer.from([first]), vbi(body.length), body])),
  { maxLength: 10 },
);

/** Valid packets with a few bytes overwritten. */
const mutated = stream.chain(([v, packets]) => {
  const whole = Buffer.concat(packets);
  return fc
    .array(fc.tuple(fc.nat({ max: whole.length - 1 }), fc.integer({ min: 0, max: 255 })), {
      minLength: 1,
      maxLength: 4,
    })
    .map((edits) => {
      const copy = Buffer.from(whole);
      for (const [at, value] of edits) copy[at] = value;
      return [v, copy] as const;
    });
});

const anyVersion = fc.constantFrom<ProtocolVersion>('3.1', '3.1.1', '5.0');

function feed(
  input: Buffer,
  cuts: number[],
  version: ProtocolVersion,
  cap: number,
  sniff: 'client' | 'broker' | undefined,
): void {
  let errors = 0;
  const framer = new Framer(
    {
      frame(f) {
        expect(f.body.length).toBeLessThanOrEqual(cap);
        expect(f.truncated).toBe(f.body.length < f.remainingLength);
        checkPacket(decodeFrame(f, version), f);
      },
      error() {
        errors++;
      },
    },
    { captureCap: cap, ...(sniff ? { sniff } : {}) },
  );
  const sorted = [...new Set(cuts.map((c) => c % (input.length + 1)))].sort((a, b) => a - b);
  for (const chunk of splitAt(input, sorted)) {
    framer.push(chunk);
    expect(framer.buffered).toBeLessThanOrEqual(cap + SNIFF_BYTES);
  }
  framer.end();
  expect(framer.position).toBe(input.length);
  expect(errors).toBeLessThanOrEqual(1);
}

describe('random input never throws out of Framer or decodeFrame', () => {
  const side = fc.constantFrom(undefined, 'client' as const, 'broker' as const);
  const cap = fc.integer({ min: 0, max: 300 });
  const cuts = fc.array(fc.nat(), { maxLength: 8 });

  it('random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), cuts, anyVersion, cap, side, (b, c, v, k, s) =>
        feed(Buffer.from(b), c, v, k, s),
      ),
      { numRuns: RUNS * 2 },
    );
  });

  it('frame-shaped noise (random types, flags and bodies)', () => {
    fc.assert(
      fc.property(noisyFrames, cuts, anyVersion, cap, (frames, c, v, k) =>
        feed(Buffer.concat(frames), c, v, k, undefined),
      ),
      { numRuns: RUNS * 2 },
    );
  });

  it('valid streams with a few bytes overwritten', () => {
    fc.assert(
      fc.property(mutated, cuts, cap, ([v, b], c, k) => feed(b, c, v, k, undefined)),
      { numRuns: RUNS * 2 },
    );
  });

  it('decodeFrame on any frame, whole or truncated', () => {
    const frame = fc
      .record({
        type: fc.integer({ min: 1, max: 15 }),
        flags: fc.integer({ min: 0, max: 15 }),
        body: fc.uint8Array({ maxLength: 120 }).map((a) => Buffer.from(a)),
        extra: fc.option(fc.integer({ min: 1, max: 1e6 }), { nil: undefined }),
      })
      .map(({ type, flags, body, extra }): Frame => {
        const remainingLength = body.length + (extra ?? 0);
        return {
          offset: 0,
          type,
          flags,
          headerLength: vbi(remainingLength).length + 1,
          remainingLength,
          body,
          truncated: extra !== undefined,
        };
      });
    fc.assert(
      fc.property(frame, anyVersion, (f, v) => checkPacket(decodeFrame(f, v), f)),
      { numRuns: RUNS * 5 },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Huge PUBLISH packets: streamed, never built in memory.

/** Feeds a PUBLISH whose payload is `size` zero bytes, in `chunk`-byte pieces of one reused buffer. */
function hugePublish(size: number, chunkSize: number, cap: number) {
  const head = publish({
    version: '5.0',
    topic: 'sensors/camera/frame',
    qos: 1,
    packetId: 4242,
    properties: [prop(P.contentType, 'image/jpeg'), prop(P.userProperty, ['cam', '7'])],
  });
  // `publish` wrote the Remaining Length for an empty payload: rewrite the fixed header for `size`.
  const body = head.subarray(1 + vbi(head.length - 2).length);
  const header = Buffer.concat([head.subarray(0, 1), vbi(body.length + size), body]);
  const packets: Packet[] = [];
  let maxBuffered = 0;
  const framer = new Framer(
    {
      frame: (f) => packets.push(decodeFrame(f, '5.0')),
      error: (e) => {
        throw new Error(e.detail);
      },
    },
    { captureCap: cap },
  );
  framer.push(header);
  const piece = Buffer.alloc(chunkSize, 0x5a);
  for (let left = size; left > 0; left -= chunkSize) {
    framer.push(left >= chunkSize ? piece : piece.subarray(0, left));
    maxBuffered = Math.max(maxBuffered, framer.buffered);
  }
  framer.end();
  return { packets, maxBuffered, total: header.length + size, framer };
}

describe('huge PUBLISH with a small capture cap', () => {
  it.each([
    [5 * 1024 * 1024, 65_536, 1024],
    [200 * 1024 * 1024, 1 << 20, 4096],
  ])(
    '%i bytes of payload in %i-byte chunks, cap %i: header fields, payload length, bounded memory',
    (size, chunk, cap) => {
      const { packets, maxBuffered, total, framer } = hugePublish(size, chunk, cap);
      expect(maxBuffered).toBeLessThanOrEqual(cap);
      expect(framer.position).toBe(total);
      expect(packets).toHaveLength(1);
      const p = packets[0]!;
      expect(p).toMatchObject({
        type: 'PUBLISH',
        qos: 1,
        packetId: 4242,
        topic: 'sensors/camera/frame',
        truncated: true,
        length: total,
        properties: { contentType: 'image/jpeg', userProperties: [['cam', '7']] },
        violations: [],
      });
      if (p.type !== 'PUBLISH') throw new Error();
      expect(p.payload.length).toBe(size);
      expect(p.payload.data.length).toBeLessThanOrEqual(cap);
      expect(p.payload.data.every((b) => b === 0x5a)).toBe(true);
    },
  );
});

describe('capped decoding agrees with whole decoding', () => {
  /**
   * Fields of `capped` must be those of `full`; payloads and lists may be prefixes, and a field the
   * cap cut off reads as its zero value (0, '', false) in a frame marked truncated.
   */
  function consistent(capped: unknown, full: unknown, path: string, truncated = false): void {
    if (truncated && (capped === 0 || capped === '' || capped === false)) return;
    if (Buffer.isBuffer(capped)) {
      expect(Buffer.isBuffer(full), path).toBe(true);
      expect((full as Buffer).subarray(0, capped.length).equals(capped), path).toBe(true);
      return;
    }
    if (Array.isArray(capped)) {
      expect(Array.isArray(full), path).toBe(true);
      expect(capped.length, path).toBeLessThanOrEqual((full as unknown[]).length);
      capped.forEach((item, i) => {
        consistent(item, (full as unknown[])[i], `${path}[${i}]`, truncated);
      });
      return;
    }
    if (capped !== null && typeof capped === 'object') {
      for (const [k, v] of Object.entries(capped)) {
        if (k === 'truncated') continue;
        consistent(v, (full as Record<string, unknown>)[k], `${path}.${k}`, truncated);
      }
      return;
    }
    expect(capped, path).toEqual(full);
  }

  it('every field decoded from a capped frame equals the whole decode; no violations invented', () => {
    fc.assert(
      fc.property(stream, fc.integer({ min: 0, max: 64 }), ([v, packets], cap) => {
        const whole = Buffer.concat(packets);
        const full = decodeStream(whole, v).packets;
        const capped = decodeStream(whole, v, { captureCap: cap }).packets;
        expect(capped).toHaveLength(full.length);
        capped.forEach((p, i) => {
          consistent(p, full[i], `${p.type}#${i}`, p.truncated);
        });
      }),
      { numRuns: RUNS },
    );
  });
});
