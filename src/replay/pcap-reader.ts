/**
 * Reads captures: classic pcap (either byte order, microsecond or nanosecond timestamps) and pcapng
 * (each section's byte order, per-interface if_tsresol/if_tsoffset, Enhanced, Simple and obsolete
 * Packet Blocks), then takes packets apart down to TCP: Ethernet (with VLAN tags), Linux cooked
 * capture v1 and v2, raw IP, BSD loopback (null/loop).
 *
 * Streaming and bounded: the file is read in slices and only a partial block is kept between them.
 * A file cut short (a crash, a copy still being written) ends at the last whole block with a
 * `warning` event instead of an exception; so does a block whose lengths do not add up.
 */

import { createReadStream } from 'node:fs';
import { BLOCK, BYTE_ORDER_MAGIC, LINKTYPE, OPTION, PCAP_MAGIC } from '../observe/pcap-format.js';

export interface CapturedPacket {
  kind: 'packet';
  /** 1-based packet number, as Wireshark counts. */
  index: number;
  /** Microseconds since the epoch (sub-microsecond digits dropped). */
  tsUs: number;
  linkType: number;
  /** The captured bytes (may be shorter than the packet was: see `origLength`). */
  data: Buffer;
  origLength: number;
  /** pcapng packet comments (opt_comment). */
  comments?: string[];
}

export interface CaptureWarning {
  kind: 'warning';
  code: 'CAPTURE_TRUNCATED' | 'CAPTURE_CORRUPT' | 'CAPTURE_UNKNOWN_FORMAT' | 'CAPTURE_UNKNOWN_INTERFACE';
  /** Byte offset in the file where the problem starts. */
  offset: number;
  detail: string;
}

export type CaptureEvent = CapturedPacket | CaptureWarning;

const { US: PCAP_US, NS: PCAP_NS } = PCAP_MAGIC;

interface Iface {
  linkType: number;
  /** Timestamp units per second. */
  unitsPerSecond: number;
  offsetSeconds: number;
}

enum Format {
  Unknown,
  Pcap,
  Pcapng,
  Stopped,
}

/** Incremental parser: push() slices of the file, end() at its end. */
export class CaptureParser {
  private pending: Buffer | undefined;
  /** File offset of the first byte of `pending`. */
  private offset = 0;
  private format = Format.Unknown;
  private le = true;
  private count = 0;
  // pcap
  private pcapLinkType = 0;
  private pcapNano = false;
  // pcapng
  private ifaces: Iface[] = [];
  private lastTsUs = 0;

  push(chunk: Buffer, out: CaptureEvent[]): void {
    if (this.format === Format.Stopped) return;
    let buf = this.pending === undefined ? chunk : Buffer.concat([this.pending, chunk]);
    let at = 0;
    for (;;) {
      const used = this.next(buf, at, out);
      if (used === 0) break;
      at += used;
    }
    if (this.stopped()) {
      this.pending = undefined;
      return;
    }
    this.offset += at;
    buf = buf.subarray(at);
    this.pending = buf.length > 0 ? buf : undefined;
  }

  private stopped(): boolean {
    return this.format === Format.Stopped;
  }

  end(out: CaptureEvent[]): void {
    if (this.format === Format.Stopped) return;
    const left = this.pending?.length ?? 0;
    if (this.format === Format.Unknown) {
      out.push({
        kind: 'warning',
        code: left === 0 ? 'CAPTURE_TRUNCATED' : 'CAPTURE_UNKNOWN_FORMAT',
        offset: 0,
        detail: left === 0 ? 'the file is empty' : 'not a pcap or pcapng file (too short for a header)',
      });
    } else if (left > 0) {
      out.push({
        kind: 'warning',
        code: 'CAPTURE_TRUNCATED',
        offset: this.offset,
        detail: `the file ends ${left} bytes into a ${this.format === Format.Pcap ? 'packet record' : 'block'} at offset ${this.offset} (cut short?): replayed up to the last whole one, packet ${this.count}`,
      });
    }
    this.format = Format.Stopped;
    this.pending = undefined;
  }

  /** Parses one unit at buf[at]; returns its length, or 0 when more bytes are needed. */
  private next(buf: Buffer, at: number, out: CaptureEvent[]): number {
    const avail = buf.length - at;
    if (this.format === Format.Unknown) {
      if (avail < 4) return 0;
      const magicBE = buf.readUInt32BE(at);
      const magicLE = buf.readUInt32LE(at);
      if (magicBE === BLOCK.SHB) {
        this.format = Format.Pcapng;
        return this.next(buf, at, out);
      }
      if (magicBE === PCAP_US || magicBE === PCAP_NS || magicLE === PCAP_US || magicLE === PCAP_NS) {
        if (avail < 24) return 0;
        this.le = magicLE === PCAP_US || magicLE === PCAP_NS;
        this.pcapNano = (this.le ? magicLE : magicBE) === PCAP_NS;
        // The low 16 bits are the link type; the upper bits may carry FCS information.
        this.pcapLinkType = (this.le ? buf.readUInt32LE(at + 20) : buf.readUInt32BE(at + 20)) & 0xffff;
        this.format = Format.Pcap;
        return 24;
      }
      out.push({
        kind: 'warning',
        code: 'CAPTURE_UNKNOWN_FORMAT',
        offset: 0,
        detail: `not a pcap or pcapng file (starts with 0x${buf.subarray(at, at + 4).toString('hex')})`,
      });
      this.format = Format.Stopped;
      return 0;
    }
    return this.format === Format.Pcap ? this.pcapRecord(buf, at, out) : this.pcapngBlock(buf, at, out);
  }

  private u32(buf: Buffer, at: number): number {
    return this.le ? buf.readUInt32LE(at) : buf.readUInt32BE(at);
  }

  private u16(buf: Buffer, at: number): number {
    return this.le ? buf.readUInt16LE(at) : buf.readUInt16BE(at);
  }

  private pcapRecord(buf: Buffer, at: number, out: CaptureEvent[]): number {
    if (buf.length - at < 16) return 0;
    const sec = this.u32(buf, at);
    const frac = this.u32(buf, at + 4);
    const incl = this.u32(buf, at + 8);
    const orig = this.u32(buf, at + 12);
    if (incl > 0x4000000) return this.corrupt(at, `packet record claims ${incl} captured bytes`, out);
    if (buf.length - at < 16 + incl) return 0;
    this.count++;
    out.push({
      kind: 'packet',
      index: this.count,
      tsUs: sec * 1_000_000 + (this.pcapNano ? Math.floor(frac / 1000) : frac),
      linkType: this.pcapLinkType,
      data: buf.subarray(at + 16, at + 16 + incl),
      origLength: orig,
    });
    return 16 + incl;
  }

  private pcapngBlock(buf: Buffer, at: number, out: CaptureEvent[]): number {
    if (buf.length - at < 12) return 0;
    const typeBE = buf.readUInt32BE(at);
    if (typeBE === BLOCK.SHB) {
      // A new section: its own byte order, its own interfaces.
      const magic = buf.readUInt32LE(at + 8);
      if (magic === BYTE_ORDER_MAGIC) this.le = true;
      else if (buf.readUInt32BE(at + 8) === BYTE_ORDER_MAGIC) this.le = false;
      else return this.corrupt(at, 'Section Header Block with an unknown byte-order magic', out);
      this.ifaces = [];
    }
    const type = this.u32(buf, at);
    const total = this.u32(buf, at + 4);
    if (total < 12 || total % 4 !== 0 || total > 0x4000000) {
      return this.corrupt(at, `block of type 0x${type.toString(16)} claims a length of ${total}`, out);
    }
    if (buf.length - at < total) return 0;
    if (this.u32(buf, at + total - 4) !== total) {
      return this.corrupt(
        at,
        `block of type 0x${type.toString(16)}: leading and trailing lengths differ`,
        out,
      );
    }
    const body = buf.subarray(at + 8, at + total - 4);
    switch (type) {
      case BLOCK.IDB:
        this.idb(body);
        break;
      case BLOCK.EPB:
        this.packet(body, at, out, true);
        break;
      case BLOCK.PB:
        this.packet(body, at, out, false);
        break;
      case BLOCK.SPB:
        this.simplePacket(body, at, out);
        break;
      default:
        break; // name resolution, statistics, custom... blocks: nothing to replay
    }
    return total;
  }

  private idb(body: Buffer): void {
    if (body.length < 8) return;
    const iface: Iface = { linkType: this.u16(body, 0), unitsPerSecond: 1_000_000, offsetSeconds: 0 };
    this.options(body, 8, (code, value) => {
      if (code === OPTION.IF_TSRESOL && value.length >= 1) {
        const r = value[0]!;
        iface.unitsPerSecond = r & 0x80 ? 2 ** (r & 0x7f) : 10 ** r;
      } else if (code === OPTION.IF_TSOFFSET && value.length >= 8) {
        iface.offsetSeconds = Number(this.le ? value.readBigInt64LE(0) : value.readBigInt64BE(0));
      }
    });
    this.ifaces.push(iface);
  }

  /** EPB (§4.3) or the obsolete Packet Block (Appendix A: 16-bit interface id and drops count). */
  private packet(body: Buffer, at: number, out: CaptureEvent[], enhanced: boolean): void {
    if (body.length < 20) return;
    const ifId = enhanced ? this.u32(body, 0) : this.u16(body, 0);
    const iface = this.ifaces[ifId];
    if (iface === undefined) {
      out.push({
        kind: 'warning',
        code: 'CAPTURE_UNKNOWN_INTERFACE',
        offset: at,
        detail: `packet block at offset ${at} names interface ${ifId}, which was never described`,
      });
      return;
    }
    const high = this.u32(body, 4);
    const low = this.u32(body, 8);
    const capLen = Math.min(this.u32(body, 12), body.length - 20);
    const origLen = this.u32(body, 16);
    const tsUs = ticksToUs(high, low, iface);
    this.lastTsUs = tsUs;
    this.count++;
    const pkt: CapturedPacket = {
      kind: 'packet',
      index: this.count,
      tsUs,
      linkType: iface.linkType,
      data: body.subarray(20, 20 + capLen),
      origLength: origLen,
    };
    const optStart = 20 + ((capLen + 3) & ~3);
    if (optStart < body.length) {
      this.options(body, optStart, (code, value) => {
        if (code === OPTION.COMMENT) {
          pkt.comments ??= [];
          pkt.comments.push(value.toString('utf8'));
        }
      });
    }
    out.push(pkt);
  }

  /** SPB (§4.4): interface 0, no timestamp (the previous packet's is used). */
  private simplePacket(body: Buffer, at: number, out: CaptureEvent[]): void {
    const iface = this.ifaces[0];
    if (iface === undefined || body.length < 4) {
      out.push({
        kind: 'warning',
        code: 'CAPTURE_UNKNOWN_INTERFACE',
        offset: at,
        detail: `Simple Packet Block at offset ${at} without an interface description`,
      });
      return;
    }
    const origLen = this.u32(body, 0);
    this.count++;
    out.push({
      kind: 'packet',
      index: this.count,
      tsUs: this.lastTsUs,
      linkType: iface.linkType,
      data: body.subarray(4, 4 + Math.min(origLen, body.length - 4)),
      origLength: origLen,
    });
  }

  private options(body: Buffer, at: number, each: (code: number, value: Buffer) => void): void {
    while (at + 4 <= body.length) {
      const code = this.u16(body, at);
      const len = this.u16(body, at + 2);
      if (code === OPTION.END) return;
      if (at + 4 + len > body.length) return;
      each(code, body.subarray(at + 4, at + 4 + len));
      at += 4 + ((len + 3) & ~3);
    }
  }

  private corrupt(at: number, detail: string, out: CaptureEvent[]): number {
    out.push({
      kind: 'warning',
      code: 'CAPTURE_CORRUPT',
      offset: at,
      detail: `${detail} at offset ${at}: replayed up to the previous one, packet ${this.count}`,
    });
    this.format = Format.Stopped;
    this.pending = undefined;
    return 0;
  }
}

function ticksToUs(high: number, low: number, iface: Iface): number {
  const offsetUs = iface.offsetSeconds * 1_000_000;
  if (iface.unitsPerSecond === 1_000_000) return high * 0x1_0000_0000 + low + offsetUs;
  const ticks = (BigInt(high) << 32n) | BigInt(low);
  const units = BigInt(iface.unitsPerSecond);
  return Number((ticks * 1_000_000n) / units) + offsetUs;
}

/** Every event of a capture held in memory (tests, small files). */
export function parseCapture(bytes: Buffer): CaptureEvent[] {
  const parser = new CaptureParser();
  const out: CaptureEvent[] = [];
  parser.push(bytes, out);
  parser.end(out);
  return out;
}

/** Streams the events of a capture file; memory stays bounded by the largest block. */
export async function* readCapture(path: string): AsyncGenerator<CaptureEvent> {
  const parser = new CaptureParser();
  const out: CaptureEvent[] = [];
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 })) {
    parser.push(chunk as Buffer, out);
    if (out.length > 0) {
      yield* out;
      out.length = 0;
    }
  }
  parser.end(out);
  yield* out;
}

// --- link, network and transport layers ------------------------------------------------------

export interface TcpSegment {
  src: { address: string; port: number };
  dst: { address: string; port: number };
  seq: number;
  ack: number;
  flags: number;
  /** The payload bytes captured. */
  payload: Buffer;
  /** Payload bytes the IP header says the segment carried (more than captured when cut by a snaplen). */
  length: number;
}

export type DecodeResult =
  | { kind: 'tcp'; segment: TcpSegment }
  | { kind: 'skip'; reason: 'not-ip' | 'not-tcp' | 'fragment' | 'short' | 'link-type' };

/** Takes a captured frame apart down to its TCP segment. */
export function decodeTcp(linkType: number, frame: Buffer): DecodeResult {
  let at: number;
  let ethertype: number | undefined;
  switch (linkType) {
    case LINKTYPE.ETHERNET: {
      if (frame.length < 14) return SHORT;
      ethertype = frame.readUInt16BE(12);
      at = 14;
      // 802.1Q / 802.1ad / QinQ tags.
      while (
        (ethertype === 0x8100 || ethertype === 0x88a8 || ethertype === 0x9100) &&
        frame.length >= at + 4
      ) {
        ethertype = frame.readUInt16BE(at + 2);
        at += 4;
      }
      break;
    }
    case LINKTYPE.LINUX_SLL:
      if (frame.length < 16) return SHORT;
      ethertype = frame.readUInt16BE(14);
      at = 16;
      break;
    case LINKTYPE.LINUX_SLL2:
      if (frame.length < 20) return SHORT;
      ethertype = frame.readUInt16BE(0);
      at = 20;
      break;
    case LINKTYPE.NULL:
    case LINKTYPE.LOOP: {
      if (frame.length < 4) return SHORT;
      // The address family, in the capturing host's byte order (null) or network order (loop).
      const family =
        linkType === LINKTYPE.LOOP || frame[0] === 0 ? frame.readUInt32BE(0) : frame.readUInt32LE(0);
      if (family === 2) ethertype = 0x0800;
      else if (family === 10 || family === 24 || family === 28 || family === 30) ethertype = 0x86dd;
      else return { kind: 'skip', reason: 'not-ip' };
      at = 4;
      break;
    }
    case LINKTYPE.RAW:
    case 12: // DLT_RAW on some BSDs
    case 14:
    case LINKTYPE.IPV4:
    case LINKTYPE.IPV6:
      at = 0;
      break;
    default:
      return { kind: 'skip', reason: 'link-type' };
  }
  if (ethertype !== undefined && ethertype !== 0x0800 && ethertype !== 0x86dd) {
    return { kind: 'skip', reason: 'not-ip' };
  }
  if (frame.length <= at) return SHORT;
  const version = frame[at]! >> 4;
  if (version === 4) return ipv4(frame, at);
  if (version === 6) return ipv6(frame, at);
  return { kind: 'skip', reason: 'not-ip' };
}

const SHORT: DecodeResult = { kind: 'skip', reason: 'short' };

function ipv4(frame: Buffer, at: number): DecodeResult {
  if (frame.length < at + 20) return SHORT;
  const ihl = (frame[at]! & 0x0f) * 4;
  const total = frame.readUInt16BE(at + 2);
  const fragment = frame.readUInt16BE(at + 6);
  if (frame[at + 9] !== 6) return { kind: 'skip', reason: 'not-tcp' };
  if ((fragment & 0x2000) !== 0 || (fragment & 0x1fff) !== 0) return { kind: 'skip', reason: 'fragment' };
  const src = formatIPv4(frame, at + 12);
  const dst = formatIPv4(frame, at + 16);
  // total 0: TCP segmentation offload captures leave it unset; the frame is the whole packet.
  const end = total === 0 ? frame.length : at + total;
  return tcp(frame, at + ihl, end, src, dst);
}

function ipv6(frame: Buffer, at: number): DecodeResult {
  if (frame.length < at + 40) return SHORT;
  const payloadLength = frame.readUInt16BE(at + 4);
  let next = frame[at + 6]!;
  const src = formatIPv6(frame, at + 8);
  const dst = formatIPv6(frame, at + 24);
  const end = payloadLength === 0 ? frame.length : at + 40 + payloadLength;
  let p = at + 40;
  // Extension headers: hop-by-hop, routing, destination options; a fragment is not reassembled.
  while (next === 0 || next === 43 || next === 60 || next === 44) {
    if (next === 44) return { kind: 'skip', reason: 'fragment' };
    if (frame.length < p + 8) return SHORT;
    const len = (frame[p + 1]! + 1) * 8;
    next = frame[p]!;
    p += len;
  }
  if (next !== 6) return { kind: 'skip', reason: 'not-tcp' };
  return tcp(frame, p, end, src, dst);
}

function tcp(frame: Buffer, at: number, end: number, src: string, dst: string): DecodeResult {
  if (frame.length < at + 20) return SHORT;
  const offset = (frame[at + 12]! >> 4) * 4;
  const start = at + offset;
  const length = Math.max(0, end - start);
  return {
    kind: 'tcp',
    segment: {
      src: { address: src, port: frame.readUInt16BE(at) },
      dst: { address: dst, port: frame.readUInt16BE(at + 2) },
      seq: frame.readUInt32BE(at + 4),
      ack: frame.readUInt32BE(at + 8),
      flags: frame[at + 13]!,
      payload: frame.subarray(Math.min(start, frame.length), Math.min(end, frame.length)),
      length,
    },
  };
}

function formatIPv4(b: Buffer, at: number): string {
  return `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`;
}

/** RFC 5952 text, as Node prints socket addresses (`::1`, `::ffff:127.0.0.1`). */
export function formatIPv6(b: Buffer, at: number): string {
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push(b.readUInt16BE(at + i * 2));
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return `::ffff:${formatIPv4(b, at + 12)}`;
  }
  // The longest run of two or more zero groups becomes "::".
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart === -1) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}
