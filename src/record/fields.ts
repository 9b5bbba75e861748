/**
 * A packet's record, field by field and in order: the one definition both the object form
 * (object-form.ts) and the NDJSON line (ndjson-line.ts) are written from.
 */
import { PACKET_TYPE_NAMES, type PacketTypeName, type ProtocolVersion } from '../protocol/constants.js';
import type {
  AckPacket,
  ConnectPacket,
  Packet,
  Payload,
  Properties,
  PublishPacket,
  SubackPacket,
  UnsubackPacket,
} from '../protocol/types.js';
import type { Correlation } from '../session/connection-session.js';
import { RECORD_LIST_MAX, type RecordOptions } from './defaults.js';
import { type PreviewShape, previewShape } from './payload-preview.js';
import { type ReasonInfo, reasonInfo } from './reason.js';
import { secretRecord } from './secrets.js';

/** A field name, with its JSON (`,"name":`, and with either boolean) made once. */
export interface Key {
  readonly name: string;
  readonly json: Uint8Array;
  readonly jsonTrue: Uint8Array;
  readonly jsonFalse: Uint8Array;
}

function key(name: string): Key {
  const json = `,${JSON.stringify(name)}:`;
  const bytes = (text: string): Uint8Array => Buffer.from(text, 'utf8');
  return { name, json: bytes(json), jsonTrue: bytes(`${json}true`), jsonFalse: bytes(`${json}false`) };
}

/** A field whose value comes from a closed set (the packet type, the protocol version), encoded once. */
export interface Choice {
  readonly key: Key;
  readonly value: string;
  /** `,"name":"value"` */
  readonly json: Uint8Array;
}

function choices<T extends string>(k: Key, values: readonly T[]): Record<T, Choice> {
  const out = {} as Record<T, Choice>;
  for (const value of values) {
    const json = `,${JSON.stringify(k.name)}:${JSON.stringify(value)}`;
    out[value] = { key: k, value, json: Buffer.from(json, 'utf8') };
  }
  return out;
}

/** Every field name of a packet record. */
export const K = {
  type: key('type'),
  protocol: key('protocol'),
  flags: key('flags'),
  length: key('length'),
  offset: key('offset'),
  protocolName: key('protocolName'),
  protocolLevel: key('protocolLevel'),
  clientId: key('clientId'),
  clean: key('clean'),
  keepAlive: key('keepAlive'),
  username: key('username'),
  password: key('password'),
  will: key('will'),
  sessionPresent: key('sessionPresent'),
  topic: key('topic'),
  topicAlias: key('topicAlias'),
  qos: key('qos'),
  retain: key('retain'),
  dup: key('dup'),
  packetId: key('packetId'),
  payload: key('payload'),
  reason: key('reason'),
  reasons: key('reasons'),
  properties: key('properties'),
  subscriptions: key('subscriptions'),
  filters: key('filters'),
  request: key('request'),
  ms: key('ms'),
  truncated: key('truncated'),
  violations: key('violations'),
  subscriptionsOmitted: key('subscriptionsOmitted'),
  filtersOmitted: key('filtersOmitted'),
  reasonsOmitted: key('reasonsOmitted'),
  violationsOmitted: key('violationsOmitted'),
} as const;

const TYPES = choices(
  K.type,
  PACKET_TYPE_NAMES.filter((t): t is PacketTypeName => t !== undefined),
);
const VERSIONS = choices<ProtocolVersion>(K.protocol, ['3.1', '3.1.1', '5.0']);

/** Receives a record's fields in order; array elements (a SUBACK's reasons) come without a key. */
export interface FieldWriter {
  string(key: Key, value: string): void;
  choice(field: Choice): void;
  number(key: Key, value: number): void;
  boolean(key: Key, value: boolean): void;
  /** A reason code's record; in a SUBACK or UNSUBACK, after the filter it answers when known. */
  reason(key: Key | undefined, info: ReasonInfo, filter?: string): void;
  /** `{length[,encoding,preview,truncated]}` of a payload. */
  payload(key: Key, payload: Payload, shape: PreviewShape): void;
  /** A JSON-ready value, written as JSON.stringify writes it. */
  json(key: Key, value: unknown): void;
  /** A nested object, or an array; `end` closes it. */
  open(key: Key, array?: boolean): void;
  end(): void;
}

/** The topic a PUBLISH went to: the one its Topic Alias stands for when it came without one. */
export function publishTopic(packet: PublishPacket, corr?: Correlation): string {
  return corr?.topic ?? packet.topic;
}

/** The PUBLISH payload preview's shape (into `into`), or undefined for other packets. */
export function packetPreview(
  packet: Packet,
  opts: RecordOptions,
  into?: PreviewShape,
): PreviewShape | undefined {
  if (packet.type !== 'PUBLISH') return undefined;
  return previewShape(packet.payload, opts, packet.properties?.payloadFormatIndicator, into);
}

/**
 * The fields of `packet`'s record after its head: type, protocol, flags, length and offset, the
 * packet's own, then what the session matched it with and what was wrong with it. `preview` is
 * packetPreview's shape, made once for the fields and the summary.
 */
export function packetFields(
  w: FieldWriter,
  packet: Packet,
  corr: Correlation | undefined,
  opts: RecordOptions,
  preview: PreviewShape | undefined,
): void {
  w.choice(TYPES[packet.type]);
  w.choice(VERSIONS[packet.protocol]);
  w.number(K.flags, packet.flags);
  w.number(K.length, packet.length);
  w.number(K.offset, packet.offset);
  switch (packet.type) {
    case 'PUBLISH':
      publishFields(w, packet, corr, opts, preview ?? packetPreview(packet, opts)!);
      break;
    case 'PUBACK':
    case 'PUBREC':
    case 'PUBREL':
    case 'PUBCOMP':
      ackFields(w, packet, opts);
      break;
    case 'CONNECT':
      connectFields(w, packet, opts);
      break;
    case 'CONNACK':
      w.boolean(K.sessionPresent, packet.sessionPresent);
      w.reason(K.reason, reasonInfo(packet.protocol, 'CONNACK', packet.code));
      properties(w, packet.properties, opts);
      break;
    case 'SUBSCRIBE':
    case 'UNSUBSCRIBE':
      // The request's id, then what it asks for.
      w.number(K.packetId, packet.packetId);
      properties(w, packet.properties, opts);
      if (packet.type === 'SUBSCRIBE') list(w, K.subscriptions, K.subscriptionsOmitted, packet.subscriptions);
      else list(w, K.filters, K.filtersOmitted, packet.filters);
      break;
    case 'SUBACK':
    case 'UNSUBACK':
      subackFields(w, packet, corr, opts);
      break;
    case 'DISCONNECT':
    case 'AUTH':
      // 3.x has no reason code.
      if (packet.protocol === '5.0') w.reason(K.reason, reasonInfo('5.0', packet.type, packet.code));
      properties(w, packet.properties, opts);
      break;
    case 'PINGREQ':
    case 'PINGRESP':
      break;
  }
  if (corr !== undefined) correlationFields(w, corr);
  if (packet.truncated) w.boolean(K.truncated, true);
  if (packet.violations.length > 0) list(w, K.violations, K.violationsOmitted, packet.violations);
}

/** At most RECORD_LIST_MAX entries of `items`, then how many were left out. */
function list(w: FieldWriter, key: Key, omittedKey: Key, items: readonly unknown[]): void {
  if (items.length <= RECORD_LIST_MAX) {
    w.json(key, items);
    return;
  }
  w.json(key, items.slice(0, RECORD_LIST_MAX));
  w.number(omittedKey, items.length - RECORD_LIST_MAX);
}

function connectFields(w: FieldWriter, packet: ConnectPacket, opts: RecordOptions): void {
  w.string(K.protocolName, packet.protocolName);
  w.number(K.protocolLevel, packet.protocolLevel);
  w.string(K.clientId, packet.clientId);
  w.boolean(K.clean, packet.clean);
  w.number(K.keepAlive, packet.keepAlive);
  if (packet.username !== undefined) w.string(K.username, packet.username);
  if (packet.password !== undefined) w.json(K.password, secretRecord(packet.password, opts.showSecrets));
  properties(w, packet.properties, opts);
  const will = packet.will;
  if (will !== undefined) {
    w.open(K.will);
    w.string(K.topic, will.topic);
    w.number(K.qos, will.qos);
    w.boolean(K.retain, will.retain);
    const fi = will.properties?.payloadFormatIndicator;
    w.payload(K.payload, will.payload, previewShape(will.payload, opts, fi));
    properties(w, will.properties, opts);
    w.end();
  }
}

function publishFields(
  w: FieldWriter,
  packet: PublishPacket,
  corr: Correlation | undefined,
  opts: RecordOptions,
  preview: PreviewShape,
): void {
  w.string(K.topic, publishTopic(packet, corr));
  const alias = packet.properties?.topicAlias;
  if (typeof alias === 'number') w.number(K.topicAlias, alias);
  w.number(K.qos, packet.qos);
  w.boolean(K.retain, packet.retain);
  w.boolean(K.dup, packet.dup);
  if (packet.packetId !== undefined) w.number(K.packetId, packet.packetId);
  properties(w, packet.properties, opts);
  w.payload(K.payload, packet.payload, preview);
}

/** PUBACK, PUBREC, PUBREL, PUBCOMP: 3.x has no reason code. */
function ackFields(w: FieldWriter, packet: AckPacket, opts: RecordOptions): void {
  w.number(K.packetId, packet.packetId);
  if (packet.protocol === '5.0') w.reason(K.reason, reasonInfo('5.0', packet.type, packet.code));
  properties(w, packet.properties, opts);
}

/** SUBACK and UNSUBACK: each code with the filter it answers when the session knows it. */
function subackFields(
  w: FieldWriter,
  packet: SubackPacket | UnsubackPacket,
  corr: Correlation | undefined,
  opts: RecordOptions,
): void {
  const v = packet.protocol;
  w.number(K.packetId, packet.packetId);
  properties(w, packet.properties, opts);
  // A 3.x UNSUBACK has no codes: the filters it answers stand alone.
  if (packet.type === 'SUBACK' || v === '5.0') {
    const codes = packet.codes;
    const shown = Math.min(codes.length, RECORD_LIST_MAX);
    w.open(K.reasons, true);
    for (let i = 0; i < shown; i++) {
      w.reason(undefined, reasonInfo(v, packet.type, codes[i]!), corr?.filters?.[i]);
    }
    w.end();
    if (codes.length > shown) w.number(K.reasonsOmitted, codes.length - shown);
  } else if (corr?.filters !== undefined) {
    list(w, K.filters, K.filtersOmitted, corr.filters);
  }
}

/** The PUBLISH an acknowledgement answers, and the time since the request it answers. */
function correlationFields(w: FieldWriter, corr: Correlation): void {
  if (corr.request !== undefined) {
    w.open(K.request);
    w.string(K.topic, corr.request.topic);
    w.number(K.ms, corr.request.ms);
    w.end();
  }
  if (corr.ms !== undefined) w.number(K.ms, corr.ms);
}

function properties(w: FieldWriter, props: Properties | undefined, opts: RecordOptions): void {
  if (props !== undefined) w.json(K.properties, jsonProperties(props, opts));
}

/** Binary values become `{base64, length}`; Authentication Data is a secret. */
function jsonProperties(props: Properties, opts: RecordOptions): Record<string, unknown> {
  let out: Record<string, unknown> | undefined;
  for (const name in props) {
    const value = props[name];
    if (!Buffer.isBuffer(value)) continue;
    out ??= { ...props };
    out[name] =
      name === 'authenticationData'
        ? secretRecord(value, opts.showSecrets)
        : { base64: value.toString('base64'), length: value.length };
  }
  return out ?? props;
}
