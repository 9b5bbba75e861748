/**
 * pcapng encoding (the IETF draft "PCAP Next Generation Dump File Format", blocks §4) and the
 * Ethernet/IPv4/IPv6/TCP framing that lets Wireshark, tshark and tcpdump reassemble a proxied MQTT
 * stream as if it had been captured on the wire.
 *
 * Pure: no I/O, no clock. Every block is written whole into a caller-provided buffer, so a file
 * only ever grows by whole blocks (a crash leaves at most one partial block at the end).
 * Everything is written little-endian; the Section Header's byte-order magic says so to readers.
 */
import { isIPv4, isIPv6 } from 'node:net';
import type { Direction, Endpoint } from './observer.js';
import { BLOCK, BYTE_ORDER_MAGIC, LINKTYPE, OPTION, TCP } from './pcap-format.js';

/** libpcap's MAXIMUM_SNAPLEN; our frames never exceed 14 + 65,535 bytes. */
const SNAPLEN = 262_144;

/** Window scale announced in the SYNs (Linux loopback uses 7); with a 0xffff field: 8 MiB. */
const WINDOW_SHIFT = 7;
const WINDOW_FIELD = 0xffff;
/** The receiver acknowledges with a pure ACK before a one-way flow reaches half the window. */
const ACK_EVERY = (WINDOW_FIELD << WINDOW_SHIFT) >>> 1;

const pad4 = (n: number): number => (n + 3) & ~3;

// --- options --------------------------------------------------------------------------------------

interface Option {
  code: number;
  value: Buffer;
}

function optionsLength(options: readonly Option[]): number {
  if (options.length === 0) return 0;
  let n = 4; // opt_endofopt
  for (const o of options) n += 4 + pad4(o.value.length);
  return n;
}

function writeOptions(out: Buffer, at: number, options: readonly Option[]): number {
  if (options.length === 0) return at;
  for (const o of options) {
    out.writeUInt16LE(o.code, at);
    out.writeUInt16LE(o.value.length, at + 2);
    o.value.copy(out, at + 4);
    const end = at + 4 + o.value.length;
    at += 4 + pad4(o.value.length);
    out.fill(0, end, at);
  }
  out.writeUInt16LE(OPTION.END, at);
  out.writeUInt16LE(0, at + 2);
  return at + 4;
}

/** A block: type, total length, `body`, options, total length again. */
function block(type: number, body: Buffer, options: readonly Option[]): Buffer {
  const total = 12 + pad4(body.length) + optionsLength(options);
  const out = Buffer.alloc(total);
  out.writeUInt32LE(type, 0);
  out.writeUInt32LE(total, 4);
  body.copy(out, 8);
  writeOptions(out, 8 + pad4(body.length), options);
  out.writeUInt32LE(total, total - 4);
  return out;
}

const text = (s: string): Buffer => Buffer.from(s, 'utf8');

/** Section Header Block (§4.1): byte-order magic, version 1.0, section length unknown (-1). */
export function sectionHeaderBlock(opts: { userAppl?: string; comment?: string } = {}): Buffer {
  const body = Buffer.alloc(16);
  body.writeUInt32LE(BYTE_ORDER_MAGIC, 0);
  body.writeUInt16LE(1, 4);
  body.writeUInt16LE(0, 6);
  body.writeInt32LE(-1, 8);
  body.writeInt32LE(-1, 12);
  const options: Option[] = [];
  if (opts.comment !== undefined) options.push({ code: OPTION.COMMENT, value: text(opts.comment) });
  if (opts.userAppl !== undefined) options.push({ code: OPTION.SHB_USERAPPL, value: text(opts.userAppl) });
  return block(BLOCK.SHB, body, options);
}

/** Interface Description Block (§4.2): Ethernet, timestamps in microseconds (if_tsresol = 6). */
export function interfaceDescriptionBlock(opts: { name?: string; description?: string } = {}): Buffer {
  const body = Buffer.alloc(8);
  body.writeUInt16LE(LINKTYPE.ETHERNET, 0);
  body.writeUInt16LE(0, 2);
  body.writeUInt32LE(SNAPLEN, 4);
  const options: Option[] = [];
  if (opts.name !== undefined) options.push({ code: OPTION.IF_NAME, value: text(opts.name) });
  if (opts.description !== undefined)
    options.push({ code: OPTION.IF_DESCRIPTION, value: text(opts.description) });
  options.push({ code: OPTION.IF_TSRESOL, value: Buffer.from([6]) });
  return block(BLOCK.IDB, body, options);
}

/** The SHB and IDB every file starts with. */
export function fileHeader(opts: { userAppl?: string; comment?: string; ifName?: string } = {}): Buffer {
  return Buffer.concat([
    sectionHeaderBlock(opts),
    interfaceDescriptionBlock(opts.ifName === undefined ? {} : { name: opts.ifName }),
  ]);
}

// --- addresses ------------------------------------------------------------------------------------

/** An IP address as bytes: 4 for IPv4, 16 for IPv6. */
export function ipBytes(address: string): Buffer | undefined {
  if (isIPv4(address)) return Buffer.from(address.split('.').map(Number));
  if (!isIPv6(address)) return undefined;
  let text = address;
  const zone = text.indexOf('%');
  if (zone !== -1) text = text.slice(0, zone);
  // A dotted IPv4 tail (`::ffff:1.2.3.4`) stands for the last two groups.
  let tail: [number, number] | undefined;
  const lastColon = text.lastIndexOf(':');
  const maybeV4 = text.slice(lastColon + 1);
  if (isIPv4(maybeV4)) {
    const b = maybeV4.split('.').map(Number);
    tail = [(b[0]! << 8) | b[1]!, (b[2]! << 8) | b[3]!];
    text = `${text.slice(0, lastColon + 1)}0:0`;
  }
  const [head, rest] = text.split('::') as [string, string | undefined];
  const parse = (s: string): number[] => (s === '' ? [] : s.split(':').map((h) => Number.parseInt(h, 16)));
  const left = parse(head);
  const right = rest === undefined ? [] : parse(rest);
  const groups =
    rest === undefined
      ? left
      : [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
  if (tail !== undefined) groups.splice(6, 2, tail[0], tail[1]);
  const out = Buffer.alloc(16);
  for (let i = 0; i < 8; i++) out.writeUInt16BE(groups[i] ?? 0, i * 2);
  return out;
}

const V4_MAPPED_PREFIX = Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff]);

/** The IPv4 address inside an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`), else undefined. */
function unmapV4(bytes: Buffer): Buffer | undefined {
  if (bytes.length !== 16 || !bytes.subarray(0, 12).equals(V4_MAPPED_PREFIX)) return undefined;
  return bytes.subarray(12);
}

/**
 * Both ends in one IP version: IPv4 when both are (or map to) IPv4, else IPv6 with IPv4 mapped.
 * Non-literal addresses (a hostname upstream) fall back to the loopback of the chosen family.
 */
export function pairAddresses(a: string, b: string): { family: 4 | 6; a: Buffer; b: Buffer } {
  const norm = (s: string): Buffer | undefined => {
    const raw = ipBytes(s);
    return raw === undefined ? undefined : (unmapV4(raw) ?? raw);
  };
  const ra = norm(a);
  const rb = norm(b);
  const v6 = (ra !== undefined && ra.length === 16) || (rb !== undefined && rb.length === 16);
  if (!v6) {
    return { family: 4, a: ra ?? Buffer.from([127, 0, 0, 1]), b: rb ?? Buffer.from([127, 0, 0, 1]) };
  }
  const to6 = (x: Buffer | undefined): Buffer =>
    x === undefined ? ipBytes('::1')! : x.length === 16 ? x : Buffer.concat([V4_MAPPED_PREFIX, x]);
  return { family: 6, a: to6(ra), b: to6(rb) };
}

// --- checksums ------------------------------------------------------------------------------------

/** Adds the big-endian 16-bit words of buf[start, end) to `sum` (odd tail padded with zero). */
export function sum16(buf: Buffer, start: number, end: number, sum = 0): number {
  let i = start;
  // Fold every 16 Ki words so the sum stays a small integer (no heap doubles in the loop).
  while (end - i >= 2) {
    const stop = Math.min(end - ((end - i) & 1), i + 32_768);
    let s = 0;
    for (; i < stop; i += 2) s += (buf[i]! << 8) | buf[i + 1]!;
    sum += s;
    sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  }
  if (i < end) sum += buf[i]! << 8;
  return sum;
}

/** The Internet checksum (RFC 1071) of a sum of 16-bit words. */
export function foldChecksum(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return ~sum & 0xffff;
}

// --- TCP segments ---------------------------------------------------------------------------------

const MAC = { client: Buffer.from('020000000001', 'hex'), broker: Buffer.from('020000000002', 'hex') };
const ETH_HEADER = 14;
const TCP_HEADER = 20;
const SYN_OPTIONS = Buffer.from([2, 4, 0, 0, 1, 3, 3, WINDOW_SHIFT]); // MSS (set below), NOP, WS

export interface Segment {
  from: Direction;
  flags: number;
  seq: number;
  ack: number;
  /** Payload bytes are payload[start, end). */
  payload?: Buffer;
  start?: number;
  end?: number;
  /** Microseconds since the epoch. */
  tsUs: number;
  /** Packet comments (opt_comment), shown by Wireshark; replay reads ours. */
  comments?: string[];
  /** Chunks dropped (not recorded) since the previous block: epb_dropcount. */
  dropCount?: number;
}

/**
 * The two endpoints of one proxied connection as the capture shows it: the real client and the
 * broker (the proxy is invisible, as if the client had talked to the broker directly).
 */
export class TcpPath {
  readonly family: 4 | 6;
  /** Largest payload per segment: the IP length fields are 16 bits. */
  readonly mss: number;
  private readonly ip: Record<Direction, { src: Buffer; dst: Buffer; sport: number; dport: number }>;
  /** Partial checksum of the pseudo-header's addresses and protocol, per direction (same both ways). */
  private readonly pseudo: number;
  private ipId = { client: 1, broker: 1 };

  constructor(client: Endpoint, broker: Endpoint) {
    const pair = pairAddresses(client.address, broker.address);
    this.family = pair.family;
    this.mss = pair.family === 4 ? 65_535 - 20 - TCP_HEADER : 65_535 - TCP_HEADER;
    this.ip = {
      client: { src: pair.a, dst: pair.b, sport: client.port, dport: broker.port },
      broker: { src: pair.b, dst: pair.a, sport: broker.port, dport: client.port },
    };
    this.pseudo = sum16(pair.b, 0, pair.b.length, sum16(pair.a, 0, pair.a.length)) + 6;
  }

  /** Bytes of the EPB that carries `seg`. */
  blockLength(seg: Segment): number {
    const payload = (seg.end ?? 0) - (seg.start ?? 0);
    const frame = this.frameLength(seg, payload);
    return 28 + pad4(frame) + epbOptionsLength(seg) + 4;
  }

  private frameLength(seg: Segment, payload: number): number {
    const tcp = TCP_HEADER + (seg.flags & TCP.SYN ? SYN_OPTIONS.length : 0) + payload;
    return ETH_HEADER + (this.family === 4 ? 20 : 40) + tcp;
  }

  /** Writes the EPB of `seg` at `at`; returns the offset after it. */
  writeBlock(out: Buffer, at: number, seg: Segment): number {
    const payloadStart = seg.start ?? 0;
    const payloadLen = (seg.end ?? 0) - payloadStart;
    const frameLen = this.frameLength(seg, payloadLen);
    const total = 28 + pad4(frameLen) + epbOptionsLength(seg) + 4;
    out.writeUInt32LE(BLOCK.EPB, at);
    out.writeUInt32LE(total, at + 4);
    out.writeUInt32LE(0, at + 8);
    out.writeUInt32LE(Math.floor(seg.tsUs / 0x1_0000_0000), at + 12);
    out.writeUInt32LE(seg.tsUs >>> 0, at + 16);
    out.writeUInt32LE(frameLen, at + 20);
    out.writeUInt32LE(frameLen, at + 24);
    let p = at + 28;
    const ep = this.ip[seg.from];
    // Ethernet II
    MAC[seg.from === 'client' ? 'broker' : 'client'].copy(out, p);
    MAC[seg.from].copy(out, p + 6);
    out.writeUInt16BE(this.family === 4 ? 0x0800 : 0x86dd, p + 12);
    p += ETH_HEADER;
    const tcpLen = frameLen - ETH_HEADER - (this.family === 4 ? 20 : 40);
    if (this.family === 4) {
      out[p] = 0x45;
      out[p + 1] = 0;
      out.writeUInt16BE(20 + tcpLen, p + 2);
      out.writeUInt16BE(this.ipId[seg.from], p + 4);
      this.ipId[seg.from] = (this.ipId[seg.from] + 1) & 0xffff;
      out.writeUInt16BE(0x4000, p + 6); // Don't Fragment
      out[p + 8] = 64;
      out[p + 9] = 6;
      out.writeUInt16BE(0, p + 10);
      ep.src.copy(out, p + 12);
      ep.dst.copy(out, p + 16);
      out.writeUInt16BE(foldChecksum(sum16(out, p, p + 20)), p + 10);
      p += 20;
    } else {
      out.writeUInt32BE(0x6000_0000, p);
      out.writeUInt16BE(tcpLen, p + 4);
      out[p + 6] = 6;
      out[p + 7] = 64;
      ep.src.copy(out, p + 8);
      ep.dst.copy(out, p + 24);
      p += 40;
    }
    // TCP
    const tcp = p;
    const syn = (seg.flags & TCP.SYN) !== 0;
    const hdr = TCP_HEADER + (syn ? SYN_OPTIONS.length : 0);
    out.writeUInt16BE(ep.sport, p);
    out.writeUInt16BE(ep.dport, p + 2);
    out.writeUInt32BE(seg.seq >>> 0, p + 4);
    out.writeUInt32BE(seg.flags & TCP.ACK ? seg.ack >>> 0 : 0, p + 8);
    out[p + 12] = (hdr / 4) << 4;
    out[p + 13] = seg.flags;
    // The window of a SYN is never scaled (RFC 7323 §2.2).
    out.writeUInt16BE(WINDOW_FIELD, p + 14);
    out.writeUInt32BE(0, p + 16); // checksum, urgent pointer
    if (syn) {
      SYN_OPTIONS.copy(out, p + TCP_HEADER);
      out.writeUInt16BE(this.mss, p + TCP_HEADER + 2);
    }
    p += hdr;
    if (payloadLen > 0) seg.payload!.copy(out, p, payloadStart, payloadStart + payloadLen);
    p += payloadLen;
    const sum = sum16(out, tcp, p, this.pseudo + tcpLen);
    out.writeUInt16BE(foldChecksum(sum), tcp + 16);
    const padded = at + 28 + pad4(frameLen);
    out.fill(0, p, padded);
    p = writeEpbOptions(out, padded, seg);
    out.writeUInt32LE(total, p);
    return p + 4;
  }
}

function epbOptionsLength(seg: Segment): number {
  if (seg.comments === undefined && seg.dropCount === undefined) return 0;
  let n = 4;
  for (const c of seg.comments ?? []) n += 4 + pad4(Buffer.byteLength(c));
  if (seg.dropCount !== undefined) n += 12;
  return n;
}

function writeEpbOptions(out: Buffer, at: number, seg: Segment): number {
  if (seg.comments === undefined && seg.dropCount === undefined) return at;
  const options: Option[] = [];
  for (const c of seg.comments ?? []) options.push({ code: OPTION.COMMENT, value: text(c) });
  if (seg.dropCount !== undefined) {
    const v = Buffer.alloc(8);
    v.writeBigUInt64LE(BigInt(seg.dropCount));
    options.push({ code: OPTION.EPB_DROPCOUNT, value: v });
  }
  return writeOptions(out, at, options);
}

const other = (d: Direction): Direction => (d === 'client' ? 'broker' : 'client');

/**
 * Sequence and acknowledgement numbers of one connection. Data from one side acknowledges
 * everything the other side sent before it, so every tool's reassembly and analysis agree.
 */
export class TcpConversation {
  readonly path: TcpPath;
  /** Next sequence number per side (u32). */
  private readonly next: Record<Direction, number>;
  /** Bytes a side has sent that the other side has not acknowledged yet. */
  private readonly unacked = { client: 0, broker: 0 };
  established = false;
  closed = false;

  constructor(client: Endpoint, broker: Endpoint, isn?: { client: number; broker: number }) {
    this.path = new TcpPath(client, broker);
    this.next = {
      client: (isn?.client ?? Math.floor(Math.random() * 0x1_0000_0000)) >>> 0,
      broker: (isn?.broker ?? Math.floor(Math.random() * 0x1_0000_0000)) >>> 0,
    };
  }

  /** The client's SYN. */
  syn(tsUs: number): Segment {
    const seg: Segment = { from: 'client', flags: TCP.SYN, seq: this.next.client, ack: 0, tsUs };
    this.next.client = (this.next.client + 1) >>> 0;
    return seg;
  }

  /** The broker's SYN-ACK and the client's ACK. */
  accept(tsUs: number): Segment[] {
    const synAck: Segment = {
      from: 'broker',
      flags: TCP.SYN | TCP.ACK,
      seq: this.next.broker,
      ack: this.next.client,
      tsUs,
    };
    this.next.broker = (this.next.broker + 1) >>> 0;
    this.established = true;
    return [synAck, { from: 'client', flags: TCP.ACK, seq: this.next.client, ack: this.next.broker, tsUs }];
  }

  /** The broker refuses the SYN (RST-ACK), as a closed port answers. */
  refuse(tsUs: number): Segment {
    this.closed = true;
    return { from: 'broker', flags: TCP.RST | TCP.ACK, seq: 0, ack: this.next.client, tsUs };
  }

  /**
   * Claims sequence space for `length` bytes from `from` and returns the segments carrying
   * payload[start, end) (several when longer than the MSS), plus a pure ACK from the receiver
   * when a one-way flow would otherwise fill its window. `recorded` false: the bytes are counted
   * in the sequence space (a visible gap) but no segment is returned.
   */
  data(from: Direction, payload: Buffer, tsUs: number, recorded = true): Segment[] {
    const len = payload.length;
    const to = other(from);
    const seq = this.next[from];
    const ack = this.next[to];
    this.next[from] = (seq + len) >>> 0;
    this.unacked[to] = 0;
    this.unacked[from] += len;
    if (!recorded || len === 0) return [];
    const out: Segment[] = [];
    const mss = this.path.mss;
    for (let off = 0; off < len; off += mss) {
      const end = Math.min(len, off + mss);
      out.push({
        from,
        flags: TCP.ACK | (end === len ? TCP.PSH : 0),
        seq: (seq + off) >>> 0,
        ack,
        payload,
        start: off,
        end,
        tsUs,
      });
    }
    if (this.unacked[from] >= ACK_EVERY) {
      this.unacked[from] = 0;
      out.push({ from: to, flags: TCP.ACK, seq: this.next[to], ack: this.next[from], tsUs });
    }
    return out;
  }

  /** FIN from `first`, FIN from the other side, last ACK: an orderly close. */
  finish(first: Direction, tsUs: number): Segment[] {
    this.closed = true;
    const second = other(first);
    const a = this.next[first];
    const b = this.next[second];
    const fin1: Segment = { from: first, flags: TCP.FIN | TCP.ACK, seq: a, ack: b, tsUs };
    this.next[first] = (a + 1) >>> 0;
    const fin2: Segment = { from: second, flags: TCP.FIN | TCP.ACK, seq: b, ack: this.next[first], tsUs };
    this.next[second] = (b + 1) >>> 0;
    return [fin1, fin2, { from: first, flags: TCP.ACK, seq: this.next[first], ack: this.next[second], tsUs }];
  }

  /** RST from `from`: an abortive close. */
  reset(from: Direction, tsUs: number): Segment {
    this.closed = true;
    return { from, flags: TCP.RST | TCP.ACK, seq: this.next[from], ack: this.next[other(from)], tsUs };
  }
}
