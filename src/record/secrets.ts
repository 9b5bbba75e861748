import { isUtf8 } from 'node:buffer';
import { createHmac, randomBytes } from 'node:crypto';

/** How a secret (CONNECT password, AUTH data) appears in a record. */
export type SecretRecord =
  | { length: number; redacted: true; hmac: string }
  | { length: number; text: string }
  | { length: number; base64: string };

/**
 * Per-process key: the same password gives the same tag within one run (so "is it the same
 * password?" can be answered) but the tag is useless offline.
 */
const KEY = randomBytes(32);

export function secretRecord(value: Buffer, show: boolean): SecretRecord {
  if (show) {
    return isUtf8(value)
      ? { length: value.length, text: value.toString('utf8') }
      : { length: value.length, base64: value.toString('base64') };
  }
  return {
    length: value.length,
    redacted: true,
    hmac: createHmac('sha256', KEY).update(value).digest('hex').slice(0, 16),
  };
}
