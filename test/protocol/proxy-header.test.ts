/**
 * The PROXY protocol reader and encoder (HAProxy's specification, v1 text and v2 binary): table
 * cases for every field, every error code, and properties over chunking and random bytes.
 */
import { SocketAddress } from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hexExcerpt } from '../../src/protocol/hex.js';
import {
  encodeProxyHeader,
  formatIPv6,
  type ProxyEndpoint,
  ProxyHeaderReader,
  type ProxyHeaderResult,
  parseIPv6,
  V1_MAX_LENGTH,
} from '../../src/protocol/proxy-header.js';

const SIG = Buffer.from('0d0a0d0a000d0a515549540a', 'hex');

/** A v2 header from its parts, TLVs appended raw. */
function v2(
  verCmd: number,
  famProto: number,
  block: Buffer,
  tlvs = Buffer.alloc(0),
  length?: number,
): Buffer {
  const len = Buffer.alloc(2);
  len.writeUInt16BE(length ?? block.length + tlvs.length);
  return Buffer.concat([SIG, Buffer.from([verCmd, famProto]), len, block, tlvs]);
}

const inetBlock = Buffer.from([192, 0, 2, 10, 198, 51, 100, 7, 0xc3, 0x50, 0x07, 0x5b]); // 50000, 1883
const inet6Block = Buffer.concat([
  parseIPv6Bytes('2001:db8::10'),
  parseIPv6Bytes('2001:db8::1'),
  Buffer.from([0xc3, 0x50, 0x07, 0x5b]),
]);

function parseIPv6Bytes(text: string): Buffer {
  return Buffer.from(parseIPv6(text)!);
}

/** Feeds `chunks` until a result; the bytes after the header are `rest` plus the unread chunks. */
function feed(chunks: Buffer[]): { result: ProxyHeaderResult | undefined; after: Buffer } {
  const reader = new ProxyHeaderReader();
  for (let i = 0; i < chunks.length; i++) {
    const result = reader.push(chunks[i]!);
    if (result !== undefined) {
      const after = result.ok ? Buffer.concat([result.rest, ...chunks.slice(i + 1)]) : Buffer.alloc(0);
      return { result, after };
    }
  }
  return { result: reader.end(), after: Buffer.alloc(0) };
}

/** What a chunking decides, without the chunk-dependent `rest` view (see `after`). */
function outcome(chunks: Buffer[]): { header?: unknown; code?: string; message?: string; after: Buffer } {
  const { result, after } = feed(chunks);
  if (result === undefined) throw new Error('no result');
  return result.ok
    ? { header: result.header, after }
    : { code: result.error.code, message: result.error.message, after };
}

const one = (b: Buffer | string): ProxyHeaderResult | undefined =>
  feed([typeof b === 'string' ? Buffer.from(b, 'latin1') : b]).result;

function header(b: Buffer | string) {
  const r = one(b);
  if (r === undefined || !r.ok) throw new Error(`expected a header, got ${JSON.stringify(r)}`);
  return r.header;
}

function errorOf(b: Buffer | string) {
  const r = one(b);
  if (r === undefined || r.ok) throw new Error(`expected an error, got ${JSON.stringify(r)}`);
  return r.error;
}

describe('PROXY v1 (text)', () => {
  it('TCP4: addresses and ports, the bytes after the CRLF handed back', () => {
    const r = one('PROXY TCP4 192.0.2.10 198.51.100.7 50000 1883\r\n\x10\x0c');
    expect(r).toEqual({
      ok: true,
      header: {
        version: 1,
        command: 'proxy',
        family: 'inet',
        source: { address: '192.0.2.10', port: 50000 },
        destination: { address: '198.51.100.7', port: 1883 },
        length: 47,
      },
      rest: Buffer.from([0x10, 0x0c]),
    });
  });

  it('TCP6: addresses in their RFC 5952 form (as Node shows a peer)', () => {
    const h = header('PROXY TCP6 2001:0DB8:0:0:0:0:0:10 ::FFFF:127.0.0.1 65535 0\r\n');
    expect(h.family).toBe('inet6');
    expect(h.source).toEqual({ address: '2001:db8::10', port: 65535 });
    expect(h.destination).toEqual({ address: '::ffff:127.0.0.1', port: 0 });
  });

  it('UNKNOWN, bare or with whatever follows up to the CRLF: no addresses', () => {
    expect(header('PROXY UNKNOWN\r\n')).toEqual({
      version: 1,
      command: 'proxy',
      family: 'unspec',
      length: 15,
    });
    expect(header('PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n').source).toBeUndefined();
  });

  it('the longest line the spec allows (107 bytes) is read; one byte more is PROXY_V1_TOO_LONG', () => {
    const longest = `PROXY UNKNOWN ${'x'.repeat(V1_MAX_LENGTH - 16)}\r\n`;
    expect(longest.length).toBe(V1_MAX_LENGTH);
    expect(header(longest).length).toBe(V1_MAX_LENGTH);
    const tooLong = `PROXY UNKNOWN ${'x'.repeat(V1_MAX_LENGTH - 15)}\r\n`;
    expect(errorOf(tooLong).code).toBe('PROXY_V1_TOO_LONG');
  });

  it.each([
    ['PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n', /protocol "TCP5", not TCP4, TCP6 or UNKNOWN/],
    ['PROXY UNKNOWNX\r\n', /expected "PROXY TCP4\|TCP6/],
    ['PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n', /expected/],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n', /expected/],
    ['PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n', /source "1.2.3.256" is not an IPv4/],
    ['PROXY TCP4 1.2.3.04 5.6.7.8 1 2\r\n', /source "1.2.3.04" is not an IPv4/],
    ['PROXY TCP4 1.2.3.4 ::1 1 2\r\n', /destination "::1" is not an IPv4/],
    ['PROXY TCP6 1.2.3.4 ::1 1 2\r\n', /source "1.2.3.4" is not an IPv6/],
    ['PROXY TCP6 ::1 1:2:3:4:5:6:7:8:9 1 2\r\n', /destination .* is not an IPv6/],
    ['PROXY TCP6 ::1 1::2::3 1 2\r\n', /destination .* is not an IPv6/],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n', /source port "65536" is not 0..65535/],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 1 01\r\n', /destination port "01"/],
    ['PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n', /protocol "tcp4"/],
    ['PROXY UNKNOWN\t\r\n', /byte 0x09 at offset 13/],
    ['PROXY TCP4 1.2.3.4\r5.6.7.8 1 2\r\n', /byte 0x0d at offset 18/],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n', /LF without CR/],
  ])('%j is PROXY_V1_MALFORMED', (line, message) => {
    const e = errorOf(line);
    expect(e.code).toBe('PROXY_V1_MALFORMED');
    expect(e.message).toMatch(message);
  });
});

describe('PROXY v2 (binary)', () => {
  it('PROXY over AF_INET/STREAM: addresses and ports; the bytes after the block handed back', () => {
    const r = one(Buffer.concat([v2(0x21, 0x11, inetBlock), Buffer.from([0x10])]));
    expect(r).toEqual({
      ok: true,
      header: {
        version: 2,
        command: 'proxy',
        family: 'inet',
        source: { address: '192.0.2.10', port: 50000 },
        destination: { address: '198.51.100.7', port: 1883 },
        length: 28,
      },
      rest: Buffer.from([0x10]),
    });
  });

  it('PROXY over AF_INET6', () => {
    const h = header(v2(0x21, 0x21, inet6Block));
    expect(h.source).toEqual({ address: '2001:db8::10', port: 50000 });
    expect(h.destination).toEqual({ address: '2001:db8::1', port: 1883 });
    expect(h.length).toBe(52);
  });

  it('TLVs after the addresses are skipped, however long, and count in the length', () => {
    const tlvs = Buffer.concat([
      Buffer.from([0x04, 0x00, 0x05]),
      Buffer.from('hello'),
      Buffer.alloc(3000, 7),
    ]);
    const r = one(Buffer.concat([v2(0x21, 0x11, inetBlock, tlvs), Buffer.from('MQTT')]));
    expect(r?.ok && r.header.length).toBe(16 + 12 + tlvs.length);
    expect(r?.ok && r.rest.toString()).toBe('MQTT');
  });

  it('LOCAL (a health check): no addresses, whatever the block holds', () => {
    expect(header(v2(0x20, 0x00, Buffer.alloc(0)))).toEqual({
      version: 2,
      command: 'local',
      family: 'unspec',
      length: 16,
    });
    // The family and length are not held against a LOCAL header: its block is discarded.
    expect(header(v2(0x20, 0x11, Buffer.alloc(0))).source).toBeUndefined();
  });

  it('AF_UNSPEC and AF_UNIX name no TCP peer: no addresses, block skipped', () => {
    expect(header(v2(0x21, 0x00, Buffer.alloc(0))).family).toBe('unspec');
    const unix = header(Buffer.concat([v2(0x21, 0x31, Buffer.alloc(216, 0x41)), Buffer.from('x')]));
    expect(unix).toEqual({ version: 2, command: 'proxy', family: 'unix', length: 232 });
  });

  it.each([
    ['version 1', v2(0x11, 0x11, inetBlock), /version 1, not 2/],
    ['command 2', v2(0x22, 0x11, inetBlock), /command 0x2/],
    ['family 4', v2(0x21, 0x41, inetBlock), /address family 0x4/],
    ['transport 3', v2(0x21, 0x13, inetBlock), /transport protocol 0x3/],
    [
      'a length short of the IPv4 block',
      v2(0x21, 0x11, inetBlock.subarray(0, 11)),
      /length 11 .* 12-byte inet/,
    ],
    ['a length short of the IPv6 block', v2(0x21, 0x21, inetBlock), /length 12 .* 36-byte inet6/],
  ])('%s is PROXY_V2_MALFORMED', (_name, bytes, message) => {
    const e = errorOf(bytes);
    expect(e.code).toBe('PROXY_V2_MALFORMED');
    expect(e.message).toMatch(message);
    expect(e.received).toEqual(bytes.subarray(0, 32));
  });
});

describe('no header, or not all of it', () => {
  it('an MQTT CONNECT is PROXY_HEADER_MISSING at its first byte, its opening bytes shown', () => {
    const connect = Buffer.from('101000044d5154540502003c00000000', 'hex');
    const reader = new ProxyHeaderReader();
    const r = reader.push(connect.subarray(0, 1));
    expect(r?.ok).toBe(false);
    // Given whole, the excerpt shows the packet's opening.
    const e = errorOf(connect);
    expect(e.code).toBe('PROXY_HEADER_MISSING');
    expect(hexExcerpt(e.received)).toBe('10 10 00 04 4d 51 54 54 05 02 00 3c 00 00 00 00');
  });

  it.each([
    ['a TLS ClientHello', Buffer.from('160301', 'hex')],
    ['HTTP', Buffer.from('GET / HTTP/1.1\r\n')],
    ['"PROXY" without its space', Buffer.from('PROXYX')],
    ['a v2 signature wrong at its 12th byte', Buffer.concat([SIG.subarray(0, 11), Buffer.from([0x0b])])],
  ])('%s is PROXY_HEADER_MISSING', (_name, bytes) => {
    expect(errorOf(bytes).code).toBe('PROXY_HEADER_MISSING');
  });

  it('a line that cannot become valid fails at its first wrong byte, without waiting for the CRLF', () => {
    expect(one('PROXY TCP4 1.2.3.4\x00')).toMatchObject({ ok: false, error: { code: 'PROXY_V1_MALFORMED' } });
    expect(one('PROXY X')).toMatchObject({ ok: false, error: { code: 'PROXY_V1_MALFORMED' } });
    expect(new ProxyHeaderReader().push(Buffer.from('PROXY TCP'))).toBeUndefined();
    expect(new ProxyHeaderReader().push(Buffer.from('PROXY UNKNOWN'))).toBeUndefined();
    expect(one(Buffer.concat([SIG, Buffer.from([0x31])]))).toMatchObject({
      ok: false,
      error: { code: 'PROXY_V2_MALFORMED' },
    });
  });

  it('a stream that ends before any byte: PROXY_HEADER_MISSING; inside a header: PROXY_HEADER_INCOMPLETE', () => {
    expect(new ProxyHeaderReader().end()).toMatchObject({
      ok: false,
      error: { code: 'PROXY_HEADER_MISSING', received: Buffer.alloc(0) },
    });
    const reader = new ProxyHeaderReader();
    expect(reader.push(Buffer.from('PROXY TCP4 1.2'))).toBeUndefined();
    expect(reader.end()).toMatchObject({
      ok: false,
      error: { code: 'PROXY_HEADER_INCOMPLETE', message: expect.stringMatching(/after 14 bytes/) },
    });
    const tlvs = new ProxyHeaderReader();
    expect(tlvs.push(v2(0x21, 0x11, inetBlock, Buffer.alloc(100)).subarray(0, 60))).toBeUndefined();
    expect(tlvs.end()).toMatchObject({
      ok: false,
      error: { message: expect.stringMatching(/after 60 bytes/) },
    });
  });

  it('a reader gives one result: pushing after it is a programming error', () => {
    const reader = new ProxyHeaderReader();
    reader.push(Buffer.from('PROXY UNKNOWN\r\n'));
    expect(() => reader.push(Buffer.from('x'))).toThrow(/after the result/);
    expect(reader.end()).toBeUndefined();
  });
});

describe('encodeProxyHeader', () => {
  const c4: ProxyEndpoint = { address: '192.0.2.10', port: 50000 };
  const d4: ProxyEndpoint = { address: '198.51.100.7', port: 1883 };

  it('v1 and v2 for IPv4, byte for byte', () => {
    expect(encodeProxyHeader(1, c4, d4).toString('latin1')).toBe(
      'PROXY TCP4 192.0.2.10 198.51.100.7 50000 1883\r\n',
    );
    expect(encodeProxyHeader(2, c4, d4)).toEqual(v2(0x21, 0x11, inetBlock));
  });

  it('v1 and v2 for IPv6', () => {
    const c6 = { address: '2001:db8::10', port: 50000 };
    const d6 = { address: '2001:db8::1', port: 1883 };
    expect(encodeProxyHeader(1, c6, d6).toString('latin1')).toBe(
      'PROXY TCP6 2001:db8::10 2001:db8::1 50000 1883\r\n',
    );
    expect(encodeProxyHeader(2, c6, d6)).toEqual(v2(0x21, 0x21, inet6Block));
  });

  it('IPv4-mapped addresses (a dual-stack listener) go as IPv4; a mixed pair as IPv6', () => {
    const mapped = { address: '::ffff:192.0.2.10', port: 50000 };
    expect(encodeProxyHeader(1, mapped, d4).toString('latin1')).toBe(
      'PROXY TCP4 192.0.2.10 198.51.100.7 50000 1883\r\n',
    );
    expect(encodeProxyHeader(1, c4, { address: '::1', port: 1 }).toString('latin1')).toBe(
      'PROXY TCP6 ::ffff:192.0.2.10 ::1 50000 1\r\n',
    );
  });

  it('an address that is no IP literal: the header that names none', () => {
    const none = { address: '', port: 0 };
    expect(encodeProxyHeader(1, none, d4).toString('latin1')).toBe('PROXY UNKNOWN\r\n');
    expect(encodeProxyHeader(2, c4, none)).toEqual(v2(0x21, 0x00, Buffer.alloc(0)));
    expect(encodeProxyHeader(2, { address: 'fe80::1%eth0', port: 1 }, d4)).toEqual(
      v2(0x21, 0x00, Buffer.alloc(0)),
    );
  });
});

// --- properties ---------------------------------------------------------------------------------

const ipv4 = fc.ipV4();
const ipv6 = fc.ipV6();
const port = fc.integer({ min: 0, max: 65535 });
const endpoint = (address: fc.Arbitrary<string>) => fc.record({ address, port });
const pair = fc.oneof(
  fc.tuple(endpoint(ipv4), endpoint(ipv4)),
  fc.tuple(endpoint(ipv6), endpoint(ipv6)),
  fc.tuple(endpoint(ipv4), endpoint(ipv6)),
);

/** Cuts `bytes` at the given offsets (sorted, deduplicated, in range). */
function cut(bytes: Buffer, offsets: number[]): Buffer[] {
  const at = [...new Set(offsets.map((o) => o % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const o of [...at, bytes.length]) {
    out.push(bytes.subarray(prev, o));
    prev = o;
  }
  return out;
}

/** Node's own text form of an address (inet_ntop), the form `remoteAddress` has. */
const nodeForm = (address: string): string =>
  new SocketAddress({ address, family: address.includes(':') ? 'ipv6' : 'ipv4' }).address;

describe('properties', () => {
  it("encode then read gives the endpoints back in Node's form, whatever the chunking", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(1 as const, 2 as const),
        pair,
        fc.uint8Array({ maxLength: 64 }),
        fc.array(fc.nat(), { maxLength: 8 }),
        (version, [src, dst], trailing, offsets) => {
          const hdr = encodeProxyHeader(version, src, dst);
          const stream = Buffer.concat([hdr, trailing]);
          const { result, after } = feed(cut(stream, offsets));
          expect(result?.ok).toBe(true);
          if (!result?.ok) return;
          expect(result.header.length).toBe(hdr.length);
          expect(after).toEqual(Buffer.from(trailing));
          const mixed = src.address.includes(':') !== dst.address.includes(':');
          // A mixed pair travels as IPv6 with the IPv4 side mapped.
          const shown = (a: string): string => nodeForm(mixed && !a.includes(':') ? `::ffff:${a}` : a);
          expect(result.header.source).toEqual({ address: shown(src.address), port: src.port });
          expect(result.header.destination).toEqual({ address: shown(dst.address), port: dst.port });
        },
      ),
    );
  });

  it('v2 with random TLV bytes: the same header and trailing bytes at every single split', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.uint8Array({ maxLength: 20 }), (tlvs, trailing) => {
        const stream = Buffer.concat([v2(0x21, 0x11, inetBlock, Buffer.from(tlvs)), trailing]);
        const whole = outcome([stream]);
        for (let i = 0; i <= stream.length; i++) {
          expect(outcome([stream.subarray(0, i), stream.subarray(i)])).toEqual(whole);
        }
        expect(whole.after).toEqual(Buffer.from(trailing));
      }),
      { numRuns: 30 },
    );
  });

  it('byte by byte, every table header reads the same as whole', () => {
    const streams = [
      Buffer.from('PROXY TCP6 2001:db8::10 ::ffff:127.0.0.1 1 2\r\nrest'),
      Buffer.from('PROXY UNKNOWN\r\n'),
      Buffer.concat([v2(0x21, 0x21, inet6Block, Buffer.alloc(9, 1)), Buffer.from('rest')]),
      v2(0x20, 0x00, Buffer.alloc(0)),
      Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n'),
      v2(0x21, 0x21, inetBlock),
    ];
    for (const s of streams) {
      expect(outcome([...s].map((b) => Buffer.from([b])))).toEqual(outcome([s]));
    }
  });

  it('random bytes never throw, and a result comes within 16 + 65535 bytes or at the end', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 200 }),
          fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.concat([Buffer.from('PROXY '), b])),
          fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.concat([SIG, b])),
        ),
        fc.array(fc.nat(), { maxLength: 6 }),
        (bytes, offsets) => {
          const { result } = feed(cut(Buffer.from(bytes), offsets));
          expect(result).toBeDefined();
          if (result !== undefined && !result.ok)
            expect(result.error.received.length).toBeLessThanOrEqual(32);
        },
      ),
    );
  });

  it('formatIPv6 writes what Node writes, and parseIPv6 reads it back', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.nat(7), fc.nat(8), (raw, at, zeros) => {
        // Runs of zero groups are the interesting case: make some.
        const b = Uint8Array.from(raw);
        b.fill(0, 2 * at, Math.min(16, 2 * (at + zeros)));
        const text = formatIPv6(b);
        expect(text).toBe(nodeForm(text));
        expect(parseIPv6(text)).toEqual(b);
      }),
    );
  });
});
