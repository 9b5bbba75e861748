/**
 * Decoding frames cut at the capture cap: what was captured is decoded exactly, what was not is
 * absent or a zero value, never bytes of another field, and nothing is reported as missing.
 * Regression tests, named after what they guard (found by the capped-decoding property test).
 */
import { describe, expect, it } from 'vitest';
import type { Packet } from '../../src/protocol/types.js';
import { hex } from '../helpers/hex.js';
import {
  connect,
  decodeStream,
  frame,
  P,
  prop,
  props,
  publish,
  str,
  u16,
  unsubscribe,
} from '../helpers/packets.js';

function one(bytes: Buffer, captureCap: number, version: '3.1.1' | '5.0' = '5.0'): Packet {
  const { packets, errors } = decodeStream(bytes, version, { captureCap });
  expect(errors).toEqual([]);
  expect(packets).toHaveLength(1);
  return packets[0]!;
}

describe('capture cap regressions', () => {
  it('a Topic Name longer than the cap: the Packet Identifier is not read from the topic bytes', () => {
    const bytes = publish({ version: '3.1.1', topic: 'abcdefghij', qos: 1, packetId: 5, payload: hex`70` });
    const p = one(bytes, 8, '3.1.1');
    expect(p).toMatchObject({ type: 'PUBLISH', qos: 1, truncated: true, violations: [] });
    if (p.type !== 'PUBLISH') throw new Error();
    expect(p.packetId).toBeUndefined(); // was 0x6162, "ab"
  });

  it('a Will Payload cut by the cap keeps its length on the wire', () => {
    const bytes = connect({
      version: '3.1.1',
      clientId: 'c',
      will: { topic: 'w', payload: Buffer.alloc(500, 1) },
    });
    const p = one(bytes, 40, '3.1.1');
    if (p.type !== 'CONNECT') throw new Error();
    expect(p.will?.payload.length).toBe(500);
    expect(p.will?.payload.data.length).toBe(40 - 18); // after 18 bytes of header and fields
    expect(p.violations).toEqual([]);
  });

  it('properties ending exactly at the cap: later fields are cut, not "missing" (no invented violations)', () => {
    const properties = [prop(P.userProperty, ['key', 'value'])];
    const bytes = unsubscribe({ version: '5.0', packetId: 1, properties, filters: ['a/b'] });
    const cap = 2 + props(...properties).length; // Packet Identifier + Property Length + properties
    const p = one(bytes, cap);
    expect(p).toMatchObject({ type: 'UNSUBSCRIBE', truncated: true, filters: [], violations: [] });
    const c = one(
      connect({ version: '5.0', clientId: 'abc', properties: [prop(P.sessionExpiryInterval, 9)] }),
      16,
    );
    expect(c).toMatchObject({ truncated: true, properties: { sessionExpiryInterval: 9 }, violations: [] });
  });

  it('properties cut by the cap: the PUBLISH payload length is still known from the Property Length', () => {
    const bytes = publish({
      version: '5.0',
      topic: 't',
      properties: [prop(P.contentType, 'text/plain'), prop(P.correlationData, Buffer.alloc(100))],
      payload: Buffer.alloc(1000),
    });
    const p = one(bytes, 30);
    if (p.type !== 'PUBLISH') throw new Error();
    expect(p.properties).toEqual({ contentType: 'text/plain' });
    expect(p.payload.length).toBe(1000);
    expect(p.payload.data.length).toBe(0);
    expect(p.violations).toEqual([]);
  });

  it('a Property Length past the end of a truncated packet is reported, and no length goes negative', () => {
    // Remaining Length 200; Property Length claims 300.
    const bytes = frame(0x30, str('t'), [0xac, 0x02], Buffer.alloc(194));
    const p = one(bytes, 20);
    if (p.type !== 'PUBLISH') throw new Error();
    expect(p.violations.map((v) => v.code)).toContain('MQTT_PROPERTY_LENGTH');
    expect(p.payload.length).toBeGreaterThanOrEqual(0);
  });

  it('a short field in a whole packet stops decoding there: nothing after it is read', () => {
    // CONNECT 3.1.1 with the User Name flag but a User Name length past the end, then 2 bytes.
    const bytes = frame(0x10, str('MQTT'), [4, 0xc2], u16(0), str('c'), u16(50), hex`61 62`);
    const p = one(bytes, 1000, '3.1.1');
    if (p.type !== 'CONNECT') throw new Error();
    expect(p.violations.map((v) => v.code)).toEqual(['MQTT_TRUNCATED']);
    expect(p.username).toBe('');
    expect(p.password).toBeUndefined();
  });
});
