import { isUtf8 } from 'node:buffer';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Utf8Check } from '../../src/protocol/utf8-check.js';

/** Feeds `bytes` in pieces cut at `cuts`; whether the whole is an MQTT UTF-8 string. */
function check(bytes: Uint8Array, cuts: number[] = []): boolean {
  const c = new Utf8Check();
  let at = 0;
  for (const cut of [...cuts.filter((x) => x > 0 && x < bytes.length).sort((a, b) => a - b), bytes.length]) {
    if (!c.feed(bytes, at, cut)) return false;
    at = cut;
  }
  return c.complete;
}

describe('Utf8Check', () => {
  it('takes text whose characters are cut between pieces', () => {
    const text = Buffer.from('a/é/€/😀');
    for (let cut = 0; cut <= text.length; cut++) expect(check(text, [cut]), `cut at ${cut}`).toBe(true);
  });

  it('refuses U+0000, overlong forms, surrogates, code points past U+10FFFF and stray bytes', () => {
    for (const bad of [
      [0x61, 0x00],
      [0xc0, 0x80],
      [0xe0, 0x9f, 0xbf],
      [0xed, 0xa0, 0x80],
      [0xf0, 0x8f, 0xbf, 0xbf],
      [0xf4, 0x90, 0x80, 0x80],
      [0xf5, 0x80, 0x80, 0x80],
      [0x80],
      [0xc3],
    ])
      expect(check(Uint8Array.from(bad), [1]), Buffer.from(bad).toString('hex')).toBe(false);
  });

  it("agrees with Node's isUtf8 (and no NUL) however the bytes are cut", () => {
    const bytes = fc.oneof(
      fc.uint8Array({ maxLength: 24 }),
      fc.string({ unit: 'binary', maxLength: 12 }).map((s) => new Uint8Array(Buffer.from(s))),
    );
    fc.assert(
      fc.property(bytes, fc.array(fc.nat(24), { maxLength: 4 }), (b, cuts) => {
        const expected = isUtf8(b) && !b.includes(0);
        expect(check(b, cuts)).toBe(expected);
      }),
      { numRuns: 2000 },
    );
  });
});
