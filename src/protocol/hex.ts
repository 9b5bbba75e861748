/** `20 02 00 04` style hex of at most `max` bytes, with an ellipsis when cut. */
export function hexExcerpt(buf: Buffer, start = 0, max = 32): string {
  const end = Math.min(buf.length, start + max);
  const parts: string[] = [];
  for (let i = start; i < end; i++) parts.push(buf[i]!.toString(16).padStart(2, '0'));
  const text = parts.join(' ');
  return buf.length > end ? `${text} …` : text;
}
