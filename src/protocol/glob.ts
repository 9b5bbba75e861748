/** A compiled shell-style glob: `*` any run of characters, `?` one character, all else literal. */
export interface Glob {
  /** Whether the whole of `text` matches. */
  test(text: string): boolean;
}

/**
 * Compiles `glob` (for --client-id) into a matcher that never backtracks: the parts between stars
 * are found left to right, each at its first place after the previous one. That leftmost choice
 * is always safe, as a star absorbs whatever an earlier part skips. Characters are UTF-16 code
 * units, as in a RegExp without the `u` flag.
 */
export function compileGlob(glob: string): Glob {
  const parts = glob.split('*');
  const head = parts[0]!;
  if (parts.length === 1) {
    return { test: (text) => text.length === head.length && partAt(text, 0, head) };
  }
  const tail = parts[parts.length - 1]!;
  const middle = parts.slice(1, -1).filter((part) => part.length > 0);
  return {
    test(text: string): boolean {
      const tailAt = text.length - tail.length;
      if (tailAt < head.length || !partAt(text, 0, head) || !partAt(text, tailAt, tail)) return false;
      let from = head.length;
      for (const part of middle) {
        const at = findPart(text, part, from, tailAt);
        if (at === -1) return false;
        from = at + part.length;
      }
      return true;
    },
  };
}

/** Whether `part` (literal but for `?`) matches `text` at `at`; the caller checks it fits. */
function partAt(text: string, at: number, part: string): boolean {
  for (let i = 0; i < part.length; i++) {
    const c = part.charCodeAt(i);
    if (c !== QUESTION && c !== text.charCodeAt(at + i)) return false;
  }
  return true;
}

/** The first place at or after `from` where `part` matches and ends by `end`, or -1. */
function findPart(text: string, part: string, from: number, end: number): number {
  const last = end - part.length;
  if (!part.includes('?')) {
    const at = text.indexOf(part, from);
    return at !== -1 && at <= last ? at : -1;
  }
  for (let at = from; at <= last; at++) if (partAt(text, at, part)) return at;
  return -1;
}

const QUESTION = 0x3f;
