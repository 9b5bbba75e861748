/**
 * Decode work stays linear in the packet's size, whatever its strings hold. Counted, not timed:
 * every Buffer search the decoder makes is spied and the bytes it walks are summed.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { SubscribePacket } from '../../src/protocol/types.js';
import { decodeStream, subscribe } from '../helpers/packets.js';

/** Bytes walked by Buffer#indexOf (and #includes, which calls it) while `fn` runs. */
function searchedBytes(fn: () => void): number {
  const original = Buffer.prototype.indexOf as (this: Buffer, ...args: unknown[]) => number;
  let walked = 0;
  vi.spyOn(Buffer.prototype, 'indexOf').mockImplementation(function (this: Buffer, ...args: unknown[]) {
    const found = original.apply(this, args);
    const from = typeof args[1] === 'number' ? args[1] : 0;
    walked += (found === -1 ? this.length : found + 1) - from;
    return found;
  });
  fn();
  return walked;
}

function decodeSubscribe(filter: string, count: number, options: number): SubscribePacket {
  const bytes = subscribe({
    version: '3.1.1',
    packetId: 1,
    subscriptions: Array.from({ length: count }, () => ({ filter, options })),
  });
  let packet: SubscribePacket | undefined;
  const walked = searchedBytes(() => {
    const { packets, errors } = decodeStream(bytes, '3.1.1', { captureCap: bytes.length });
    expect(errors).toEqual([]);
    packet = packets[0] as SubscribePacket;
  });
  expect(walked, 'bytes searched').toBeLessThanOrEqual(2 * bytes.length);
  expect(packet?.subscriptions).toHaveLength(count);
  expect(packet?.violations).toEqual([]);
  return packet!;
}

describe('decode work is linear in the packet size', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('a 64 KiB SUBSCRIBE of 13,000 Topic Filters "é"', () => {
    decodeSubscribe('é', 13_000, 1);
  });

  // A length prefix of 257 (0x01 0x01) and an options byte of 1 leave no 0x00 in the packet: a
  // U+0000 search running to the end of the buffer walks the rest of the packet once per filter.
  it.each([
    ['64 KiB', 250],
    ['1 MiB', 4000],
  ])('a %s SUBSCRIBE of 257-byte non-ASCII Topic Filters without a zero byte', (_size, count) => {
    const p = decodeSubscribe(`${'é'.repeat(128)}a`, count, 1);
    expect(Buffer.byteLength(p.subscriptions[0]!.filter)).toBe(257);
  });

  it('still finds a U+0000 inside a non-ASCII string, and only there [MQTT-1.5.4-2]', () => {
    const bytes = subscribe({
      version: '3.1.1',
      packetId: 1,
      subscriptions: [{ filter: 'é\u0000x' }, { filter: 'éx' }],
    });
    const { packets } = decodeStream(bytes, '3.1.1');
    const codes = packets[0]!.violations.map((v) => v.code);
    expect(codes).toEqual(['MQTT_NULL_CHARACTER']);
    expect(packets[0]!.violations[0]!.detail).toContain('offset 8');
  });
});
