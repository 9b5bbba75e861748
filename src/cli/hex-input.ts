/** Parses hex as people paste it: `20 02 00 04`, `0x20 0x02`, `20020004`, `20:02`, across lines. */
export function parseHex(text: string): Buffer {
  const cleaned = text.replace(/0x/gi, '').replace(/[\s,:]+/g, '');
  if (!/^[0-9a-f]*$/i.test(cleaned)) {
    const bad = /[^0-9a-f]/i.exec(cleaned)?.[0] ?? '?';
    throw new Error(`not hex: unexpected character ${JSON.stringify(bad)}`);
  }
  if (cleaned.length % 2 !== 0) throw new Error(`not hex: odd number of hex digits (${cleaned.length})`);
  return Buffer.from(cleaned, 'hex');
}

/** Whether stdin content is hex text rather than raw bytes. */
export function looksLikeHexText(data: Buffer): boolean {
  return /^[\s0-9a-fA-Fx,:]*$/.test(data.toString('latin1'));
}
