/**
 * Mutations of a valid packet: bit flips, lying lengths, truncations, splices, oversized
 * properties, non-minimal Variable Byte Integers, bad UTF-8, reserved flags, trailing bytes, a
 * password sent with its flag clear, a wrong protocol level. Secret flags follow the bytes they mark;
 * a packet that no longer starts as a CONNECT or AUTH keeps no secret (mqtt-tap cannot know it is one).
 */
import { CONNECT, type Draft, type Field, varint, type Wire } from './packets.js';
import type { Rng } from './rng.js';

export type Mutation =
  | 'valid'
  | 'not-mqtt'
  | 'bit-flip'
  | 'body-flip'
  | 'lying-length'
  | 'inner-length'
  | 'truncate'
  | 'truncate-fixed'
  | 'splice'
  | 'oversized-props'
  | 'non-minimal-varint'
  | 'bad-utf8'
  | 'flags'
  | 'extra-bytes'
  | 'password-flag-clear'
  | 'protocol-level';

/** Mutations that may move every later frame boundary of the stream (or stop framing). */
const BREAKING: readonly (readonly [Mutation, number])[] = [
  ['bit-flip', 4],
  ['lying-length', 3],
  ['truncate', 3],
  ['splice', 2],
];

/** Mutations that keep the packet's own Remaining Length right. */
const KEEPING: readonly (readonly [Mutation, number])[] = [
  ['valid', 15],
  ['body-flip', 12],
  ['inner-length', 10],
  ['truncate-fixed', 8],
  ['oversized-props', 0.3],
  ['non-minimal-varint', 5],
  ['bad-utf8', 10],
  ['flags', 4],
  ['extra-bytes', 4],
];

const CONNECT_ONLY: readonly (readonly [Mutation, number])[] = [
  ['password-flag-clear', 8],
  ['protocol-level', 5],
];

/** Replaces `del` bytes at `at` with `ins` (flagged secret or not). */
function edit(w: Wire, at: number, del: number, ins: Buffer | number[], insSecret = 0): Wire {
  const add = Buffer.isBuffer(ins) ? ins : Buffer.from(ins);
  const bytes = Buffer.concat([w.bytes.subarray(0, at), add, w.bytes.subarray(at + del)]);
  if (w.secret === undefined && insSecret === 0) return { bytes, secret: undefined };
  const secret = new Uint8Array(bytes.length);
  if (w.secret !== undefined) {
    secret.set(w.secret.subarray(0, at), 0);
    secret.set(w.secret.subarray(at + del), at + add.length);
  }
  if (insSecret) secret.fill(1, at, at + add.length);
  return { bytes, secret };
}

/** Rewrites the Remaining Length as the size of the body after `headerLength` (minimal encoding). */
function refit(w: Wire, headerLength: number): Wire {
  return edit(w, 1, headerLength - 1, varint(w.bytes.length - headerLength));
}

/** `n` encoded in `size` bytes (1-4: non-minimal but valid; 5: longer than the spec allows). */
function paddedVarint(n: number, size: number): number[] {
  const digits = varint(n);
  while (digits.length < size) {
    digits[digits.length - 1]! |= 0x80;
    digits.push(0);
  }
  return digits;
}

function flipBits(w: Wire, rng: Rng, from: number): Wire {
  const bytes = Buffer.from(w.bytes);
  const flips = rng.range(1, 3);
  for (let i = 0; i < flips; i++) {
    const at = rng.range(from, bytes.length - 1);
    bytes[at]! ^= 1 << rng.int(8);
  }
  return { bytes, secret: w.secret };
}

const BAD_UTF8: readonly number[][] = [
  [0xc0, 0x80], // overlong NUL
  [0xc1, 0xbf], // overlong
  [0xed, 0xa0, 0x80], // UTF-16 surrogate [MQTT-1.5.4-1]
  [0xed, 0xbf, 0xbf],
  [0xf8, 0x88, 0x80, 0x80, 0x80], // 5-byte form
  [0xff],
  [0xfe],
  [0x80], // lone continuation
  [0xe2, 0x82], // cut short
  [0xf4, 0x90, 0x80, 0x80], // above U+10FFFF
  [0x00], // U+0000 [MQTT-1.5.4-2]
  [0xef, 0xbf, 0xbf], // non-character
  [0x01], // control character
];

function pickField(d: Draft, rng: Rng, kinds: Field['kind'][]): Field | undefined {
  const fields = d.fields.filter((f) => kinds.includes(f.kind));
  return fields.length === 0 ? undefined : rng.pick(fields);
}

function innerLength(d: Draft, rng: Rng): Wire {
  const f = pickField(d, rng, ['string', 'binary', 'props']);
  if (f === undefined) return truncateFixed(d, rng);
  const len = f.length;
  const value = rng.pick([
    0,
    Math.max(0, len - 1),
    len + 1,
    len + rng.range(2, 100),
    0xffff,
    rng.int(0x10000),
  ]);
  if (f.kind !== 'props') {
    return edit(d, f.at, 2, [(value >> 8) & 0xff, value & 0xff]);
  }
  return refit(edit(d, f.at, f.prefix, varint(value === len ? len + 1 : value)), d.headerLength);
}

function truncateFixed(d: Draft, rng: Rng): Wire {
  const body = d.bytes.length - d.headerLength;
  if (body === 0) return extraBytes(d, rng);
  const keep = rng.int(body);
  const cut: Wire = {
    bytes: d.bytes.subarray(0, d.headerLength + keep),
    secret: d.secret?.subarray(0, d.headerLength + keep),
  };
  return refit(cut, d.headerLength);
}

function extraBytes(d: Draft, rng: Rng, size = rng.range(1, 32)): Wire {
  return refit(edit(d, d.bytes.length, 0, rng.bytes(size)), d.headerLength);
}

function oversizedProps(d: Draft, rng: Rng): Wire {
  const f = pickField(d, rng, ['props']);
  const size = rng.logSize(512, 70_000);
  if (f === undefined) return extraBytes(d, rng, size);
  let block: Buffer;
  if (rng.chance(0.3)) {
    // One long Reason String (or as long as a string can be).
    const n = Math.min(size, 0xffff);
    block = Buffer.alloc(3 + n, 0x72);
    block[0] = 0x1f;
    block.writeUInt16BE(n, 1);
  } else {
    // Many User Properties: key "k…", value "v…".
    const k = rng.range(1, 16);
    const v = rng.range(0, 512);
    const one = Buffer.alloc(5 + k + v, 0x76);
    one[0] = 0x26;
    one.writeUInt16BE(k, 1);
    one.fill(0x6b, 3, 3 + k);
    one.writeUInt16BE(v, 3 + k);
    block = Buffer.alloc(Math.ceil(size / one.length) * one.length);
    block.fill(one);
  }
  const end = f.at + f.prefix + f.length;
  const grown = edit(d, end, 0, block);
  return refit(edit(grown, f.at, f.prefix, varint(f.length + block.length)), d.headerLength);
}

function nonMinimal(d: Draft, rng: Rng): Wire {
  const props = pickField(d, rng, ['props']);
  if (props !== undefined && rng.chance(0.3)) {
    const size = Math.min(4, props.prefix + rng.range(1, 3));
    return refit(edit(d, props.at, props.prefix, paddedVarint(props.length, size)), d.headerLength);
  }
  const body = d.bytes.length - d.headerLength;
  const min = d.headerLength - 1;
  // Now and then five bytes: a Remaining Length the spec does not allow, which stops framing.
  const size = min === 4 || rng.chance(0.05) ? 5 : rng.range(min + 1, 4);
  return edit(d, 1, min, paddedVarint(body, size));
}

function badUtf8(d: Draft, rng: Rng): Wire {
  const f = pickField(d, rng, ['string']);
  if (f === undefined) return flipBits(d, rng, d.headerLength);
  const seq = rng.pick(BAD_UTF8);
  const at = f.at + f.prefix + rng.int(f.length + 1);
  const len = Math.min(0xffff, f.length + seq.length);
  const grown = edit(d, at, 0, seq);
  return refit(edit(grown, f.at, 2, [len >> 8, len & 0xff]), d.headerLength);
}

/** The CONNECT's Connect Flags and Protocol Level, just after the Protocol Name. */
function connectHeaderAt(d: Draft): number | undefined {
  const name = d.fields[0];
  if (name === undefined) return undefined;
  return name.at + name.prefix + name.length;
}

function passwordFlagClear(d: Draft, rng: Rng): Wire {
  const level = connectHeaderAt(d);
  if (level === undefined || d.bytes[level + 1] === undefined) return flipBits(d, rng, d.headerLength);
  const bytes = Buffer.from(d.bytes);
  bytes[level + 1]! &= rng.chance(0.3) ? 0x3f : 0xbf;
  return { bytes, secret: d.secret };
}

function protocolLevel(d: Draft, rng: Rng): Wire {
  const level = connectHeaderAt(d);
  if (level === undefined) return flipBits(d, rng, d.headerLength);
  if (rng.chance(0.3)) {
    const name = d.fields[0]!;
    const bytes = Buffer.from(d.bytes);
    bytes[name.at + name.prefix + rng.int(name.length)] = rng.pick([0x58, 0x71, 0x00, 0xff]);
    return { bytes, secret: d.secret };
  }
  const bytes = Buffer.from(d.bytes);
  bytes[level] = rng.pick([0, 1, 2, 3, 4, 5, 6, 0x83, 0x84, 0xff]);
  return { bytes, secret: d.secret };
}

export interface Mutated extends Wire {
  mutation: Mutation;
}

/**
 * One mutation of `d` (now and then followed by a bit flip). `other` is the packet a splice takes
 * its tail from; `breaking` is the chance of a mutation that moves later frame boundaries.
 */
export function mutate(d: Draft, rng: Rng, other: () => Draft, breaking: number): Mutated {
  const table = rng.chance(breaking)
    ? BREAKING
    : d.type === CONNECT && rng.chance(0.3)
      ? CONNECT_ONLY
      : KEEPING;
  const mutation = rng.weighted(table);
  let w: Wire;
  switch (mutation) {
    case 'valid':
    case 'not-mqtt':
      w = d;
      break;
    case 'bit-flip':
      w = flipBits(d, rng, 0);
      break;
    case 'body-flip':
      w = d.bytes.length > d.headerLength ? flipBits(d, rng, d.headerLength) : flipBits(d, rng, 0);
      break;
    case 'lying-length': {
      const body = d.bytes.length - d.headerLength;
      const value = rng.pick([
        body + rng.range(1, 64),
        Math.max(0, body - rng.range(1, 64)),
        268_435_455,
        rng.int(1 << 21),
      ]);
      w = edit(d, 1, d.headerLength - 1, varint(value === body ? body + 1 : value));
      break;
    }
    case 'inner-length':
      w = innerLength(d, rng);
      break;
    case 'truncate': {
      const keep = d.bytes.length > 1 ? rng.range(1, d.bytes.length - 1) : 1;
      w = { bytes: d.bytes.subarray(0, keep), secret: d.secret?.subarray(0, keep) };
      break;
    }
    case 'truncate-fixed':
      w = truncateFixed(d, rng);
      break;
    case 'splice': {
      const o = other();
      const k = rng.range(1, d.bytes.length);
      const j = rng.int(o.bytes.length);
      // The tail's secrets now follow some other packet's header: not a password mqtt-tap can know.
      w = edit(
        { bytes: d.bytes.subarray(0, k), secret: d.secret?.subarray(0, k) },
        k,
        0,
        o.bytes.subarray(j),
      );
      if (rng.chance(0.5)) w = refit(w, d.headerLength);
      break;
    }
    case 'oversized-props':
      w = oversizedProps(d, rng);
      break;
    case 'non-minimal-varint':
      w = nonMinimal(d, rng);
      break;
    case 'bad-utf8':
      w = badUtf8(d, rng);
      break;
    case 'flags': {
      const bytes = Buffer.from(d.bytes);
      bytes[0] = (bytes[0]! & 0xf0) | ((bytes[0]! + rng.range(1, 15)) & 0x0f);
      w = { bytes, secret: d.secret };
      break;
    }
    case 'extra-bytes':
      w = extraBytes(d, rng);
      break;
    case 'password-flag-clear':
      w = passwordFlagClear(d, rng);
      break;
    case 'protocol-level':
      w = protocolLevel(d, rng);
      break;
  }
  if (mutation !== 'valid' && mutation !== 'bit-flip' && rng.chance(0.05)) w = flipBits(w, rng, 1);
  const type = w.bytes[0]! >> 4;
  const secret = type === 1 || type === 15 ? w.secret : undefined;
  return { bytes: w.bytes, secret, mutation };
}
