/**
 * One direction of one hostile connection: a sequence of mutated packets, as the bytes to send.
 *
 * A marker stays in the stream only where mqtt-tap can know it is a password: in a CONNECT or AUTH
 * that starts at a frame boundary of the stream as MQTT framing reads it (a preceding lying length
 * may move that CONNECT inside another packet's payload; then it is not one). Every other byte has
 * the marker lead bytes removed (secrets.ts).
 */
import { createHash } from 'node:crypto';
import { type Mutated, type Mutation, mutate } from './mutate.js';
import {
  AUTH,
  bigPublish,
  build,
  CONNACK,
  CONNECT,
  type Context,
  DISCONNECT,
  type Direction,
  type Level,
  PINGREQ,
  PINGRESP,
  PUBACK,
  PUBCOMP,
  PUBLISH,
  PUBREC,
  PUBREL,
  SUBACK,
  SUBSCRIBE,
  UNSUBACK,
  UNSUBSCRIBE,
} from './packets.js';
import type { Rng } from './rng.js';
import { type Markers, sanitize } from './secrets.js';

export interface StreamSpec {
  side: Direction;
  level: Level;
  inputs: number;
  /** Chance that a mutation moves later frame boundaries. */
  breaking: number;
  /** Adds a PUBLISH of this many payload bytes in the middle; `hold` is then inside its payload. */
  big?: number;
}

export interface Stream {
  data: Buffer;
  sha256: string;
  inputs: number;
  /** Passwords and authentication data left in the stream (each a marker or part of one). */
  secrets: number;
  /** Offset just after each input: `ends[i]` bytes carry the first i + 1 inputs. */
  ends: Uint32Array;
  /** An offset inside the big packet, when there is one. */
  hold?: number;
  mutations: Partial<Record<Mutation, number>>;
}

const TYPES: Record<Direction, readonly (readonly [number, number])[]> = {
  client: [
    [PUBLISH, 30],
    [SUBSCRIBE, 10],
    [UNSUBSCRIBE, 6],
    [PUBACK, 4],
    [PUBREC, 4],
    [PUBREL, 4],
    [PUBCOMP, 4],
    [PINGREQ, 6],
    [DISCONNECT, 3],
    [AUTH, 4],
    [CONNECT, 5],
    [CONNACK, 1],
    [SUBACK, 1],
    [UNSUBACK, 1],
    [PINGRESP, 1],
  ],
  broker: [
    [PUBLISH, 30],
    [SUBACK, 10],
    [UNSUBACK, 6],
    [PUBACK, 4],
    [PUBREC, 4],
    [PUBREL, 4],
    [PUBCOMP, 4],
    [PINGRESP, 6],
    [DISCONNECT, 3],
    [AUTH, 3],
    [CONNACK, 5],
    [CONNECT, 1],
    [SUBSCRIBE, 1],
    [UNSUBSCRIBE, 1],
    [PINGREQ, 1],
  ],
};

const OTHER_LEVELS: Record<Level, Level[]> = { 3: [4, 5], 4: [3, 5], 5: [3, 4] };

/** Openings that are not MQTT at all, now and then. */
function garbageOpening(rng: Rng): Buffer {
  return rng.pick([
    () => rng.bytes(rng.range(1, 64)),
    () => Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'),
    () => Buffer.from([0x16, 0x03, 0x01, 0x00, 0x05, 0x01, 0x00, 0x00, 0x01, 0x00]),
    () => Buffer.from([0x00, 0x00]),
  ])();
}

/**
 * Reads `data` as MQTT framing does from its beginning: the offsets where frames start, and where
 * reading stopped. It stops where mqtt-tap's framing stops (a stream that does not open like MQTT
 * from `side`, packet type 0, a Remaining Length longer than four bytes) and at a packet cut off by
 * the end of the data; `end === data.length` means the data frames cleanly to its end.
 */
export function frameWalk(data: Buffer, side: Direction): { starts: number[]; end: number } {
  const starts: number[] = [];
  if (data.length === 0) return { starts, end: 0 };
  const first = data[0];
  const opens = side === 'client' ? first === 0x10 : first === 0x20 || first === 0xf0 || first === 0xe0;
  if (!opens) return { starts, end: 0 };
  let at = 0;
  while (at < data.length) {
    if (data[at]! < 0x10) break;
    let len = 0;
    let mult = 1;
    let i = at + 1;
    let done = false;
    for (let k = 0; k < 4 && i < data.length; k++) {
      const b = data[i++]!;
      len += (b & 0x7f) * mult;
      mult *= 128;
      if ((b & 0x80) === 0) {
        done = true;
        break;
      }
    }
    if (!done) break;
    // A frame cut off by the end of the data still starts here (mqtt-tap reads its header).
    starts.push(at);
    if (i + len > data.length) break;
    at = i + len;
  }
  return { starts, end: at };
}

export function generateStream(spec: StreamSpec, rng: Rng, markers: Markers): Stream {
  const ctx: Context = { rng, level: spec.level, stream: spec.level, side: spec.side, markers };
  const parts: Mutated[] = [];
  const mutations: Partial<Record<Mutation, number>> = {};
  const typeOf = (): number => rng.weighted(TYPES[spec.side]);
  const other = (): ReturnType<typeof build> => build(ctx, typeOf());
  let hold: number | undefined;
  let bytes = 0;

  const opening =
    spec.side === 'client'
      ? CONNECT
      : rng.weighted([[CONNACK, 90] as const, [AUTH, 5] as const, [DISCONNECT, 5] as const]);
  if (rng.chance(0.02)) parts.push({ bytes: garbageOpening(rng), secret: undefined, mutation: 'not-mqtt' });
  else {
    // Mostly an opening mqtt-tap can read, so that the rest of the stream is decoded.
    parts.push(mutate(build(ctx, opening), rng, other, rng.chance(0.1) ? 1 : 0));
  }
  bytes += parts[0]!.bytes.length;
  const bigAt = spec.big !== undefined ? Math.max(1, spec.inputs >> 1) : -1;
  while (parts.length < spec.inputs) {
    if (parts.length === bigAt) {
      const big = bigPublish(ctx, spec.big!);
      hold = bytes + big.bytes.length - Math.min(4096, spec.big! >> 2);
      parts.push({ bytes: big.bytes, secret: undefined, mutation: 'valid' });
      bytes += big.bytes.length;
      continue;
    }
    ctx.level = rng.chance(0.9) ? spec.level : rng.pick(OTHER_LEVELS[spec.level]);
    const m = rng.chance(0.0001)
      ? { ...bigPublish(ctx, rng.range(64 * 1024, 200 * 1024)), mutation: 'valid' as const }
      : mutate(build(ctx, typeOf()), rng, other, spec.breaking);
    parts.push(m);
    bytes += m.bytes.length;
  }
  ctx.level = spec.level;

  const data = Buffer.concat(parts.map((p) => p.bytes));
  const { mask, secrets } = keepSecrets(data, parts, spec.side);
  sanitize(data, mask);
  const ends = new Uint32Array(parts.length);
  let end = 0;
  for (const [i, p] of parts.entries()) {
    mutations[p.mutation] = (mutations[p.mutation] ?? 0) + 1;
    end += p.bytes.length;
    ends[i] = end;
  }
  const out: Stream = {
    data,
    sha256: createHash('sha256').update(data).digest('hex'),
    inputs: parts.length,
    secrets,
    ends,
    mutations,
  };
  if (hold !== undefined) out.hold = hold;
  return out;
}

/**
 * Which secrets stay: those of parts that start a frame of the stream as sent. Sanitizing changes
 * bytes (a stray 0xEA in a Remaining Length becomes 0xE9), which can move later frame boundaries:
 * the walk is repeated on the sanitized bytes until the kept secrets all start frames of them.
 */
function keepSecrets(
  data: Buffer,
  parts: readonly Mutated[],
  side: Direction,
): { mask: Uint8Array | undefined; secrets: number } {
  const at: number[] = [];
  let offset = 0;
  for (const p of parts) {
    if (p.secret !== undefined) at.push(offset);
    offset += p.bytes.length;
  }
  if (at.length === 0) return { mask: undefined, secrets: 0 };
  const withSecret = parts.filter((p) => p.secret !== undefined);
  let kept = new Set(frameWalk(data, side).starts.filter((s) => at.includes(s)));
  for (;;) {
    const mask = new Uint8Array(data.length);
    at.forEach((start, k) => {
      if (kept.has(start)) mask.set(withSecret[k]!.secret!, start);
    });
    const sent = Buffer.from(data);
    sanitize(sent, mask);
    const starts = new Set(frameWalk(sent, side).starts);
    const still = new Set([...kept].filter((s) => starts.has(s)));
    if (still.size === kept.size) return { mask, secrets: kept.size };
    kept = still;
  }
}

/** Chunk sizes for writing a stream: single bytes, small pieces, segments, and large runs. */
export function chunkSize(rng: Rng, left: number): number {
  const x = rng.float();
  const size =
    x < 0.08
      ? 1
      : x < 0.28
        ? rng.range(2, 16)
        : x < 0.68
          ? rng.range(17, 1500)
          : x < 0.93
            ? rng.range(1501, 65536)
            : left;
  return Math.max(1, Math.min(left, size));
}

/** How many inputs of `stream` lie wholly within its first `bytes` bytes. */
export function inputsWithin(stream: Stream, bytes: number): number {
  let lo = 0;
  let hi = stream.ends.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (stream.ends[mid]! <= bytes) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** A single packet made safe to send: marker lead bytes kept only inside its secrets. */
export function sendable(w: { bytes: Buffer; secret: Uint8Array | undefined }): Buffer {
  const b = Buffer.from(w.bytes);
  sanitize(b, w.secret);
  return b;
}
