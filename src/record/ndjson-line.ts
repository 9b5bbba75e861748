/**
 * The NDJSON line of a record, written as bytes into the sink's batch buffer:
 * `{"level":N,"time":T,<fields>,"msg":"<summary>"}\n`, the line pino writes for
 * `logger[level](record, msg)` with `base: null`. Packet lines are written from fields.ts and
 * summary.ts straight from the decoded packet, with no record object and no string to encode:
 * the head and reason codes are encoded once and copied, payload previews copied from the
 * payload's bytes. Values with no such shortcut (properties, subscriptions, violations, previews
 * that need a string) go through JSON.stringify. A line that outgrows the room left in the buffer
 * is finished in a spare buffer and copied over.
 */
import type { Packet, Payload, PublishPacket } from '../protocol/types.js';
import type { Correlation } from '../session/connection-session.js';
import { type RecordOptions, SUMMARY_PREVIEW_CHARS } from './defaults.js';
import { type Choice, type FieldWriter, K, type Key, packetFields, packetPreview } from './fields.js';
import { LEVEL_VALUES, type Level, type LogRecord, type PacketHead } from './log-record.js';
import { packetEntry } from './object-form.js';
import { newPreviewShape, type PreviewEncoding, type PreviewShape, previewText } from './payload-preview.js';
import type { ReasonInfo } from './reason.js';
import { excerpt, packetSummary, type SummaryWriter } from './summary.js';

/** Where lines go: a buffer the sink hands on once it is full (its batching). */
export interface LineOutput {
  /** Lines are written from `used` on; a writer may use all of it while it writes a line. */
  buf: Buffer;
  /** The end of the finished lines: a writer moves it past each line it completes. */
  used: number;
  /**
   * Makes sure `n` bytes are free after `used`, handing what `buf` holds on when needed (`buf` may
   * then be another buffer); never writes a line itself. False: the line is dropped (a bounded
   * output counts it). A writer keeps a line only once it has reserved the line's length.
   */
  reserve(n: number): boolean;
}

/** Room asked for when a line starts: most lines fit. */
const LINE_START_BYTES = 1024;
/** A spare buffer larger than this is not kept for the next line that needs one. */
const SPARE_KEPT_BYTES = 1024 * 1024;

const ascii = (text: string): Uint8Array => Buffer.from(text, 'latin1');
const LEVEL = ascii('{"level":');
const TIME = ascii(',"time":');
const MSG = ascii(',"msg":"');
const END = ascii('"}\n');
const LENGTH = ascii('{"length":');
const FILTER = ascii('{"filter":"');
const TRUNCATED_TRUE = ascii('","truncated":true');
const TRUNCATED_FALSE = ascii('","truncated":false');
const ESCAPED_QUOTE = ascii('\\"');
const ELLIPSIS = Buffer.from('…', 'utf8');
const ENCODINGS: Record<PreviewEncoding, Uint8Array> = {
  utf8: ascii(',"encoding":"utf8","preview":"'),
  hex: ascii(',"encoding":"hex","preview":"'),
  base64: ascii(',"encoding":"base64","preview":"'),
};
const HEX_DIGITS = ascii('0123456789abcdef');

/**
 * How JSON writes the ASCII characters it escapes: inside a string (`ONCE`), and inside a string
 * that is itself the text of a JSON string (`TWICE`: a quoted string in the summary).
 */
type Escapes = (Uint8Array | undefined)[];
const ONCE: Escapes = [];
const TWICE: Escapes = [];
for (let c = 0; c < 0x80; c++) {
  const once = JSON.stringify(String.fromCharCode(c)).slice(1, -1);
  if (once.length === 1) continue;
  ONCE[c] = ascii(once);
  TWICE[c] = ascii(JSON.stringify(once).slice(1, -1));
}
/** Bytes a UTF-16 unit may take: `\u00XX` once, `\\u00XX` twice. */
const ONCE_MAX = 6;
const TWICE_MAX = 7;

/** An ASCII character JSON writes as it is. */
function plain(c: number): boolean {
  return c >= 0x20 && c < 0x80 && c !== 0x22 && c !== 0x5c;
}

/** Bytes copied one at a time below this length; from it on, set() (a memmove) is cheaper. */
const SET_FROM = 12;

function copy(out: Buffer, at: number, bytes: Uint8Array): number {
  const n = bytes.length;
  if (n >= SET_FROM) out.set(bytes, at);
  else for (let i = 0; i < n; i++) out[at + i] = bytes[i]!;
  return at + n;
}

/** The first `n` bytes of `bytes`, as they are. */
function copyPrefix(out: Buffer, at: number, bytes: Buffer, n: number): number {
  if (n === bytes.length && n >= SET_FROM) out.set(bytes, at);
  else for (let i = 0; i < n; i++) out[at + i] = bytes[i]!;
  return at + n;
}

/** A non-negative safe integer in decimal. */
function putInt(out: Buffer, at: number, n: number): number {
  if (n < 10) {
    out[at] = 0x30 + n;
    return at + 1;
  }
  let digits = 1;
  for (let p = 10; p <= n; p *= 10) digits++;
  const end = at + digits;
  if (n <= 0x7fffffff) {
    // Small enough for integer division.
    for (let i = end - 1; i >= at; i--) {
      const q = (n / 10) | 0;
      out[i] = 0x30 + n - q * 10;
      n = q;
    }
    return end;
  }
  for (let i = end - 1; i >= at; i--) {
    const q = Math.floor(n / 10);
    out[i] = 0x30 + (n - q * 10);
    n = q;
  }
  return end;
}

/** A number as JSON.stringify writes it. */
function putNumber(out: Buffer, at: number, n: number): number {
  return n >= 0 && Number.isSafeInteger(n) ? putInt(out, at, n) : putAscii(out, at, JSON.stringify(n));
}

/** A number as a template literal shows it (NaN and the infinities by name). */
function putDecimal(out: Buffer, at: number, n: number): number {
  return n >= 0 && Number.isSafeInteger(n) ? putInt(out, at, n) : putAscii(out, at, String(n));
}

/** Text known to be ASCII. */
function putAscii(out: Buffer, at: number, text: string): number {
  for (let i = 0; i < text.length; i++) out[at + i] = text.charCodeAt(i);
  return at + text.length;
}

/**
 * `text` as JSON writes it inside a string, escaped per `table` (ONCE or TWICE), in UTF-8. Plain
 * ASCII is copied here; the rest from the first other character on by putStringRest.
 */
function putString(out: Buffer, at: number, text: string, table: Escapes): number {
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (!plain(c)) return putStringRest(out, at + i, text, i, table);
    out[at + i] = c;
  }
  return at + n;
}

/** putString from `text[from]` on. A lone surrogate is written `\udXXX`, as JSON.stringify does. */
function putStringRest(out: Buffer, at: number, text: string, from: number, table: Escapes): number {
  let p = at;
  const n = text.length;
  for (let i = from; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) {
      if (plain(c)) out[p++] = c;
      else p = copy(out, p, table[c]!);
    } else if (c < 0x800) {
      out[p++] = 0xc0 | (c >> 6);
      out[p++] = 0x80 | (c & 0x3f);
    } else if (c < 0xd800 || c > 0xdfff) {
      out[p++] = 0xe0 | (c >> 12);
      out[p++] = 0x80 | ((c >> 6) & 0x3f);
      out[p++] = 0x80 | (c & 0x3f);
    } else {
      const d = c <= 0xdbff && i + 1 < n ? text.charCodeAt(i + 1) : 0;
      if (d >= 0xdc00 && d <= 0xdfff) {
        const cp = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        out[p++] = 0xf0 | (cp >> 18);
        out[p++] = 0x80 | ((cp >> 12) & 0x3f);
        out[p++] = 0x80 | ((cp >> 6) & 0x3f);
        out[p++] = 0x80 | (cp & 0x3f);
        i++;
      } else {
        if (table === TWICE) out[p++] = 0x5c;
        out[p++] = 0x5c;
        out[p++] = 0x75; // u
        for (let shift = 12; shift >= 0; shift -= 4) out[p++] = HEX_DIGITS[(c >> shift) & 0xf]!;
      }
    }
  }
  return p;
}

/** `count` bytes of well-formed UTF-8 as JSON writes their text inside a string, escaped per `table`. */
function putUtf8(out: Buffer, at: number, bytes: Buffer, count: number, table: Escapes): number {
  let p = at;
  for (let i = 0; i < count; i++) {
    const c = bytes[i]!;
    if (c >= 0x80 || plain(c)) out[p++] = c;
    else if (c === 0x22 || c === 0x5c) {
      // `\"` once, `\\\"` twice (and the same with a backslash).
      if (table === TWICE) {
        out[p++] = 0x5c;
        out[p++] = 0x5c;
      }
      out[p++] = 0x5c;
      out[p++] = c;
    } else p = copy(out, p, table[c]!);
  }
  return p;
}

/** The first `chars` characters of the hex of `bytes`. */
function putHex(out: Buffer, at: number, bytes: Buffer, chars: number): number {
  for (let i = 0; i < chars; i++) {
    const b = bytes[i >> 1]!;
    out[at + i] = HEX_DIGITS[(i & 1) === 0 ? b >> 4 : b & 0xf]!;
  }
  return at + chars;
}

/** A reason code's JSON and its summary text, encoded once (reason infos are shared and frozen). */
interface ReasonBytes {
  json: Uint8Array;
  /** The JSON without its `{`: to follow a filter in one object. */
  fields: Uint8Array;
  /** `0xXX Name`, escaped for the summary. */
  text: Uint8Array;
}
const reasons = new WeakMap<ReasonInfo, ReasonBytes>();
/** The last one asked for: a line's summary repeats its fields' reason. */
const lastReason: { info: ReasonInfo | undefined; bytes: ReasonBytes | undefined } = {
  info: undefined,
  bytes: undefined,
};

function reasonBytes(info: ReasonInfo): ReasonBytes {
  if (info === lastReason.info) return lastReason.bytes!;
  let r = reasons.get(info);
  if (r === undefined) {
    const json = Buffer.from(JSON.stringify(info), 'utf8');
    const text = JSON.stringify(`${info.hex} ${info.name}`);
    r = { json, fields: json.subarray(1), text: Buffer.from(text.slice(1, -1), 'utf8') };
    reasons.set(info, r);
  }
  lastReason.info = info;
  lastReason.bytes = r;
  return r;
}

/** Heads are never changed once written (see PacketHead): each is encoded once. */
const heads = new WeakMap<object, Uint8Array>();

/** `,"event":"packet","conn":…` (the head's fields, after a comma). */
function headBytes(head: Readonly<PacketHead>): Uint8Array {
  let bytes = heads.get(head);
  if (bytes === undefined) {
    const json = JSON.stringify(head);
    bytes = Buffer.from(json.length > 2 ? `,${json.slice(1, -1)}` : '', 'utf8');
    heads.set(head, bytes);
  }
  return bytes;
}

let spare: Buffer = Buffer.alloc(0);

/** Writes one line at a time: the fields (FieldWriter), then the summary (SummaryWriter). */
class LineWriter implements FieldWriter, SummaryWriter {
  private buf: Buffer = spare;
  private start = 0;
  private p = 0;
  /**
   * Open objects and arrays, innermost last: where each starts (from the line's start) and
   * whether it is an array. Every value inside is written after a comma; `end` puts the bracket
   * in place of the first one.
   */
  private readonly openAt = new Int32Array(16);
  private readonly openArray = new Uint8Array(16);
  private depth = 0;
  /** `{"level":N,"time":T` of the last line: lines in the same millisecond share it. */
  private prefix: Uint8Array = Buffer.alloc(0);
  private prefixLevel: Level | undefined;
  private prefixTime = Number.NaN;
  /** The payload whose preview this line holds as it is (no escapes), and where from the line's start. */
  private previewData: Buffer | undefined;
  private previewFrom = 0;
  /**
   * Where this line's parts that vary between like PUBLISH lines are (from the line's start, -1
   * when not written): the offset's digits, the preview's bytes and their excerpt in the summary.
   */
  private readonly varying = new Int32Array(6);

  /** Starts a line: `{"level":N,"time":T`. False when the output drops it. */
  begin(out: LineOutput, level: Level, time: number): boolean {
    if (!out.reserve(LINE_START_BYTES)) return false;
    this.buf = out.buf;
    this.start = this.p = out.used;
    this.depth = 0;
    this.previewData = undefined;
    this.varying.fill(-1);
    if (level !== this.prefixLevel || time !== this.prefixTime) {
      // Its own buffer of its exact length: copied whole with one set().
      const scratch = Buffer.allocUnsafe(64);
      let p = copy(scratch, 0, LEVEL);
      p = putInt(scratch, p, LEVEL_VALUES[level]);
      p = copy(scratch, p, TIME);
      p = putDecimal(scratch, p, time);
      this.prefix = Buffer.from(scratch.subarray(0, p));
      this.prefixLevel = level;
      this.prefixTime = time;
    }
    this.room(this.prefix.length);
    this.p = copy(this.buf, this.p, this.prefix);
    return true;
  }

  /** `,"msg":"`: the summary follows. */
  beginSummary(): void {
    this.room(MSG.length);
    this.p = copy(this.buf, this.p, MSG);
  }

  /** Ends the line and hands it to `out`. */
  finish(out: LineOutput): boolean {
    this.room(END.length);
    this.p = copy(this.buf, this.p, END);
    const buf = this.buf;
    this.buf = spare;
    this.previewData = undefined;
    // Kept once the output has room for all of it (a bounded output may refuse a long line).
    const length = this.p - this.start;
    if (!out.reserve(length)) return false;
    // Finished in the spare buffer, or the output handed its buffer on: copied over.
    if (buf !== out.buf || this.start !== out.used) buf.copy(out.buf, out.used, this.start, this.p);
    out.used += length;
    return true;
  }

  /** Bytes already encoded, as they are. */
  bytes(bytes: Uint8Array): void {
    this.room(bytes.length);
    this.p = copy(this.buf, this.p, bytes);
  }

  /** A record's own JSON (`{…}`) as fields after those written so far. */
  fieldsOf(json: string): void {
    if (json.length <= 2) return;
    this.room(3 * json.length);
    // Written over from its `{`, which becomes the comma; its `}` is left out.
    const at = this.p;
    const written = this.buf.write(json, at, 'utf8');
    this.buf[at] = 0x2c;
    this.p = at + written - 1;
  }

  /** Makes sure `n` more bytes fit. */
  private room(n: number): void {
    if (this.p + n > this.buf.length) this.grow(n);
  }

  /** Moves the line to the spare buffer, with room for `n` more bytes. */
  private grow(n: number): void {
    const length = this.p - this.start;
    let next = spare;
    if (next === this.buf || next.length < length + n) {
      next = Buffer.allocUnsafe(Math.max(2 * (length + n), 64 * 1024));
      if (next.length <= SPARE_KEPT_BYTES) spare = next;
    }
    this.buf.copy(next, 0, this.start, this.p);
    this.buf = next;
    this.start = 0;
    this.p = length;
  }

  /** Records that a varying part runs from `at` to the write position. */
  private mark(part: number, at: number): void {
    this.varying[part] = at - this.start;
    this.varying[part + 1] = this.p - this.start;
  }

  /**
   * The line written so far (its fields and summary, after `{"level":N,"time":T`) as a template
   * for like PUBLISH lines, when its offset, preview and excerpt were all marked; else undefined.
   */
  template(packet: PublishPacket, shape: PreviewShape): PublishTemplate | undefined {
    const v = this.varying;
    if (v[OFFSET]! < 0 || v[PREVIEW]! < 0 || v[EXCERPT]! < 0) return undefined;
    const from = this.start + this.prefix.length;
    const cut = (a: number, b: number): Buffer => Buffer.from(this.buf.subarray(a, b));
    const s = this.start;
    return {
      protocol: packet.protocol,
      flags: packet.flags,
      length: packet.length,
      topic: packet.topic,
      payloadLength: packet.payload.length,
      bytes: shape.bytes,
      truncated: shape.truncated,
      shown: v[EXCERPT + 1]! - v[EXCERPT]!,
      beforeOffset: cut(from, s + v[OFFSET]!),
      beforePreview: cut(s + v[OFFSET + 1]!, s + v[PREVIEW]!),
      beforeExcerpt: cut(s + v[PREVIEW + 1]!, s + v[EXCERPT]!),
      rest: cut(s + v[EXCERPT + 1]!, this.p),
    };
  }

  /** A PUBLISH line from its template: `packet` is like the one it was made from (see `fits`). */
  fromTemplate(t: PublishTemplate, packet: PublishPacket): void {
    const data = packet.payload.data;
    this.room(
      t.beforeOffset.length +
        32 +
        t.beforePreview.length +
        t.bytes +
        t.beforeExcerpt.length +
        t.shown +
        t.rest.length,
    );
    const buf = this.buf;
    let p = copy(buf, this.p, t.beforeOffset);
    p = putNumber(buf, p, packet.offset);
    p = copy(buf, p, t.beforePreview);
    p = copyPrefix(buf, p, data, t.bytes);
    p = copy(buf, p, t.beforeExcerpt);
    p = copyPrefix(buf, p, data, t.shown);
    this.p = copy(buf, p, t.rest);
  }

  // --- FieldWriter: each value after its key (`,"name":`) ---

  string(key: Key, value: string): void {
    this.room(key.json.length + 2 + ONCE_MAX * value.length);
    const buf = this.buf;
    let p = copy(buf, this.p, key.json);
    buf[p++] = 0x22;
    p = putString(buf, p, value, ONCE);
    buf[p++] = 0x22;
    this.p = p;
  }

  choice(field: Choice): void {
    this.bytes(field.json);
  }

  number(key: Key, value: number): void {
    this.room(key.json.length + 32);
    const at = copy(this.buf, this.p, key.json);
    this.p = putNumber(this.buf, at, value);
    if (key === K.offset) this.mark(OFFSET, at);
  }

  boolean(key: Key, value: boolean): void {
    this.bytes(value ? key.jsonTrue : key.jsonFalse);
  }

  reason(key: Key | undefined, info: ReasonInfo, filter?: string): void {
    const r = reasonBytes(info);
    this.room(
      (key === undefined ? 1 : key.json.length) +
        (filter === undefined
          ? r.json.length
          : FILTER.length + ONCE_MAX * filter.length + 2 + r.fields.length),
    );
    const buf = this.buf;
    let p = this.p;
    // An array element follows a comma of its own.
    if (key === undefined) buf[p++] = 0x2c;
    else p = copy(buf, p, key.json);
    if (filter === undefined) {
      this.p = copy(buf, p, r.json);
      return;
    }
    p = putString(buf, copy(buf, p, FILTER), filter, ONCE);
    buf[p++] = 0x22;
    buf[p++] = 0x2c;
    this.p = copy(buf, p, r.fields);
  }

  payload(key: Key, payload: Payload, shape: PreviewShape): void {
    this.room(key.json.length + LENGTH.length + 32);
    const buf = this.buf;
    this.p = putNumber(buf, copy(buf, copy(buf, this.p, key.json), LENGTH), payload.length);
    if (shape.encoding !== undefined) this.preview(payload.data, shape);
    this.buf[this.p++] = 0x7d;
  }

  /** `,"encoding":"E","preview":"…","truncated":B` */
  private preview(data: Buffer, shape: PreviewShape): void {
    const encoding = shape.encoding!;
    const n = shape.bytes;
    const ends = ENCODINGS.base64.length + TRUNCATED_FALSE.length + 1;
    if (encoding === 'utf8' && shape.wellFormed) {
      this.room(ends + ONCE_MAX * n);
      const buf = this.buf;
      const from = copy(buf, this.p, ENCODINGS.utf8);
      const p = shape.plain ? copyPrefix(buf, from, data, n) : putUtf8(buf, from, data, n, ONCE);
      if (p - from === n) {
        this.previewData = data;
        this.previewFrom = from - this.start;
        this.varying[PREVIEW] = from - this.start;
        this.varying[PREVIEW + 1] = p - this.start;
      }
      this.p = p;
    } else if (encoding === 'hex') {
      this.room(ends + 2 * n);
      this.p = putHex(this.buf, copy(this.buf, this.p, ENCODINGS.hex), data, 2 * n);
    } else {
      const text = previewText(data, shape);
      this.room(ends + ONCE_MAX * text.length);
      this.p = putString(this.buf, copy(this.buf, this.p, ENCODINGS[encoding]), text, ONCE);
    }
    this.p = copy(this.buf, this.p, shape.truncated ? TRUNCATED_TRUE : TRUNCATED_FALSE);
  }

  json(key: Key, value: unknown): void {
    // JSON.stringify escapes lone surrogates: its text is exactly its UTF-8.
    const text = JSON.stringify(value);
    this.room(key.json.length + 3 * text.length);
    const p = copy(this.buf, this.p, key.json);
    this.p = p + this.buf.write(text, p, 'utf8');
  }

  open(key: Key, array?: boolean): void {
    if (this.depth === this.openAt.length) throw new Error('records nest this deep nowhere');
    this.bytes(key.json);
    this.openAt[this.depth] = this.p - this.start;
    this.openArray[this.depth] = array ? 1 : 0;
    this.depth++;
  }

  end(): void {
    this.room(2);
    this.depth--;
    const array = this.openArray[this.depth] === 1;
    const at = this.start + this.openAt[this.depth]!;
    // The opening bracket takes the place of the first value's comma, or starts an empty one.
    if (this.p === at) this.p++;
    this.buf[at] = array ? 0x5b : 0x7b;
    this.buf[this.p++] = array ? 0x5d : 0x7d;
  }

  // --- SummaryWriter: inside the `msg` string ---

  text(text: string): void {
    this.room(ONCE_MAX * text.length);
    this.p = putString(this.buf, this.p, text, ONCE);
  }

  decimal(n: number): void {
    this.room(32);
    this.p = putDecimal(this.buf, this.p, n);
  }

  quoted(text: string): void {
    this.room(2 * ESCAPED_QUOTE.length + TWICE_MAX * text.length);
    this.p = copy(this.buf, this.p, ESCAPED_QUOTE);
    this.p = putString(this.buf, this.p, text, TWICE);
    this.p = copy(this.buf, this.p, ESCAPED_QUOTE);
  }

  code(info: ReasonInfo): void {
    this.bytes(reasonBytes(info).text);
  }

  excerpt(payload: Payload, shape: PreviewShape, quoted: boolean): void {
    const ascii = shape.encoding === 'utf8' && shape.wellFormed && shape.ascii;
    if (!ascii && shape.encoding !== 'hex') {
      const text = excerpt(previewText(payload.data, shape));
      if (quoted) this.quoted(text);
      else this.text(text);
      return;
    }
    // Characters are bytes (ASCII text), or two per byte (hex): cut here, not from a string.
    const chars = ascii ? shape.bytes : 2 * shape.bytes;
    const shown = Math.min(chars, SUMMARY_PREVIEW_CHARS);
    this.room(2 * ESCAPED_QUOTE.length + TWICE_MAX * shown + ELLIPSIS.length);
    const buf = this.buf;
    let p = this.p;
    if (quoted) p = copy(buf, p, ESCAPED_QUOTE);
    if (!ascii) p = putHex(buf, p, payload.data, shown);
    else if (payload.data === this.previewData) {
      // Already in the line with nothing escaped, so nothing to escape here either.
      const from = this.start + this.previewFrom;
      buf.copyWithin(p, from, from + shown);
      this.varying[EXCERPT] = p - this.start;
      p += shown;
      this.varying[EXCERPT + 1] = p - this.start;
    } else if (shape.plain) p = copyPrefix(buf, p, payload.data, shown);
    else p = putUtf8(buf, p, payload.data, shown, quoted ? TWICE : ONCE);
    if (chars > SUMMARY_PREVIEW_CHARS) p = copy(buf, p, ELLIPSIS);
    if (quoted) p = copy(buf, p, ESCAPED_QUOTE);
    this.p = p;
  }
}

/** LineWriter.varying: where each part's start and end are. */
const OFFSET = 0;
const PREVIEW = 2;
const EXCERPT = 4;

/**
 * A PUBLISH line with its offset, payload preview and excerpt left out: the line of a like PUBLISH
 * (same head, fixed header, topic, payload length and preview shape; no packet id, properties,
 * correlation or violations) is the same bytes around those three, so it is copied, not rewritten.
 */
interface PublishTemplate {
  protocol: Packet['protocol'];
  flags: number;
  length: number;
  topic: string;
  payloadLength: number;
  /** The preview's bytes, and the excerpt's (its first ones). */
  bytes: number;
  truncated: boolean;
  shown: number;
  beforeOffset: Uint8Array;
  beforePreview: Uint8Array;
  beforeExcerpt: Uint8Array;
  /** From the excerpt to the end of the summary. */
  rest: Uint8Array;
}

/** Whether `packet`'s line (given its preview's shape) is its template's with other offset and preview bytes. */
function fits(t: PublishTemplate, packet: PublishPacket, shape: PreviewShape): boolean {
  return (
    t.flags === packet.flags &&
    t.length === packet.length &&
    t.payloadLength === packet.payload.length &&
    t.protocol === packet.protocol &&
    t.topic === packet.topic &&
    t.bytes === shape.bytes &&
    t.truncated === shape.truncated &&
    templated(packet, shape)
  );
}

/** A PUBLISH whose line has no other varying part than its offset and the bytes of a plain ASCII preview. */
function templated(packet: PublishPacket, shape: PreviewShape): boolean {
  return (
    packet.packetId === undefined &&
    packet.properties === undefined &&
    packet.violations.length === 0 &&
    packet.truncated !== true &&
    shape.encoding === 'utf8' &&
    shape.plain &&
    shape.ascii &&
    shape.bytes > 0
  );
}

const line = new LineWriter();
const shape = newPreviewShape();
/** Each head's last PUBLISH template (heads are per connection and direction). */
const templates = new WeakMap<object, PublishTemplate>();

/**
 * Writes the line of `packet`'s record: the head's fields, the packet's, the summary. False when
 * the output dropped it.
 */
export function writePacketLine(
  out: LineOutput,
  level: Level,
  time: number,
  head: Readonly<PacketHead>,
  packet: Packet,
  corr: Correlation | undefined,
  opts: RecordOptions,
): boolean {
  if (packet.type === 'CONNECT' && (head.clientId !== undefined || head.username !== undefined)) {
    // Its client id and user name take the head's own places (as in the object form): rare enough
    // to be written from the object form.
    const { record, msg } = packetEntry(head, packet, corr, opts);
    return writeRecordLine(out, level, time, record, msg) === true;
  }
  if (!line.begin(out, level, time)) return false;
  const preview = packetPreview(packet, opts, shape);
  const publish = packet.type === 'PUBLISH' && corr === undefined ? packet : undefined;
  if (publish !== undefined) {
    const t = templates.get(head);
    if (t !== undefined && fits(t, publish, preview!)) {
      line.fromTemplate(t, publish);
      return line.finish(out);
    }
  }
  line.bytes(headBytes(head));
  packetFields(line, packet, corr, opts, preview);
  line.beginSummary();
  packetSummary(line, packet, corr, preview);
  if (publish !== undefined && templated(publish, preview!)) {
    const t = line.template(publish, preview!);
    if (t !== undefined) templates.set(head, t);
  }
  return line.finish(out);
}

/**
 * Writes the line of any other record. False when the output dropped it; undefined, writing
 * nothing, when JSON cannot hold the record (a BigInt, a cycle): the caller may write it otherwise.
 */
export function writeRecordLine(
  out: LineOutput,
  level: Level,
  time: number,
  record: LogRecord,
  msg: string,
): boolean | undefined {
  let json: string;
  try {
    json = JSON.stringify(record);
  } catch {
    return undefined;
  }
  if (!line.begin(out, level, time)) return false;
  line.fieldsOf(json);
  line.beginSummary();
  line.text(msg);
  return line.finish(out);
}
