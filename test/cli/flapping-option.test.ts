/** `--flapping N/DURATION`: the forms accepted, the range of N, and the default from DEFAULT_FLAPPING. */
import { describe, expect, it } from 'vitest';
import { OPTIONS, parseFlapping } from '../../src/cli/options.js';
import { DEFAULT_FLAPPING, MAX_FLAPPING_COUNT } from '../../src/observe/client-ids.js';

describe('--flapping', () => {
  it('N/DURATION in ms, s, m, min or h; a bare number is seconds', () => {
    expect(parseFlapping('3/60s')).toEqual({ count: 3, windowMs: 60_000 });
    expect(parseFlapping('5/2m')).toEqual({ count: 5, windowMs: 120_000 });
    expect(parseFlapping('4 / 1.5min')).toEqual({ count: 4, windowMs: 90_000 });
    expect(parseFlapping('10/500ms')).toEqual({ count: 10, windowMs: 500 });
    expect(parseFlapping('2/1h')).toEqual({ count: 2, windowMs: 3_600_000 });
    expect(parseFlapping('4/90')).toEqual({ count: 4, windowMs: 90_000 });
    // Given twice (flag and variable): the last one.
    expect(parseFlapping(['3/60s', '6/10s'])).toEqual({ count: 6, windowMs: 10_000 });
  });

  it.each(['1/60s', `${MAX_FLAPPING_COUNT + 1}/60s`, '3/0s', '3', '3/60x', 'three/60s', ''])(
    '"%s" is a usage error',
    (raw) => {
      expect(() => parseFlapping(raw)).toThrow(/--flapping must be N\/DURATION/);
    },
  );

  it('the default is DEFAULT_FLAPPING', () => {
    expect(parseFlapping(OPTIONS.flapping.default)).toEqual(DEFAULT_FLAPPING);
  });
});
