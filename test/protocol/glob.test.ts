import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileGlob } from '../../src/protocol/glob.js';

/** Reference: whole-string glob match by dynamic programming over UTF-16 code units. */
function reference(glob: string, text: string): boolean {
  // row[j]: glob[0..i) matches text[0..j).
  let row = Array.from({ length: text.length + 1 }, (_, j) => j === 0);
  for (let i = 0; i < glob.length; i++) {
    const g = glob[i];
    const next = new Array<boolean>(text.length + 1).fill(false);
    next[0] = g === '*' && row[0]!;
    for (let j = 1; j <= text.length; j++) {
      if (g === '*') next[j] = row[j]! || next[j - 1]!;
      else next[j] = row[j - 1]! && (g === '?' || g === text[j - 1]);
    }
    row = next;
  }
  return row[text.length]!;
}

/** Few characters, so that parts recur and overlap; `é`, a surrogate pair and RegExp syntax too. */
const char = fc.constantFrom('a', 'b', 'c', '-', '.', 'é', '😀', '[', '\\', '\n');
const text = fc.array(char, { maxLength: 12 }).map((cs) => cs.join(''));
const glob = fc.array(fc.oneof(char, fc.constantFrom('*', '?')), { maxLength: 8 }).map((cs) => cs.join(''));

describe('compileGlob (--client-id)', () => {
  it('agrees with the reference on random globs and client ids', () => {
    fc.assert(
      fc.property(glob, text, (g, t) => {
        expect(compileGlob(g).test(t)).toBe(reference(g, t));
      }),
      { numRuns: 20_000 },
    );
  });

  it('agrees with the reference on client ids built from the glob', () => {
    // Random texts rarely match: fill the glob's wildcards to make matches (and near misses) common.
    const filled = fc
      .tuple(glob, fc.array(text, { minLength: 8, maxLength: 8 }), fc.nat(3))
      .map(([g, fills, drop]) => {
        let k = 0;
        const t = g.replace(/[*?]/g, (w) => (w === '*' ? fills[k++ % 8]! : (fills[k++ % 8]![0] ?? 'x')));
        return [g, drop === 0 ? t.slice(1) : t] as const;
      });
    fc.assert(
      fc.property(filled, ([g, t]) => {
        expect(compileGlob(g).test(t)).toBe(reference(g, t));
      }),
      { numRuns: 20_000 },
    );
  });

  it.each([
    ['sensor-*', 'sensor-1', true],
    ['sensor-*', 'sensor-', true],
    ['sensor-*', 'Sensor-1', false],
    ['dev?', 'dev1', true],
    ['dev?', 'dev12', false],
    ['*', '', true],
    ['', '', true],
    ['', 'a', false],
    ['a*a', 'a', false],
    ['a*a', 'aa', true],
    ['*.local', 'x.local', true],
    ['*.local', 'xlocal', false],
    ['[ab]', 'a', false],
    ['[ab]', '[ab]', true],
    ['?', '😀', false],
    ['??', '😀', true],
  ])('%j against %j is %s', (g, t, expected) => {
    expect(compileGlob(g).test(t)).toBe(expected);
  });

  // A backtracking matcher takes time cubic in the id's length here (hours at 64 KiB).
  it('matches hostile 64 KiB client ids without backtracking', () => {
    const ids = ['ab'.repeat(32 * 1024), 'a'.repeat(64 * 1024), `${'a?'.repeat(32 * 1024 - 1)}bc`];
    const globs = ['*a*b*c*', '*a*b*c', '*a?b*c*d', '*??????????c', 'a*a*a*a*a*a*a*a*b'];
    const cases = globs.flatMap((g) => ids.map((id) => ({ g, id, expected: reference(g, id) })));
    expect(cases.some((c) => c.expected)).toBe(true);
    const started = performance.now();
    const got = cases.map(({ g, id }) => compileGlob(g).test(id));
    expect(got).toEqual(cases.map((c) => c.expected));
    // Generous: the matcher takes milliseconds; a backtracking one would not finish this test.
    expect(performance.now() - started).toBeLessThan(1000);
  });
});
