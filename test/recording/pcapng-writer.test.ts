import { describe, expect, it } from 'vitest';
import { TCP } from '../../src/observe/pcap-format.js';
import {
  fileHeader,
  ipBytes,
  pairAddresses,
  type Segment,
  TcpConversation,
} from '../../src/observe/pcapng-writer.js';
import {
  type CapturedPacket,
  decodeTcp,
  parseCapture,
  type TcpSegment,
} from '../../src/replay/pcap-reader.js';

function blocks(conv: TcpConversation, segs: Segment[]): Buffer {
  const parts = [fileHeader({ userAppl: 'test' })];
  for (const seg of segs) {
    const out = Buffer.alloc(conv.path.blockLength(seg));
    expect(conv.path.writeBlock(out, 0, seg)).toBe(out.length);
    expect(out.length % 4).toBe(0);
    parts.push(out);
  }
  return Buffer.concat(parts);
}

function packets(file: Buffer): CapturedPacket[] {
  const events = parseCapture(file);
  for (const e of events) expect(e.kind, JSON.stringify(e)).toBe('packet');
  return events as CapturedPacket[];
}

function tcpOf(p: CapturedPacket): TcpSegment {
  const d = decodeTcp(p.linkType, p.data);
  if (d.kind !== 'tcp') throw new Error(`not TCP: ${d.reason}`);
  return d.segment;
}

/** RFC 1071 checksum, written independently of the writer's. */
function checksum(bytes: Buffer): number {
  let sum = 0;
  for (let i = 0; i < bytes.length; i += 2) sum += (bytes[i]! << 8) | (bytes[i + 1] ?? 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

/** True when the IP header and TCP checksums of an Ethernet frame verify. */
function checksumsOk(frame: Buffer): boolean {
  const ethertype = frame.readUInt16BE(12);
  if (ethertype === 0x0800) {
    const ip = frame.subarray(14, 14 + 20);
    if (checksum(ip) !== 0xffff) return false;
    const total = ip.readUInt16BE(2);
    const tcp = frame.subarray(34, 14 + total);
    const pseudo = Buffer.alloc(12);
    ip.copy(pseudo, 0, 12, 20);
    pseudo[9] = 6;
    pseudo.writeUInt16BE(tcp.length, 10);
    return checksum(Buffer.concat([pseudo, tcp])) === 0xffff;
  }
  const ip = frame.subarray(14, 54);
  const tcp = frame.subarray(54, 54 + ip.readUInt16BE(4));
  const pseudo = Buffer.alloc(40);
  ip.copy(pseudo, 0, 8, 40);
  pseudo.writeUInt32BE(tcp.length, 32);
  pseudo[39] = 6;
  return checksum(Buffer.concat([pseudo, tcp])) === 0xffff;
}

const CLIENT = { address: '192.0.2.10', port: 51_234 };
const BROKER = { address: '198.51.100.7', port: 1883 };

describe('pcapng writer → reader round trip', () => {
  it('handshake, data both ways, FIN close: addresses, ports, flags, seq/ack, timestamps, checksums', () => {
    const conv = new TcpConversation(CLIENT, BROKER, { client: 1000, broker: 0xffff_fff0 });
    const t0 = 1_764_184_852_123_456;
    const connect = Buffer.from('101000044d5154540402003c00046e616d65', 'hex');
    const connack = Buffer.from('20020000', 'hex');
    const syn = conv.syn(t0);
    syn.comments = ['mqtt-tap open {"conn":"c1"}', 'second'];
    const segs = [
      syn,
      ...conv.accept(t0 + 1),
      ...conv.data('client', connect, t0 + 2),
      ...conv.data('broker', connack, t0 + 3),
      ...conv.finish('client', t0 + 4),
    ];
    const pkts = packets(blocks(conv, segs));
    expect(pkts.map((p) => p.tsUs)).toEqual([t0, t0 + 1, t0 + 1, t0 + 2, t0 + 3, t0 + 4, t0 + 4, t0 + 4]);
    expect(pkts[0]!.comments).toEqual(['mqtt-tap open {"conn":"c1"}', 'second']);
    for (const p of pkts) expect(checksumsOk(p.data)).toBe(true);
    const t = pkts.map(tcpOf);
    expect(t.map((s) => s.flags)).toEqual([
      TCP.SYN,
      TCP.SYN | TCP.ACK,
      TCP.ACK,
      TCP.ACK | TCP.PSH,
      TCP.ACK | TCP.PSH,
      TCP.FIN | TCP.ACK,
      TCP.FIN | TCP.ACK,
      TCP.ACK,
    ]);
    expect(t[0]).toMatchObject({ src: CLIENT, dst: BROKER, seq: 1000 });
    expect(t[1]).toMatchObject({ src: BROKER, dst: CLIENT, seq: 0xffff_fff0, ack: 1001 });
    expect(t[3]).toMatchObject({ seq: 1001, ack: 0xffff_fff1, length: connect.length });
    expect(t[3]!.payload.equals(connect)).toBe(true);
    // The broker's sequence numbers wrap past 2^32.
    expect(t[4]).toMatchObject({ seq: 0xffff_fff1, ack: 1001 + connect.length });
    expect(t[5]).toMatchObject({ seq: 1001 + connect.length, ack: 0xffff_fff5 });
    expect(t[6]).toMatchObject({ seq: 0xffff_fff5, ack: 1002 + connect.length });
    expect(t[7]).toMatchObject({ seq: 1002 + connect.length, ack: 0xffff_fff6 });
  });

  it('splits a chunk larger than an IPv4 packet into segments of at most 65,495 bytes', () => {
    const conv = new TcpConversation(CLIENT, BROKER, { client: 5, broker: 9 });
    const big = Buffer.alloc(200_000);
    for (let i = 0; i < big.length; i++) big[i] = i & 0xff;
    const segs = [conv.syn(1), ...conv.accept(2), ...conv.data('client', big, 3)];
    const pkts = packets(blocks(conv, segs)).slice(3);
    const t = pkts.map(tcpOf);
    expect(t.map((s) => s.payload.length)).toEqual([65_495, 65_495, 65_495, 200_000 - 3 * 65_495]);
    expect(t.map((s) => s.seq)).toEqual([6, 6 + 65_495, 6 + 2 * 65_495, 6 + 3 * 65_495]);
    expect(Buffer.concat(t.map((s) => s.payload)).equals(big)).toBe(true);
    for (const p of pkts) {
      expect(p.data.readUInt16BE(16)).toBeLessThanOrEqual(65_535);
      expect(checksumsOk(p.data)).toBe(true);
    }
  });

  it('IPv6 endpoints (IPv4-mapped addresses join them as ::ffff:a.b.c.d), RST close', () => {
    const conv = new TcpConversation(
      { address: '::1', port: 40_000 },
      { address: '::ffff:127.0.0.1', port: 1884 },
    );
    expect(conv.path.family).toBe(6);
    const big = Buffer.alloc(70_000, 0x31);
    const segs = [conv.syn(1), ...conv.accept(2), ...conv.data('broker', big, 3), conv.reset('client', 4)];
    const pkts = packets(blocks(conv, segs));
    for (const p of pkts) expect(checksumsOk(p.data)).toBe(true);
    const t = pkts.map(tcpOf);
    expect(t[0]).toMatchObject({
      src: { address: '::1', port: 40_000 },
      dst: { address: '::ffff:127.0.0.1' },
    });
    expect(t.slice(3, 5).map((s) => s.payload.length)).toEqual([65_515, 70_000 - 65_515]);
    expect(t[5]!.flags).toBe(TCP.RST | TCP.ACK);
  });

  it('a one-way flow gets pure ACKs from the receiver before its window could fill', () => {
    const conv = new TcpConversation(CLIENT, BROKER, { client: 0, broker: 0 });
    const chunk = Buffer.alloc(1024 * 1024);
    const segs: Segment[] = [];
    for (let i = 0; i < 12; i++) segs.push(...conv.data('client', chunk, i));
    const acks = segs.filter((s) => s.from === 'broker');
    expect(acks.length).toBeGreaterThanOrEqual(2);
    for (const a of acks) expect(a.flags).toBe(TCP.ACK);
  });

  it('addresses: IPv4, IPv6 with :: and dotted tails, hostnames fall back to loopback', () => {
    expect(ipBytes('10.1.2.3')).toEqual(Buffer.from([10, 1, 2, 3]));
    expect(ipBytes('2001:db8::1')!.toString('hex')).toBe('20010db8000000000000000000000001');
    expect(ipBytes('::ffff:192.0.2.1')!.toString('hex')).toBe('00000000000000000000ffffc0000201');
    expect(ipBytes('fe80::1%eth0')!.toString('hex')).toBe('fe800000000000000000000000000001');
    expect(ipBytes('broker.example')).toBeUndefined();
    expect(pairAddresses('::ffff:10.0.0.1', 'broker.example')).toEqual({
      family: 4,
      a: Buffer.from([10, 0, 0, 1]),
      b: Buffer.from([127, 0, 0, 1]),
    });
    const v6 = pairAddresses('::1', 'broker.example');
    expect(v6.family).toBe(6);
    expect(v6.b.toString('hex')).toBe('00000000000000000000000000000001');
  });

  it('a file cut anywhere inside its last block reads up to the block before, with a warning', () => {
    const conv = new TcpConversation(CLIENT, BROKER, { client: 0, broker: 0 });
    const segs = [conv.syn(1), ...conv.accept(2), ...conv.data('client', Buffer.alloc(100, 1), 3)];
    const file = blocks(conv, segs);
    const lastLen = conv.path.blockLength(segs[segs.length - 1]!);
    for (let cut = file.length - lastLen + 1; cut < file.length; cut++) {
      const events = parseCapture(file.subarray(0, cut));
      expect(events.filter((e) => e.kind === 'packet')).toHaveLength(segs.length - 1);
      const last = events[events.length - 1]!;
      expect(last).toMatchObject({
        kind: 'warning',
        code: 'CAPTURE_TRUNCATED',
        offset: file.length - lastLen,
      });
    }
  });
});
