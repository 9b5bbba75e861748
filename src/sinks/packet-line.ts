/**
 * The NDJSON lines of PUBLISH records, of their acknowledgements (PUBACK, PUBREC, PUBREL, PUBCOMP)
 * and of the answers every connection gets (CONNACK, SUBACK, DISCONNECT), written byte by byte
 * straight from the decoded packet into the log's batch buffer: no record object, no summary
 * string, no JSON.stringify, no string to encode. Each is the line the general path writes
 * (packetRecord, summarize, ndjsonLine) for the same packet, for the common case only: no
 * properties, no violations, nothing cut by the capture cap, `--payload auto`, every string
 * involved (connection, client id, user name, topic, filters) plain printable ASCII without quote
 * or backslash, request times in whole milliseconds, and a payload preview of printable ASCII, tab,
 * CR and LF (JSON payloads included). Anything else returns -1 or no bound and takes the general
 * path. test/sinks/fast-lines.test.ts holds both to the same bytes.
 *
 * Why: with every packet logged, building, summarising and serialising these records was most of
 * mqtt-tap's CPU in scenarios A and B of `npm run bench` (400,000 records a run in A), and in D
 * (1,000 connections) the general path's records were what separated `--level info` from warn.
 */
import type { AnnotateOptions } from '../annotate/packet-record.js';
import type { ReasonInfo } from '../annotate/reason.js';
import { reasonInfo } from '../annotate/reason.js';
import type { ProtocolVersion } from '../protocol/constants.js';
import type {
  AckPacket,
  ConnackPacket,
  DisconnectPacket,
  PublishPacket,
  SubackPacket,
} from '../protocol/types.js';
import type { Correlation } from '../session/connection-session.js';
import type { PacketHead } from './sink.js';

const MSG_PREVIEW_CHARS = 60;

/** Bytes of text known to be ASCII (latin1 is then byte for byte; and a native copy). */
const ascii = (text: string): Uint8Array => Buffer.from(text, 'latin1');
const LEVEL = ascii('{"level":');
const TIME = ascii(',"time":');
const LENGTH = ascii(',"length":');
const OFFSET = ascii(',"offset":');
const TOPIC = ascii(',"topic":"');
const QOS = ascii('","qos":');
const RETAIN = ascii(',"retain":');
const DUP = ascii(',"dup":');
const PACKET_ID = ascii(',"packetId":');
const PAYLOAD = ascii(',"payload":{"length":');
const PREVIEW = ascii(',"encoding":"utf8","preview":"');
const TRUNCATED = ascii('","truncated":');
const MSG = ascii('},"msg":"PUBLISH ');
const MSG_QOS = ascii(' qos=');
const MSG_ID = ascii(' id=');
const MSG_RETAIN = ascii(' retain');
const MSG_DUP = ascii(' dup');
const MSG_BYTES = ascii(' B');
const MSG_PREVIEW = ascii(' \\"');
const ELLIPSIS = Uint8Array.from(Buffer.from('…', 'utf8'));
const MSG_END = ascii('\\""}\n');
const END = ascii('"}\n');
const TRUE = ascii('true');
const FALSE = ascii('false');

/** Fixed text of the longest line, plus room for every number. */
const FIXED_BYTES = 480;

function put(out: Buffer, at: number, bytes: Uint8Array): number {
  // A loop beats a native call for the short constants; a copy wins for the long ones.
  if (bytes.length > 32) out.set(bytes, at);
  else for (let i = 0; i < bytes.length; i++) out[at + i] = bytes[i]!;
  return at + bytes.length;
}

function putBool(out: Buffer, at: number, v: boolean): number {
  return put(out, at, v ? TRUE : FALSE);
}

/** A non-negative integer in decimal (what JSON.stringify writes for it). */
function putInt(out: Buffer, at: number, n: number): number {
  if (n < 10) {
    out[at] = 0x30 + n;
    return at + 1;
  }
  let digits = 1;
  for (let p = 10; p <= n; p *= 10) digits++;
  const end = at + digits;
  for (let i = end - 1; i >= at; i--) {
    const q = Math.floor(n / 10);
    out[i] = 0x30 + (n - q * 10);
    n = q;
  }
  return end;
}

/** Plain: printable ASCII that JSON writes as it is (no quote, no backslash). */
function plainByte(c: number): boolean {
  return c >= 0x20 && c < 0x7f && c !== 0x22 && c !== 0x5c;
}

/** Copies a plain string; -1 when it is not plain. */
function putPlainString(out: Buffer, at: number, text: string): number {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (!plainByte(c)) return -1;
    out[at + i] = c;
  }
  return at + text.length;
}

/**
 * How JSON writes the other characters a text preview may hold (previewPayload shows tab, CR and
 * LF as text), escaped once (the record's `preview`) and twice (the summary quotes the preview with
 * JSON.stringify, and the summary is a JSON string itself).
 */
const ESCAPED_ONCE: (Uint8Array | undefined)[] = [];
const ESCAPED_TWICE: (Uint8Array | undefined)[] = [];
for (const c of ['"', '\\', '\n', '\r', '\t']) {
  const once = JSON.stringify(c).slice(1, -1);
  ESCAPED_ONCE[c.charCodeAt(0)] = ascii(once);
  ESCAPED_TWICE[c.charCodeAt(0)] = ascii(JSON.stringify(once).slice(1, -1));
}

/** Copies preview bytes as JSON writes them, escaped per `table`; -1 on a byte a text preview cannot hold. */
function putTextBytes(
  out: Buffer,
  at: number,
  bytes: Buffer,
  count: number,
  table: (Uint8Array | undefined)[],
): number {
  let p = at;
  for (let i = 0; i < count; i++) {
    const c = bytes[i]!;
    if (plainByte(c)) {
      out[p++] = c;
      continue;
    }
    const escaped = table[c];
    if (escaped === undefined) return -1;
    for (let k = 0; k < escaped.length; k++) out[p++] = escaped[k]!;
  }
  return p;
}

function isSafeInt(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
}

/** A head's bytes (`,"event":"packet","conn":…,"from":…[,"clientId":…][,"username":…]`), or null when not plain. */
interface HeadEntry {
  conn: string;
  from: string;
  clientId: string | undefined;
  username: string | undefined;
  bytes: Uint8Array | null;
}

/**
 * The tap passes the same head object for every packet of a connection's direction: its bytes are
 * made once, and made again only if one of its fields is no longer what they were made from.
 */
const heads = new WeakMap<PacketHead, HeadEntry>();

function headEntry(head: PacketHead): HeadEntry {
  let e = heads.get(head);
  if (
    e === undefined ||
    e.conn !== head.conn ||
    e.from !== head.from ||
    e.clientId !== head.clientId ||
    e.username !== head.username
  ) {
    e = { conn: head.conn, from: head.from, clientId: head.clientId, username: head.username, bytes: null };
    let text = `,"event":"packet","conn":"${head.conn}","from":"${head.from}"`;
    if (head.clientId !== undefined) text += `,"clientId":"${head.clientId}"`;
    if (head.username !== undefined) text += `,"username":"${head.username}"`;
    const plain = [head.conn, head.from, head.clientId ?? '', head.username ?? ''].every(isPlain);
    if (plain) e.bytes = ascii(text);
    heads.set(head, e);
  }
  return e;
}

function isPlain(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (!plainByte(text.charCodeAt(i))) return false;
  return true;
}

/** `{"level":L,"time":T,"event":"packet","conn":…,"from":…[,"clientId":…][,"username":…]`; -1 if not plain. */
function putHead(
  out: Buffer,
  at: number,
  level: number,
  time: number,
  head: PacketHead,
  offset: number,
): number {
  if (!isSafeInt(time) || !isSafeInt(offset)) return -1;
  const bytes = headEntry(head).bytes;
  if (bytes === null) return -1;
  let p = put(out, at, LEVEL);
  p = putInt(out, p, level);
  p = put(out, p, TIME);
  p = putInt(out, p, time);
  out.set(bytes, p);
  return p + bytes.length;
}

type LineType = 'PUBLISH' | AckPacket['type'] | 'CONNACK' | 'SUBACK' | 'DISCONNECT';
const VERSIONS = ['3.1', '3.1.1', '5.0'] as const;

/** `,"type":"T","protocol":"V","flags":` for each type and version. */
const TYPE_PROTOCOL = Object.fromEntries(
  (['PUBLISH', 'PUBACK', 'PUBREC', 'PUBREL', 'PUBCOMP', 'CONNACK', 'SUBACK', 'DISCONNECT'] as const).map(
    (type) => [
      type,
      Object.fromEntries(VERSIONS.map((v) => [v, ascii(`,"type":"${type}","protocol":"${v}","flags":`)])),
    ],
  ),
) as Record<LineType, Record<ProtocolVersion, Uint8Array>>;

/** `,"type":"T","protocol":"V","flags":F,"length":N,"offset":O` (the offset was checked by putHead). */
function putCommon(
  out: Buffer,
  at: number,
  type: LineType,
  packet: { protocol: ProtocolVersion; flags: number; length: number; offset: number },
): number {
  const bytes = TYPE_PROTOCOL[type][packet.protocol];
  out.set(bytes, at);
  let p = putInt(out, at + bytes.length, packet.flags);
  p = put(out, p, LENGTH);
  p = putInt(out, p, packet.length);
  p = put(out, p, OFFSET);
  return putInt(out, p, packet.offset);
}

function headBytes(head: PacketHead): number {
  return head.conn.length + head.from.length + (head.clientId?.length ?? 0) + (head.username?.length ?? 0);
}

/** What every line here leaves to the general path: properties, violations, a frame the cap cut. */
function plainPacket(packet: { properties?: unknown; violations: unknown[]; truncated?: boolean }): boolean {
  return packet.properties === undefined && packet.violations.length === 0 && packet.truncated !== true;
}

/**
 * Bytes `writePublishLine` may need for this packet: reserve them before calling it. Undefined
 * when the packet is not one it writes.
 */
export function publishLineBound(
  head: PacketHead,
  packet: PublishPacket,
  corr: Correlation | undefined,
  opts: AnnotateOptions,
): number | undefined {
  if (!plainPacket(packet) || corr !== undefined || opts.payload !== 'auto' || !(opts.payloadMax > 0))
    return undefined;
  const preview = Math.min(packet.payload.data.length, opts.payloadMax);
  // Escapes take at most 2 bytes a character once, 4 twice.
  return (
    FIXED_BYTES +
    headBytes(head) +
    2 * packet.topic.length +
    2 * preview +
    4 * Math.min(preview, MSG_PREVIEW_CHARS)
  );
}

/**
 * Writes the line at `out[at]` and returns where it ends, or -1 when the packet turns out not to
 * be one it writes (bytes past `at` are then garbage, never counted). `out` must have room for
 * publishLineBound's bytes after `at`; call only for packets it gave a bound for.
 */
export function writePublishLine(
  out: Buffer,
  at: number,
  level: number,
  time: number,
  head: PacketHead,
  packet: PublishPacket,
  opts: AnnotateOptions,
): number {
  const { payload } = packet;
  if (!isSafeInt(payload.length)) return -1;
  let p = putHead(out, at, level, time, head, packet.offset);
  if (p < 0) return -1;
  p = putCommon(out, p, 'PUBLISH', packet);
  p = put(out, p, TOPIC);
  const topicAt = p;
  p = putPlainString(out, p, packet.topic);
  if (p < 0) return -1;
  const topicEnd = p;
  p = put(out, p, QOS);
  p = putInt(out, p, packet.qos);
  p = put(out, p, RETAIN);
  p = putBool(out, p, packet.retain);
  p = put(out, p, DUP);
  p = putBool(out, p, packet.dup);
  if (packet.packetId !== undefined) {
    p = put(out, p, PACKET_ID);
    p = putInt(out, p, packet.packetId);
  }
  p = put(out, p, PAYLOAD);
  p = putInt(out, p, payload.length);
  // The preview: what previewPayload shows in auto mode for printable ASCII.
  let previewBytes = 0;
  let previewAt = 0;
  let escapes = false;
  if (payload.length > 0) {
    previewBytes = Math.min(payload.data.length, opts.payloadMax);
    p = put(out, p, PREVIEW);
    previewAt = p;
    p = putTextBytes(out, p, payload.data, previewBytes, ESCAPED_ONCE);
    if (p < 0) return -1;
    escapes = p - previewAt !== previewBytes;
    p = put(out, p, TRUNCATED);
    p = putBool(out, p, previewBytes < payload.length);
  }
  // The summary: `PUBLISH topic qos=Q[ id=N][ retain][ dup] N B[ "first 60 characters[…]"]`.
  p = put(out, p, MSG);
  out.copyWithin(p, topicAt, topicEnd);
  p += topicEnd - topicAt;
  p = put(out, p, MSG_QOS);
  p = putInt(out, p, packet.qos);
  if (packet.packetId !== undefined) {
    p = put(out, p, MSG_ID);
    p = putInt(out, p, packet.packetId);
  }
  if (packet.retain) p = put(out, p, MSG_RETAIN);
  if (packet.dup) p = put(out, p, MSG_DUP);
  out[p++] = 0x20;
  p = putInt(out, p, payload.length);
  p = put(out, p, MSG_BYTES);
  if (payload.length === 0) return put(out, p, END);
  p = put(out, p, MSG_PREVIEW);
  const shown = Math.min(previewBytes, MSG_PREVIEW_CHARS);
  if (escapes) p = putTextBytes(out, p, payload.data, shown, ESCAPED_TWICE);
  else {
    // Nothing escaped: the record's preview bytes are the summary's too.
    out.copyWithin(p, previewAt, previewAt + shown);
    p += shown;
  }
  if (previewBytes > MSG_PREVIEW_CHARS) p = put(out, p, ELLIPSIS);
  return put(out, p, MSG_END);
}

// --- acknowledgements ----------------------------------------------------------------------------

const ACK_TYPES: Record<AckPacket['type'], Uint8Array> = {
  PUBACK: ascii('PUBACK'),
  PUBREC: ascii('PUBREC'),
  PUBREL: ascii('PUBREL'),
  PUBCOMP: ascii('PUBCOMP'),
};
const REASON = ascii(',"reason":');
const REQUEST = ascii(',"request":{"topic":"');
const REQUEST_MS = ascii('","ms":');
const ACK_MSG = ascii(',"msg":"');
const MSG_REQUEST_MS = ascii(' ms)');

/** A reason's JSON and its summary text (`0x87 Not authorized`, escaped for the msg), made once. */
interface ReasonBytes {
  json: Uint8Array;
  /** The JSON without its `{`: the reason's fields, to follow a filter's in one object (SUBACK). */
  fields: Uint8Array;
  summary: Uint8Array;
}
const reasonBytes = new WeakMap<ReasonInfo, ReasonBytes>();

function bytesOfReason(r: ReasonInfo): ReasonBytes {
  let b = reasonBytes.get(r);
  if (b === undefined) {
    const summary = JSON.stringify(`${r.hex} ${r.name}`);
    const json = Uint8Array.from(Buffer.from(JSON.stringify(r), 'utf8'));
    b = {
      json,
      fields: json.subarray(1),
      summary: Uint8Array.from(Buffer.from(summary.slice(1, -1), 'utf8')),
    };
    reasonBytes.set(r, b);
  }
  return b;
}

/** Bytes `writeAckLine` may need for this packet, or undefined when it does not write it. */
export function ackLineBound(
  head: PacketHead,
  packet: AckPacket,
  corr: Correlation | undefined,
): number | undefined {
  if (!plainPacket(packet)) return undefined;
  if (corr !== undefined && (corr.request === undefined || corr.ms !== undefined || corr.topic !== undefined))
    return undefined;
  // A reason's JSON is at most a few hundred bytes of UTF-8 (the catalogue's longest description).
  return FIXED_BYTES + 1024 + headBytes(head) + 2 * (corr?.request?.topic.length ?? 0);
}

/** Writes an acknowledgement's line like writePublishLine does; -1 when it does not write it. */
export function writeAckLine(
  out: Buffer,
  at: number,
  level: number,
  time: number,
  head: PacketHead,
  packet: AckPacket,
  corr: Correlation | undefined,
): number {
  let p = putHead(out, at, level, time, head, packet.offset);
  if (p < 0) return -1;
  p = putCommon(out, p, packet.type, packet);
  p = put(out, p, PACKET_ID);
  p = putInt(out, p, packet.packetId);
  const reason =
    packet.protocol === '5.0' ? bytesOfReason(reasonInfo('5.0', packet.type, packet.code)) : undefined;
  if (reason !== undefined) {
    p = put(out, p, REASON);
    p = put(out, p, reason.json);
  }
  const request = corr?.request;
  let topicAt = 0;
  let topicEnd = 0;
  if (request !== undefined) {
    if (!isSafeInt(request.ms)) return -1;
    p = put(out, p, REQUEST);
    topicAt = p;
    p = putPlainString(out, p, request.topic);
    if (p < 0) return -1;
    topicEnd = p;
    p = put(out, p, REQUEST_MS);
    p = putInt(out, p, request.ms);
    out[p++] = 0x7d; // }
  }
  // The summary: `TYPE id=N[ 0xXX Name][ (topic, N ms)]`.
  p = put(out, p, ACK_MSG);
  p = put(out, p, ACK_TYPES[packet.type]);
  p = put(out, p, MSG_ID);
  p = putInt(out, p, packet.packetId);
  if (reason !== undefined) {
    out[p++] = 0x20;
    p = put(out, p, reason.summary);
  }
  if (request !== undefined) {
    out[p++] = 0x20;
    out[p++] = 0x28; // (
    out.copyWithin(p, topicAt, topicEnd);
    p += topicEnd - topicAt;
    out[p++] = 0x2c; // ,
    out[p++] = 0x20;
    p = putInt(out, p, request.ms);
    p = put(out, p, MSG_REQUEST_MS);
  }
  return put(out, p, END);
}

// --- answers with reason codes: CONNACK, SUBACK, DISCONNECT --------------------------------------

const SESSION_PRESENT = ascii(',"sessionPresent":');
const MS = ascii(',"ms":');
const REASONS = ascii(',"reasons":[');
const FILTER = ascii('{"filter":"');
const FILTER_END = ascii('",');
const MSG_CONNACK = ascii(',"msg":"CONNACK ');
const MSG_SUBACK = ascii(',"msg":"SUBACK ');
const MSG_DISCONNECT = ascii(',"msg":"DISCONNECT');
const MSG_ARROW = Uint8Array.from(Buffer.from(' → ', 'utf8'));
const MSG_SEPARATOR = ascii(', ');

/** `,"ms":N` when the session timed the request; -1 when N is not what putInt writes. */
function putMs(out: Buffer, at: number, corr: Correlation | undefined): number {
  const ms = corr?.ms;
  if (ms === undefined) return at;
  if (!isSafeInt(ms)) return -1;
  return putInt(out, put(out, at, MS), ms);
}

/** The summary's ` (N ms)`, for a time putMs accepted. */
function putMsgMs(out: Buffer, at: number, corr: Correlation | undefined): number {
  const ms = corr?.ms;
  if (ms === undefined) return at;
  out[at++] = 0x20;
  out[at++] = 0x28; // (
  return put(out, putInt(out, at, ms), MSG_REQUEST_MS);
}

/** Only a request time may come with an answer here (no PUBLISH request, no alias topic). */
function timedOnly(corr: Correlation | undefined): boolean {
  return corr === undefined || (corr.request === undefined && corr.topic === undefined);
}

/** Bytes `writeConnackLine` or `writeDisconnectLine` may need, or undefined when it does not write it. */
export function reasonLineBound(
  head: PacketHead,
  packet: ConnackPacket | DisconnectPacket,
  corr: Correlation | undefined,
): number | undefined {
  if (!plainPacket(packet) || !timedOnly(corr) || corr?.filters !== undefined) return undefined;
  return FIXED_BYTES + 1024 + headBytes(head);
}

/** `…,"sessionPresent":B,"reason":{…}[,"ms":N],"msg":"CONNACK 0xXX Name[ (N ms)]"}`; -1 if not written. */
export function writeConnackLine(
  out: Buffer,
  at: number,
  level: number,
  time: number,
  head: PacketHead,
  packet: ConnackPacket,
  corr: Correlation | undefined,
): number {
  let p = putHead(out, at, level, time, head, packet.offset);
  if (p < 0) return -1;
  p = putCommon(out, p, 'CONNACK', packet);
  p = putBool(out, put(out, p, SESSION_PRESENT), packet.sessionPresent);
  const reason = bytesOfReason(reasonInfo(packet.protocol, 'CONNACK', packet.code));
  p = put(out, put(out, p, REASON), reason.json);
  p = putMs(out, p, corr);
  if (p < 0) return -1;
  p = put(out, put(out, p, MSG_CONNACK), reason.summary);
  return put(out, putMsgMs(out, p, corr), END);
}

/** `…[,"reason":{…}],"msg":"DISCONNECT[ 0xXX Name]"}` (3.x has no reason code); -1 if not written. */
export function writeDisconnectLine(
  out: Buffer,
  at: number,
  level: number,
  time: number,
  head: PacketHead,
  packet: DisconnectPacket,
  corr: Correlation | undefined,
): number {
  let p = putHead(out, at, level, time, head, packet.offset);
  if (p < 0) return -1;
  p = putCommon(out, p, 'DISCONNECT', packet);
  const reason =
    packet.protocol === '5.0' ? bytesOfReason(reasonInfo('5.0', 'DISCONNECT', packet.code)) : undefined;
  if (reason !== undefined) p = put(out, put(out, p, REASON), reason.json);
  p = putMs(out, p, corr);
  if (p < 0) return -1;
  p = put(out, p, MSG_DISCONNECT);
  if (reason !== undefined) {
    out[p++] = 0x20;
    p = put(out, p, reason.summary);
  }
  return put(out, putMsgMs(out, p, corr), END);
}

/** Bytes `writeSubackLine` may need, or undefined when it does not write it. */
export function subackLineBound(
  head: PacketHead,
  packet: SubackPacket,
  corr: Correlation | undefined,
): number | undefined {
  if (!plainPacket(packet) || !timedOnly(corr)) return undefined;
  // Per code: its reason's JSON and summary (a few hundred bytes at most) and the filter twice.
  let bytes = FIXED_BYTES + headBytes(head);
  for (let i = 0; i < packet.codes.length; i++) bytes += 1024 + 2 * (corr?.filters?.[i]?.length ?? 0);
  return bytes;
}

/**
 * `…,"packetId":N,"reasons":[{"filter":"f",…},…][,"ms":N],"msg":"SUBACK f → 0xXX Name, …[ (N ms)]"}`,
 * each code paired with the filter the SUBSCRIBE asked for when the session knows it; -1 if not written.
 */
export function writeSubackLine(
  out: Buffer,
  at: number,
  level: number,
  time: number,
  head: PacketHead,
  packet: SubackPacket,
  corr: Correlation | undefined,
): number {
  let p = putHead(out, at, level, time, head, packet.offset);
  if (p < 0) return -1;
  p = putCommon(out, p, 'SUBACK', packet);
  p = putInt(out, put(out, p, PACKET_ID), packet.packetId);
  p = put(out, p, REASONS);
  const { codes, protocol } = packet;
  const filters = corr?.filters;
  for (let i = 0; i < codes.length; i++) {
    const reason = bytesOfReason(reasonInfo(protocol, 'SUBACK', codes[i]!));
    if (i > 0) out[p++] = 0x2c; // ,
    const filter = filters?.[i];
    if (filter === undefined) {
      p = put(out, p, reason.json);
      continue;
    }
    p = putPlainString(out, put(out, p, FILTER), filter);
    if (p < 0) return -1;
    p = put(out, put(out, p, FILTER_END), reason.fields);
  }
  out[p++] = 0x5d; // ]
  p = putMs(out, p, corr);
  if (p < 0) return -1;
  p = put(out, p, MSG_SUBACK);
  for (let i = 0; i < codes.length; i++) {
    if (i > 0) p = put(out, p, MSG_SEPARATOR);
    const filter = filters?.[i];
    // Plain (putPlainString took it above), so its bytes are the summary's too.
    if (filter !== undefined) p = put(out, putPlainString(out, p, filter), MSG_ARROW);
    p = put(out, p, bytesOfReason(reasonInfo(protocol, 'SUBACK', codes[i]!)).summary);
  }
  return put(out, putMsgMs(out, p, corr), END);
}
