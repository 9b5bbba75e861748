import { describe, expect, it } from 'vitest';
import { LINKTYPE } from '../../src/observe/pcap-format.js';
import { type Segment, TcpConversation } from '../../src/observe/pcapng-writer.js';
import { type CapturedPacket, decodeTcp, formatIPv6, parseCapture } from '../../src/replay/pcap-reader.js';

/** Ethernet frames of a small conversation, from the writer (already checked against tshark). */
function frames(v6 = false): Buffer[] {
  const conv = new TcpConversation(
    { address: v6 ? '2001:db8::10' : '10.0.0.1', port: 40_001 },
    { address: v6 ? '2001:db8::1' : '10.0.0.2', port: 1883 },
    { client: 100, broker: 200 },
  );
  const segs: Segment[] = [
    conv.syn(1),
    ...conv.accept(2),
    ...conv.data(
      'client',
      Buffer.from('10 0c 00 04 4d 51 54 54 04 02 00 3c 00 00'.replace(/ /g, ''), 'hex'),
      3,
    ),
    ...conv.data('broker', Buffer.from('20020000', 'hex'), 4),
  ];
  return segs.map((s) => {
    const b = Buffer.alloc(conv.path.blockLength(s));
    conv.path.writeBlock(b, 0, s);
    return b.subarray(28, 28 + b.readUInt32LE(20));
  });
}

function pcap(frameList: Buffer[], opts: { le: boolean; nano: boolean; linkType: number }): Buffer {
  const u32 = (v: number): Buffer => {
    const b = Buffer.alloc(4);
    if (opts.le) b.writeUInt32LE(v);
    else b.writeUInt32BE(v);
    return b;
  };
  const u16 = (v: number): Buffer => {
    const b = Buffer.alloc(2);
    if (opts.le) b.writeUInt16LE(v);
    else b.writeUInt16BE(v);
    return b;
  };
  const parts = [
    u32(opts.nano ? 0xa1b23c4d : 0xa1b2c3d4),
    u16(2),
    u16(4),
    u32(0),
    u32(0),
    u32(65_535),
    u32(opts.linkType),
  ];
  frameList.forEach((f, i) => {
    parts.push(
      u32(1_700_000_000 + i),
      u32(opts.nano ? 123_456_789 : 123_456),
      u32(f.length),
      u32(f.length),
      f,
    );
  });
  return Buffer.concat(parts);
}

/** Re-frames an Ethernet frame for another link type. */
function relink(frame: Buffer, linkType: number): Buffer {
  const ethertype = frame.readUInt16BE(12);
  const ip = frame.subarray(14);
  const v4 = ethertype === 0x0800;
  switch (linkType) {
    case LINKTYPE.LINUX_SLL: {
      const h = Buffer.alloc(16);
      h.writeUInt16BE(0, 0);
      h.writeUInt16BE(772, 2);
      h.writeUInt16BE(6, 4);
      h.writeUInt16BE(ethertype, 14);
      return Buffer.concat([h, ip]);
    }
    case LINKTYPE.LINUX_SLL2: {
      const h = Buffer.alloc(20);
      h.writeUInt16BE(ethertype, 0);
      h.writeUInt32BE(1, 4);
      h.writeUInt16BE(772, 8);
      return Buffer.concat([h, ip]);
    }
    case LINKTYPE.RAW:
      return Buffer.from(ip);
    case LINKTYPE.NULL: {
      const h = Buffer.alloc(4);
      h.writeUInt32LE(v4 ? 2 : 30);
      return Buffer.concat([h, ip]);
    }
    case LINKTYPE.LOOP: {
      const h = Buffer.alloc(4);
      h.writeUInt32BE(v4 ? 2 : 24);
      return Buffer.concat([h, ip]);
    }
    default: {
      // Ethernet with an 802.1Q tag.
      const h = Buffer.alloc(18);
      frame.copy(h, 0, 0, 12);
      h.writeUInt16BE(0x8100, 12);
      h.writeUInt16BE(42, 14);
      h.writeUInt16BE(ethertype, 16);
      return Buffer.concat([h, ip]);
    }
  }
}

function payloads(events: ReturnType<typeof parseCapture>): string[] {
  return events
    .filter((e): e is CapturedPacket => e.kind === 'packet')
    .map((p) => {
      const d = decodeTcp(p.linkType, p.data);
      if (d.kind !== 'tcp') throw new Error(d.reason);
      return `${d.segment.src.address}:${d.segment.src.port}>${d.segment.dst.port} ${d.segment.flags} ${d.segment.payload.toString('hex')}`;
    });
}

describe('pcap reader', () => {
  const expected = payloads(
    parseCapture(pcap(frames(), { le: true, nano: false, linkType: LINKTYPE.ETHERNET })),
  );

  it.each([
    { le: true, nano: false },
    { le: false, nano: false },
    { le: true, nano: true },
    { le: false, nano: true },
  ])('classic pcap, little-endian $le, nanoseconds $nano', (o) => {
    const events = parseCapture(pcap(frames(), { ...o, linkType: LINKTYPE.ETHERNET }));
    expect(events.every((e) => e.kind === 'packet')).toBe(true);
    expect(events.map((e) => (e as CapturedPacket).tsUs)).toEqual(
      [0, 1, 2, 3, 4].map((i) => (1_700_000_000 + i) * 1e6 + 123_456),
    );
    expect(payloads(events)).toEqual(expected);
    expect(expected[3]).toContain('10.0.0.1:40001>1883 24 100c00044d51545404');
  });

  it.each([
    ['Linux cooked (SLL)', LINKTYPE.LINUX_SLL],
    ['Linux cooked v2 (SLL2)', LINKTYPE.LINUX_SLL2],
    ['raw IP', LINKTYPE.RAW],
    ['BSD null loopback', LINKTYPE.NULL],
    ['OpenBSD loop', LINKTYPE.LOOP],
    ['Ethernet with a VLAN tag', LINKTYPE.ETHERNET],
  ])('link type %s, IPv4 and IPv6', (_name, linkType) => {
    for (const v6 of [false, true]) {
      const ref = payloads(
        parseCapture(pcap(frames(v6), { le: true, nano: false, linkType: LINKTYPE.ETHERNET })),
      );
      const file = pcap(
        frames(v6).map((f) => relink(f, linkType)),
        { le: true, nano: false, linkType },
      );
      expect(payloads(parseCapture(file))).toEqual(ref);
    }
  });

  it('pcapng: big-endian section, nanosecond and binary tsresol, if_tsoffset, SPB, obsolete PB, second section', () => {
    const f = frames();
    const be = (type: number, body: Buffer): Buffer => {
      const total = 12 + body.length;
      const b = Buffer.alloc(total);
      b.writeUInt32BE(type, 0);
      b.writeUInt32BE(total, 4);
      body.copy(b, 8);
      b.writeUInt32BE(total, total - 4);
      return b;
    };
    const pad = (b: Buffer): Buffer => Buffer.concat([b, Buffer.alloc((4 - (b.length % 4)) % 4)]);
    const shb = be(0x0a0d0d0a, Buffer.from('1a2b3c4d00010000ffffffffffffffff', 'hex'));
    // IDB 0: Ethernet, tsresol 10^-9; IDB 1: Ethernet, tsresol 2^-10, tsoffset 100 s.
    const idb0 = be(1, Buffer.from('0001000000040000' + '0009000109000000' + '00000000', 'hex'));
    const idb1 = be(
      1,
      Buffer.from(
        '0001000000040000' + '000900018a000000' + '000e0008' + '0000000000000064' + '00000000',
        'hex',
      ),
    );
    const epb = (iface: number, ticks: bigint, frame: Buffer): Buffer => {
      const h = Buffer.alloc(20);
      h.writeUInt32BE(iface, 0);
      h.writeUInt32BE(Number(ticks >> 32n), 4);
      h.writeUInt32BE(Number(ticks & 0xffffffffn), 8);
      h.writeUInt32BE(frame.length, 12);
      h.writeUInt32BE(frame.length, 16);
      return be(6, Buffer.concat([h, pad(frame)]));
    };
    const spb = (frame: Buffer): Buffer => {
      const h = Buffer.alloc(4);
      h.writeUInt32BE(frame.length);
      return be(3, Buffer.concat([h, pad(frame)]));
    };
    const opb = (frame: Buffer): Buffer => {
      const h = Buffer.alloc(20);
      h.writeUInt16BE(0, 0);
      h.writeUInt32BE(0, 4);
      h.writeUInt32BE(5_000, 8);
      h.writeUInt32BE(frame.length, 12);
      h.writeUInt32BE(frame.length, 16);
      return be(2, Buffer.concat([h, pad(frame)]));
    };
    // A second section, little-endian, with its own interface numbering.
    const le = Buffer.concat([
      Buffer.from('0a0d0d0a1c0000004d3c2b1a01000000ffffffffffffffff1c000000', 'hex'),
      Buffer.from('01000000140000000100000000000400' + '14000000', 'hex'),
      (() => {
        const total = 32 + 4 + ((f[4]!.length + 3) & ~3);
        const b = Buffer.alloc(total);
        b.writeUInt32LE(6, 0);
        b.writeUInt32LE(total, 4);
        b.writeUInt32LE(0, 8);
        b.writeUInt32LE(0, 12);
        b.writeUInt32LE(77, 16);
        b.writeUInt32LE(f[4]!.length, 20);
        b.writeUInt32LE(f[4]!.length, 24);
        f[4]!.copy(b, 28);
        b.writeUInt32LE(total, total - 4);
        return b;
      })(),
    ]);
    const file = Buffer.concat([
      shb,
      idb0,
      idb1,
      epb(0, 1_700_000_000_123_456_789n, f[0]!),
      epb(1, 1024n * 5n + 512n, f[1]!),
      spb(f[2]!),
      opb(f[3]!),
      le,
    ]);
    const events = parseCapture(file);
    expect(events.every((e) => e.kind === 'packet')).toBe(true);
    const ts = events.map((e) => (e as CapturedPacket).tsUs);
    expect(ts).toEqual([1_700_000_000_123_456, 105_500_000, 105_500_000, 5, 77]);
    expect(payloads(events)).toEqual(expected);
  });

  it('a corrupt block (lengths that disagree) stops the file with a warning', () => {
    const conv = new TcpConversation({ address: '10.0.0.1', port: 1 }, { address: '10.0.0.2', port: 2 });
    const seg = conv.syn(1);
    const b = Buffer.alloc(conv.path.blockLength(seg));
    conv.path.writeBlock(b, 0, seg);
    b.writeUInt32LE(12, b.length - 4);
    const events = parseCapture(Buffer.concat([pcapngHeader(), b]));
    expect(events).toEqual([expect.objectContaining({ kind: 'warning', code: 'CAPTURE_CORRUPT' })]);
  });

  it('not a capture at all', () => {
    expect(parseCapture(Buffer.from('hello world, not a capture'))).toEqual([
      expect.objectContaining({ kind: 'warning', code: 'CAPTURE_UNKNOWN_FORMAT' }),
    ]);
  });

  it('formats IPv6 addresses as Node does', () => {
    const f = (h: string): string => formatIPv6(Buffer.from(h, 'hex'), 0);
    expect(f('00000000000000000000000000000001')).toBe('::1');
    expect(f('20010db8000000010000000000000001')).toBe('2001:db8:0:1::1');
    expect(f('00000000000000000000ffff7f000001')).toBe('::ffff:127.0.0.1');
    expect(f('fe800000000000000000000000000000')).toBe('fe80::');
  });
});

function pcapngHeader(): Buffer {
  return Buffer.from(
    '0a0d0d0a1c0000004d3c2b1a01000000ffffffffffffffff1c000000' +
      '01000000140000000100000000000400' +
      '14000000',
    'hex',
  );
}
