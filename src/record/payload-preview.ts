import { isUtf8 } from 'node:buffer';
import type { Payload } from '../protocol/types.js';
import type { PayloadMode, RecordOptions } from './defaults.js';

export type PreviewEncoding = 'utf8' | 'hex' | 'base64';

/** A payload in a record: its size on the wire and, unless previews are off, what it starts with. */
export interface PayloadPreview {
  length: number;
  encoding?: PreviewEncoding;
  preview?: string;
  /** The preview shows less than the whole payload. */
  truncated?: boolean;
}

/**
 * What a preview shows, decided without making its text: writers of the object form make the
 * string, the NDJSON writer copies the bytes.
 */
export interface PreviewShape {
  /** Undefined: no preview (previews off, or an empty payload); the record shows the length only. */
  encoding: PreviewEncoding | undefined;
  /** Captured bytes shown, from the first. */
  bytes: number;
  truncated: boolean;
  /** `utf8` and well-formed: the shown bytes are the preview's UTF-8 as they are. */
  wellFormed: boolean;
  /** No shown byte above 0x7f: one character per byte. */
  ascii: boolean;
  /** `wellFormed`, and no shown byte JSON escapes (a quote, a backslash, a control). */
  plain: boolean;
}

export function newPreviewShape(): PreviewShape {
  return { encoding: undefined, bytes: 0, truncated: false, wellFormed: false, ascii: true, plain: false };
}

/** scanText flags. */
const CONTROL = 1;
const HIGH = 2;
const ESCAPED = 4;

/**
 * The shape of a payload's preview (into `into`, for writers that reuse one). `auto` shows text
 * when the bytes are printable UTF-8 or the Payload Format Indicator says UTF-8, hex otherwise.
 */
export function previewShape(
  payload: Payload,
  opts: Pick<RecordOptions, 'payload' | 'payloadMax'>,
  formatIndicator: unknown,
  into: PreviewShape = newPreviewShape(),
): PreviewShape {
  const { data, length } = payload;
  const mode: PayloadMode = opts.payload;
  into.encoding = undefined;
  into.bytes = 0;
  into.truncated = false;
  into.wellFormed = false;
  into.ascii = true;
  into.plain = false;
  if (mode === 'none' || opts.payloadMax <= 0 || length === 0) return into;
  let n = Math.min(data.length, opts.payloadMax);
  into.truncated = n < length;
  if (mode === 'hex' || mode === 'base64') {
    into.encoding = mode;
    into.bytes = n;
    return into;
  }
  if (mode === 'auto' && into.truncated) n = completeCharacters(data, n);
  const scan = scanText(data, n);
  const wellFormed = (scan & HIGH) === 0 || isUtf8(n === data.length ? data : data.subarray(0, n));
  if (mode === 'text' || ((formatIndicator === 1 || (scan & CONTROL) === 0) && wellFormed)) {
    into.encoding = 'utf8';
    into.wellFormed = wellFormed;
    into.ascii = (scan & HIGH) === 0;
    into.plain = wellFormed && (scan & ESCAPED) === 0;
  } else {
    into.encoding = 'hex';
  }
  into.bytes = n;
  return into;
}

/** The preview's text (the object form's `preview`). */
export function previewText(data: Buffer, shape: PreviewShape): string {
  return shape.encoding === undefined ? '' : data.toString(shape.encoding, 0, shape.bytes);
}

/** The payload as the object form shows it. */
export function previewObject(payload: Payload, shape: PreviewShape): PayloadPreview {
  if (shape.encoding === undefined) return { length: payload.length };
  return {
    length: payload.length,
    encoding: shape.encoding,
    preview: previewText(payload.data, shape),
    truncated: shape.truncated,
  };
}

/**
 * CONTROL: a C0 control other than tab, CR and LF, or DEL (not printable); HIGH: a byte above
 * 0x7f; ESCAPED: a byte JSON escapes (a C0 control, a quote, a backslash).
 */
function scanText(bytes: Buffer, n: number): number {
  let flags = 0;
  for (let i = 0; i < n; i++) {
    const c = bytes[i]!;
    if (c >= 0x20 && c < 0x7f) {
      if (c === 0x22 || c === 0x5c) flags |= ESCAPED;
    } else if (c < 0x20) {
      flags |= c === 0x09 || c === 0x0a || c === 0x0d ? ESCAPED : ESCAPED | CONTROL;
    } else {
      flags |= c === 0x7f ? CONTROL : HIGH;
    }
  }
  return flags;
}

/** A cut may split a multi-byte character: leave out its leading bytes so the prefix stays valid UTF-8. */
function completeCharacters(bytes: Buffer, n: number): number {
  let end = n;
  for (let k = 0; k < 3 && end > 0; k++) {
    const c = bytes[end - 1]!;
    if ((c & 0xc0) === 0x80) {
      end--;
      continue;
    }
    if (c >= 0xc0) end--;
    break;
  }
  // Only when they really form an incomplete sequence.
  return end < n && isUtf8(bytes.subarray(0, end)) ? end : n;
}
