/**
 * The JSON text of the records logged most: PUBLISH and its acknowledgements, as the tap builds
 * them (its event/conn/from/clientId/username head, then packetRecord's fields in packetRecord's
 * order). Written field by field, it is the text JSON.stringify makes at a fraction of the CPU:
 * scenario A of `npm run bench` logs 400,000 of these per run, and JSON.stringify was the largest
 * item in mqtt-tap's profile. Records of other kinds, or carrying a field this file does not
 * write (properties, violations, a topic alias...), get undefined: JSON.stringify takes them.
 * test/sinks/packet-json.test.ts holds both to the same output for generated packets.
 */
import type { PayloadPreview } from '../annotate/payload-preview.js';
import type { ReasonInfo } from '../annotate/reason.js';
import type { LogRecord } from './sink.js';

/** What JSON.stringify would escape in a string: quote, backslash, controls, lone surrogates. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: these are the characters JSON escapes.
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

/** JSON.stringify(text) for a string; most need no escaping and skip the native call. */
export function jsonString(text: string): string {
  return NEEDS_ESCAPE.test(text) ? JSON.stringify(text) : `"${text}"`;
}

/** Reason infos are frozen and shared (annotate/reason.ts): each is written out once. */
const reasonJson = new WeakMap<ReasonInfo, string>();

function reasonText(r: ReasonInfo): string {
  let text = reasonJson.get(r);
  if (text === undefined) {
    text = JSON.stringify(r);
    reasonJson.set(r, text);
  }
  return text;
}

/** `,"key":"value"` for an optional string field: '' when absent, undefined when not a string. */
function optionalString(key: string, value: unknown): string | undefined {
  if (value === undefined) return '';
  return typeof value === 'string' ? `,"${key}":${jsonString(value)}` : undefined;
}

/** The head the tap puts before every packet record. */
function headText(rec: LogRecord): string | undefined {
  if (typeof rec.conn !== 'string' || typeof rec.from !== 'string') return undefined;
  const clientId = optionalString('clientId', rec.clientId);
  const username = optionalString('username', rec.username);
  if (clientId === undefined || username === undefined) return undefined;
  return `"event":"packet","conn":${jsonString(rec.conn)},"from":${jsonString(rec.from)}${clientId}${username}`;
}

function isInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v);
}

/** Fields after `type` that every packet record has. */
function commonText(rec: LogRecord): string | undefined {
  if (typeof rec.protocol !== 'string' || !isInt(rec.flags) || !isInt(rec.length) || !isInt(rec.offset))
    return undefined;
  return `,"protocol":${jsonString(rec.protocol)},"flags":${rec.flags},"length":${rec.length},"offset":${rec.offset}`;
}

/** Fields only some packets have; their presence sends the record to JSON.stringify. */
function hasRareFields(rec: LogRecord): boolean {
  return (
    rec.properties !== undefined ||
    rec.violations !== undefined ||
    rec.truncated !== undefined ||
    rec.topicAlias !== undefined
  );
}

function payloadText(p: PayloadPreview): string | undefined {
  if (!isInt(p.length)) return undefined;
  const encoding = optionalString('encoding', p.encoding);
  const preview = optionalString('preview', p.preview);
  if (encoding === undefined || preview === undefined) return undefined;
  let s = `{"length":${p.length}${encoding}${preview}`;
  if (p.truncated !== undefined) {
    if (typeof p.truncated !== 'boolean') return undefined;
    s += `,"truncated":${p.truncated}`;
  }
  return `${s}}`;
}

function publishText(rec: LogRecord, head: string, common: string): string | undefined {
  if (
    typeof rec.topic !== 'string' ||
    !isInt(rec.qos) ||
    typeof rec.retain !== 'boolean' ||
    typeof rec.dup !== 'boolean' ||
    typeof rec.payload !== 'object' ||
    rec.payload === null ||
    rec.request !== undefined ||
    rec.ms !== undefined
  )
    return undefined;
  let s = `${head},"type":"PUBLISH"${common},"topic":${jsonString(rec.topic)},"qos":${rec.qos},"retain":${rec.retain},"dup":${rec.dup}`;
  if (rec.packetId !== undefined) {
    if (!isInt(rec.packetId)) return undefined;
    s += `,"packetId":${rec.packetId}`;
  }
  const payload = payloadText(rec.payload as PayloadPreview);
  return payload === undefined ? undefined : `${s},"payload":${payload}`;
}

function ackText(rec: LogRecord, head: string, common: string, type: string): string | undefined {
  if (!isInt(rec.packetId)) return undefined;
  let s = `${head},"type":"${type}"${common},"packetId":${rec.packetId}`;
  if (rec.reason !== undefined) {
    if (!Object.isFrozen(rec.reason)) return undefined;
    s += `,"reason":${reasonText(rec.reason as ReasonInfo)}`;
  }
  const req = rec.request as { topic?: unknown; ms?: unknown } | undefined;
  if (req !== undefined) {
    if (typeof req.topic !== 'string' || typeof req.ms !== 'number' || !Number.isFinite(req.ms))
      return undefined;
    s += `,"request":{"topic":${jsonString(req.topic)},"ms":${req.ms}}`;
  }
  if (rec.ms !== undefined) return undefined;
  return s;
}

/**
 * The record's fields as JSON without the braces (`"event":"packet",...`), or undefined when the
 * record is not one this file writes.
 */
export function packetJsonFields(rec: LogRecord): string | undefined {
  if (rec.event !== 'packet' || hasRareFields(rec)) return undefined;
  const type = rec.type;
  if (type !== 'PUBLISH' && type !== 'PUBACK' && type !== 'PUBREC' && type !== 'PUBREL' && type !== 'PUBCOMP')
    return undefined;
  const head = headText(rec);
  if (head === undefined) return undefined;
  const common = commonText(rec);
  if (common === undefined) return undefined;
  return type === 'PUBLISH' ? publishText(rec, head, common) : ackText(rec, head, common, type);
}
