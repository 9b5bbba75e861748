import type { CaptureBudget } from './capture-budget.js';
import { DEFAULT_CAPTURE_CAP, PACKET_TYPE_NAMES } from './constants.js';
import type { Direction } from './direction.js';
import { hexExcerpt } from './hex.js';
import { isMqttOpening, SNIFF_BYTES, sniffNonMqtt } from './sniff.js';
import type { Frame, FramingError } from './types.js';

/** fixedHeaderAt: the bytes given end inside the fixed header. */
export const HEADER_INCOMPLETE = -1;
/** fixedHeaderAt: the Remaining Length continues past its fourth byte [MQTT-1.5.5-1]. */
export const HEADER_MALFORMED = -2;

/** Packet type 0 is reserved (3.1.1 Table 2.1, 5.0 Table 2-1): no stream that has it can be framed. */
export function isReservedType(firstByte: number): boolean {
  return firstByte < 0x10;
}

/**
 * The fixed header at `buf[start]` (§2.2: a first byte, then the Remaining Length as a Variable
 * Byte Integer of one to four bytes) when it is whole before `end`: `remainingLength << 3 |
 * headerLength` (a non-negative int32), else HEADER_INCOMPLETE or HEADER_MALFORMED. The one
 * reading of frame boundaries: the Framer and the SecretLocator both cut streams with it.
 */
export function fixedHeaderAt(buf: Uint8Array, start: number, end: number): number {
  if (start + 1 >= end) return HEADER_INCOMPLETE;
  const first = buf[start + 1]!;
  // Most packets are shorter than 128 bytes: a one-byte Remaining Length.
  if (first < 0x80) return (first << 3) | 2;
  let length = first & 0x7f;
  for (let k = 2; k <= 4; k++) {
    if (start + k >= end) return HEADER_INCOMPLETE;
    const b = buf[start + k]!;
    length |= (b & 0x7f) << (7 * (k - 1));
    if (b < 0x80) return (length << 3) | (k + 1);
  }
  return HEADER_MALFORMED;
}

export interface FramerHandler {
  frame(frame: Frame): void;
  /** Called at most once per kind that stops framing; `truncated` only from `end()`. */
  error(error: FramingError): void;
}

export interface FramerOptions {
  /** Body bytes kept per frame; the rest is counted (default 64 KiB). */
  captureCap?: number;
  /**
   * Payload bytes of a PUBLISH that anything reads (the record's preview): a PUBLISH spanning chunks
   * is then kept only up to its payload's first `payloadKeep` bytes. Default: kept like any frame.
   */
  payloadKeep?: number;
  /**
   * Whether this stream's PUBLISH packets carry properties (5.0), asked when one starts spanning
   * chunks; with `payloadKeep` only. Say true when unsure: more is kept, never less.
   */
  publishProperties?: () => boolean;
  /** Check that the stream opens like MQTT from this side and classify it when not. */
  sniff?: Direction;
  /** Shared with other framers: what captures may grow by beyond their first CAPTURE_STEP bytes. */
  budget?: CaptureBudget;
}

enum State {
  Sniff,
  Header,
  Length,
  Body,
  Dead,
}

/**
 * Incremental MQTT framer: cuts a byte stream delivered in arbitrary chunks into frames
 * (fixed header §2.2 / §2.1.1, Remaining Length as a Variable Byte Integer of up to four bytes).
 * A frame that sits whole in one chunk is a zero-copy view of it; a frame spanning chunks is
 * gathered into a buffer of at most `captureCap` bytes and its surplus only counted, so memory stays
 * bounded whatever the packet size. It never throws and never touches the bytes it is given.
 */
export class Framer {
  private state: State;
  /** Stream offset of the next byte to consume. */
  private offset = 0;
  private readonly cap: number;
  private readonly side: Direction | undefined;
  private readonly payloadKeep: number | undefined;
  private readonly publishProperties: () => boolean;
  private readonly budget: CaptureBudget | undefined;

  // Frame under construction.
  private frameOffset = 0;
  private first = 0;
  private length = 0;
  private lengthBytes = 0;
  /** From the shared pool (its own ArrayBuffer would cost every connection two): bytes are written before read. */
  private readonly header = Buffer.allocUnsafe(5);
  private capture: Buffer | undefined;
  private captured = 0;
  /** Body bytes to keep: the capture's length, or less once a PUBLISH's need is known. */
  private want = 0;
  /** A PUBLISH whose need is not known yet (its variable header is still arriving). */
  private sizing = false;
  /** A frame of another type: the capture doubles as its bytes arrive, up to the capture cap. */
  private growing = false;
  private bodyLeft = 0;
  /** Bytes of the capture taken from the budget. */
  private budgeted = 0;
  /** The budget refused this frame more: what it kept is all it gets. */
  private starved = false;

  private sniffed: Buffer | undefined;

  constructor(
    private readonly handler: FramerHandler,
    options: FramerOptions = {},
  ) {
    this.cap = options.captureCap ?? DEFAULT_CAPTURE_CAP;
    this.side = options.sniff;
    this.payloadKeep = options.payloadKeep;
    this.publishProperties = options.publishProperties ?? ALWAYS;
    this.budget = options.budget;
    this.state = this.side === undefined ? State.Header : State.Sniff;
  }

  /** Bytes of the stream seen so far. */
  get position(): number {
    return this.offset;
  }

  /** False once the stream was found unframeable or not MQTT. */
  get framing(): boolean {
    return this.state !== State.Dead;
  }

  /**
   * How many of the next bytes would only be counted, giving no frame and no error: the rest of a
   * body past its capture (all but its last byte, which completes the frame), or everything once
   * framing stopped. A caller that defers its pushes may push such bytes out of turn.
   */
  get countOnly(): number {
    if (this.state === State.Dead) return Number.POSITIVE_INFINITY;
    if (this.state !== State.Body || this.captured < this.want || this.sizing || this.growing) return 0;
    return this.bodyLeft - 1;
  }

  /** Bytes held between calls (for memory bounds): the partial capture and sniffed bytes. */
  get buffered(): number {
    return (this.capture?.length ?? 0) + (this.sniffed?.length ?? 0);
  }

  push(chunk: Buffer): void {
    if (this.state === State.Dead) {
      this.offset += chunk.length;
      return;
    }
    const n = chunk.length;
    let i = 0;
    while (i < n) {
      switch (this.state as State) {
        case State.Header: {
          const b = chunk[i]!;
          if (isReservedType(b)) {
            this.fail(
              'MQTT_RESERVED_PACKET_TYPE',
              `packet type 0 is reserved (first byte 0x0${b.toString(16)})`,
              chunk,
              i,
            );
            return;
          }
          const h = fixedHeaderAt(chunk, i, n);
          if (h >= 0) {
            const hdr = h & 7;
            const len = h >>> 3;
            const start = i + hdr;
            if (start + len <= n) {
              // Fast path: the whole frame is in this chunk.
              this.emit(this.offset + i, b, hdr, len, chunk.subarray(start, start + Math.min(len, this.cap)));
              i = start + len;
              continue;
            }
          }
          this.frameOffset = this.offset + i;
          this.first = b;
          if (h >= 0) {
            const hdr = h & 7;
            chunk.copy(this.header, 0, i, i + hdr);
            this.lengthBytes = hdr - 1;
            this.length = h >>> 3;
            i += hdr;
            this.startBody();
            break;
          }
          this.header[0] = b;
          this.lengthBytes = 0;
          this.state = State.Length;
          i++;
          break;
        }
        case State.Length: {
          this.header[1 + this.lengthBytes++] = chunk[i++]!;
          const h = fixedHeaderAt(this.header, 0, 1 + this.lengthBytes);
          if (h === HEADER_MALFORMED) {
            this.fail(
              'MQTT_MALFORMED_REMAINING_LENGTH',
              `Remaining Length at offset ${this.frameOffset + 1} continues past four bytes`,
              chunk,
              i,
              this.header,
            );
            return;
          }
          if (h >= 0) {
            this.length = h >>> 3;
            this.startBody();
          }
          break;
        }
        case State.Body: {
          let take = Math.min(this.bodyLeft, n - i);
          const room = this.want - this.captured;
          if (room > 0) {
            const c = Math.min(room, take);
            chunk.copy(this.capture!, this.captured, i, i + c);
            this.captured += c;
            // Kept more than was room for: the rest of this chunk is looked at again.
            if (this.sizing ? this.resize() : this.growing && this.captured === this.want && this.grow()) {
              take = c;
            }
          }
          i += take;
          this.bodyLeft -= take;
          if (this.bodyLeft === 0) this.finishSpanning();
          break;
        }
        case State.Sniff: {
          i = this.sniff(chunk, i);
          if (!this.framing) {
            this.offset += n;
            return;
          }
          break;
        }
        default:
          this.offset += n;
          return;
      }
    }
    this.offset += n;
  }

  /** The stream ended: report a frame cut short, and classify a short non-MQTT opening. */
  end(): void {
    if (this.state === State.Sniff && this.sniffed !== undefined && this.sniffed.length > 0) {
      this.reportNotMqtt(this.sniffed, true);
      return;
    }
    if (this.state === State.Length || this.state === State.Body) {
      const type = PACKET_TYPE_NAMES[this.first >> 4] ?? 'packet';
      const got = this.state === State.Body ? this.length - this.bodyLeft : 0;
      const detail =
        this.state === State.Body
          ? `stream ended ${got} of ${this.length} body bytes into a ${type} at offset ${this.frameOffset}`
          : `stream ended inside the fixed header of a ${type} at offset ${this.frameOffset}`;
      const excerpt = Buffer.concat([
        this.header.subarray(0, 1 + this.lengthBytes),
        this.capture?.subarray(0, Math.min(this.captured, 27)) ?? Buffer.alloc(0),
      ]);
      this.handler.error({
        kind: 'truncated',
        code: 'MQTT_STREAM_ENDED_MID_PACKET',
        offset: this.frameOffset,
        detail,
        hex: hexExcerpt(excerpt),
      });
    }
    this.state = State.Dead;
    this.release();
  }

  private startBody(): void {
    const len = this.length;
    if (len === 0) {
      this.emit(this.frameOffset, this.first, 1 + this.lengthBytes, 0, EMPTY);
      this.state = State.Header;
      return;
    }
    let size = Math.min(len, this.cap);
    const keep = this.payloadKeep;
    // A PUBLISH is kept up to what its record shows, once its variable header tells where that ends.
    this.sizing = keep !== undefined && this.first >> 4 === 3 && size > keep + PUBLISH_HEADROOM;
    // Other types get memory as their bytes come: a length a peer claims costs nothing until sent
    // (a PUBLISH without payloadKeep keeps its one allocation: large ones are common).
    this.growing = !this.sizing && this.first >> 4 !== 3 && size > CAPTURE_STEP;
    if (this.sizing) size = keep! + PUBLISH_HEADROOM;
    else if (this.growing) size = CAPTURE_STEP;
    this.starved = false;
    // A first allocation past CAPTURE_STEP (a PUBLISH kept whole, a long preview) is budgeted too.
    if (!this.fund(size)) size = CAPTURE_STEP;
    this.capture = Buffer.allocUnsafe(size);
    this.want = size;
    this.captured = 0;
    this.bodyLeft = len;
    this.state = State.Body;
  }

  /**
   * A sizing PUBLISH got more bytes: settles `want` once its need is known, and grows the capture
   * when it is full and the need is more (a long topic or large properties). True when it grew.
   */
  private resize(): boolean {
    const most = Math.min(this.length, this.cap);
    const need = publishNeed(
      this.capture!,
      this.captured,
      (this.first >> 1) & 3,
      this.publishProperties(),
      this.payloadKeep!,
    );
    let size: number;
    if (need >= 0) {
      this.sizing = false;
      size = Math.min(need, most);
      if (size <= this.capture!.length) {
        this.want = size;
        return false;
      }
    } else {
      if (this.captured < this.want) return false;
      size = Math.min(-need + this.payloadKeep! + PUBLISH_HEADROOM, most);
      if (size === most) this.sizing = false;
      if (size <= this.captured) return false;
    }
    if (!this.fund(size)) {
      this.sizing = false;
      return false;
    }
    const grown = Buffer.allocUnsafe(size);
    this.capture!.copy(grown, 0, 0, this.captured);
    this.capture = grown;
    this.want = size;
    return true;
  }

  /** The capture of a growing frame is full: twice the size, up to the cap, if the budget allows. */
  private grow(): boolean {
    const most = Math.min(this.length, this.cap);
    const size = Math.min(2 * this.want, most);
    if (size === most) this.growing = false;
    if (!this.fund(size)) {
      this.growing = false;
      return false;
    }
    const grown = Buffer.allocUnsafe(size);
    this.capture!.copy(grown, 0, 0, this.captured);
    this.capture = grown;
    this.want = size;
    return true;
  }

  /**
   * Takes from the budget what a capture of `size` bytes needs beyond the first CAPTURE_STEP and
   * what it holds already. False when the budget is spent: the frame keeps what it has.
   */
  private fund(size: number): boolean {
    const budget = this.budget;
    if (budget === undefined) return true;
    const more = Math.max(0, size - CAPTURE_STEP) - this.budgeted;
    if (more <= 0) return true;
    if (!budget.take(more)) {
      this.starved = true;
      return false;
    }
    this.budgeted += more;
    return true;
  }

  /** Drops the capture and gives its budget back. */
  private release(): void {
    this.capture = undefined;
    if (this.budgeted > 0) {
      this.budget!.give(this.budgeted);
      this.budgeted = 0;
    }
  }

  private finishSpanning(): void {
    const kept = Math.min(this.captured, this.want);
    const whole = this.capture!;
    const body = kept === whole.length ? whole : whole.subarray(0, kept);
    this.release();
    this.state = State.Header;
    // Cut inside the payload of a packet the capture cap would have kept whole: not truncated.
    const payloadCut = !this.starved && kept < this.length && this.length <= this.cap;
    this.emit(this.frameOffset, this.first, 1 + this.lengthBytes, this.length, body, payloadCut);
  }

  private emit(
    offset: number,
    first: number,
    headerLength: number,
    remainingLength: number,
    body: Buffer,
    payloadCut = false,
  ): void {
    const frame: Frame = {
      offset,
      type: first >> 4,
      flags: first & 0x0f,
      headerLength,
      remainingLength,
      body,
      truncated: body.length < remainingLength,
    };
    if (payloadCut) frame.payloadCut = true;
    this.handler.frame(frame);
  }

  /** Gathers the opening bytes until the stream is known to be MQTT or classified as not. */
  private sniff(chunk: Buffer, i: number): number {
    if (this.sniffed === undefined && isMqttOpening(this.side!, chunk[i]!)) {
      this.state = State.Header;
      return i;
    }
    const want = SNIFF_BYTES - (this.sniffed?.length ?? 0);
    const take = Math.min(want, chunk.length - i);
    const part = chunk.subarray(i, i + take);
    this.sniffed = this.sniffed === undefined ? Buffer.from(part) : Buffer.concat([this.sniffed, part]);
    this.reportNotMqtt(this.sniffed, false);
    return i + take;
  }

  private reportNotMqtt(first: Buffer, final: boolean): void {
    const result = sniffNonMqtt(first, this.side!, final);
    if (result === undefined) return;
    this.state = State.Dead;
    this.sniffed = undefined;
    const error: FramingError = {
      kind: 'not-mqtt',
      code: 'MQTT_NOT_MQTT',
      offset: 0,
      detail: result.detail,
      hex: hexExcerpt(first),
      looksLike: result.looksLike,
    };
    if (result.hint !== undefined) error.hint = result.hint;
    this.handler.error(error);
  }

  private fail(code: string, detail: string, chunk: Buffer, at: number, prefix?: Buffer): void {
    const tail = chunk.subarray(at, at + 16);
    const bytes = prefix === undefined ? tail : Buffer.concat([prefix, tail]);
    this.handler.error({
      kind: 'malformed',
      code,
      offset: prefix === undefined ? this.offset + at : this.frameOffset,
      detail: `${detail}; the rest of this direction is forwarded but not decoded`,
      hex: hexExcerpt(bytes),
    });
    this.state = State.Dead;
    this.release();
    this.offset += chunk.length;
  }
}

const EMPTY = Buffer.alloc(0);
const ALWAYS = (): boolean => true;

/** The first capture of a frame spanning chunks, other than a PUBLISH. */
const CAPTURE_STEP = 1024;

/** Room for a PUBLISH's variable header beside its kept payload, before its need is known. */
const PUBLISH_HEADROOM = 256;

/**
 * Body bytes of a PUBLISH its record can use: the variable header (Topic Name, a Packet Identifier
 * at QoS > 0, the properties when `properties`) and `payloadKeep` bytes of payload. Read from the
 * captured prefix `body[0, n)`; while that is too short to tell, `-k`: at least `k` bytes are needed.
 */
export function publishNeed(
  body: Uint8Array,
  n: number,
  qos: number,
  properties: boolean,
  payloadKeep: number,
): number {
  if (n < 2) return -2;
  let pos = 2 + ((body[0]! << 8) | body[1]!) + (qos > 0 ? 2 : 0);
  if (properties) {
    if (n <= pos) return -(pos + 1);
    // The Property Length is a Variable Byte Integer like the Remaining Length: read it the same way.
    const h = fixedHeaderAt(body, pos - 1, n);
    if (h === HEADER_INCOMPLETE) return -(n + 1);
    if (h === HEADER_MALFORMED) return Number.MAX_SAFE_INTEGER;
    pos += (h & 7) - 1 + (h >>> 3);
  }
  return pos + payloadKeep;
}
