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
  /** Check that the stream opens like MQTT from this side and classify it when not. */
  sniff?: Direction;
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

  // Frame under construction.
  private frameOffset = 0;
  private first = 0;
  private length = 0;
  private lengthBytes = 0;
  /** From the shared pool (its own ArrayBuffer would cost every connection two): bytes are written before read. */
  private readonly header = Buffer.allocUnsafe(5);
  private capture: Buffer | undefined;
  private captured = 0;
  private bodyLeft = 0;

  private sniffed: Buffer | undefined;

  constructor(
    private readonly handler: FramerHandler,
    options: FramerOptions = {},
  ) {
    this.cap = options.captureCap ?? DEFAULT_CAPTURE_CAP;
    this.side = options.sniff;
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
    if (this.state !== State.Body || this.captured < this.capture!.length) return 0;
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
          const take = Math.min(this.bodyLeft, n - i);
          const room = this.capture === undefined ? 0 : this.capture.length - this.captured;
          if (room > 0) {
            const c = Math.min(room, take);
            chunk.copy(this.capture!, this.captured, i, i + c);
            this.captured += c;
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
    this.capture = undefined;
  }

  private startBody(): void {
    const len = this.length;
    if (len === 0) {
      this.emit(this.frameOffset, this.first, 1 + this.lengthBytes, 0, EMPTY);
      this.state = State.Header;
      return;
    }
    this.capture = Buffer.allocUnsafe(Math.min(len, this.cap));
    this.captured = 0;
    this.bodyLeft = len;
    this.state = State.Body;
  }

  private finishSpanning(): void {
    const body = this.capture!;
    this.capture = undefined;
    this.state = State.Header;
    this.emit(this.frameOffset, this.first, 1 + this.lengthBytes, this.length, body);
  }

  private emit(
    offset: number,
    first: number,
    headerLength: number,
    remainingLength: number,
    body: Buffer,
  ): void {
    this.handler.frame({
      offset,
      type: first >> 4,
      flags: first & 0x0f,
      headerLength,
      remainingLength,
      body,
      truncated: body.length < remainingLength,
    });
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
    this.capture = undefined;
    this.offset += chunk.length;
  }
}

const EMPTY = Buffer.alloc(0);
