/**
 * Seeded randomness for the soak: every stream, script and fault is drawn from a generator derived
 * from the run's seed and its own labels, so one connection can be replayed without the others and
 * the order in which connections run does not change what they send.
 */
import { createHash } from 'node:crypto';

/** sfc32: small, fast, and good enough to drive a fuzzer. */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(state: Buffer) {
    this.a = state.readUInt32LE(0);
    this.b = state.readUInt32LE(4);
    this.c = state.readUInt32LE(8);
    this.d = state.readUInt32LE(12);
    for (let i = 0; i < 12; i++) this.u32();
  }

  /** A generator for `labels` under `seed`, independent of every other label list. */
  static derive(seed: string, ...labels: (string | number)[]): Rng {
    return new Rng(
      createHash('sha256')
        .update([seed, ...labels].join('\u0000'))
        .digest(),
    );
  }

  u32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** [0, 1). */
  float(): number {
    return this.u32() / 0x1_0000_0000;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.float() * n);
  }

  /** An integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  chance(p: number): boolean {
    return this.float() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  /** One of `choices` with probability proportional to its weight. */
  weighted<T>(choices: readonly (readonly [T, number])[]): T {
    let total = 0;
    for (const [, w] of choices) total += w;
    let x = this.float() * total;
    for (const [v, w] of choices) {
      x -= w;
      if (x < 0) return v;
    }
    return choices[choices.length - 1]![0];
  }

  /** A size spread over orders of magnitude: mostly small, sometimes up to `max`. */
  logSize(min: number, max: number): number {
    const lo = Math.log(min + 1);
    const hi = Math.log(max + 1);
    return Math.min(max, Math.max(min, Math.floor(Math.exp(lo + this.float() * (hi - lo)) - 1)));
  }

  bytes(n: number): Buffer {
    const out = Buffer.allocUnsafe(n);
    let i = 0;
    for (; i + 4 <= n; i += 4) out.writeUInt32LE(this.u32(), i);
    for (; i < n; i++) out[i] = this.u32() & 0xff;
    return out;
  }
}
