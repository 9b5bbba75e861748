/**
 * Valid MQTT packets of all fifteen types, in 3.1, 3.1.1 and 5.0, with random field values, and
 * where each length-prefixed field sits, so that mutations can aim at them. The soak's own encoder:
 * it must not share code with the decoder it attacks.
 *
 * Passwords and authentication data sent by clients are marker bytes (secrets.ts), flagged byte by
 * byte in `secret` so that mutations can carry the flags along.
 */
import type { Rng } from './rng.js';
import type { Markers } from './secrets.js';

/** MQTT protocol levels: 3 = 3.1, 4 = 3.1.1, 5 = 5.0. */
export type Level = 3 | 4 | 5;

import type { Direction } from '../../src/protocol/direction.js';

export type { Direction };

export const CONNECT = 1;
export const CONNACK = 2;
export const PUBLISH = 3;
export const PUBACK = 4;
export const PUBREC = 5;
export const PUBREL = 6;
export const PUBCOMP = 7;
export const SUBSCRIBE = 8;
export const SUBACK = 9;
export const UNSUBSCRIBE = 10;
export const UNSUBACK = 11;
export const PINGREQ = 12;
export const PINGRESP = 13;
export const DISCONNECT = 14;
export const AUTH = 15;

export interface Field {
  kind: 'string' | 'binary' | 'props';
  /** Offset of the length prefix from the packet start. */
  at: number;
  /** Bytes of the length prefix (2, or 1-4 for a property length). */
  prefix: number;
  /** Bytes of the content after the prefix. */
  length: number;
}

/** Bytes on the wire, with 1 in `secret` for every byte of a password or authentication data. */
export interface Wire {
  bytes: Buffer;
  secret: Uint8Array | undefined;
}

export interface Draft extends Wire {
  type: number;
  level: Level;
  headerLength: number;
  fields: Field[];
}

export function varint(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return out;
}

/** A packet body under construction: its bytes, and where its fields and secrets are. */
export class Body {
  private buf = Buffer.allocUnsafe(64);
  size = 0;
  readonly fields: Field[] = [];
  readonly secrets: [number, number][] = [];

  private room(n: number): number {
    const at = this.size;
    if (at + n > this.buf.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.buf.length * 2, at + n));
      this.buf.copy(grown, 0, 0, at);
      this.buf = grown;
    }
    this.size = at + n;
    return at;
  }

  raw(b: Buffer | readonly number[]): this {
    const at = this.room(b.length);
    if (Buffer.isBuffer(b)) b.copy(this.buf, at);
    else for (let i = 0; i < b.length; i++) this.buf[at + i] = b[i]!;
    return this;
  }

  u8(n: number): this {
    const at = this.room(1);
    this.buf[at] = n & 0xff;
    return this;
  }

  u16(n: number): this {
    const at = this.room(2);
    this.buf.writeUInt16BE(n & 0xffff, at);
    return this;
  }

  u32(n: number): this {
    const at = this.room(4);
    this.buf.writeUInt32BE(n >>> 0, at);
    return this;
  }

  varint(n: number): this {
    return this.raw(varint(n));
  }

  /** A 2-byte length and the bytes: a UTF-8 string or binary data. */
  lp(value: Buffer | string, kind: 'string' | 'binary' = 'string', secret = false): this {
    const b = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
    const len = Math.min(b.length, 0xffff);
    this.fields.push({ kind, at: this.size, prefix: 2, length: len });
    this.u16(len);
    if (secret) this.secrets.push([this.size, len]);
    return this.raw(len === b.length ? b : b.subarray(0, len));
  }

  /** A property block: its Variable Byte Integer length, then `props`. */
  props(props: Body): this {
    const prefix = varint(props.size);
    this.fields.push({ kind: 'props', at: this.size, prefix: prefix.length, length: props.size });
    this.raw(prefix);
    const base = this.size;
    for (const f of props.fields) this.fields.push({ ...f, at: f.at + base });
    for (const [at, len] of props.secrets) this.secrets.push([at + base, len]);
    return this.raw(props.buf.subarray(0, props.size));
  }

  /** The whole packet: first byte, Remaining Length, this body. */
  packet(first: number, level: Level): Draft {
    const rl = varint(this.size);
    const h = 1 + rl.length;
    const bytes = Buffer.allocUnsafe(h + this.size);
    bytes[0] = first;
    for (let i = 0; i < rl.length; i++) bytes[1 + i] = rl[i]!;
    this.buf.copy(bytes, h, 0, this.size);
    let secret: Uint8Array | undefined;
    if (this.secrets.length > 0) {
      secret = new Uint8Array(bytes.length);
      for (const [at, len] of this.secrets) secret.fill(1, h + at, h + at + len);
    }
    for (const f of this.fields) f.at += h;
    return { bytes, secret, type: first >> 4, level, headerLength: h, fields: this.fields };
  }
}

// --- values ---------------------------------------------------------------------------------------

const ALNUM = 'abcdefghijklmnopqrstuvwxyz0123456789';
/** Non-ASCII but never a marker lead byte: é, ü, 温, 度, ∆, 😀. */
const WIDE = ['é', 'ü', '温', '度', '∆', '😀'];

export function word(rng: Rng, min = 1, max = 10): string {
  const n = rng.range(min, max);
  let s = '';
  for (let i = 0; i < n; i++) s += ALNUM[rng.int(ALNUM.length)];
  return s;
}

export function topic(rng: Rng): string {
  const levels = rng.range(1, 5);
  const parts: string[] = [];
  for (let i = 0; i < levels; i++) parts.push(rng.chance(0.05) ? rng.pick(WIDE) : word(rng, 0, 8));
  const t = parts.join('/');
  return rng.chance(0.03) ? `$SYS/${t}` : t;
}

function filter(rng: Rng): string {
  const levels = rng.range(1, 5);
  const parts: string[] = [];
  for (let i = 0; i < levels; i++) parts.push(rng.chance(0.2) ? '+' : word(rng, 0, 8));
  if (rng.chance(0.3)) parts.push('#');
  const f = parts.join('/');
  return rng.chance(0.05) ? `$share/${word(rng)}/${f}` : f;
}

function payload(rng: Rng): Buffer {
  const size = rng.chance(0.03) ? rng.logSize(0, 4096) : rng.logSize(0, 128);
  switch (rng.int(3)) {
    case 0:
      return Buffer.from(`{"t":${rng.int(1000)},"v":"${word(rng, 0, Math.max(0, size - 14))}"}`);
    case 1:
      return Buffer.from(word(rng, size, size));
    default:
      return rng.bytes(size);
  }
}

// --- MQTT 5.0 properties (§2.2.2.2, Table 2-4) ------------------------------------------------------

type PropType = 'byte' | 'u16' | 'u32' | 'varint' | 'string' | 'binary' | 'pair';

const PROPS: Record<number, PropType> = {
  1: 'byte',
  2: 'u32',
  3: 'string',
  8: 'string',
  9: 'binary',
  11: 'varint',
  17: 'u32',
  18: 'string',
  19: 'u16',
  21: 'string',
  22: 'binary',
  23: 'byte',
  24: 'u32',
  25: 'byte',
  26: 'string',
  28: 'string',
  31: 'string',
  33: 'u16',
  34: 'u16',
  35: 'u16',
  36: 'byte',
  37: 'byte',
  38: 'pair',
  39: 'u32',
  40: 'byte',
  41: 'byte',
  42: 'byte',
};
const ALL_PROPS = Object.keys(PROPS).map(Number);
const AUTH_DATA = 0x16;
export const USER_PROPERTY = 0x26;
export const REASON_STRING = 0x1f;

const ALLOWED: Record<string, number[]> = {
  connect: [0x11, 0x21, 0x27, 0x22, 0x19, 0x17, 0x26, 0x15, 0x16],
  will: [0x18, 0x01, 0x02, 0x03, 0x08, 0x09, 0x26],
  connack: [
    0x11, 0x21, 0x24, 0x25, 0x27, 0x12, 0x22, 0x1f, 0x26, 0x28, 0x29, 0x2a, 0x13, 0x1a, 0x1c, 0x15, 0x16,
  ],
  publish: [0x01, 0x02, 0x23, 0x08, 0x09, 0x26, 0x0b, 0x03],
  ack: [0x1f, 0x26],
  subscribe: [0x0b, 0x26],
  unsubscribe: [0x26],
  disconnect: [0x11, 0x1f, 0x26, 0x1c],
  auth: [0x15, 0x16, 0x1f, 0x26],
};

const PROPERTY_COUNTS: readonly (readonly [number, number])[] = [
  [0, 4],
  [1, 3],
  [2, 2],
  [3, 1],
  [4, 1],
];

const QOS: readonly (readonly [number, number])[] = [
  [0, 50],
  [1, 30],
  [2, 18],
  [3, 2],
];

export interface Context {
  rng: Rng;
  /** The level this packet is encoded for. */
  level: Level;
  /** The level of the connection it is sent on (a packet may be of another version). */
  stream: Level;
  side: Direction;
  markers: Markers;
}

/** Password-like bytes: a marker from a client, plain letters from a broker (never a secret). */
function secretValue(ctx: Context): { value: Buffer; secret: boolean } {
  if (ctx.side === 'client') return { value: ctx.markers.pick(ctx.rng), secret: true };
  return { value: Buffer.from(word(ctx.rng, 4, 16)), secret: false };
}

function property(ctx: Context, body: Body, id: number): void {
  const { rng } = ctx;
  body.varint(id);
  switch (PROPS[id] ?? 'byte') {
    case 'byte':
      body.u8(rng.chance(0.9) ? rng.int(3) : rng.int(256));
      break;
    case 'u16':
      body.u16(rng.chance(0.8) ? rng.range(1, 100) : rng.int(0x10000));
      break;
    case 'u32':
      body.u32(rng.chance(0.8) ? rng.int(3600) : rng.u32());
      break;
    case 'varint':
      body.varint(rng.chance(0.8) ? rng.range(1, 1000) : rng.int(268_435_456));
      break;
    case 'string':
      body.lp(id === 0x15 ? rng.pick(['SCRAM-SHA-1', 'SCRAM-SHA-256', 'GS2-KRB5', word(rng)]) : topic(rng));
      break;
    case 'binary':
      if (id === AUTH_DATA) {
        const { value, secret } = secretValue(ctx);
        body.lp(value, 'binary', secret);
      } else body.lp(rng.bytes(rng.logSize(0, 64)), 'binary');
      break;
    case 'pair':
      body.lp(word(rng, 0, 12)).lp(rng.chance(0.1) ? rng.pick(WIDE) : word(rng, 0, 24));
      break;
  }
}

/** A property block for `kind`: 0-4 fitting properties, now and then one that does not fit or repeats. */
export function properties(ctx: Context, kind: keyof typeof ALLOWED): Body {
  const { rng } = ctx;
  const body = new Body();
  const allowed = ALLOWED[kind]!;
  const n = rng.weighted(PROPERTY_COUNTS);
  let last = -1;
  for (let i = 0; i < n; i++) {
    // Mostly one that fits; now and then any property, an undefined identifier, or a repeat.
    let id = rng.pick(allowed);
    const roll = rng.float();
    if (roll < 0.05) id = rng.pick(ALL_PROPS);
    else if (roll < 0.06) id = rng.range(0x2b, 0x7f);
    else if (last >= 0 && roll < 0.11) id = last;
    property(ctx, body, id);
    last = id;
  }
  return body;
}

// --- reason codes ---------------------------------------------------------------------------------

const CONNACK_V5 = [
  0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x8c, 0x90, 0x95, 0x97, 0x99, 0x9a,
  0x9b, 0x9c, 0x9d, 0x9f,
];
const PUBACK_V5 = [0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99];
const PUBREL_V5 = [0x00, 0x92];
const SUBACK_V5 = [0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8f, 0x91, 0x97, 0x9e, 0xa1, 0xa2];
const UNSUBACK_V5 = [0x00, 0x11, 0x80, 0x83, 0x87, 0x8f, 0x91];
const DISCONNECT_V5 = [
  0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8b, 0x8d, 0x8e, 0x8f, 0x90, 0x93, 0x94, 0x95, 0x96, 0x97,
  0x98, 0x99, 0x9a, 0x9b, 0x9c, 0x9d, 0x9e, 0x9f, 0xa0, 0xa1, 0xa2,
];
const AUTH_V5 = [0x00, 0x18, 0x19];

function reason(rng: Rng, codes: readonly number[]): number {
  return rng.chance(0.05) ? rng.int(256) : rng.pick(codes);
}

function packetId(rng: Rng): number {
  return rng.chance(0.02) ? 0 : rng.range(1, 0xffff);
}

// --- the fifteen packets --------------------------------------------------------------------------

function connect(ctx: Context): Draft {
  const { rng, level } = ctx;
  const b = new Body();
  b.lp(level === 3 ? 'MQIsdp' : 'MQTT').u8(level);
  const will = rng.chance(0.3);
  const willQos = will ? rng.int(3) : 0;
  const password = ctx.side === 'client' || rng.chance(0.5);
  const username = level === 5 ? rng.chance(0.6) : password ? rng.chance(0.85) : rng.chance(0.5);
  let flags = rng.chance(0.7) ? 0x02 : 0;
  if (will) flags |= 0x04 | (willQos << 3) | (rng.chance(0.2) ? 0x20 : 0);
  if (password) flags |= 0x40;
  if (username) flags |= 0x80;
  b.u8(flags).u16(rng.chance(0.9) ? rng.range(0, 120) : rng.int(0x10000));
  if (level === 5) b.props(properties(ctx, 'connect'));
  b.lp(rng.chance(0.05) ? '' : `soak-${word(rng, 1, 16)}`);
  if (will) {
    if (level === 5) b.props(properties(ctx, 'will'));
    b.lp(topic(rng)).lp(payload(rng), 'binary');
  }
  if (username) b.lp(word(rng, 1, 12));
  if (password) {
    const { value, secret } = secretValue(ctx);
    b.lp(value, 'binary', secret);
  }
  return b.packet(0x10, level);
}

function connack(ctx: Context): Draft {
  const { rng, level } = ctx;
  const b = new Body().u8(rng.chance(0.8) ? 0 : 1);
  if (level === 5) b.u8(reason(rng, CONNACK_V5)).props(properties(ctx, 'connack'));
  else b.u8(rng.chance(0.9) ? rng.int(6) : rng.int(256));
  return b.packet(0x20, level);
}

function publish(ctx: Context): Draft {
  const { rng, level } = ctx;
  const qos = rng.weighted(QOS);
  const first = 0x30 | (rng.chance(0.1) ? 0x08 : 0) | (qos << 1) | (rng.chance(0.1) ? 1 : 0);
  const b = new Body().lp(level === 5 && rng.chance(0.1) ? '' : topic(rng));
  if (qos > 0) b.u16(packetId(rng));
  if (level === 5) b.props(properties(ctx, 'publish'));
  b.raw(payload(rng));
  return b.packet(first, level);
}

function ack(ctx: Context, type: number): Draft {
  const { rng, level } = ctx;
  const b = new Body().u16(packetId(rng));
  if (level === 5 && rng.chance(0.6)) {
    b.u8(reason(rng, type === PUBREL || type === PUBCOMP ? PUBREL_V5 : PUBACK_V5));
    if (rng.chance(0.5)) b.props(properties(ctx, 'ack'));
  }
  return b.packet((type << 4) | (type === PUBREL ? 0x02 : 0), level);
}

function subscribe(ctx: Context): Draft {
  const { rng, level } = ctx;
  const b = new Body().u16(packetId(rng));
  if (level === 5) b.props(properties(ctx, 'subscribe'));
  const n = rng.logSize(1, 12);
  for (let i = 0; i < n; i++) {
    b.lp(filter(rng));
    const qos = rng.chance(0.95) ? rng.int(3) : 3;
    b.u8(level === 5 ? qos | (rng.int(8) << 2) | (rng.chance(0.02) ? 0xc0 : 0) : qos);
  }
  return b.packet(0x82, level);
}

function suback(ctx: Context): Draft {
  const { rng, level } = ctx;
  const b = new Body().u16(packetId(rng));
  if (level === 5) b.props(properties(ctx, 'ack'));
  const n = rng.logSize(1, 12);
  for (let i = 0; i < n; i++) b.u8(level === 5 ? reason(rng, SUBACK_V5) : rng.pick([0, 1, 2, 0x80]));
  return b.packet(0x90, level);
}

function unsubscribe(ctx: Context): Draft {
  const { rng, level } = ctx;
  const b = new Body().u16(packetId(rng));
  if (level === 5) b.props(properties(ctx, 'unsubscribe'));
  const n = rng.logSize(1, 12);
  for (let i = 0; i < n; i++) b.lp(filter(rng));
  return b.packet(0xa2, level);
}

function unsuback(ctx: Context): Draft {
  const { rng, level } = ctx;
  const b = new Body().u16(packetId(rng));
  if (level === 5) {
    b.props(properties(ctx, 'ack'));
    const n = rng.logSize(1, 12);
    for (let i = 0; i < n; i++) b.u8(reason(rng, UNSUBACK_V5));
  }
  return b.packet(0xb0, level);
}

function disconnect(ctx: Context): Draft {
  const { rng, level } = ctx;
  const b = new Body();
  if (level === 5 && rng.chance(0.7)) {
    b.u8(reason(rng, DISCONNECT_V5));
    if (rng.chance(0.6)) b.props(properties(ctx, 'disconnect'));
  }
  return b.packet(0xe0, level);
}

function auth(ctx: Context): Draft {
  const { rng, level } = ctx;
  const b = new Body();
  if (rng.chance(0.9)) {
    b.u8(reason(rng, AUTH_V5));
    const props = properties(ctx, 'auth');
    // An AUTH exchange carries its method and data: make sure the data is there.
    props.varint(0x15).lp('SCRAM-SHA-256');
    property(ctx, props, AUTH_DATA);
    b.props(props);
  }
  const d = b.packet(0xf0, level);
  // AUTH exists in 5.0 only: elsewhere its data is not authentication data mqtt-tap can know.
  if (level !== 5 || ctx.stream !== 5) d.secret = undefined;
  return d;
}

/** A valid (as far as its own fields go) packet of `type`. */
export function build(ctx: Context, type: number): Draft {
  switch (type) {
    case CONNECT:
      return connect(ctx);
    case CONNACK:
      return connack(ctx);
    case PUBLISH:
      return publish(ctx);
    case PUBACK:
    case PUBREC:
    case PUBREL:
    case PUBCOMP:
      return ack(ctx, type);
    case SUBSCRIBE:
      return subscribe(ctx);
    case SUBACK:
      return suback(ctx);
    case UNSUBSCRIBE:
      return unsubscribe(ctx);
    case UNSUBACK:
      return unsuback(ctx);
    case PINGREQ:
      return new Body().packet(0xc0, ctx.level);
    case PINGRESP:
      return new Body().packet(0xd0, ctx.level);
    case DISCONNECT:
      return disconnect(ctx);
    default:
      return auth(ctx);
  }
}

/** A PUBLISH with a payload of exactly `size` bytes (large packets: past the capture limit). */
export function bigPublish(ctx: Context, size: number): Draft {
  const b = new Body().lp(topic(ctx.rng));
  if (ctx.level === 5) b.props(new Body());
  b.raw(ctx.rng.bytes(size));
  return b.packet(0x30, ctx.level);
}

/** A 2-byte length and the bytes (§1.5.4, §1.5.6). */
export function lengthPrefixed(v: Buffer | string): Buffer {
  const b = typeof v === 'string' ? Buffer.from(v, 'utf8') : v;
  const out = Buffer.allocUnsafe(2 + b.length);
  out.writeUInt16BE(b.length, 0);
  b.copy(out, 2);
  return out;
}

/** First byte, Remaining Length, body. */
export function frame(first: number, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from([first, ...varint(body.length)]), body]);
}
