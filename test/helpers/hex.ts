/**
 * Hex fixtures for codec tests.
 *
 * `hex` reads bytes written the way the spec and broker logs write them: `hex\`20 02 00 04\``,
 * with any whitespace, optional `0x` prefixes, and `#` comments to the end of the line. An
 * interpolated Buffer is inserted as is; an interpolated string is read as more hex.
 */
export function hex(strings: TemplateStringsArray | string, ...values: (Buffer | string)[]): Buffer {
  if (typeof strings === 'string') return parseHex(strings);
  const parts: Buffer[] = [];
  strings.forEach((text, i) => {
    parts.push(parseHex(text));
    const value = values[i];
    if (value !== undefined) parts.push(typeof value === 'string' ? parseHex(value) : value);
  });
  return Buffer.concat(parts);
}

function parseHex(text: string): Buffer {
  const digits = text
    .replace(/#[^\n]*/g, '')
    .replace(/0x/gi, '')
    .replace(/[\s,]+/g, '');
  if (!/^[0-9a-f]*$/i.test(digits) || digits.length % 2 !== 0) {
    throw new Error(`not hex: ${JSON.stringify(text)}`);
  }
  return Buffer.from(digits, 'hex');
}

/** `20 02 00 04`: the reverse of `hex`, for messages and snapshots. */
export function toHex(buf: Uint8Array): string {
  return Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength)
    .toString('hex')
    .replace(/(..)(?!$)/g, '$1 ');
}

/** Cuts `buf` at the given offsets (ascending, within the buffer). */
export function splitAt(buf: Buffer, offsets: readonly number[]): Buffer[] {
  const out: Buffer[] = [];
  let start = 0;
  for (const at of offsets) {
    out.push(buf.subarray(start, at));
    start = at;
  }
  out.push(buf.subarray(start));
  return out;
}

/** Every way of cutting `buf` in two: `[buf[0..i], buf[i..]]` for i = 0..length. */
export function* everySplit(buf: Buffer): Generator<Buffer[]> {
  for (let i = 0; i <= buf.length; i++) yield splitAt(buf, [i]);
}

/** One chunk per byte. */
export function bytewise(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < buf.length; i++) out.push(buf.subarray(i, i + 1));
  return out;
}

/** Chunks of `size` bytes (the last one shorter). */
export function chunksOf(buf: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < buf.length; i += size) out.push(buf.subarray(i, i + size));
  return out;
}
