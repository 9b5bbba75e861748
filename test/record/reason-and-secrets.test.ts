import { describe, expect, it } from 'vitest';
import { reasonInfo } from '../../src/record/reason.js';
import { secretRecord } from '../../src/record/secrets.js';

describe('reason annotation per packet type', () => {
  it('names 0x00 after the packet it is in (5.0 Table 2-6)', () => {
    expect(reasonInfo('5.0', 'PUBACK', 0).name).toBe('Success');
    expect(reasonInfo('5.0', 'DISCONNECT', 0).name).toBe('Normal disconnection');
    expect(reasonInfo('5.0', 'SUBACK', 0).name).toBe('Granted QoS 0');
  });

  it('annotates a code not defined for the packet type instead of dropping it', () => {
    expect(reasonInfo('5.0', 'PUBACK', 0x42)).toEqual({
      code: 0x42,
      hex: '0x42',
      name: 'Unknown',
      description: '0x42 is not a PUBACK reason code in MQTT 5.0',
      error: false,
    });
    expect(reasonInfo('5.0', 'SUBACK', 0x92).description).toBe(
      '0x92 is not a SUBACK reason code in MQTT 5.0',
    );
  });

  it('marks failures: >= 0x80 in 5.0, refusing CONNACK and SUBACK Failure in 3.x', () => {
    expect(reasonInfo('5.0', 'CONNACK', 0x87).error).toBe(true);
    expect(reasonInfo('5.0', 'DISCONNECT', 0x04).error).toBe(false);
    expect(reasonInfo('3.1.1', 'CONNACK', 5)).toMatchObject({
      name: 'Connection Refused, not authorized',
      error: true,
    });
    expect(reasonInfo('3.1', 'CONNACK', 0).error).toBe(false);
    expect(reasonInfo('3.1.1', 'SUBACK', 0x80)).toMatchObject({ name: 'Failure', error: true });
    expect(reasonInfo('3.1.1', 'SUBACK', 0x01).error).toBe(false);
  });

  it('returns the same frozen object for the same code (records share them)', () => {
    expect(reasonInfo('5.0', 'PUBACK', 0x10)).toBe(reasonInfo('5.0', 'PUBACK', 0x10));
    expect(Object.isFrozen(reasonInfo('5.0', 'PUBACK', 0x10))).toBe(true);
  });
});

describe('secrets', () => {
  it('redacts to a length and a keyed hash that is stable within the process', () => {
    const a = secretRecord(Buffer.from('wrong_pass'), false);
    expect(a).toMatchObject({ length: 10, redacted: true });
    expect(JSON.stringify(a)).not.toContain('wrong_pass');
    expect(secretRecord(Buffer.from('wrong_pass'), false)).toEqual(a);
    expect(secretRecord(Buffer.from('other_pass'), false)).not.toEqual(a);
  });

  it('shows text or base64 on request', () => {
    expect(secretRecord(Buffer.from('pw'), true)).toEqual({ length: 2, text: 'pw' });
    expect(secretRecord(Buffer.from([0xff, 0x00]), true)).toEqual({ length: 2, base64: '/wA=' });
  });
});
