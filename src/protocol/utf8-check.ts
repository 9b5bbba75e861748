/**
 * Checks that bytes arriving in pieces form an MQTT UTF-8 string (3.1.1 §1.5.3, 5.0 §1.5.4):
 * well-formed UTF-8 (RFC 3629 §4: no overlong forms, no surrogates, nothing past U+10FFFF) without
 * U+0000. A character may be cut between two pieces.
 */
export class Utf8Check {
  /** Continuation bytes still expected, and the range the next one must be in. */
  private need = 0;
  private lo = 0x80;
  private hi = 0xbf;

  /** Starts a new string. */
  reset(): void {
    this.need = 0;
    this.lo = 0x80;
    this.hi = 0xbf;
  }

  /** Whether `bytes[from, to)` goes on as such a string; after false, reset() before the next string. */
  feed(bytes: Uint8Array, from: number, to: number): boolean {
    let need = this.need;
    let lo = this.lo;
    let hi = this.hi;
    for (let k = from; k < to; k++) {
      const b = bytes[k]!;
      if (need > 0) {
        if (b < lo || b > hi) return false;
        need--;
        lo = 0x80;
        hi = 0xbf;
      } else if (b === 0 || (b >= 0x80 && (b < 0xc2 || b > 0xf4))) {
        return false;
      } else if (b >= 0xf0) {
        need = 3;
        if (b === 0xf0) lo = 0x90;
        else if (b === 0xf4) hi = 0x8f;
      } else if (b >= 0xe0) {
        need = 2;
        if (b === 0xe0) lo = 0xa0;
        else if (b === 0xed) hi = 0x9f;
      } else if (b >= 0x80) {
        need = 1;
      }
    }
    this.need = need;
    this.lo = lo;
    this.hi = hi;
    return true;
  }

  /** The string fed so far does not end inside a character. */
  get complete(): boolean {
    return this.need === 0;
  }
}
