/**
 * The streaming framer: fixed header and Remaining Length (§2.1.1, §2.1.4 / 3.1.1 §2.2.3) from
 * chunks of any size, bounded memory, unframeable streams, and streams that are not MQTT at all.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_CAPTURE_CAP,
  MAX_REMAINING_LENGTH,
  type ProtocolVersion,
} from '../../src/protocol/constants.js';
import { decodeFrame } from '../../src/protocol/decode/index.js';
import type { Direction } from '../../src/protocol/direction.js';
import { Framer, type FramerOptions } from '../../src/protocol/framer.js';
import { SNIFF_BYTES } from '../../src/protocol/sniff.js';
import type { Frame, FramingError, Packet } from '../../src/protocol/types.js';
import { bytewise, chunksOf, everySplit, hex, splitAt } from '../helpers/hex.js';
import {
  ack,
  auth,
  connack,
  connect,
  decodeStream,
  disconnect,
  frame,
  P,
  pingreq,
  pingresp,
  plain,
  prop,
  publish,
  str,
  suback,
  subscribe,
  unsuback,
  unsubscribe,
  vbi,
} from '../helpers/packets.js';

interface Run {
  frames: Frame[];
  errors: FramingError[];
  framer: Framer;
  /** Largest `framer.buffered` seen after any push. */
  maxBuffered: number;
}

function run(chunks: readonly Buffer[], options: FramerOptions = {}, end = true): Run {
  const out: Run = { frames: [], errors: [], framer: undefined as never, maxBuffered: 0 };
  out.framer = new Framer(
    {
      frame: (f) => out.frames.push({ ...f, body: Buffer.from(f.body) }),
      error: (e) => out.errors.push(e),
    },
    options,
  );
  for (const c of chunks) {
    out.framer.push(c);
    out.maxBuffered = Math.max(out.maxBuffered, out.framer.buffered);
  }
  if (end) out.framer.end();
  return out;
}

/** One of every packet type, 5.0, with properties where they fit: 15 frames. */
const ALL_V5 = [
  connect({
    version: '5.0',
    clientId: 'client',
    will: { topic: 'w', payload: Buffer.from('bye'), properties: [prop(P.willDelayInterval, 1)] },
    username: 'u',
    password: Buffer.from('p'),
    properties: [prop(P.sessionExpiryInterval, 10)],
  }),
  connack({ version: '5.0', properties: [prop(P.receiveMaximum, 10)] }),
  publish({ version: '5.0', topic: 'a/b', qos: 1, packetId: 1, payload: Buffer.alloc(300, 7) }),
  ack('PUBACK', { version: '5.0', packetId: 1 }),
  ack('PUBREC', { version: '5.0', packetId: 2, code: 0x10 }),
  ack('PUBREL', { version: '5.0', packetId: 2, code: 0, properties: [prop(P.reasonString, 'r')] }),
  ack('PUBCOMP', { version: '5.0', packetId: 2 }),
  subscribe({ version: '5.0', packetId: 3, subscriptions: [{ filter: 'a/#', qos: 2, noLocal: true }] }),
  suback({ version: '5.0', packetId: 3, codes: [2] }),
  unsubscribe({ version: '5.0', packetId: 4, filters: ['a/#'] }),
  unsuback({ version: '5.0', packetId: 4, codes: [0] }),
  pingreq(),
  pingresp(),
  auth({ code: 0x18, properties: [prop(P.authenticationMethod, 'm')] }),
  disconnect({ code: 0x04 }),
];
const STREAM = Buffer.concat(ALL_V5);

describe('framing (§2.1.1 fixed header, §2.1.4 Remaining Length)', () => {
  it('cuts a stream of all 15 packet types into frames with their stream offsets', () => {
    const { frames, errors } = run([STREAM]);
    expect(errors).toEqual([]);
    expect(frames.map((f) => f.type)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 15, 14]);
    let offset = 0;
    ALL_V5.forEach((bytes, i) => {
      const f = frames[i]!;
      expect(f.offset).toBe(offset);
      expect(f.headerLength + f.remainingLength).toBe(bytes.length);
      expect(f.flags).toBe(bytes[0]! & 0x0f);
      expect(f.body).toEqual(bytes.subarray(f.headerLength));
      expect(f.truncated).toBe(false);
      offset += bytes.length;
    });
  });

  it('split at every offset: the same frames (pg-protocol style)', () => {
    const whole = plain(run([STREAM]).frames);
    for (const chunks of everySplit(STREAM)) {
      const r = run(chunks);
      expect(r.errors).toEqual([]);
      expect(plain(r.frames)).toEqual(whole);
    }
  });

  it('one byte at a time: the same frames and decoded packets', () => {
    expect(plain(run(bytewise(STREAM)).frames)).toEqual(plain(run([STREAM]).frames));
    expect(plain(decodeStream(bytewise(STREAM)).packets)).toEqual(plain(decodeStream(STREAM).packets));
  });

  it('a frame inside one chunk is a view of it, not a copy', () => {
    const bytes = publish({ version: '3.1.1', topic: 't', payload: Buffer.from('xyz') });
    const seen: Frame[] = [];
    new Framer({ frame: (f) => seen.push(f), error: () => {} }).push(bytes);
    expect(seen[0]!.body.buffer).toBe(bytes.buffer);
    expect(seen[0]!.body.byteOffset).toBe(bytes.byteOffset + 2);
  });

  it('Remaining Length 0 (PINGREQ) and one-byte bodies at chunk ends', () => {
    const r = run([hex`c0`, hex`00 e0`, hex`00 40 02 00`, hex`01`]);
    expect(r.frames.map((f) => [f.type, f.remainingLength, f.offset])).toEqual([
      [12, 0, 0],
      [14, 0, 2],
      [4, 2, 4],
    ]);
  });

  it.each([
    [0, '1 byte', 2],
    [127, '1 byte', 2],
    [128, '2 bytes', 3],
    [16_383, '2 bytes', 3],
    [16_384, '3 bytes', 4],
    [2_097_151, '3 bytes', 4],
    [2_097_152, '4 bytes', 5],
  ])('Remaining Length %i (%s) frames whole and split (§1.5.5 boundaries)', (len, _what, header) => {
    const bytes = Buffer.concat([hex`30`, vbi(len), Buffer.alloc(len, 0x61)]);
    if (len >= 2) bytes.writeUInt16BE(0, header); // empty topic, then payload
    for (const chunks of [[bytes], chunksOf(bytes, 65_536), splitAt(bytes, [1, 2, 3])]) {
      const r = run(chunks, { captureCap: Number.POSITIVE_INFINITY });
      expect(r.errors).toEqual([]);
      expect(r.frames).toHaveLength(1);
      expect(r.frames[0]).toMatchObject({ headerLength: header, remainingLength: len, truncated: false });
      expect(r.frames[0]!.body.length).toBe(len);
    }
  });

  it('a frame over 2 MB (four-byte Remaining Length) decodes whole with a large cap', () => {
    const payload = Buffer.alloc(3 * 1024 * 1024);
    for (let i = 0; i < payload.length; i += 4096) payload[i] = i & 0xff;
    const bytes = publish({ version: '5.0', topic: 'big', qos: 2, packetId: 7, payload });
    expect(bytes.subarray(1, 5)).toEqual(vbi(bytes.length - 5));
    for (const chunks of [[bytes], chunksOf(bytes, 65_536), chunksOf(bytes, 1_000_003)]) {
      const { packets, errors } = decodeStream(chunks, '5.0', { captureCap: 4 * 1024 * 1024 });
      expect(errors).toEqual([]);
      const p = packets[0]!;
      expect(p).toMatchObject({ type: 'PUBLISH', topic: 'big', qos: 2, packetId: 7, length: bytes.length });
      if (p.type !== 'PUBLISH') throw new Error();
      expect(p.payload.length).toBe(payload.length);
      expect(p.payload.data.equals(payload)).toBe(true);
    }
  });

  it('the largest Remaining Length, 268,435,455 (ff ff ff 7f), is counted without being held', () => {
    const header = hex`32 ff ff ff 7f 00 01 74 00 05`;
    const chunk = Buffer.alloc(1 << 20);
    const framer = new Framer({ frame: () => {}, error: () => {} }, { captureCap: 1024 });
    framer.push(header);
    for (let i = 0; i < 100; i++) framer.push(chunk);
    expect(framer.buffered).toBeLessThanOrEqual(1024);
    expect(framer.position).toBe(header.length + 100 * chunk.length);
    expect(MAX_REMAINING_LENGTH).toBe(268_435_455);
  });

  it('default capture cap is 64 KiB: a longer body is truncated to it', () => {
    const bytes = publish({ version: '3.1.1', topic: 't', payload: Buffer.alloc(100_000) });
    const r = run(chunksOf(bytes, 10_000));
    expect(r.frames[0]!.body.length).toBe(DEFAULT_CAPTURE_CAP);
    expect(r.frames[0]!.truncated).toBe(true);
    expect(r.maxBuffered).toBeLessThanOrEqual(DEFAULT_CAPTURE_CAP);
  });

  it('a frame spanning chunks holds memory for the bytes that came, not the length it claims', () => {
    // A SUBSCRIBE claiming 60,000 body bytes, of which 1,000 arrive; then the rest, in 7 KB chunks.
    const bytes = subscribe({
      version: '3.1.1',
      packetId: 1,
      subscriptions: Array.from({ length: 2000 }, (_, i) => ({
        filter: `f/${String(i).padStart(24, '0')}`,
        qos: 1,
      })),
    });
    const r = run([], {}, false);
    r.framer.push(bytes.subarray(0, 1000));
    expect(r.framer.buffered).toBeLessThanOrEqual(4096);
    for (const c of chunksOf(bytes.subarray(1000), 7000)) {
      r.framer.push(c);
      // At most twice what came (the capture doubles as it fills).
      if (r.frames.length === 0) expect(r.framer.buffered).toBeLessThanOrEqual(2 * r.framer.position);
    }
    expect(r.frames[0]!.body).toEqual(bytes.subarray(bytes.length - r.frames[0]!.remainingLength));
    expect(decodeStream(chunksOf(bytes, 999), '3.1.1').packets).toEqual(
      decodeStream([bytes], '3.1.1').packets,
    );
  });

  it('a frame in one chunk longer than the cap is a view cut at the cap', () => {
    const bytes = publish({ version: '3.1.1', topic: 't', payload: Buffer.alloc(1000) });
    const r = run([bytes], { captureCap: 100 });
    expect(r.frames[0]).toMatchObject({ remainingLength: bytes.length - 3, truncated: true });
    expect(r.frames[0]!.body.length).toBe(100);
  });
});

describe('countOnly: the bytes a deferred caller may push out of turn', () => {
  it('is the rest of a body past its capture, less the byte that completes the frame', () => {
    const bytes = publish({ version: '3.1.1', topic: 't', payload: Buffer.alloc(1000, 1) });
    const r = run([], { captureCap: 100 }, false);
    expect(r.framer.countOnly).toBe(0);
    r.framer.push(bytes.subarray(0, 50));
    expect(r.framer.countOnly).toBe(0); // the capture is not full yet
    r.framer.push(bytes.subarray(50, 103));
    expect(r.framer.countOnly).toBe(bytes.length - 103 - 1);
    r.framer.push(bytes.subarray(103, bytes.length - 1));
    expect(r.framer.countOnly).toBe(0);
    expect(r.frames).toHaveLength(0);
    r.framer.push(bytes.subarray(bytes.length - 1));
    expect(r.frames).toHaveLength(1);
    expect(r.framer.countOnly).toBe(0);
  });

  it('is unbounded once framing stopped', () => {
    const r = run([hex`00 01 02`], {}, false);
    expect(r.errors).toHaveLength(1);
    expect(r.framer.countOnly).toBe(Number.POSITIVE_INFINITY);
  });

  it('pushing at most countOnly bytes never yields a frame or an error, whatever the stream', () => {
    const stream = fc
      .array(
        fc.oneof(
          fc.constant(STREAM),
          fc
            .integer({ min: 0, max: 400 })
            .map((n) => publish({ version: '5.0', topic: 'big', payload: Buffer.alloc(n, 9) })),
          fc.uint8Array({ maxLength: 8 }).map((a) => Buffer.from(a)),
        ),
        { maxLength: 8 },
      )
      .map((parts) => Buffer.concat(parts));
    fc.assert(
      fc.property(stream, fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1 }), (bytes, cuts) => {
        const whole = run([bytes], { captureCap: 64 });
        const r = run([], { captureCap: 64 }, false);
        let at = 0;
        for (let k = 0; at < bytes.length; k++) {
          const want = cuts[k % cuts.length]!;
          const free = Math.min(r.framer.countOnly, bytes.length - at);
          const before = r.frames.length + r.errors.length;
          if (free > 0) {
            const n = Math.min(want, free);
            r.framer.push(bytes.subarray(at, at + n));
            at += n;
            expect(r.frames.length + r.errors.length).toBe(before);
          } else {
            r.framer.push(bytes.subarray(at, at + want));
            at += want;
          }
        }
        r.framer.end();
        expect(r.frames).toEqual(whole.frames);
        // The hex excerpt shows what the failing chunk held, so only it may differ.
        const plain = (e: FramingError[]) => e.map(({ hex: _, ...rest }) => rest);
        expect(plain(r.errors)).toEqual(plain(whole.errors));
      }),
    );
  });
});

describe('unframeable streams: reported once, then bytes only counted', () => {
  it('MQTT_RESERVED_PACKET_TYPE: packet type 0 after a good frame (§2.1.2: reserved)', () => {
    const r = run([Buffer.concat([pingreq(), hex`00 02 aa bb`, pingreq()])]);
    expect(r.frames).toHaveLength(1);
    expect(r.errors).toEqual([
      {
        kind: 'malformed',
        code: 'MQTT_RESERVED_PACKET_TYPE',
        offset: 2,
        detail: expect.stringMatching(/packet type 0 is reserved .*forwarded but not decoded/),
        hex: '00 02 aa bb c0 00',
      },
    ]);
    expect(r.framer.framing).toBe(false);
    expect(r.framer.position).toBe(8);
  });

  it('MQTT_RESERVED_PACKET_TYPE byte by byte: same offset, reported once, later bytes ignored', () => {
    const r = run(bytewise(Buffer.concat([pingreq(), hex`0f 00`, pingreq(), pingreq()])));
    expect(r.frames).toHaveLength(1);
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]).toMatchObject({ code: 'MQTT_RESERVED_PACKET_TYPE', offset: 2, hex: '0f' });
  });

  it('MQTT_MALFORMED_REMAINING_LENGTH: a fifth length byte (§1.5.5: at most four)', () => {
    const bytes = Buffer.concat([pingresp(), hex`30 ff ff ff ff 01 02 03`]);
    for (const chunks of [[bytes], bytewise(bytes)]) {
      const r = run(chunks);
      expect(r.frames).toHaveLength(1);
      expect(r.errors).toHaveLength(1);
      expect(r.errors[0]).toMatchObject({
        kind: 'malformed',
        code: 'MQTT_MALFORMED_REMAINING_LENGTH',
        offset: 2,
        detail: expect.stringContaining('continues past four bytes'),
      });
      expect(r.errors[0]!.hex.startsWith('30 ff ff ff ff')).toBe(true);
      expect(r.framer.position).toBe(bytes.length);
    }
  });

  it('MQTT_STREAM_ENDED_MID_PACKET inside the body', () => {
    const bytes = publish({ version: '3.1.1', topic: 'abc', payload: Buffer.from('hello') });
    const r = run([Buffer.concat([pingreq(), bytes.subarray(0, 8)])]);
    expect(r.frames).toHaveLength(1);
    expect(r.errors).toEqual([
      {
        kind: 'truncated',
        code: 'MQTT_STREAM_ENDED_MID_PACKET',
        offset: 2,
        detail: 'stream ended 6 of 10 body bytes into a PUBLISH at offset 2',
        hex: '30 0a 00 03 61 62 63 68',
      },
    ]);
  });

  it('MQTT_STREAM_ENDED_MID_PACKET inside the Remaining Length', () => {
    const r = run([hex`30 80`]);
    expect(r.errors).toMatchObject([
      {
        kind: 'truncated',
        code: 'MQTT_STREAM_ENDED_MID_PACKET',
        offset: 0,
        detail: 'stream ended inside the fixed header of a PUBLISH at offset 0',
      },
    ]);
  });

  it('a stream ending between frames is not an error; end() twice is harmless', () => {
    const r = run([pingreq()]);
    r.framer.end();
    expect(r.errors).toEqual([]);
  });
});

describe('not MQTT at all: said plainly, not as a malformed packet', () => {
  const tlsClientHello = hex`16 03 01 02 00 01 00 01 fc 03 03 ab cd ef`;
  const proxyV2 = hex`0d 0a 0d 0a 00 0d 0a 51 55 49 54 0a 21 11 00 0c`;
  const cases: [string, Direction, Buffer, string, RegExp][] = [
    [
      'TLS ClientHello',
      'client',
      tlsClientHello,
      'tls',
      /TLS ClientHello received on a plain MQTT listener: is the client using mqtts\?/,
    ],
    [
      'HTTP GET (a WebSocket upgrade)',
      'client',
      Buffer.from('GET /mqtt HTTP/1.1\r\nHost: x\r\n'),
      'http',
      /HTTP request/,
    ],
    ['HTTP POST', 'client', Buffer.from('POST /api HTTP/1.1\r\n'), 'http', /HTTP request/],
    [
      'HTTP/ from a client',
      'client',
      Buffer.from('HTTP/1.1 200 OK\r\n'),
      'http',
      /HTTP response received from the client/,
    ],
    [
      'PROXY protocol v1',
      'client',
      Buffer.from('PROXY TCP4 10.0.0.1 10.0.0.2 5555 1883\r\n'),
      'proxy-v1',
      /PROXY protocol v1/,
    ],
    ['PROXY protocol v2', 'client', proxyV2, 'proxy-v2', /PROXY protocol v2/],
    ['SSH banner', 'client', Buffer.from('SSH-2.0-OpenSSH_9.6\r\n'), 'ssh', /SSH/],
    [
      'unknown garbage',
      'client',
      hex`de ad be ef 00 11 22 33 44 55 66 77 88`,
      'unknown',
      /first byte is 0xde; this is not MQTT/,
    ],
    [
      'TLS alert from the broker',
      'broker',
      hex`15 03 03 00 02 02 46`,
      'tls',
      /TLS record received from the broker/,
    ],
    [
      'TLS ServerHello from the broker',
      'broker',
      hex`16 03 03 00 5d 02 00 00 59 03 03`,
      'tls',
      /upstream port expects TLS/,
    ],
    [
      'HTTP response from the broker',
      'broker',
      Buffer.from('HTTP/1.1 400 Bad Request\r\n\r\n'),
      'http',
      /HTTP response received from the broker/,
    ],
  ];

  it.each(cases)('%s (%s side)', (_name, side, bytes, looksLike, detail) => {
    for (const chunks of [[bytes], bytewise(bytes)]) {
      const r = run(chunks, { sniff: side });
      expect(r.frames).toEqual([]);
      expect(r.errors).toHaveLength(1);
      expect(r.errors[0]).toMatchObject({ kind: 'not-mqtt', code: 'MQTT_NOT_MQTT', offset: 0, looksLike });
      expect(r.errors[0]!.detail).toMatch(detail);
      expect(r.errors[0]!.hex.length).toBeGreaterThan(0);
      expect(r.framer.framing).toBe(false);
      expect(r.framer.position).toBe(bytes.length);
      expect(r.maxBuffered).toBeLessThanOrEqual(SNIFF_BYTES);
    }
  });

  it('hints say what to change', () => {
    const tls = run([tlsClientHello], { sniff: 'client' }).errors[0]!;
    expect(tls.hint).toMatch(/mqtts:\/\//);
    const ws = run([Buffer.from('GET / HTTP/1.1\r\n')], { sniff: 'client' }).errors[0]!;
    expect(ws.hint).toMatch(/ws:\/\//);
  });

  it('a short opening that could still be a signature waits, then is classified at end()', () => {
    const r = run([Buffer.from('PO')], { sniff: 'client' }, false);
    expect(r.errors).toEqual([]);
    r.framer.end();
    expect(r.errors).toMatchObject([{ code: 'MQTT_NOT_MQTT', looksLike: 'unknown' }]);
  });

  it('"P" is held until it can be told from PROXY, POST, PUT, PATCH and PRI', () => {
    for (const [text, looksLike] of [
      ['PROXY TCP6 ::1 ::1 1 2\r\n', 'proxy-v1'],
      ['PUT /x HTTP/1.1\r\n', 'http'],
      ['PATCH /x HTTP/1.1\r\n', 'http'],
      ['PRI * HTTP/2.0\r\n\r\nSM', 'http'],
      ['PX', 'unknown'],
    ] as const) {
      expect(run(bytewise(Buffer.from(text)), { sniff: 'client' }).errors[0]?.looksLike, text).toBe(
        looksLike,
      );
    }
  });

  it('an MQTT opening passes through the sniffer untouched: CONNECT from a client', () => {
    const bytes = Buffer.concat([connect({ version: '3.1.1', clientId: 'c' }), pingreq()]);
    for (const chunks of [[bytes], bytewise(bytes)]) {
      const r = run(chunks, { sniff: 'client' });
      expect(r.errors).toEqual([]);
      expect(r.frames.map((f) => [f.type, f.offset])).toEqual([
        [1, 0],
        [12, bytes.length - 2],
      ]);
    }
  });

  it.each([
    ['CONNACK', hex`20 02 00 00`],
    ['AUTH', hex`f0 00`],
    ['DISCONNECT', hex`e0 00`],
  ])('an MQTT opening from a broker: %s', (_name, bytes) => {
    const r = run([bytes], { sniff: 'broker' });
    expect(r.errors).toEqual([]);
    expect(r.frames).toHaveLength(1);
  });

  it('a client opening with something other than CONNECT is not MQTT [MQTT-3.1.0-1]', () => {
    const r = run([pingreq()], { sniff: 'client' });
    expect(r.errors).toMatchObject([{ looksLike: 'unknown', detail: expect.stringMatching(/CONNECT/) }]);
  });
});

describe('payloadKeep: a PUBLISH spanning chunks is kept up to what its record shows', () => {
  const KEEP = 256;
  /** Decodes like the tap: the version of the CONNECT seen, properties assumed until then. */
  function decodeKept(chunks: readonly Buffer[], keep = KEEP, cap = DEFAULT_CAPTURE_CAP) {
    let version: ProtocolVersion | undefined;
    const packets: Packet[] = [];
    let maxBuffered = 0;
    const framer = new Framer(
      {
        frame: (f) => {
          const p = decodeFrame({ ...f, body: Buffer.from(f.body) }, version ?? '3.1.1', 'client');
          if (p.type === 'CONNECT') version = p.protocol;
          packets.push(p);
        },
        error: () => {},
      },
      {
        captureCap: cap,
        payloadKeep: keep,
        publishProperties: () => version === undefined || version === '5.0',
      },
    );
    for (const c of chunks) {
      framer.push(c);
      maxBuffered = Math.max(maxBuffered, framer.buffered);
    }
    framer.end();
    return { packets, maxBuffered, framer };
  }
  /** A packet as a record can show it: the payload as far as `keep` bytes. */
  const shown = (p: Packet, keep = KEEP) =>
    plain(
      p.type === 'PUBLISH' ? { ...p, payload: { ...p.payload, data: p.payload.data.subarray(0, keep) } } : p,
    );

  it('holds the variable header and payloadKeep payload bytes, not the capture cap', () => {
    const payload = Buffer.alloc(100_000, 0x61);
    for (const version of ['3.1.1', '5.0'] as const) {
      const bytes = Buffer.concat([
        connect({ version, clientId: 'c' }),
        publish({ version, topic: 'a/b', qos: 1, packetId: 9, payload }),
      ]);
      const r = decodeKept(chunksOf(bytes, 1000));
      expect(r.maxBuffered).toBeLessThanOrEqual(KEEP + 256);
      const p = r.packets[1]!;
      if (p.type !== 'PUBLISH') throw new Error('not a PUBLISH');
      expect(p.payload.length).toBe(payload.length);
      expect(p.payload.data.length).toBe(KEEP);
      // Longer than the capture cap: shown as truncated, as before.
      expect(p.truncated).toBe(true);
    }
  });

  it('a PUBLISH the cap would keep whole is not shown as truncated', () => {
    const bytes = publish({ version: '3.1.1', topic: 't', payload: Buffer.alloc(10_000, 0x62) });
    const r = run(chunksOf(bytes, 999), { payloadKeep: KEEP, publishProperties: () => false });
    expect(r.maxBuffered).toBeLessThanOrEqual(KEEP + 256);
    expect(r.frames[0]).toMatchObject({ truncated: true, payloadCut: true });
    expect(r.frames[0]!.body.length).toBe(3 + KEEP);
    const p = decodeStream(chunksOf(bytes, 999), '3.1.1', { payloadKeep: KEEP }).packets[0]!;
    expect(p.truncated).toBeUndefined();
  });

  it('decodes what a whole capture decodes, however the stream is cut', () => {
    const longTopic = 'x/'.repeat(700);
    const cases: [string, Buffer][] = [
      [
        '3.1.1, QoS 1, a 1,400-byte topic',
        Buffer.concat([
          connect({ version: '3.1.1', clientId: 'c' }),
          publish({
            version: '3.1.1',
            topic: longTopic,
            qos: 1,
            packetId: 3,
            payload: Buffer.alloc(5000, 0xc3),
          }),
        ]),
      ],
      [
        '5.0, 3 KB of user properties',
        Buffer.concat([
          connect({ version: '5.0', clientId: 'c' }),
          publish({
            version: '5.0',
            topic: 't',
            qos: 2,
            packetId: 4,
            properties: [prop(P.userProperty, ['k', 'v'.repeat(3000)]), prop(P.payloadFormatIndicator, 1)],
            payload: Buffer.from('é'.repeat(3000)),
          }),
        ]),
      ],
      [
        '5.0, a Property Length past the packet',
        Buffer.concat([
          connect({ version: '5.0', clientId: 'c' }),
          frame(0x30, str('t'), vbi(9000), Buffer.alloc(2000, 0x26)),
        ]),
      ],
      [
        '5.0, a Property Length of five bytes',
        Buffer.concat([
          connect({ version: '5.0', clientId: 'c' }),
          frame(0x30, str('t'), hex`ff ff ff ff 7f`, Buffer.alloc(2000, 0x26)),
        ]),
      ],
      [
        '3.1.1 payload before any CONNECT (properties assumed)',
        publish({ version: '3.1.1', topic: 't', payload: Buffer.alloc(3000, 0xff) }),
      ],
      [
        'a payload shorter than what is kept',
        Buffer.concat([
          connect({ version: '5.0', clientId: 'c' }),
          publish({ version: '5.0', topic: 't', payload: Buffer.alloc(700, 0x41) }),
        ]),
      ],
    ];
    for (const [name, bytes] of cases) {
      const whole = decodeStream([bytes], '3.1.1', {}, 'client').packets.map((p) => shown(p));
      for (const size of [1, 7, 100, 1000, 4096]) {
        expect(
          decodeKept(chunksOf(bytes, size)).packets.map((p) => shown(p)),
          `${name}, ${size}-byte chunks`,
        ).toEqual(whole);
      }
      for (const keep of [0, 1, 300]) {
        const r = decodeKept(chunksOf(bytes, 64), keep);
        expect(
          r.packets.map((p) => shown(p, keep)),
          `${name}, payloadKeep ${keep}`,
        ).toEqual(
          whole.length === 0
            ? []
            : decodeStream([bytes], '3.1.1', {}, 'client').packets.map((p) => shown(p, keep)),
        );
      }
    }
  });

  it('any PUBLISH, any cut, any payloadKeep: what a record shows is what a whole capture shows', () => {
    const publishes = fc
      .record({
        version: fc.constantFrom<ProtocolVersion>('3.1', '3.1.1', '5.0'),
        qos: fc.integer({ min: 0, max: 2 }),
        topic: fc.integer({ min: 0, max: 600 }),
        user: fc.integer({ min: 0, max: 600 }),
        payload: fc.integer({ min: 0, max: 3000 }),
        fill: fc.integer({ min: 0, max: 255 }),
      })
      .map((s) =>
        Buffer.concat([
          connect({ version: s.version, clientId: 'c' }),
          publish({
            version: s.version,
            topic: 't'.repeat(s.topic),
            qos: s.qos,
            packetId: 1,
            ...(s.version === '5.0' && s.user > 0
              ? { properties: [prop(P.userProperty, ['k', 'u'.repeat(s.user)])] }
              : {}),
            payload: Buffer.alloc(s.payload, s.fill),
          }),
        ]),
      );
    fc.assert(
      fc.property(
        publishes,
        fc.integer({ min: 1, max: 700 }),
        fc.integer({ min: 0, max: 400 }),
        (bytes, size, keep) => {
          const whole = decodeStream([bytes], '3.1.1', {}, 'client').packets.map((p) => shown(p, keep));
          const r = decodeKept(chunksOf(bytes, size), keep);
          expect(r.packets.map((p) => shown(p, keep))).toEqual(whole);
          // Topic, packet id and properties (each at most ~600 bytes), the payload kept, the headroom.
          expect(r.maxBuffered).toBeLessThanOrEqual(1300 + keep + 256);
        },
      ),
    );
  });

  it('counts the rest of the payload: countOnly once the kept bytes are in', () => {
    const bytes = publish({ version: '3.1.1', topic: 't', payload: Buffer.alloc(10_000) });
    const r = run([], { payloadKeep: KEEP, publishProperties: () => false }, false);
    r.framer.push(bytes.subarray(0, 100));
    expect(r.framer.countOnly).toBe(0);
    r.framer.push(bytes.subarray(100, 1000));
    expect(r.framer.countOnly).toBe(bytes.length - 1000 - 1);
  });
});
