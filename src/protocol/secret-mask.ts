/**
 * Finds the bytes of secrets in one direction of an MQTT byte stream as it flows, so that a
 * recording can carry `*` (0x2A) in their place and the log can hold back what may be made of
 * them: the CONNECT Password (3.1.1 §3.1.3.5, 5.0 §3.1.3.6) and Authentication Data (5.0
 * §3.1.2.11.3, §3.2.2.3.18, §3.15.2.2.3) in CONNECT, CONNACK and AUTH. A length prefix precedes
 * every field, so a secret's range is known before its first byte arrives: nothing waits for a
 * packet to be complete, whatever the chunking.
 *
 * The stream is cut where the Framer cuts it (fixedHeaderAt); frames that cannot hold a secret are
 * skipped by their Remaining Length, O(1) each, nothing copied. A client's CONNECT and AUTH are
 * looked for wherever they occur. One that parses exactly has its secrets masked and nothing
 * else. Where lengths lie, where a secret ends is unknown, so more is masked, never less:
 * - a client CONNECT's fields after Keep Alive, an AUTH's after its reason code, unless the frame
 *   turns out to parse exactly: a lying length shifts every field after it, so a field that is
 *   shown (a client id, a user name) may hold the first bytes of the password. They are held as
 *   provisional and masked when the frame does not add up, when a chunk ends before it is known
 *   (a recording writes each chunk as it comes), or when the Connect Flags are not what the spec
 *   allows; a Protocol Name other than "MQTT" or "MQIsdp" with its level: the rest of the frame,
 *   and all after it;
 * - the rest of a property list after its Authentication Data (whose length may have been short),
 *   or, in a client's CONNECT or AUTH, after a property that packet does not allow (it may be an
 *   Authentication Data whose identifier was damaged);
 * - from the first field that cannot be parsed (it runs past its frame or its property list, an
 *   unknown property) or the first byte left over after the last field (a password sent with the
 *   Password Flag clear) to the end of the frame, and everything after it (`opaqueFrom`): those
 *   bytes cannot be told apart from the rest of the secret;
 * - when the packet right after a CONNECT or AUTH does not frame as one a client sends (its type,
 *   flags and first fields do not fit its length: a password sent after a packet whose lengths
 *   leave it out, or counted in characters instead of bytes), everything from its first byte;
 * - a client stream that does not open with CONNECT (HTTP, a PROXY header...), after the first
 *   SNIFF_BYTES bytes, which is what the log's not-mqtt record shows; TLS and SSH are left alone.
 */

import { PROPERTY_BY_ID, propertyAllowed, reasonCode } from './catalogue/lookup.js';
import { PROPERTIES, type PropertyPacket } from './catalogue/properties.js';
import {
  ConnectFlag,
  PACKET_TYPE_NAMES,
  PacketType,
  type PacketTypeName,
  type ProtocolVersion,
  REQUIRED_FLAGS,
} from './constants.js';
import { connectFlagProblems, protocolNameOf, versionOfLevel } from './decode/connect.js';
import type { Direction } from './direction.js';
import { fixedHeaderAt, HEADER_MALFORMED, isReservedType } from './framer.js';
import { isMqttOpening, SNIFF_BYTES, sniffNonMqtt } from './sniff.js';
import { Utf8Check } from './utf8-check.js';

export const MASK_BYTE = 0x2a;

const AUTHENTICATION_DATA = PROPERTIES.find((p) => p.key === 'authenticationData')!.id;

/**
 * Most bytes of the packet after a CONNECT or AUTH a recording shows before that packet is known
 * to frame as a client's: fewer than the 4-byte runs of a secret that must never be shown.
 */
const UNCHECKED_SHOWN = 3;

/** What both directions of a connection share: the version its CONNECT announced. */
export interface MaskContext {
  version: ProtocolVersion | undefined;
}

export interface SecretLocatorOptions {
  /**
   * When a chunk ends before the packet after a CONNECT or AUTH could be checked, past its first
   * UNCHECKED_SHOWN bytes: `mask` takes it for more of the credentials (a recording writes each
   * chunk as it comes); `wait` goes on checking it (the tap, which shows whole packets). Default
   * `mask`.
   */
  atChunkEnd?: 'mask' | 'wait';
}

/** What a field walker asks the driver for. */
type Need =
  | { op: 'u8' | 'u16' | 'varint' }
  /** The next `n` bytes; `secret`: they are to be masked. */
  /** `text`: a UTF-8 string, where U+0000 is not allowed: one there is a length that lied. */
  | { op: 'skip'; n: number; secret: boolean; last?: true; text?: true }
  /** The walked bytes from here on are provisional: masked unless the frame parses exactly. */
  | { op: 'provisional' }
  /** The frame's provisional bytes are masked, whether or not it parses. */
  | { op: 'untrusted' }
  /** The field cannot be parsed: the rest of the frame is masked. */
  | { op: 'fail' }
  /** The packet after a CONNECT or AUTH has shown enough to be taken for what it says it is. */
  | { op: 'checked' };

const U8: Need = { op: 'u8' };
const U16: Need = { op: 'u16' };
const VARINT: Need = { op: 'varint' };
const FAIL: Need = { op: 'fail' };
const CHECKED: Need = { op: 'checked' };
const PROVISIONAL: Need = { op: 'provisional' };
const UNTRUSTED: Need = { op: 'untrusted' };
const SECRET = true;
const skip = (n: number, secret = false): Need => ({ op: 'skip', n, secret });
const text = (n: number): Need => ({ op: 'skip', n, secret: false, text: true });

type Walker = Generator<Need, void, number>;

enum State {
  /** A client stream's first byte: does it open like MQTT? */
  Opening,
  /** A client stream that did not: its first SNIFF_BYTES bytes. */
  Sniff,
  Header,
  Length,
  /** A frame body without secrets. */
  Skip,
  /** A frame body read field by field. */
  Walk,
  /** The rest of a frame body, masked. */
  Rest,
  /** Everything from here on, masked. */
  Opaque,
  /** Nothing more to find. */
  Done,
}

/**
 * One direction's scanner. `scan(chunk)` returns the [start, end) pairs of `chunk` to mask, or
 * undefined when there are none (the common case: nothing is allocated).
 */
export class SecretLocator {
  private state: State;
  /** Stream offset of the chunk being scanned. */
  private offset = 0;
  private ranges: number[] | undefined;
  /** Stream offset of the frame's first byte. */
  private frameStart = 0;
  /** The fixed header, when it spans chunks. */
  private header: Buffer | undefined;
  private headerBytes = 0;
  private frameLength = 0;
  /** Stream offset just past the frame. */
  private frameEnd = 0;
  private bodyLeft = 0;
  private walker: Walker | undefined;
  private need: Need | undefined;
  /** Bytes the walker has consumed in the current frame body. */
  private consumed = 0;
  // Integer being read for a u8/u16/varint need.
  private acc = 0;
  private accBytes = 0;
  private accMul = 1;
  private skipLeft = 0;
  private skipSecret = false;
  private skipText = false;
  /** The text field being skipped, checked across chunks. */
  private readonly textCheck = new Utf8Check();
  /**
   * The frame did not parse exactly (a field runs past its end or its property list, bytes are
   * left over): where its secret ends is unknown, so everything after it is masked.
   */
  private endUnknown = false;
  /** This frame is a client's CONNECT or AUTH. */
  private credentials = false;
  /** The frame before this one was a client's CONNECT or AUTH. */
  private afterCredentials = false;
  /** The packet after a CONNECT or AUTH is being checked: its bytes may be more of their secret. */
  private checking = false;
  /** The walker only checks the frame (it is not a CONNECT or AUTH). */
  private checkOnly = false;
  /** Stream offset from which walked bytes are provisional (Infinity while none are). */
  private provisionalFrom = Number.POSITIVE_INFINITY;
  /** The frame's provisional bytes are masked whatever its end (its name, level or flags are wrong). */
  private untrusted = false;
  /** Wait mode: starts of the client CONNECTs and AUTHs masked beyond their secrets, for untrustedAt. */
  private readonly untrustedFrames: number[] | undefined;
  /** Where the scan is in the chunk, for masking from a frame's start. */
  private pos = 0;
  private sniffed: Buffer | undefined;
  private sniffedBytes = 0;
  private opaque = Number.POSITIVE_INFINITY;
  private masked = 0;
  private readonly waitAtChunkEnd: boolean;

  constructor(
    private readonly side: Direction,
    private readonly ctx: MaskContext,
    options: SecretLocatorOptions = {},
  ) {
    this.state = side === 'client' ? State.Opening : State.Header;
    this.waitAtChunkEnd = options.atChunkEnd === 'wait';
    this.untrustedFrames = this.waitAtChunkEnd ? [] : undefined;
  }

  /**
   * Wait mode: whether the frame starting at `offset` had fields masked beyond its secrets (they
   * may hold some of it). Asked in stream order, frame by frame, after scan() saw the frame.
   */
  untrustedAt(offset: number): boolean {
    const frames = this.untrustedFrames;
    if (frames === undefined) return false;
    while (frames.length > 0 && frames[0]! < offset) frames.shift();
    return frames[0] === offset;
  }

  /** True once nothing more can be secret in this direction. */
  get done(): boolean {
    return this.state === State.Done;
  }

  /** Stream offset from which every byte is masked (Infinity while there is none). */
  get opaqueFrom(): number {
    return this.opaque;
  }

  /**
   * Stream offset from which the bytes may hold credentials as far as is known yet: opaqueFrom,
   * or the start of the packet after a CONNECT or AUTH while it is being checked.
   */
  get suspectFrom(): number {
    return this.unchecked ? Math.min(this.frameStart, this.opaque) : this.opaque;
  }

  /** A CONNECT or AUTH is being read whose fields are not known yet to add up (they may hold its secret). */
  get provisional(): boolean {
    return this.provisionalFrom !== Number.POSITIVE_INFINITY;
  }

  /** The packet after a CONNECT or AUTH has begun and is not known yet to be a packet of its own. */
  private get unchecked(): boolean {
    return this.checking || (this.afterCredentials && this.state === State.Length);
  }

  /** Stream offset just past the last byte masked so far (0 while none was). */
  get maskedUpTo(): number {
    return this.masked;
  }

  scan(chunk: Buffer): number[] | undefined {
    this.ranges = undefined;
    this.run(chunk);
    if (this.provisionalFrom !== Number.POSITIVE_INFINITY && !this.waitAtChunkEnd) {
      // Shown now or never: whether the frame parses is not known yet.
      this.mark(Math.max(this.provisionalFrom - this.offset, 0), chunk.length);
      this.provisionalFrom = this.offset + chunk.length;
    }
    // A recording shows this chunk now: more than a few bytes of an unchecked packet are not risked.
    const shown = this.offset + chunk.length - this.frameStart;
    if (this.unchecked && !this.waitAtChunkEnd && shown > UNCHECKED_SHOWN) {
      this.pos = chunk.length;
      this.reject();
    }
    this.offset += chunk.length;
    const ranges = this.ranges;
    this.ranges = undefined;
    return ranges;
  }

  private run(chunk: Buffer): void {
    const n = chunk.length;
    let i = 0;
    while (i < n) {
      switch (this.state) {
        case State.Opening:
          if (isMqttOpening(this.side, chunk[i]!)) this.state = State.Header;
          else {
            this.sniffed = Buffer.alloc(SNIFF_BYTES);
            this.state = State.Sniff;
          }
          break;
        case State.Sniff: {
          const take = Math.min(SNIFF_BYTES - this.sniffedBytes, n - i);
          chunk.copy(this.sniffed!, this.sniffedBytes, i, i + take);
          this.sniffedBytes += take;
          i += take;
          if (this.sniffedBytes === SNIFF_BYTES) {
            const looksLike = sniffNonMqtt(this.sniffed!, this.side, true)?.looksLike;
            this.sniffed = undefined;
            if (looksLike === 'tls' || looksLike === 'ssh') this.state = State.Done;
            else this.becomeOpaque(this.offset + i);
          }
          break;
        }
        case State.Header: {
          if (this.side === 'broker' && this.ctx.version !== undefined && this.ctx.version !== '5.0') {
            // 3.x brokers send nothing secret (a 3.x CONNACK is two bytes; there is no AUTH).
            this.state = State.Done;
            return;
          }
          const b = chunk[i]!;
          this.frameStart = this.offset + i;
          this.pos = i;
          if (isReservedType(b)) {
            this.unframeable();
            break;
          }
          const h = fixedHeaderAt(chunk, i, n);
          if (h >= 0) {
            i += h & 7;
            this.pos = i;
            this.startFrame(b, h >>> 3);
            break;
          }
          this.header ??= Buffer.allocUnsafe(5);
          this.header[0] = b;
          this.headerBytes = 1;
          this.state = State.Length;
          i++;
          break;
        }
        case State.Length: {
          const header = this.header!;
          header[this.headerBytes++] = chunk[i++]!;
          this.pos = i;
          const h = fixedHeaderAt(header, 0, this.headerBytes);
          if (h === HEADER_MALFORMED) this.unframeable();
          else if (h >= 0) this.startFrame(header[0]!, h >>> 3);
          break;
        }
        case State.Skip: {
          const take = Math.min(this.bodyLeft, n - i);
          i += take;
          this.bodyLeft -= take;
          if (this.bodyLeft === 0) this.endFrame();
          break;
        }
        case State.Rest: {
          const take = Math.min(this.bodyLeft, n - i);
          this.mark(i, i + take);
          i += take;
          this.bodyLeft -= take;
          if (this.bodyLeft === 0) this.endFrame();
          break;
        }
        case State.Walk:
          i = this.walk(chunk, i);
          break;
        case State.Opaque:
          this.mark(i, n);
          return;
        default:
          return;
      }
    }
  }

  /** Feeds the walker from `chunk[i]`; returns where it stopped. */
  private walk(chunk: Buffer, i: number): number {
    const need = this.need!;
    if (need.op === 'skip') {
      const take = Math.min(this.skipLeft, chunk.length - i);
      if (this.skipSecret) this.mark(i, i + take);
      // A string holding a NUL most likely holds the next field's length: it ran over it. One that
      // is not UTF-8 may be a password read as text (a User Name Flag set instead of the Password's).
      else if (this.skipText && !this.textCheck.feed(chunk, i, i + take)) this.untrusted = true;
      i += take;
      this.pos = i;
      this.skipLeft -= take;
      this.bodyLeft -= take;
      this.consumed += take;
      if (this.skipLeft === 0) {
        if (this.skipText && !this.textCheck.complete) this.untrusted = true;
        if (this.endUnknown) this.endFrame();
        else this.advance(0);
      }
      return i;
    }
    const b = chunk[i++]!;
    this.pos = i;
    this.bodyLeft--;
    this.consumed++;
    this.accBytes++;
    if (need.op === 'varint') {
      this.acc += (b & 0x7f) * this.accMul;
      this.accMul *= 128;
      if (!(b & 0x80)) this.advance(this.acc);
      // A fifth byte is malformed [MQTT-1.5.5-1]; or the frame ended inside the integer.
      else if (this.accBytes === 4 || this.bodyLeft === 0) this.fail();
    } else if (this.accBytes === (need.op === 'u8' ? 1 : 2)) {
      this.advance(this.acc * 256 + b);
    } else {
      this.acc = this.acc * 256 + b;
    }
    return i;
  }

  private mark(start: number, end: number): void {
    if (end <= start) return;
    this.ranges ??= [];
    const ranges = this.ranges;
    if (ranges.length > 0 && ranges[ranges.length - 1] === start) ranges[ranges.length - 1] = end;
    else ranges.push(start, end);
    this.masked = Math.max(this.masked, this.offset + end);
  }

  /** The stream stopped framing (a reserved type, a Remaining Length past four bytes). */
  private unframeable(): void {
    if (this.afterCredentials) this.reject();
    // The frames of an MQTT stream end here: nothing after this is a CONNECT or an AUTH.
    else this.state = State.Done;
  }

  /**
   * What follows a CONNECT or AUTH does not frame as a client's packets: it may be the rest of
   * their credentials (a length counted in characters, not bytes). Masked from its first byte on.
   */
  private reject(): void {
    this.checking = false;
    this.provisionalFrom = Number.POSITIVE_INFINITY;
    this.walker = undefined;
    this.mark(Math.max(this.frameStart - this.offset, 0), this.pos);
    this.becomeOpaque(this.frameStart);
  }

  private becomeOpaque(from: number): void {
    this.opaque = Math.min(this.opaque, from);
    this.state = State.Opaque;
  }

  /** A frame whose body starts at `chunk[this.pos]`. */
  private startFrame(first: number, length: number): void {
    const afterCredentials = this.afterCredentials;
    this.afterCredentials = false;
    this.frameLength = length;
    this.frameEnd = this.offset + this.pos + length;
    this.bodyLeft = length;
    this.endUnknown = false;
    this.untrusted = false;
    this.provisionalFrom = Number.POSITIVE_INFINITY;
    let walker = this.walkerFor(first >> 4, length);
    this.credentials = walker !== undefined && this.side === 'client';
    this.checkOnly = false;
    if (afterCredentials) {
      const version = this.ctx.version ?? '3.1.1';
      if (!clientHeaderFits(first, length, version)) {
        this.reject();
        return;
      }
      if (walker === undefined) {
        walker = this.check(first, length, version);
        this.checkOnly = walker !== undefined;
      }
      this.checking = walker !== undefined;
    }
    if (walker === undefined) {
      if (length === 0) this.endFrame();
      else this.state = State.Skip;
      return;
    }
    this.walker = walker;
    this.consumed = 0;
    this.state = State.Walk;
    this.advance(0);
  }

  private walkerFor(type: number, length: number): Walker | undefined {
    if (this.side === 'client') {
      if (type === PacketType.CONNECT) return this.connect();
      if (type === PacketType.AUTH) return this.auth();
      return undefined;
    }
    // Only 5.0 has AUTH and CONNACK properties; this holds before the CONNECT's version is known.
    if (type === PacketType.CONNACK && length > 2) return this.connack();
    if (type === PacketType.AUTH) return this.auth();
    return undefined;
  }

  /** Resumes the walker with `value`; sets up its next need or ends its part of the frame. */
  private advance(value: number): void {
    const r = this.walker!.next(value);
    if (r.done) {
      this.walker = undefined;
      this.need = undefined;
      this.checking = false;
      if (this.checkOnly) {
        // The packet after a CONNECT or AUTH frames like one: the rest of it is its own.
        if (this.bodyLeft === 0) this.endFrame();
        else this.state = State.Skip;
        return;
      }
      // Bytes left over after the last field: a password whose flag is clear, a lying length.
      this.rest();
      return;
    }
    const need = r.value;
    this.need = need;
    this.acc = 0;
    this.accBytes = 0;
    this.accMul = 1;
    const left = this.bodyLeft;
    switch (need.op) {
      case 'fail':
        this.fail();
        return;
      case 'checked':
        this.checking = false;
        this.advance(0);
        return;
      case 'provisional':
        this.provisionalFrom = this.offset + this.pos;
        this.advance(0);
        return;
      case 'untrusted':
        this.untrusted = true;
        this.advance(0);
        return;
      case 'skip':
        this.skipSecret = need.secret;
        this.skipText = need.text === true;
        this.textCheck.reset();
        this.skipLeft = need.n;
        // The last field ends the frame: the lengths before it added up.
        if (need.last && need.n === left) this.settle(this.untrusted);
        if (need.n > left) {
          if (this.checking) {
            this.reject();
            return;
          }
          // The field runs past the frame: what follows it may be its rest.
          this.endUnknown = true;
          this.settle(true);
          this.skipSecret = true;
          this.skipLeft = left;
        }
        if (this.skipLeft === 0) {
          if (this.endUnknown) this.endFrame();
          else this.advance(0);
        }
        return;
      default:
        if (left < (need.op === 'u16' ? 2 : 1)) this.fail();
    }
  }

  /** The field cannot be parsed. */
  private fail(): void {
    if (this.checking) {
      this.reject();
      return;
    }
    this.endUnknown = true;
    this.rest();
  }

  /** Masks what is left of the frame, and all after it. */
  private rest(): void {
    this.walker = undefined;
    if (this.bodyLeft > 0) this.endUnknown = true;
    if (this.endUnknown) this.settle(true);
    if (this.bodyLeft === 0) this.endFrame();
    else this.state = State.Rest;
  }

  /** The frame's provisional bytes up to here are masked (`bad`) or shown. */
  private settle(bad: boolean): void {
    if (this.provisionalFrom === Number.POSITIVE_INFINITY) return;
    if (bad) this.mark(Math.max(this.provisionalFrom - this.offset, 0), this.pos);
    this.provisionalFrom = Number.POSITIVE_INFINITY;
  }

  private endFrame(): void {
    this.settle(this.untrusted || this.endUnknown);
    if (this.credentials && (this.untrusted || this.endUnknown)) this.untrustedFrames?.push(this.frameStart);
    this.walker = undefined;
    this.need = undefined;
    this.afterCredentials = this.credentials;
    this.credentials = false;
    if (this.endUnknown) this.becomeOpaque(this.frameEnd);
    else this.state = State.Header;
  }

  // --- field walkers: they yield what they need and receive the integer read ------------------

  /**
   * CONNECT (3.1.1 §3.1, 5.0 §3.1). Right after another CONNECT or AUTH it must first show a
   * protocol name of 4 or 6 bytes and a known level to be taken for one.
   */
  private *connect(): Walker {
    const nameLength = yield U16;
    // Not "MQTT" or "MQIsdp": whatever follows is not where the spec puts it.
    if (nameLength !== 4 && nameLength !== 6) {
      yield UNTRUSTED;
      yield FAIL;
      return;
    }
    let name = '';
    for (let k = 0; k < nameLength; k++) name += String.fromCharCode(yield U8);
    const level = yield U8;
    const known = versionOfLevel(level);
    if (this.checking && known === undefined) {
      yield FAIL;
      return;
    }
    yield CHECKED;
    // Decoded as the decoder does: an unknown level speaks the connection's version.
    const version = known ?? this.ctx.version ?? '3.1.1';
    this.ctx.version = version;
    if (known === undefined || name !== protocolNameOf(level)) {
      yield UNTRUSTED;
      yield FAIL;
      return;
    }
    const flags = yield U8;
    yield skip(2); // Keep Alive
    yield PROVISIONAL;
    if (connectFlagProblems(flags, version).length > 0) yield UNTRUSTED;
    const v5 = version === '5.0';
    if (v5) yield* this.properties('CONNECT');
    yield text(yield U16); // Client Identifier
    if (flags & ConnectFlag.WILL) {
      if (v5) yield* this.properties();
      yield text(yield U16); // Will Topic
      yield skip(yield U16); // Will Payload
    }
    if (flags & ConnectFlag.USERNAME) yield text(yield U16);
    if (flags & ConnectFlag.PASSWORD) yield { op: 'skip', n: yield U16, secret: SECRET, last: true };
  }

  /** CONNACK (5.0 §3.2). */
  private *connack(): Walker {
    yield skip(2); // Acknowledge Flags, Reason Code
    yield* this.properties();
  }

  /**
   * AUTH (5.0 §3.15). Its properties must hold an Authentication Method (§3.15.2.2.2): one that
   * leaves them out (Remaining Length 0 or 1) may be followed by them.
   */
  private *auth(): Walker {
    if (this.frameLength > 0) {
      const code = yield U8;
      // Right after a CONNECT or AUTH, it must show an AUTH reason code to be taken for one.
      if (this.checking && reasonCode('5.0', 'AUTH', code) === undefined) {
        yield FAIL;
        return;
      }
      yield CHECKED;
    }
    if (this.side === 'client') yield PROVISIONAL;
    if (this.frameLength < 2) {
      yield FAIL;
      return;
    }
    yield* this.properties(this.side === 'client' ? 'AUTH' : undefined);
  }

  /**
   * The first fields of the client packet after a CONNECT or AUTH, where they tell whether its
   * length is its own: undefined when its header says enough (clientHeaderFits).
   */
  private check(first: number, length: number, version: ProtocolVersion): Walker | undefined {
    const type = first >> 4;
    const v5 = version === '5.0';
    if (type === PacketType.PUBLISH) return this.checkPublish(length, (first & 0x06) !== 0, v5);
    if (type === PacketType.SUBSCRIBE || type === PacketType.UNSUBSCRIBE)
      return this.checkFilters(length, type === PacketType.SUBSCRIBE, v5);
    if (v5 && length > (type === PacketType.DISCONNECT ? 0 : 2))
      return this.checkReason(length, PACKET_TYPE_NAMES[type]!, type === PacketType.DISCONNECT ? 0 : 2);
    return undefined;
  }

  /** PUBLISH: the Topic Name (and Packet Identifier, Property Length) fit its length. */
  private *checkPublish(length: number, packetId: boolean, v5: boolean): Walker {
    const topic = yield U16;
    if (2 + topic + (packetId ? 2 : 0) + (v5 ? 1 : 0) > length) yield FAIL;
  }

  /** SUBSCRIBE, UNSUBSCRIBE: the first Topic Filter (not empty) fits its length. */
  private *checkFilters(length: number, options: boolean, v5: boolean): Walker {
    yield skip(2); // Packet Identifier
    if (v5) {
      const properties = yield VARINT;
      if (this.consumed + properties + 2 > length) {
        yield FAIL;
        return;
      }
      yield skip(properties);
    }
    const filter = yield U16;
    if (filter === 0 || this.consumed + filter + (options ? 1 : 0) > length) yield FAIL;
  }

  /** 5.0 acknowledgements and DISCONNECT: a reason code of that packet, properties to the end. */
  private *checkReason(length: number, type: PacketTypeName, idBytes: number): Walker {
    if (idBytes > 0) yield skip(idBytes);
    const code = yield U8;
    if (reasonCode('5.0', type, code) === undefined) {
      yield FAIL;
      return;
    }
    if (this.consumed === length) return;
    const properties = yield VARINT;
    if (this.consumed + properties !== length) yield FAIL;
  }

  /**
   * A property list (5.0 §2.2.2): Authentication Data and everything after it are masked. In a
   * client's CONNECT or AUTH (`credentials`), so is everything after a property that packet does
   * not allow: it may be an Authentication Data whose identifier was damaged.
   */
  private *properties(credentials?: PropertyPacket): Walker {
    const length = yield VARINT;
    const end = this.consumed + length;
    while (this.consumed < end) {
      const id = yield VARINT;
      const def = PROPERTY_BY_ID[id];
      if (def !== undefined && credentials !== undefined && !propertyAllowed(def, credentials)) {
        if (this.consumed > end) yield FAIL;
        else yield skip(end - this.consumed, SECRET);
        return;
      }
      // An unknown property has no known size: nothing after it can be located.
      let fits = def !== undefined && this.consumed <= end;
      switch (def?.type) {
        case 'byte':
          fits &&= yield* this.fixed(1, end);
          break;
        case 'twoByteInteger':
          fits &&= yield* this.fixed(2, end);
          break;
        case 'fourByteInteger':
          fits &&= yield* this.fixed(4, end);
          break;
        case 'varint':
          if (fits) yield VARINT;
          fits &&= this.consumed <= end;
          break;
        case 'utf8Pair':
          fits &&= (yield* this.prefixed(end, false, true)) && (yield* this.prefixed(end, false, true));
          break;
        case 'binary':
          if (fits && id === AUTHENTICATION_DATA) {
            fits = yield* this.prefixed(end, SECRET);
            // Its length may have been short: the rest of the list may be more of it.
            if (fits) yield skip(end - this.consumed, SECRET);
            break;
          }
          fits &&= yield* this.prefixed(end);
          break;
        default:
          fits &&= yield* this.prefixed(end, false, def?.type === 'utf8');
      }
      if (!fits) {
        yield FAIL;
        return;
      }
    }
  }

  /** `n` bytes inside the list ending at `end`; false when they do not fit. */
  private *fixed(n: number, end: number): Generator<Need, boolean, number> {
    if (this.consumed + n > end) return false;
    yield skip(n);
    return true;
  }

  /** A two-byte length and that many bytes (a string: `isText`), inside the list ending at `end`; false when they do not fit. */
  private *prefixed(end: number, secret = false, isText = false): Generator<Need, boolean, number> {
    if (this.consumed + 2 > end) return false;
    const n = yield U16;
    if (this.consumed + n > end) return false;
    yield isText ? text(n) : skip(n, secret);
    return true;
  }
}

/**
 * Whether a frame header could be one a client sends (3.1.1 Table 2.1, 2.2; 5.0 Table 2-1, 2-2):
 * a client's type, the required flags, a length its fixed parts fit in.
 */
function clientHeaderFits(first: number, length: number, version: ProtocolVersion): boolean {
  const type = first >> 4;
  const required = REQUIRED_FLAGS[type];
  if (required !== undefined && (first & 0x0f) !== required) return false;
  const v5 = version === '5.0';
  switch (type) {
    case PacketType.CONNECT:
      // Protocol Name, Level, Connect Flags, Keep Alive, Client Identifier length.
      return length >= 12;
    case PacketType.AUTH:
      // Its properties hold an Authentication Method (§3.15.2.2.2).
      return v5 && length >= 2;
    case PacketType.PUBLISH:
      // QoS 3 is malformed [MQTT-3.3.1-4].
      return (first & 0x06) !== 0x06 && length >= ((first & 0x06) !== 0 ? 4 : 2) + (v5 ? 1 : 0);
    case PacketType.PUBACK:
    case PacketType.PUBREC:
    case PacketType.PUBREL:
    case PacketType.PUBCOMP:
      return v5 ? length >= 2 : length === 2;
    case PacketType.SUBSCRIBE:
      return length >= (v5 ? 7 : 6);
    case PacketType.UNSUBSCRIBE:
      return length >= (v5 ? 6 : 5);
    case PacketType.PINGREQ:
      return length === 0;
    case PacketType.DISCONNECT:
      return v5 || length === 0;
    default:
      return false;
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
