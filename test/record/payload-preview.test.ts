import { describe, expect, it } from 'vitest';
import type { PayloadMode } from '../../src/record/defaults.js';
import { type PayloadPreview, previewObject, previewShape } from '../../src/record/payload-preview.js';

function previewPayload(
  data: Buffer,
  length: number,
  mode: PayloadMode,
  max: number,
  fi?: number,
): PayloadPreview {
  const payload = { data, length };
  return previewObject(payload, previewShape(payload, { payload: mode, payloadMax: max }, fi));
}

describe('payload preview', () => {
  it('auto shows printable UTF-8 as text', () => {
    expect(previewPayload(Buffer.from('21.5 °C'), 8, 'auto', 256)).toEqual({
      length: 8,
      encoding: 'utf8',
      preview: '21.5 °C',
      truncated: false,
    });
  });

  it('auto shows binary as hex', () => {
    expect(previewPayload(Buffer.from([0, 1, 0xff]), 3, 'auto', 256)).toMatchObject({
      encoding: 'hex',
      preview: '0001ff',
    });
  });

  it('auto honours the Payload Format Indicator for text with control characters', () => {
    expect(previewPayload(Buffer.from('a\u0001b'), 3, 'auto', 256, 1)).toMatchObject({
      encoding: 'utf8',
      preview: 'a\u0001b',
    });
  });

  it('cuts at payloadMax without splitting a UTF-8 character, and says it is truncated', () => {
    const data = Buffer.from('aé'); // 61 c3 a9
    expect(previewPayload(data, 3, 'auto', 2)).toEqual({
      length: 3,
      encoding: 'utf8',
      preview: 'a',
      truncated: true,
    });
  });

  it('marks a preview of a payload longer than what was captured as truncated', () => {
    expect(previewPayload(Buffer.from('abc'), 200_000_000, 'auto', 256)).toMatchObject({
      length: 200_000_000,
      truncated: true,
    });
  });

  it('none shows only the length; hex and base64 are forced encodings', () => {
    expect(previewPayload(Buffer.from('hi'), 2, 'none', 256)).toEqual({ length: 2 });
    expect(previewPayload(Buffer.from('hi'), 2, 'hex', 256)).toMatchObject({
      encoding: 'hex',
      preview: '6869',
    });
    expect(previewPayload(Buffer.from('hi'), 2, 'base64', 256)).toMatchObject({
      encoding: 'base64',
      preview: 'aGk=',
    });
  });

  it('says when the shown bytes are the text as they are (the NDJSON writer copies them)', () => {
    const shape = (text: Buffer | string, mode: PayloadMode = 'auto', fi?: number) => {
      const data = Buffer.from(text);
      const { encoding, wellFormed, ascii } = previewShape(
        { data, length: data.length },
        { payload: mode, payloadMax: 256 },
        fi,
      );
      return { encoding, wellFormed, ascii };
    };
    expect(shape('plain "json"\n')).toEqual({ encoding: 'utf8', wellFormed: true, ascii: true });
    expect(shape('Köln')).toEqual({ encoding: 'utf8', wellFormed: true, ascii: false });
    expect(shape('a\u0001b', 'auto', 1)).toEqual({ encoding: 'utf8', wellFormed: true, ascii: true });
    // Text mode takes any bytes: ill-formed ones must go through a string (replacement characters).
    expect(shape(Buffer.from([0x61, 0xff]), 'text')).toEqual({
      encoding: 'utf8',
      wellFormed: false,
      ascii: false,
    });
    expect(shape(Buffer.from([0x61, 0xff])).encoding).toBe('hex');
  });
});
