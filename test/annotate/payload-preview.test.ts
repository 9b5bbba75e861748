import { describe, expect, it } from 'vitest';
import { previewPayload } from '../../src/annotate/payload-preview.js';

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
});
