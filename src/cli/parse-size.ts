/** Parses `100MB`, `1GiB`, `512k`, `1000000`: decimal (k, MB, GB) and binary (KiB, MiB, GiB) units. */
export function parseSize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?)(b?)\s*$/i.exec(text);
  if (!m) throw new Error(`invalid size "${text}" (e.g. 100MB, 1GiB, 500000)`);
  const power = ' kmgt'.indexOf((m[2] || ' ').toLowerCase());
  const base = m[3] !== '' ? 1024 : 1000;
  const bytes = Math.floor(Number(m[1]) * base ** power);
  if (!Number.isSafeInteger(bytes) || bytes <= 0) throw new Error(`invalid size "${text}"`);
  return bytes;
}
