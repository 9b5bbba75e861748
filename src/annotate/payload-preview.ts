import { isUtf8 } from 'node:buffer';

export type PayloadMode = 'none' | 'auto' | 'text' | 'hex' | 'base64';

export interface PayloadPreview {
  length: number;
  encoding?: 'utf8' | 'hex' | 'base64';
  preview?: string;
  /** The preview shows less than the whole payload. */
  truncated?: boolean;
}

/**
 * A short, safe rendering of (the captured prefix of) a payload. `auto` shows text when the bytes
 * are printable UTF-8 or the Payload Format Indicator says UTF-8, hex otherwise.
 */
export function previewPayload(
  data: Buffer,
  length: number,
  mode: PayloadMode,
  max: number,
  formatIndicator?: unknown,
): PayloadPreview {
  if (mode === 'none' || max <= 0 || length === 0) return { length };
  let bytes = data.length > max ? data.subarray(0, max) : data;
  const truncated = bytes.length < length;
  let encoding: 'utf8' | 'hex' | 'base64';
  if (mode === 'auto') {
    if (truncated) bytes = trimPartialCharacter(bytes);
    encoding = formatIndicator === 1 || isPrintableText(bytes) ? 'utf8' : 'hex';
    if (encoding === 'utf8' && !isUtf8(bytes)) encoding = 'hex';
  } else {
    encoding = mode === 'text' ? 'utf8' : mode;
  }
  return { length, encoding, preview: bytes.toString(encoding), truncated };
}

/** Printable UTF-8: no C0 controls other than tab, CR and LF, no DEL. */
function isPrintableText(bytes: Buffer): boolean {
  let ascii = true;
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i]!;
    if (c < 0x20) {
      if (c !== 0x09 && c !== 0x0a && c !== 0x0d) return false;
    } else if (c === 0x7f) {
      return false;
    } else if (c > 0x7f) {
      ascii = false;
    }
  }
  return ascii || isUtf8(bytes);
}

/** A cut may split a multi-byte character: drop its leading bytes so the prefix stays valid UTF-8. */
function trimPartialCharacter(bytes: Buffer): Buffer {
  let end = bytes.length;
  for (let k = 0; k < 3 && end > 0; k++) {
    const c = bytes[end - 1]!;
    if ((c & 0xc0) === 0x80) {
      end--;
      continue;
    }
    if (c >= 0xc0) end--;
    break;
  }
  // Only drop bytes when they really form an incomplete sequence.
  return end < bytes.length && isUtf8(bytes.subarray(0, end)) ? bytes.subarray(0, end) : bytes;
}
