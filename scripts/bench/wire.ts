/**
 * The benchmark's own MQTT wire code: encoders for the few packets the load generators send and a
 * streaming reader for what they receive. Independent of src/protocol on purpose: the harness must
 * not trust the codec it measures.
 */

export type Version = '3.1.1' | '5.0';

export const CONNACK = 2;
export const PUBLISH = 3;
export const PUBACK = 4;
export const SUBACK = 9;

/** MQTT Variable Byte Integer (§1.5.5), minimally encoded. */
export function varint(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return out;
}

function str(s: string): Buffer {
  const b = Buffer.from(s, 'utf8');
  const out = Buffer.allocUnsafe(2 + b.length);
  out.writeUInt16BE(b.length, 0);
  b.copy(out, 2);
  return out;
}

function frame(first: number, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from([first, ...varint(body.length)]), body]);
}

export function connect(v: Version, clientId: string, keepAlive = 60): Buffer {
  const head = Buffer.from([
    0,
    4,
    0x4d,
    0x51,
    0x54,
    0x54,
    v === '5.0' ? 5 : 4,
    0x02,
    keepAlive >> 8,
    keepAlive & 0xff,
  ]);
  const props = v === '5.0' ? Buffer.from([0]) : Buffer.alloc(0);
  return frame(0x10, Buffer.concat([head, props, str(clientId)]));
}

export function subscribe(v: Version, packetId: number, filter: string, qos: 0 | 1): Buffer {
  const id = Buffer.from([packetId >> 8, packetId & 0xff]);
  const props = v === '5.0' ? Buffer.from([0]) : Buffer.alloc(0);
  return frame(0x82, Buffer.concat([id, props, str(filter), Buffer.from([qos])]));
}

/**
 * The bytes of a PUBLISH up to its payload, for a payload of `payloadLength` bytes: callers write
 * this head and then the payload (pre-encoded streams concatenate them once).
 */
export function publishHead(
  v: Version,
  topic: string,
  payloadLength: number,
  qos: 0 | 1 | 2 = 0,
  packetId = 0,
  retain = false,
): Buffer {
  const t = str(topic);
  const id = qos > 0 ? Buffer.from([packetId >> 8, packetId & 0xff]) : Buffer.alloc(0);
  const props = v === '5.0' ? Buffer.from([0]) : Buffer.alloc(0);
  const remaining = t.length + id.length + props.length + payloadLength;
  const first = 0x30 | (qos << 1) | (retain ? 1 : 0);
  return Buffer.concat([Buffer.from([first, ...varint(remaining)]), t, id, props]);
}

export function publish(v: Version, topic: string, payload: Buffer, qos: 0 | 1 = 0, packetId = 0): Buffer {
  return Buffer.concat([publishHead(v, topic, payload.length, qos, packetId), payload]);
}

export function puback(packetId: number): Buffer {
  // 3.1.1 and 5.0 alike: a 5.0 PUBACK with Remaining Length 2 means reason 0x00, no properties.
  return Buffer.from([0x40, 2, packetId >> 8, packetId & 0xff]);
}

export const DISCONNECT = Buffer.from([0xe0, 0]);

/** Where the payload of a PUBLISH starts in its body (the bytes after the fixed header). */
export function payloadOffset(v: Version, flags: number, body: Buffer): number {
  let at = 2 + body.readUInt16BE(0);
  if (((flags >> 1) & 3) > 0) at += 2;
  if (v === '5.0') {
    let len = 0;
    let mult = 1;
    for (;;) {
      const b = body[at++]!;
      len += (b & 0x7f) * mult;
      mult *= 128;
      if ((b & 0x80) === 0) break;
    }
    at += len;
  }
  return at;
}

export interface ReaderHandlers {
  /** A packet whose body is at most the reader's `bufferLimit`; `body` is only valid during the call. */
  packet(type: number, flags: number, body: Buffer): void;
  /** A larger packet starts: `head` holds its first `headBytes` (or all, if fewer) body bytes. */
  largeStart?(type: number, flags: number, remaining: number, head: Buffer): void;
  /** More body bytes of the large packet, after `head`. */
  largeData?(chunk: Buffer): void;
  largeEnd?(): void;
}

/** Streaming MQTT framer: fixed header, then the body (buffered when small, streamed when large). */
export class PacketReader {
  private pending: Buffer | undefined;
  /** Large-packet state: body bytes still to come and whether the head was delivered. */
  private largeLeft = 0;
  private largeHead: Buffer[] = [];
  private largeHeadBytes = 0;
  private largeType = 0;
  private largeFlags = 0;
  private largeRemaining = 0;
  private largeStarted = false;

  constructor(
    private readonly h: ReaderHandlers,
    private readonly bufferLimit = 1 << 16,
    private readonly headBytes = 512,
  ) {}

  push(chunk: Buffer): void {
    let buf = chunk;
    if (this.largeLeft > 0) {
      const used = this.feedLarge(buf);
      if (used === buf.length) return;
      buf = buf.subarray(used);
    }
    if (this.pending !== undefined) {
      buf = Buffer.concat([this.pending, buf]);
      this.pending = undefined;
    }
    let at = 0;
    const n = buf.length;
    while (at < n) {
      if (n - at < 2) break;
      let remaining = 0;
      let mult = 1;
      let i = at + 1;
      let complete = false;
      for (let k = 0; k < 4 && i < n; k++) {
        const b = buf[i++]!;
        remaining += (b & 0x7f) * mult;
        mult *= 128;
        if ((b & 0x80) === 0) {
          complete = true;
          break;
        }
      }
      if (!complete) {
        if (i - at >= 5) throw new Error('bench reader: malformed Remaining Length');
        break;
      }
      const first = buf[at]!;
      if (remaining > this.bufferLimit) {
        this.largeType = first >> 4;
        this.largeFlags = first & 0x0f;
        this.largeRemaining = remaining;
        this.largeLeft = remaining;
        this.largeHead = [];
        this.largeHeadBytes = 0;
        this.largeStarted = false;
        const used = this.feedLarge(buf.subarray(i));
        at = i + used;
        if (this.largeLeft > 0) return;
        continue;
      }
      if (n - i < remaining) break;
      this.h.packet(first >> 4, first & 0x0f, buf.subarray(i, i + remaining));
      at = i + remaining;
    }
    // Keep a private copy: the socket may reuse nothing, but a concat result is ours anyway.
    if (at < n) this.pending = Buffer.from(buf.subarray(at));
  }

  /** Consumes up to the rest of the large packet from `buf`; returns the bytes used. */
  private feedLarge(buf: Buffer): number {
    const used = Math.min(buf.length, this.largeLeft);
    let data = buf.subarray(0, used);
    this.largeLeft -= used;
    if (!this.largeStarted) {
      const want = Math.min(this.headBytes, this.largeRemaining) - this.largeHeadBytes;
      const take = Math.min(want, data.length);
      this.largeHead.push(Buffer.from(data.subarray(0, take)));
      this.largeHeadBytes += take;
      data = data.subarray(take);
      if (this.largeHeadBytes === Math.min(this.headBytes, this.largeRemaining)) {
        this.largeStarted = true;
        this.h.largeStart?.(
          this.largeType,
          this.largeFlags,
          this.largeRemaining,
          Buffer.concat(this.largeHead),
        );
        this.largeHead = [];
      }
    }
    if (this.largeStarted && data.length > 0) this.h.largeData?.(data);
    if (this.largeLeft === 0) this.h.largeEnd?.();
    return used;
  }
}

// --- payloads ------------------------------------------------------------------------------------

const DIGITS = 8;

/**
 * The payload of message `seq`: its number in 8 ASCII digits, a space, then letters that depend on
 * both the number and the position, so a shifted, duplicated or damaged payload cannot pass.
 * Printable, so that `mosquitto_pub -l` can send it as a line.
 */
export function sequencePayload(seq: number, length: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  out.write(String(seq).padStart(DIGITS, '0'), 0, 'latin1');
  out[DIGITS] = 0x20;
  for (let j = DIGITS + 1; j < length; j++) out[j] = 0x61 + ((seq + j) % 26);
  return out;
}

/** Whether `p` is exactly `sequencePayload(seq, p.length)`, without allocating. */
export function isSequencePayload(p: Buffer, seq: number, length: number): boolean {
  if (p.length !== length || p[DIGITS] !== 0x20) return false;
  let n = seq;
  for (let j = DIGITS - 1; j >= 0; j--) {
    if (p[j] !== 0x30 + (n % 10)) return false;
    n = Math.floor(n / 10);
  }
  for (let j = DIGITS + 1; j < length; j++) if (p[j] !== 0x61 + ((seq + j) % 26)) return false;
  return true;
}

/** The sequence number at the start of a payload, or -1. */
export function payloadSequence(p: Buffer): number {
  if (p.length < DIGITS) return -1;
  let n = 0;
  for (let j = 0; j < DIGITS; j++) {
    const d = p[j]! - 0x30;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}

let patternCache: Buffer | undefined;

/**
 * A large payload body shared by every large message: a 251-byte cycle (prime, so it never lines up
 * with power-of-two chunk sizes). Large payloads are `sequence header (16 B) + pattern[0, size-16)`.
 */
export function pattern(size: number): Buffer {
  if (patternCache === undefined || patternCache.length < size) {
    const unit = Buffer.allocUnsafe(251);
    for (let i = 0; i < unit.length; i++) unit[i] = (i * 97 + 13) & 0xff;
    patternCache = Buffer.allocUnsafe(size);
    patternCache.fill(unit);
  }
  return patternCache.subarray(0, size);
}

export const LARGE_HEADER = 16;

export function largeHeader(seq: number): Buffer {
  return Buffer.from(`${String(seq).padStart(DIGITS, '0')} large  `.slice(0, LARGE_HEADER), 'latin1');
}
