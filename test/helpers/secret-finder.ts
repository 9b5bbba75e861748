/**
 * Looks for a secret in an output: the secret itself or any 4-byte run of it, as raw bytes, as
 * UTF-8 or latin1 text, as hex (`63 72 65 74` or `63726574`) or inside base64.
 */

/** Every distinct `n`-byte run of `secret` (the secret itself when shorter). */
export function secretRuns(secret: Buffer, n = 4): Buffer[] {
  if (secret.length <= n) return [secret];
  const seen = new Set<string>();
  const runs: Buffer[] = [];
  for (let i = 0; i + n <= secret.length; i++) {
    const run = secret.subarray(i, i + n);
    const key = run.toString('hex');
    if (seen.has(key)) continue;
    seen.add(key);
    runs.push(run);
  }
  return runs;
}

function hexForms(run: Buffer): string[] {
  const plain = run.toString('hex');
  return [plain, plain.replace(/(..)(?!$)/g, '$1 ')];
}

const BASE64_TOKEN = /[A-Za-z0-9+/]{6,}={0,2}/g;

/** Where a run of `secret` shows in `bytes` (raw, or as hex text), or undefined. */
export function findInBytes(bytes: Buffer, secret: Buffer): string | undefined {
  const text = bytes.toString('latin1').toLowerCase();
  for (const run of secretRuns(secret)) {
    const at = bytes.indexOf(run);
    if (at >= 0) return `raw bytes ${run.toString('hex')} at ${at}`;
    for (const h of hexForms(run)) if (text.includes(h)) return `hex ${h}`;
  }
  return undefined;
}

/**
 * Where a run of `secret` shows in `text` (as text, hex or base64), or undefined. The word
 * "password" is not looked in: records name the field, and a password may contain "assw".
 */
export function findInText(full: string, secret: Buffer): string | undefined {
  const text = full.replace(/password/gi, '');
  const found =
    findInBytes(Buffer.from(text, 'utf8'), secret) ?? findInBytes(Buffer.from(text, 'latin1'), secret);
  if (found !== undefined) return `${found} in ${JSON.stringify(text.slice(0, 200))}`;
  for (const token of text.match(BASE64_TOKEN) ?? []) {
    for (const shift of [0, 1, 2, 3]) {
      const decoded = Buffer.from(token.slice(shift), 'base64');
      for (const run of secretRuns(secret)) {
        if (decoded.includes(run)) return `base64 ${token} in ${JSON.stringify(text.slice(0, 200))}`;
      }
    }
  }
  return undefined;
}

/** Where a run of `secret` shows in NDJSON: in any string value (JSON escapes undone) or the raw text. */
export function findInNdjson(ndjson: string, secret: Buffer): string | undefined {
  const direct = findInText(ndjson, secret);
  if (direct !== undefined) return direct;
  for (const line of ndjson.split('\n')) {
    if (line.trim() === '') continue;
    const found = findInValue(JSON.parse(line) as unknown, secret);
    if (found !== undefined) return `${found} (line ${line.slice(0, 300)})`;
  }
  return undefined;
}

function findInValue(value: unknown, secret: Buffer): string | undefined {
  if (typeof value === 'string') return findInText(value, secret);
  if (Array.isArray(value)) {
    for (const v of value) {
      const found = findInValue(v, secret);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value)) {
      const found = findInValue(v, secret);
      if (found !== undefined) return found;
    }
  }
  return undefined;
}
