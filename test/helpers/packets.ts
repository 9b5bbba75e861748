/**
 * Packet builders for codec tests: wire-format pieces (§1.5 data representation), MQTT 5
 * properties (§2.2.2), and one builder per control packet that writes exactly the bytes the spec
 * lays out, including the MQTT 5 short forms. Plus `decodeStream`, the framer + decoder loop the
 * proxy runs, for asserting on whole streams.
 */
import { PROPERTY_BY_ID } from '../../src/protocol/catalogue/lookup.js';
import type { ProtocolVersion } from '../../src/protocol/constants.js';
import { decodeFrame } from '../../src/protocol/decode/index.js';
import type { Direction } from '../../src/protocol/direction.js';
import { Framer, type FramerOptions } from '../../src/protocol/framer.js';
import type { Frame, FramingError, Packet } from '../../src/protocol/types.js';

type Bytes = Buffer | readonly number[];

const buf = (b: Bytes): Buffer => (Buffer.isBuffer(b) ? b : Buffer.from(b));

export function cat(...parts: Bytes[]): Buffer {
  return Buffer.concat(parts.map(buf));
}

export const u8 = (n: number): Buffer => Buffer.from([n & 0xff]);

export function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

export function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

/** Variable Byte Integer (§1.5.5), minimally encoded. */
export function vbi(n: number): Buffer {
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return Buffer.from(out);
}

/** UTF-8 Encoded String (§1.5.4): two-byte length then the bytes. A Buffer is taken raw (for ill-formed UTF-8). */
export function str(s: string | Buffer): Buffer {
  const b = typeof s === 'string' ? Buffer.from(s, 'utf8') : s;
  return cat(u16(b.length), b);
}

/** Binary Data (§1.5.6). */
export const bin = (b: Bytes): Buffer => cat(u16(buf(b).length), b);

/** Fixed header (first byte, Remaining Length) + body. */
export function frame(first: number, ...body: Bytes[]): Buffer {
  const b = cat(...body);
  return cat([first], vbi(b.length), b);
}

export type PropValue = number | string | Buffer | readonly [string, string];

/** One property: identifier + value encoded as Table 2-4 says for that identifier. */
export function prop(id: number, value: PropValue): Buffer {
  const def = PROPERTY_BY_ID[id];
  if (def === undefined) throw new Error(`no property 0x${id.toString(16)}`);
  const v = value as never;
  switch (def.type) {
    case 'byte':
      return cat(vbi(id), u8(v));
    case 'twoByteInteger':
      return cat(vbi(id), u16(v));
    case 'fourByteInteger':
      return cat(vbi(id), u32(v));
    case 'varint':
      return cat(vbi(id), vbi(v));
    case 'utf8':
      return cat(vbi(id), str(v));
    case 'binary':
      return cat(vbi(id), bin(v));
    case 'utf8Pair': {
      const [k, val] = value as readonly [string, string];
      return cat(vbi(id), str(k), str(val));
    }
  }
}

/** Property Length + properties. */
export function props(...entries: Buffer[]): Buffer {
  const body = cat(...entries);
  return cat(vbi(body.length), body);
}

/** Property identifiers (Table 2-4), for readable fixtures. */
export const P = {
  payloadFormatIndicator: 0x01,
  messageExpiryInterval: 0x02,
  contentType: 0x03,
  responseTopic: 0x08,
  correlationData: 0x09,
  subscriptionIdentifier: 0x0b,
  sessionExpiryInterval: 0x11,
  assignedClientIdentifier: 0x12,
  serverKeepAlive: 0x13,
  authenticationMethod: 0x15,
  authenticationData: 0x16,
  requestProblemInformation: 0x17,
  willDelayInterval: 0x18,
  requestResponseInformation: 0x19,
  responseInformation: 0x1a,
  serverReference: 0x1c,
  reasonString: 0x1f,
  receiveMaximum: 0x21,
  topicAliasMaximum: 0x22,
  topicAlias: 0x23,
  maximumQoS: 0x24,
  retainAvailable: 0x25,
  userProperty: 0x26,
  maximumPacketSize: 0x27,
  wildcardSubscriptionAvailable: 0x28,
  subscriptionIdentifierAvailable: 0x29,
  sharedSubscriptionAvailable: 0x2a,
} as const;

const is5 = (v: ProtocolVersion): boolean => v === '5.0';

/** Properties only exist in 5.0; `undefined` there means "Property Length 0". */
function maybeProps(v: ProtocolVersion, entries: Buffer[] | undefined): Buffer {
  return is5(v) ? props(...(entries ?? [])) : Buffer.alloc(0);
}

export interface WillSpec {
  topic: string;
  payload: Bytes;
  qos?: number;
  retain?: boolean;
  properties?: Buffer[];
}

export interface ConnectSpec {
  version: ProtocolVersion;
  clientId?: string;
  clean?: boolean;
  keepAlive?: number;
  will?: WillSpec;
  username?: string;
  password?: Bytes;
  properties?: Buffer[];
  /** Overrides the Connect Flags byte computed from the fields. */
  flags?: number;
  /** Overrides the protocol name / level derived from `version`. */
  protocolName?: string;
  protocolLevel?: number;
}

/** CONNECT (§3.1): "MQIsdp"/3 for 3.1, "MQTT"/4 for 3.1.1, "MQTT"/5 for 5.0. */
export function connect(s: ConnectSpec): Buffer {
  const v = s.version;
  const name = s.protocolName ?? (v === '3.1' ? 'MQIsdp' : 'MQTT');
  const level = s.protocolLevel ?? (v === '3.1' ? 3 : v === '3.1.1' ? 4 : 5);
  const w = s.will;
  const flags =
    s.flags ??
    (s.username !== undefined ? 0x80 : 0) |
      (s.password !== undefined ? 0x40 : 0) |
      (w?.retain ? 0x20 : 0) |
      ((w?.qos ?? 0) << 3) |
      (w !== undefined ? 0x04 : 0) |
      ((s.clean ?? true) ? 0x02 : 0);
  return frame(
    0x10,
    str(name),
    [level, flags],
    u16(s.keepAlive ?? 60),
    maybeProps(v, s.properties),
    str(s.clientId ?? ''),
    w === undefined ? [] : cat(maybeProps(v, w.properties), str(w.topic), bin(w.payload)),
    s.username === undefined ? [] : str(s.username),
    s.password === undefined ? [] : bin(s.password),
  );
}

export function connack(s: {
  version: ProtocolVersion;
  sessionPresent?: boolean;
  code?: number;
  properties?: Buffer[];
}): Buffer {
  return frame(0x20, [s.sessionPresent ? 1 : 0, s.code ?? 0], maybeProps(s.version, s.properties));
}

export interface PublishSpec {
  version: ProtocolVersion;
  topic: string;
  qos?: number;
  dup?: boolean;
  retain?: boolean;
  packetId?: number;
  properties?: Buffer[];
  payload?: Bytes;
}

export function publish(s: PublishSpec): Buffer {
  const qos = s.qos ?? 0;
  const first = 0x30 | (s.dup ? 0x08 : 0) | (qos << 1) | (s.retain ? 0x01 : 0);
  return frame(
    first,
    str(s.topic),
    qos > 0 ? u16(s.packetId ?? 1) : [],
    maybeProps(s.version, s.properties),
    s.payload ?? [],
  );
}

export type AckType = 'PUBACK' | 'PUBREC' | 'PUBREL' | 'PUBCOMP';
const ACK_FIRST: Record<AckType, number> = { PUBACK: 0x40, PUBREC: 0x50, PUBREL: 0x62, PUBCOMP: 0x70 };

/**
 * PUBACK/PUBREC/PUBREL/PUBCOMP. In 5.0: no `code` → the short form with Remaining Length 2;
 * `code` without `properties` → Remaining Length 3 (§3.4.2.1).
 */
export function ack(
  type: AckType,
  s: { version: ProtocolVersion; packetId: number; code?: number; properties?: Buffer[] },
): Buffer {
  const tail: Bytes[] = [];
  if (is5(s.version) && s.code !== undefined) {
    tail.push([s.code]);
    if (s.properties !== undefined) tail.push(props(...s.properties));
  }
  return frame(ACK_FIRST[type], u16(s.packetId), ...tail);
}

export interface SubscriptionSpec {
  filter: string;
  qos?: number;
  noLocal?: boolean;
  retainAsPublished?: boolean;
  retainHandling?: number;
  /** Overrides the options byte computed from the fields. */
  options?: number;
}

export function subscribe(s: {
  version: ProtocolVersion;
  packetId: number;
  subscriptions: SubscriptionSpec[];
  properties?: Buffer[];
}): Buffer {
  return frame(
    0x82,
    u16(s.packetId),
    maybeProps(s.version, s.properties),
    ...s.subscriptions.map((sub) =>
      cat(
        str(sub.filter),
        u8(
          sub.options ??
            (sub.qos ?? 0) |
              (sub.noLocal ? 0x04 : 0) |
              (sub.retainAsPublished ? 0x08 : 0) |
              ((sub.retainHandling ?? 0) << 4),
        ),
      ),
    ),
  );
}

export function suback(s: {
  version: ProtocolVersion;
  packetId: number;
  codes: number[];
  properties?: Buffer[];
}): Buffer {
  return frame(0x90, u16(s.packetId), maybeProps(s.version, s.properties), s.codes);
}

export function unsubscribe(s: {
  version: ProtocolVersion;
  packetId: number;
  filters: string[];
  properties?: Buffer[];
}): Buffer {
  return frame(0xa2, u16(s.packetId), maybeProps(s.version, s.properties), ...s.filters.map((f) => str(f)));
}

/** UNSUBACK: 3.x is the Packet Identifier alone; 5.0 adds properties and a code per filter. */
export function unsuback(s: {
  version: ProtocolVersion;
  packetId: number;
  codes?: number[];
  properties?: Buffer[];
}): Buffer {
  return is5(s.version)
    ? frame(0xb0, u16(s.packetId), props(...(s.properties ?? [])), s.codes ?? [])
    : frame(0xb0, u16(s.packetId));
}

export const pingreq = (): Buffer => Buffer.from([0xc0, 0x00]);
export const pingresp = (): Buffer => Buffer.from([0xd0, 0x00]);

/**
 * DISCONNECT (0xe0) or AUTH (0xf0). No `code` → Remaining Length 0; `code` without
 * `properties` → Remaining Length 1 (§3.14.2.1, §3.15.2.1).
 */
function reasonOnly(first: number, s: { code?: number; properties?: Buffer[] }): Buffer {
  if (s.code === undefined) return frame(first);
  return frame(first, [s.code], s.properties === undefined ? [] : props(...s.properties));
}

export const disconnect = (s: { code?: number; properties?: Buffer[] } = {}): Buffer => reasonOnly(0xe0, s);
export const auth = (s: { code?: number; properties?: Buffer[] } = {}): Buffer => reasonOnly(0xf0, s);

export interface Decoded {
  packets: Packet[];
  frames: Frame[];
  errors: FramingError[];
}

/**
 * Frames and decodes `chunks` as one direction of a connection (sent by `from`, when given): starts
 * at `version` and, as the session does, switches to the version of any CONNECT seen.
 */
export function decodeStream(
  chunks: Buffer | readonly Buffer[],
  version: ProtocolVersion = '5.0',
  options: FramerOptions = {},
  from?: Direction,
): Decoded {
  const out: Decoded = { packets: [], frames: [], errors: [] };
  let v = version;
  const framer = new Framer(
    {
      frame(f) {
        // Frames may be views of a chunk: keep a copy so the record survives the chunk.
        out.frames.push({ ...f, body: Buffer.from(f.body) });
        const packet = decodeFrame(f, v, from);
        if (packet.type === 'CONNECT') v = packet.protocol;
        out.packets.push(packet);
      },
      error(e) {
        out.errors.push(e);
      },
    },
    options,
  );
  for (const chunk of Buffer.isBuffer(chunks) ? [chunks] : chunks) framer.push(chunk);
  framer.end();
  return out;
}

/** JSON-friendly deep copy: Buffers become hex strings, so packets compare and print by value. */
export function plain(value: unknown): unknown {
  if (Buffer.isBuffer(value)) return `<${value.toString('hex')}>`;
  if (Array.isArray(value)) return value.map(plain);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = plain(v);
    return out;
  }
  return value;
}
