/**
 * TCP stream reassembly for replay: segments in capture order in, each connection's two byte
 * streams out, in order, exactly once.
 *
 * - Connections are keyed by their 4-tuple; a SYN on a tuple whose connection has ended starts a
 *   new one. The side that sent the SYN (or was answered by a SYN-ACK) is the initiator; without a
 *   handshake in the capture, the first sender is side 0 and `initiator` stays undefined.
 * - Sequence numbers are unwrapped against the next expected byte, so streams past 4 GiB work.
 * - Retransmitted and overlapping bytes are delivered once (the first copy captured wins, as in
 *   Wireshark); out-of-order segments wait, within a per-direction budget, for the hole to fill.
 * - A hole is declared lost (a `gap` event) when the receiver acknowledges past it (the bytes
 *   reached it, the capture missed them), when a budget is exceeded (per direction, and for all
 *   connections together), when the packet was cut by the snap length, or when the connection ends.
 * - Memory does not grow with the capture: held segments are copied out of the read buffers, and
 *   an ended connection leaves only a small record of its tuple, for a while, so that its late
 *   packets (the last ACK, a retransmitted FIN) are not taken for a new connection.
 */
import { TCP } from '../observe/pcap-format.js';

export interface Endpoint {
  address: string;
  port: number;
}

export interface SegmentIn {
  src: Endpoint;
  dst: Endpoint;
  seq: number;
  ack: number;
  flags: number;
  payload: Buffer;
  /** Payload length on the wire (>= payload.length when the capture cut the packet). */
  length: number;
}

/** Which end of a captured TCP conversation: 0 is the first address seen, 1 the other. */
export type PeerIndex = 0 | 1;

export interface TcpStream {
  /** 1-based, in order of first appearance. */
  id: number;
  endpoints: [Endpoint, Endpoint];
  /** The side that opened the connection (sent the SYN), when the handshake was captured. */
  initiator: PeerIndex | undefined;
  firstTsUs: number;
  lastTsUs: number;
  /** Bytes delivered per side (gaps not included). */
  bytes: [number, number];
  /** Bytes lost per side (gaps). */
  missing: [number, number];
  /** The SYN was answered by a RST: nothing listened. */
  refused: boolean;
  /** Comments of the packets of this connection (pcapng opt_comment), in order; at most 16. */
  comments: string[];
  /** Set once ended. */
  end?: { how: 'fin' | 'rst' | 'capture-end'; by: PeerIndex | undefined; tsUs: number };
}

export interface ReassemblyHandler {
  open(stream: TcpStream): void;
  data(stream: TcpStream, from: PeerIndex, bytes: Buffer, tsUs: number): void;
  /** `bytes` of `from`'s stream are missing from the capture, at stream offset `offset`. */
  gap(stream: TcpStream, from: PeerIndex, bytes: number, offset: number, tsUs: number): void;
  close(stream: TcpStream): void;
}

export interface ReassemblyOptions {
  /** Out-of-order bytes held per direction waiting for a hole to fill (default 4 MiB). */
  maxPendingBytes?: number;
  /** Out-of-order bytes held by all connections together (default 64 MiB). */
  maxTotalPendingBytes?: number;
}

const { FIN, SYN, RST, ACK } = TCP;
const TWO32 = 0x1_0000_0000;
const MAX_COMMENTS = 16;
/** What a held segment costs besides its bytes (its objects), so that tiny segments count too. */
const SEGMENT_COST = 256;
/** Ended connections remembered, and for how long of capture time (twice the usual MSL). */
const MAX_ENDED = 10_000;
const ENDED_LINGER_US = 120_000_000;

interface Pending {
  abs: number;
  data: Buffer;
}

/** Bytes held out of order by every connection of one reassembler. */
interface PendingTotal {
  bytes: number;
  max: number;
}

/** What is left of an ended connection: enough to tell its late packets from a new connection. */
interface Ended {
  synSeq: number | undefined;
  initiator: Endpoint | undefined;
  tsUs: number;
}

/** One direction of a connection. */
class Half {
  /** Absolute (unwrapped) sequence number of the next byte to deliver; undefined until known. */
  next: number | undefined;
  /** Stream offset 0 corresponds to this absolute sequence number. */
  base = 0;
  pending: Pending[] = [];
  pendingBytes = 0;
  /** Absolute sequence number of the FIN, once seen. */
  fin: number | undefined;
  finDone = false;

  /** The absolute number of u32 `seq`, taken nearest to the next expected byte. */
  unwrap(seq: number): number {
    const ref = this.next!;
    const diff = (seq - (ref % TWO32)) | 0;
    return ref + diff;
  }
}

export class TcpReassembler {
  private readonly streams = new Map<string, Conn>();
  /** Recently ended connections by tuple, oldest first. */
  private readonly ended = new Map<string, Ended>();
  private count = 0;
  private readonly maxPending: number;
  private readonly total: PendingTotal;

  constructor(
    private readonly handler: ReassemblyHandler,
    opts: ReassemblyOptions = {},
  ) {
    this.maxPending = opts.maxPendingBytes ?? 4 * 1024 * 1024;
    this.total = { bytes: 0, max: opts.maxTotalPendingBytes ?? 64 * 1024 * 1024 };
  }

  push(seg: SegmentIn, tsUs: number, comments?: readonly string[]): void {
    this.forgetEnded(tsUs);
    const key = tupleKey(seg.src, seg.dst);
    let conn = this.streams.get(key);
    const isSyn = (seg.flags & SYN) !== 0 && (seg.flags & RST) === 0;
    if (conn === undefined) {
      const ended = this.ended.get(key);
      if (ended !== undefined) {
        // Late packets of an ended connection (the last ACK, retransmitted FINs) are ignored;
        // a new SYN on the tuple is a new connection.
        if (!(isSyn && (seg.flags & ACK) === 0 && !sameSyn(ended, seg))) return;
        this.ended.delete(key);
      }
    } else if (isSyn && (seg.flags & ACK) === 0 && conn.isNewSyn(seg)) {
      // A fresh SYN with another ISN while the old connection never ended: the capture missed its end.
      conn.finish('capture-end', undefined, tsUs);
      this.streams.delete(key);
      conn = undefined;
    }
    if (conn === undefined) {
      this.count++;
      conn = new Conn(this.count, seg, tsUs, this.handler, this.maxPending, this.total);
      this.streams.set(key, conn);
      if (comments !== undefined) conn.addComments(comments);
      this.handler.open(conn.stream);
    } else if (comments !== undefined) {
      conn.addComments(comments);
    }
    conn.segment(seg, tsUs);
    if (conn.stream.end !== undefined) {
      this.streams.delete(key);
      this.ended.set(key, conn.ended());
    }
  }

  /** The capture ended: delivers what waits behind holes and closes every open connection. */
  finish(tsUs: number): void {
    for (const conn of this.streams.values()) {
      if (conn.stream.end === undefined) conn.finish('capture-end', undefined, tsUs);
    }
    this.streams.clear();
    this.ended.clear();
  }

  /** Connections open, and ended ones still remembered (for tests: neither grows with the capture). */
  get sizes(): { open: number; ended: number; pendingBytes: number } {
    return { open: this.streams.size, ended: this.ended.size, pendingBytes: this.total.bytes };
  }

  private forgetEnded(tsUs: number): void {
    for (const [key, ended] of this.ended) {
      if (this.ended.size <= MAX_ENDED && ended.tsUs + ENDED_LINGER_US >= tsUs) return;
      this.ended.delete(key);
    }
  }
}

/** The SYN `seg` repeats the one that opened the ended connection (a retransmission). */
function sameSyn(ended: Ended, seg: SegmentIn): boolean {
  const e = ended.initiator;
  return (
    ended.synSeq !== undefined &&
    seg.seq === ended.synSeq &&
    e !== undefined &&
    seg.src.port === e.port &&
    seg.src.address === e.address
  );
}

function tupleKey(a: Endpoint, b: Endpoint): string {
  const x = `${a.address}/${a.port}`;
  const y = `${b.address}/${b.port}`;
  return x < y ? `${x}|${y}` : `${y}|${x}`;
}

class Conn {
  readonly stream: TcpStream;
  private readonly halves: [Half, Half] = [new Half(), new Half()];
  private synSeq: number | undefined;
  private synAckSeen = false;

  constructor(
    id: number,
    first: SegmentIn,
    tsUs: number,
    private readonly handler: ReassemblyHandler,
    private readonly maxPending: number,
    private readonly total: PendingTotal,
  ) {
    const synOnly = (first.flags & (SYN | ACK | RST)) === SYN;
    const synAck = (first.flags & (SYN | ACK)) === (SYN | ACK);
    this.stream = {
      id,
      endpoints: [{ ...first.src }, { ...first.dst }],
      initiator: synOnly ? 0 : synAck ? 1 : undefined,
      firstTsUs: tsUs,
      lastTsUs: tsUs,
      bytes: [0, 0],
      missing: [0, 0],
      refused: false,
      comments: [],
    };
  }

  addComments(comments: readonly string[]): void {
    for (const c of comments) if (this.stream.comments.length < MAX_COMMENTS) this.stream.comments.push(c);
  }

  ended(): Ended {
    const i = this.stream.initiator;
    return {
      synSeq: this.synSeq,
      initiator: i === undefined ? undefined : this.stream.endpoints[i],
      tsUs: this.stream.end?.tsUs ?? this.stream.lastTsUs,
    };
  }

  isNewSyn(seg: SegmentIn): boolean {
    return this.synSeq !== undefined && seg.seq !== this.synSeq;
  }

  private sideOf(seg: SegmentIn): PeerIndex {
    const e = this.stream.endpoints[0];
    return seg.src.port === e.port && seg.src.address === e.address ? 0 : 1;
  }

  segment(seg: SegmentIn, tsUs: number): void {
    const s = this.stream;
    s.lastTsUs = tsUs;
    const from = this.sideOf(seg);
    const to: PeerIndex = from === 0 ? 1 : 0;
    const half = this.halves[from];
    const flags = seg.flags;

    if (flags & SYN) {
      if ((flags & ACK) === 0) {
        s.initiator ??= from;
        this.synSeq = seg.seq;
      } else {
        s.initiator ??= to;
        this.synAckSeen = true;
      }
      if (half.next === undefined) {
        half.next = seg.seq + 1;
        half.base = half.next;
      }
    }
    if (half.next === undefined) {
      half.next = seg.seq;
      half.base = seg.seq;
    }

    if (flags & RST) {
      if (
        s.initiator !== undefined &&
        from !== s.initiator &&
        !this.synAckSeen &&
        s.bytes[0] + s.bytes[1] === 0
      ) {
        s.refused = true;
      }
      this.finish('rst', from, tsUs);
      return;
    }

    // The receiver acknowledging bytes the capture never showed: they are lost for good. First:
    // they came before this segment was sent, so their gap comes before its data (an answer to them).
    if (flags & ACK) {
      const other = this.halves[to];
      if (other.next !== undefined) {
        const ackAbs = other.unwrap(seg.ack >>> 0);
        const limit = other.fin !== undefined ? Math.min(ackAbs, other.fin) : ackAbs;
        if (limit > other.next && limit - other.next < TWO32 / 2) this.skipTo(to, limit, tsUs);
      }
    }
    // Data (a SYN's payload starts after the SYN's own sequence number).
    const dataSeq = flags & SYN ? seg.seq + 1 : seg.seq;
    if (seg.length > 0) this.accept(from, half.unwrap(dataSeq >>> 0), seg.payload, seg.length, tsUs);
    if (flags & FIN && half.fin === undefined) {
      half.fin = half.unwrap((dataSeq + seg.length) >>> 0);
    }
    this.checkFin(from, tsUs);
    if (s.end === undefined) this.checkFin(to, tsUs);
  }

  private accept(from: PeerIndex, abs: number, payload: Buffer, length: number, tsUs: number): void {
    const half = this.halves[from];
    // Bytes the capture cut (snap length) are gone: deliver what there is, then a gap.
    const cut = length - payload.length;
    this.place(from, abs, payload, tsUs);
    if (cut > 0) {
      const end = abs + length;
      if (end > half.next!) this.skipTo(from, end, tsUs);
    }
  }

  private place(from: PeerIndex, abs: number, data: Buffer, tsUs: number): void {
    const half = this.halves[from];
    const next = half.next!;
    const end = abs + data.length;
    if (end <= next || data.length === 0) return; // a retransmission of delivered bytes
    if (abs <= next) {
      this.deliver(from, data.subarray(next - abs), tsUs);
      this.drain(from, tsUs);
      return;
    }
    // Ahead of a hole: keep a copy (a view would pin the whole read buffer), in order, for later.
    const copy = Buffer.allocUnsafeSlow(data.length);
    data.copy(copy);
    const p = half.pending;
    let i = p.length;
    while (i > 0 && p[i - 1]!.abs > abs) i--;
    p.splice(i, 0, { abs, data: copy });
    this.hold(half, data.length + SEGMENT_COST);
    if (half.pendingBytes > this.maxPending || this.total.bytes > this.total.max) {
      this.skipTo(from, p[0]!.abs, tsUs);
    }
  }

  private hold(half: Half, bytes: number): void {
    half.pendingBytes += bytes;
    this.total.bytes += bytes;
  }

  private deliver(from: PeerIndex, data: Buffer, tsUs: number): void {
    const half = this.halves[from];
    half.next! += data.length;
    this.stream.bytes[from] += data.length;
    this.handler.data(this.stream, from, data, tsUs);
  }

  /** Delivers the pending segments the stream has reached. */
  private drain(from: PeerIndex, tsUs: number): void {
    const half = this.halves[from];
    const p = half.pending;
    while (p.length > 0 && p[0]!.abs <= half.next!) {
      const { abs, data } = p.shift()!;
      this.hold(half, -(data.length + SEGMENT_COST));
      const end = abs + data.length;
      if (end > half.next!) this.deliver(from, data.subarray(half.next! - abs), tsUs);
    }
  }

  /** Declares everything before `abs` that was not captured lost, and moves on. */
  private skipTo(from: PeerIndex, abs: number, tsUs: number): void {
    const half = this.halves[from];
    for (;;) {
      this.drain(from, tsUs);
      const next = half.next!;
      if (next >= abs) return;
      const first = half.pending[0];
      const holeEnd = first !== undefined && first.abs < abs ? first.abs : abs;
      const missing = holeEnd - next;
      this.stream.missing[from] += missing;
      half.next = holeEnd;
      this.handler.gap(this.stream, from, missing, next - half.base, tsUs);
    }
  }

  private checkFin(side: PeerIndex, tsUs: number): void {
    const half = this.halves[side];
    if (half.fin === undefined || half.finDone || half.next === undefined) return;
    if (half.next >= half.fin) {
      half.finDone = true;
      const other = this.halves[side === 0 ? 1 : 0];
      if (other.finDone) this.finish('fin', this.firstFin ?? side, tsUs);
      else this.firstFin ??= side;
    }
  }

  private firstFin: PeerIndex | undefined;

  /** Ends the connection: what waits behind holes is delivered after a gap. */
  finish(how: 'fin' | 'rst' | 'capture-end', by: PeerIndex | undefined, tsUs: number): void {
    if (this.stream.end !== undefined) return;
    for (const side of [0, 1] as const) {
      const half = this.halves[side];
      const last = half.pending[half.pending.length - 1];
      if (last !== undefined) this.skipTo(side, last.abs + last.data.length, tsUs);
    }
    this.stream.end = { how, by: how === 'capture-end' ? this.firstFin : by, tsUs };
    this.handler.close(this.stream);
  }
}
