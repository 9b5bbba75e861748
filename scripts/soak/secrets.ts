/**
 * Marker passwords and the search for them in mqtt-tap's output.
 *
 * A marker is a run of 3-byte UTF-8 characters whose lead byte is 0xEA-0xEC (U+A000-U+CFFF): valid
 * text, so a leak through a UTF-8 string shows as the same bytes. Every other byte the soak sends has
 * 0xEA-0xEC replaced (see `sanitize`), so any 4-byte window of output that equals a 4-byte run of a
 * marker comes from a password, and the search has no false positives by construction.
 *
 * The search looks at every output as raw bytes and as hex text (`ea b0 80 eb`, `EAB080EB`,
 * `ea:b0:80:eb`): a hit is any 4 consecutive bytes of a marker in either form.
 */
import { Rng } from './rng.js';

const LEAD_MIN = 0xea;
const LEAD_MAX = 0xec;
/** What a stray 0xEA-0xEC byte becomes outside a password. */
const STRAY_REPLACEMENT = 0xe9;

export class Markers {
  readonly pool: Buffer[] = [];
  /** Every 4-byte run of every marker, as a big-endian uint32. */
  readonly grams = new Set<number>();

  constructor(seed: string, count = 256) {
    const rng = Rng.derive(seed, 'markers');
    for (let i = 0; i < count; i++) {
      const chars = rng.range(4, 8);
      const m = Buffer.allocUnsafe(chars * 3);
      for (let c = 0; c < chars; c++) {
        m[c * 3] = rng.range(LEAD_MIN, LEAD_MAX);
        m[c * 3 + 1] = 0x80 | rng.int(64);
        m[c * 3 + 2] = 0x80 | rng.int(64);
      }
      this.pool.push(m);
      for (let j = 0; j + 4 <= m.length; j++) this.grams.add(m.readUInt32BE(j));
    }
  }

  pick(rng: Rng): Buffer {
    return rng.pick(this.pool);
  }
}

/** Replaces marker lead bytes outside the secret ranges (mask byte 1 = secret), in place. */
export function sanitize(buf: Buffer, mask?: Uint8Array): void {
  for (let i = 0; i < buf.length; i++) {
    const b = buf[i]!;
    if (b >= LEAD_MIN && b <= LEAD_MAX && (mask === undefined || mask[i] === 0)) buf[i] = STRAY_REPLACEMENT;
  }
}

export interface SecretHit {
  output: string;
  /** Where in that output: for NDJSON, the record's event and the key the match sits under. */
  where: string;
  /** Byte offset of the end of the match in that output. */
  offset: number;
  form: 'raw' | 'hex';
  /** The 4 marker bytes found, as hex. */
  gram: string;
  /** Text around the match (latin1, control characters shown as dots). */
  context: string;
}

const HEX = new Int8Array(256).fill(-1);
for (let i = 0; i < 10; i++) HEX[0x30 + i] = i;
for (let i = 0; i < 6; i++) {
  HEX[0x41 + i] = 10 + i;
  HEX[0x61 + i] = 10 + i;
}

/**
 * Streaming search of one output; keeps state across chunks. A leak of n consecutive marker bytes
 * matches n - 3 overlapping windows: `hits` counts leaks (runs of matching windows), `windows` all.
 */
export class SecretScanner {
  hits = 0;
  windows = 0;
  readonly examples: SecretHit[] = [];
  /** Leaks per `where`. */
  readonly byWhere = new Map<string, number>();
  private offset = 0;
  private raw = 0;
  private rawRun = 0;
  private nibble = -1;
  private hex = 0;
  private hexRun = 0;
  /** Where the last matching window of each form ended (raw: output offset; hex: decoded bytes). */
  private lastRaw = -2;
  private lastHex = -2;
  private hexBytes = 0;

  constructor(
    private readonly grams: ReadonlySet<number>,
    readonly output: string,
    private readonly classify: (chunk: Buffer, at: number) => string = () => 'bytes',
    private readonly maxExamples = 5,
  ) {}

  feed(chunk: Buffer): void {
    const grams = this.grams;
    let { raw, rawRun, nibble, hex, hexRun } = this;
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk[i]!;
      if (c >= 0x80) {
        raw = ((raw << 8) | c) >>> 0;
        if (++rawRun >= 4 && grams.has(raw)) {
          const at = this.offset + i;
          if (at !== this.lastRaw + 1) this.hit(chunk, i, 'raw', raw);
          this.windows++;
          this.lastRaw = at;
        }
      } else rawRun = 0;
      const h = HEX[c]!;
      if (h >= 0) {
        if (nibble < 0) nibble = h;
        else {
          hex = ((hex << 8) | (nibble << 4) | h) >>> 0;
          nibble = -1;
          this.hexBytes++;
          if (++hexRun >= 4 && hex >= 0x80000000 && grams.has(hex)) {
            if (this.hexBytes !== this.lastHex + 1) this.hit(chunk, i, 'hex', hex);
            this.windows++;
            this.lastHex = this.hexBytes;
          }
        }
      } else if (!((c === 0x20 || c === 0x3a) && nibble < 0 && hexRun > 0)) {
        nibble = -1;
        hexRun = 0;
      }
    }
    this.raw = raw;
    this.rawRun = rawRun;
    this.nibble = nibble;
    this.hex = hex;
    this.hexRun = hexRun;
    this.offset += chunk.length;
  }

  private hit(chunk: Buffer, i: number, form: 'raw' | 'hex', gram: number): void {
    const at = this.classify(chunk, i);
    // A keyed hash is random hex and can match a marker's 4 bytes by chance; it is not the password.
    if (form === 'hex' && at.endsWith('.hmac')) return;
    this.hits++;
    const where = `${at} (${form})`;
    this.byWhere.set(where, (this.byWhere.get(where) ?? 0) + 1);
    if (this.examples.length >= this.maxExamples) return;
    const context = chunk
      .subarray(Math.max(0, i - 160), Math.min(chunk.length, i + 40))
      .toString('latin1')
      // biome-ignore lint/suspicious/noControlCharactersInRegex: shown as dots, that is the point.
      .replace(/[\u0000-\u001f\u007f]/g, '.');
    this.examples.push({
      output: this.output,
      where,
      offset: this.offset + i + 1,
      form,
      gram: gram.toString(16).padStart(8, '0'),
      context,
    });
  }
}

const EVENT = Buffer.from('"event":"');

/**
 * For a match in an NDJSON log: `event.key`, the record's event and the last key opened before the
 * match on its line (e.g. `malformed.hex`, `packet.preview`). Only what is inside this chunk is seen.
 */
export function ndjsonWhere(chunk: Buffer, at: number): string {
  const start = chunk.lastIndexOf(0x0a, at) + 1;
  const e = chunk.indexOf(EVENT, start);
  let event = '?';
  if (e >= 0 && e < at) {
    const to = chunk.indexOf(0x22, e + EVENT.length);
    event = chunk.toString('latin1', e + EVENT.length, to);
  }
  const line = chunk.toString('latin1', start, at);
  const keys = [...line.matchAll(/"([A-Za-z]+)":/g)];
  const key = keys.length > 0 ? keys[keys.length - 1]![1] : '?';
  return `${event}.${key}`;
}
