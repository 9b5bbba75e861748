import { isUtf8 } from 'node:buffer';
import type { ProtocolVersion } from './constants.js';
import type { Violation } from './types.js';
import { type ViolationCode, violation } from './violations.js';

/**
 * Bounded cursor over one packet body. Reads never throw: running past the end records a
 * violation (or, when the body was cut at the capture cap, just stops) and returns a zero value;
 * once stopped, every read returns a zero value without reading (the bytes after a short field
 * are not that field's successor); decoders check `stopped` before going on.
 */
export class Reader {
  /** May pass `end` when a Property Length reaches past the captured bytes (see readProperties). */
  pos = 0;
  /** Set once a read went past the end: nothing further can be decoded. */
  stopped = false;
  /** The read that stopped us hit the capture cap, not the packet's end. */
  capped = false;

  constructor(
    readonly buf: Buffer,
    public end: number,
    /** `end` is the packet's real end (false when the body was cut at the capture cap). */
    public complete: boolean,
    /** Stream offset of `buf[0]`, for precise details. */
    readonly base: number,
    readonly version: ProtocolVersion,
    readonly violations: Violation[],
    /** The body's length on the wire: `end` unless the capture cap cut the body. */
    readonly length: number = end,
  ) {}

  /** What `end` is the end of, for reports: the packet, or the properties a Property Length spans. */
  private region: 'packet' | 'properties' = 'packet';

  /** Narrows (or restores) the readable region, e.g. to a Property Length. */
  limit(end: number, complete: boolean, region: 'packet' | 'properties' = 'packet'): void {
    this.end = end;
    this.complete = complete;
    this.region = region;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  /** `context` picks the rule where the spec has one per packet type or case (see VIOLATIONS). */
  report(code: ViolationCode, detail: string, context?: string): void {
    this.violations.push(violation(code, this.version, detail, context));
  }

  /** `field` needs `n` bytes that are not there. */
  private short(field: string, n: number): void {
    if (this.stopped) return;
    this.stopped = true;
    if (!this.complete) {
      this.capped = true;
      return;
    }
    // A read past a Property Length is the property overrunning it (§2.2.2.1), not a short packet.
    this.report(
      this.region === 'properties' ? 'MQTT_PROPERTY_LENGTH' : 'MQTT_TRUNCATED',
      `${field} needs ${n} byte${n === 1 ? '' : 's'} at offset ${this.base + this.pos} but ${this.region === 'packet' ? 'the packet ends' : 'the properties end'} after ${this.remaining}`,
    );
  }

  u8(field: string): number {
    if (this.stopped || this.pos + 1 > this.end) {
      this.short(field, 1);
      return 0;
    }
    return this.buf[this.pos++]!;
  }

  u16(field: string): number {
    if (this.stopped || this.pos + 2 > this.end) {
      this.short(field, 2);
      return 0;
    }
    const v = (this.buf[this.pos]! << 8) | this.buf[this.pos + 1]!;
    this.pos += 2;
    return v;
  }

  u32(field: string): number {
    if (this.stopped || this.pos + 4 > this.end) {
      this.short(field, 4);
      return 0;
    }
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  /** Variable Byte Integer (5.0 §1.5.5): at most four bytes, minimally encoded. */
  varint(field: string): number {
    let value = 0;
    let multiplier = 1;
    const start = this.pos;
    for (let i = 0; i < 4; i++) {
      if (this.stopped || this.pos >= this.end) {
        this.short(field, 1);
        return 0;
      }
      const b = this.buf[this.pos++]!;
      value += (b & 0x7f) * multiplier;
      if ((b & 0x80) === 0) {
        if (b === 0 && i > 0) {
          this.report(
            'MQTT_NON_MINIMAL_VARINT',
            `${field} at offset ${this.base + start} uses ${i + 1} bytes for ${value}`,
          );
        }
        return value;
      }
      multiplier *= 128;
    }
    this.stopped = true;
    this.report(
      'MQTT_MALFORMED_VARINT',
      `${field} at offset ${this.base + start}: its fourth byte 0x${this.buf[this.pos - 1]!.toString(16)} has the continuation bit set`,
    );
    return 0;
  }

  /** A view of `n` bytes (no copy); shorter if the capture cap cut it (then `stopped`). */
  bytes(field: string, n: number): Buffer {
    if (this.stopped) return EMPTY;
    if (this.pos + n > this.end) {
      const got = this.buf.subarray(this.pos, this.end);
      this.short(field, n);
      this.pos = this.end;
      return got;
    }
    const v = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }

  /** Two-byte length prefixed binary data. */
  binary(field: string): Buffer {
    const n = this.u16(field);
    if (this.stopped) return EMPTY;
    return this.bytes(field, n);
  }

  /** UTF-8 Encoded String (3.1.1 §1.5.3, 5.0 §1.5.4), checked for ill-formed UTF-8 and U+0000. */
  utf8(field: string): string {
    const n = this.u16(field);
    if (this.stopped) return '';
    const start = this.pos;
    if (start + n > this.end) {
      this.short(field, n);
      return '';
    }
    this.pos += n;
    return this.checkedString(field, start, start + n);
  }

  checkedString(field: string, start: number, end: number): string {
    const buf = this.buf;
    // Fast path: printable ASCII needs neither UTF-8 validation nor a U+0000 scan.
    let i = start;
    while (i < end) {
      const c = buf[i]!;
      if (c === 0 || c > 0x7f) break;
      i++;
    }
    if (i === end) return asciiText(buf, start, end);
    if (!isUtf8(buf.subarray(start, end))) {
      this.report('MQTT_INVALID_UTF8', `${field} at offset ${this.base + start} is not well-formed UTF-8`);
    }
    // Only to the string's end: a search to the buffer's end makes a packet of many strings quadratic.
    while (i < end && buf[i] !== 0) i++;
    if (i < end) {
      this.report('MQTT_NULL_CHARACTER', `${field} contains U+0000 at offset ${this.base + i}`);
    }
    return buf.toString('utf8', start, end);
  }
}

const EMPTY = Buffer.alloc(0);

/**
 * The last ASCII string made and its bytes: a stream's PUBLISH topics mostly repeat, and comparing
 * a few bytes costs less than making the string again.
 */
const LAST_MAX = 64;
const lastBytes = new Uint8Array(LAST_MAX);
let lastLength = -1;
let lastText = '';

/** `buf[start, end)`, known to be ASCII, as a string. */
function asciiText(buf: Buffer, start: number, end: number): string {
  const n = end - start;
  if (n === lastLength) {
    let k = 0;
    while (k < n && buf[start + k] === lastBytes[k]) k++;
    if (k === n) return lastText;
  }
  const text = buf.toString('latin1', start, end);
  if (n <= LAST_MAX) {
    for (let k = 0; k < n; k++) lastBytes[k] = buf[start + k]!;
    lastLength = n;
    lastText = text;
  }
  return text;
}
