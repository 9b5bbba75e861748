/**
 * Finds the bytes of secrets in one direction of an MQTT byte stream as it flows, so a recording
 * can carry `*` (0x2A) in their place: the CONNECT Password (3.1.1 §3.1.3.5, 5.0 §3.1.3.6) and
 * Authentication Data (property 0x16; 5.0 §3.1.2.11.3, §3.2.2.3.18, §3.15.2.2.3) in CONNECT,
 * CONNACK and AUTH. The length prefix of a secret always precedes it, so its byte range is known
 * before its first byte arrives: masking never waits for a packet to be complete, whatever the
 * chunking.
 *
 * Cheap by construction: frames that cannot hold a secret are skipped by their Remaining Length
 * (O(1) per frame, no copying); only the fields before a secret are read byte by byte. A 3.x
 * connection stops being scanned after its CONNECT (3.x has no AUTH and CONNACK carries nothing
 * secret). A stream that cannot be framed stops being scanned (and is reported by `desynchronised`).
 */

import { PROPERTY_BY_ID } from '../protocol/catalogue/lookup.js';
import type { ProtocolVersion } from '../protocol/constants.js';
import { versionOfLevel } from '../protocol/decode/index.js';
import type { Side as Direction } from '../session/connection-session.js';

export const MASK_BYTE = 0x2a;

const CONNECT = 1;
const CONNACK = 2;
const AUTH = 15;
const AUTHENTICATION_DATA = 0x16;

/** What both directions of a connection share: the version its CONNECT announced. */
export interface MaskContext {
  version: ProtocolVersion | undefined;
}

/** What a field walker asks the driver for. */
type Need =
  | { op: 'u8' }
  | { op: 'u16' }
  | { op: 'varint' }
  /** Skip `n` bytes; `secret`: they are to be masked. */
  | { op: 'skip'; n: number; secret: boolean };

const U8: Need = { op: 'u8' };
const U16: Need = { op: 'u16' };
const VARINT: Need = { op: 'varint' };
const skip = (n: number, secret = false): Need => ({ op: 'skip', n, secret });

type Walker = Generator<Need, void, number>;

enum State {
  Header,
  Length,
  Skip,
  Walk,
  Done,
}

/**
 * One direction's scanner. `scan(chunk)` returns the [start, end) pairs of `chunk` to mask, or
 * undefined when there are none (the common case: nothing is allocated).
 */
export class SecretLocator {
  private state = State.Header;
  private first = 0;
  private length = 0;
  private multiplier = 1;
  private lengthBytes = 0;
  private bodyLeft = 0;
  private frames = 0;
  private walker: Walker | undefined;
  private need: Need | undefined;
  /** Bytes the walker has consumed in the current frame body. */
  private consumed = 0;
  // Integer being read for a u8/u16/varint need.
  private acc = 0;
  private accBytes = 0;
  private accMul = 1;
  private skipLeft = 0;
  desynchronised = false;

  constructor(
    private readonly side: Direction,
    private readonly ctx: MaskContext,
  ) {}

  /** True once nothing more can be secret in this direction. */
  get done(): boolean {
    return this.state === State.Done;
  }

  scan(chunk: Buffer): number[] | undefined {
    let ranges: number[] | undefined;
    const n = chunk.length;
    let i = 0;
    while (i < n) {
      switch (this.state) {
        case State.Header: {
          if (this.stopHere()) return ranges;
          this.first = chunk[i++]!;
          this.length = 0;
          this.multiplier = 1;
          this.lengthBytes = 0;
          this.state = State.Length;
          break;
        }
        case State.Length: {
          const b = chunk[i++]!;
          this.length += (b & 0x7f) * this.multiplier;
          this.lengthBytes++;
          if (b & 0x80) {
            if (this.lengthBytes === 4) {
              this.desynchronised = true;
              this.state = State.Done;
              return ranges;
            }
            this.multiplier *= 128;
            break;
          }
          this.startBody();
          break;
        }
        case State.Skip: {
          const take = Math.min(this.bodyLeft, n - i);
          i += take;
          this.bodyLeft -= take;
          if (this.bodyLeft === 0) this.endFrame();
          break;
        }
        case State.Walk: {
          const need = this.need!;
          if (need.op === 'skip') {
            const take = Math.min(this.skipLeft, this.bodyLeft, n - i);
            if (need.secret && take > 0) {
              ranges ??= [];
              ranges.push(i, i + take);
            }
            i += take;
            this.skipLeft -= take;
            this.bodyLeft -= take;
            this.consumed += take;
            if (this.skipLeft === 0) this.advance(0);
          } else {
            const b = chunk[i++]!;
            this.bodyLeft--;
            this.consumed++;
            this.accBytes++;
            if (need.op === 'varint') {
              this.acc += (b & 0x7f) * this.accMul;
              this.accMul *= 128;
              if (!(b & 0x80) || this.accBytes === 4) this.advance(this.acc);
            } else {
              this.acc = this.acc * 256 + b;
              if (this.accBytes === (need.op === 'u8' ? 1 : 2)) this.advance(this.acc);
            }
          }
          if (this.state === State.Walk && this.bodyLeft === 0) {
            // The frame ended before the walker did (a malformed packet): next frame.
            this.walker = undefined;
            this.endFrame();
          }
          break;
        }
        default:
          return ranges;
      }
    }
    return ranges;
  }

  /** Whether nothing secret can follow: 3.x after CONNECT; a client stream that is not MQTT. */
  private stopHere(): boolean {
    const v = this.ctx.version;
    if (this.side === 'client' ? this.frames > 0 && v !== '5.0' : v !== undefined && v !== '5.0') {
      this.state = State.Done;
      return true;
    }
    return false;
  }

  private startBody(): void {
    this.frames++;
    this.bodyLeft = this.length;
    const type = this.first >> 4;
    if (this.frames === 1 && this.side === 'client' && type !== CONNECT) {
      // Not an MQTT client stream (TLS, HTTP...): there is nothing we know how to find.
      this.state = State.Done;
      return;
    }
    const walker = this.walkerFor(type);
    if (walker === undefined || this.length === 0) {
      this.state = State.Skip;
      if (this.length === 0) this.endFrame();
      return;
    }
    this.walker = walker;
    this.consumed = 0;
    this.state = State.Walk;
    this.advance(0);
  }

  private walkerFor(type: number): Walker | undefined {
    if (this.side === 'client') {
      if (type === CONNECT) return this.connect();
      if (type === AUTH) return this.auth();
      return undefined;
    }
    // Only 5.0 has AUTH, and CONNACK properties (a 3.x CONNACK is exactly two bytes long); this
    // holds even before the CONNECT's version is known.
    if (this.ctx.version !== undefined && this.ctx.version !== '5.0') return undefined;
    if (type === CONNACK && this.length > 2) return this.connack();
    if (type === AUTH) return this.auth();
    return undefined;
  }

  /** Resumes the walker with `value`; sets up its next need or ends its part of the frame. */
  private advance(value: number): void {
    const r = this.walker!.next(value);
    if (r.done) {
      this.walker = undefined;
      this.need = undefined;
      this.state = State.Skip;
      if (this.bodyLeft === 0) this.endFrame();
      return;
    }
    const need = r.value;
    this.need = need;
    this.acc = 0;
    this.accBytes = 0;
    this.accMul = 1;
    if (need.op === 'skip') {
      this.skipLeft = need.n;
      if (need.n === 0) this.advance(0);
    }
  }

  private endFrame(): void {
    this.state = State.Header;
  }

  // --- field walkers: they yield what they need and receive the integer read ------------------

  private *connect(): Walker {
    const nameLength = yield U16;
    yield skip(nameLength);
    const level = yield U8;
    const version = versionOfLevel(level) ?? '3.1.1';
    this.ctx.version = version;
    const flags = yield U8;
    yield skip(2); // Keep Alive
    const v5 = version === '5.0';
    if (v5) yield* this.properties();
    yield skip(yield U16); // Client Identifier
    if (flags & 0x04) {
      if (v5) yield* this.properties();
      yield skip(yield U16); // Will Topic
      yield skip(yield U16); // Will Payload
    }
    if (flags & 0x80) yield skip(yield U16); // User Name
    if (flags & 0x40) yield skip(yield U16, true); // Password
  }

  private *connack(): Walker {
    yield skip(2); // Acknowledge Flags, Reason Code
    yield* this.properties();
  }

  private *auth(): Walker {
    yield skip(1); // Reason Code (the frame may stop here: 0x00 with no properties)
    yield* this.properties();
  }

  /** A property list (5.0 §2.2.2): skips everything but Authentication Data. */
  private *properties(): Generator<Need, void, number> {
    const length = yield VARINT;
    const end = this.consumed + length;
    while (this.consumed < end) {
      const id = yield VARINT;
      const def = PROPERTY_BY_ID[id];
      if (def === undefined) {
        // An unknown property: its size is unknown, so nothing after it can be located.
        yield skip(end - this.consumed);
        return;
      }
      switch (def.type) {
        case 'byte':
          yield skip(1);
          break;
        case 'twoByteInteger':
          yield skip(2);
          break;
        case 'fourByteInteger':
          yield skip(4);
          break;
        case 'varint':
          yield VARINT;
          break;
        case 'utf8':
          yield skip(yield U16);
          break;
        case 'binary':
          yield skip(yield U16, id === AUTHENTICATION_DATA);
          break;
        case 'utf8Pair':
          yield skip(yield U16);
          yield skip(yield U16);
          break;
      }
    }
  }
}

/** A copy of `chunk` with the `ranges` ([start, end) pairs) overwritten by `*`. */
export function maskRanges(chunk: Buffer, ranges: readonly number[]): Buffer {
  const copy = Buffer.from(chunk);
  for (let k = 0; k < ranges.length; k += 2) copy.fill(MASK_BYTE, ranges[k]!, ranges[k + 1]!);
  return copy;
}

/** Both directions of one connection. */
export function secretLocators(): Record<Direction, SecretLocator> {
  const ctx: MaskContext = { version: undefined };
  return { client: new SecretLocator('client', ctx), broker: new SecretLocator('broker', ctx) };
}
