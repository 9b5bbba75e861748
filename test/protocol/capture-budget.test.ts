/**
 * The capture budget: what framers of many connections keep of packets spanning reads, together.
 * `--capture-max` bounds one packet; with a thousand connections each inside a large packet, only
 * the budget bounds the total. Past it a packet keeps what it has and is marked truncated; the
 * budget comes back when a frame ends, however it ends.
 */
import { describe, expect, it } from 'vitest';
import { createTap } from '../../src/observe/tap.js';
import { DEFAULT_TAP_OPTIONS } from '../../src/observe/tap-options.js';
import { CaptureBudget, defaultCaptureBudget } from '../../src/protocol/capture-budget.js';
import { decodeFrame } from '../../src/protocol/decode/index.js';
import { Framer } from '../../src/protocol/framer.js';
import type { Frame, FramingError } from '../../src/protocol/types.js';
import { createCollectSink } from '../helpers/collect-sink.js';
import { connect, publish, subscribe } from '../helpers/packets.js';

const KiB = 1024;

function framer(
  budget: CaptureBudget,
  payloadKeep?: number,
): { f: Framer; frames: Frame[]; errors: FramingError[] } {
  const frames: Frame[] = [];
  const errors: FramingError[] = [];
  const f = new Framer(
    { frame: (fr) => frames.push(fr), error: (e) => errors.push(e) },
    { budget, ...(payloadKeep !== undefined ? { payloadKeep } : {}) },
  );
  return { f, frames, errors };
}

/** A SUBSCRIBE of about `bytes` bytes (filters of 60 characters). */
function bigSubscribe(bytes: number, packetId = 1): Buffer {
  const n = Math.ceil(bytes / 63);
  return subscribe({
    version: '5.0',
    packetId,
    subscriptions: Array.from({ length: n }, (_, i) => ({ filter: `f/${String(i).padStart(58, '0')}` })),
  });
}

/** Pushes `bytes` in pieces of `piece`. */
function feed(f: Framer, bytes: Buffer, piece = 1000): void {
  for (let at = 0; at < bytes.length; at += piece) f.push(bytes.subarray(at, at + piece));
}

describe('CaptureBudget', () => {
  it('is shared: a second connection inside a large packet keeps only what the first left', () => {
    const budget = new CaptureBudget(48 * KiB);
    const a = framer(budget);
    const b = framer(budget);
    const packetA = bigSubscribe(40 * KiB, 1);
    const packetB = bigSubscribe(40 * KiB, 2);
    // A and B each stop 100 bytes short of their end: both are held at once.
    feed(a.f, packetA.subarray(0, packetA.length - 100));
    feed(b.f, packetB.subarray(0, packetB.length - 100));
    expect(budget.inUse).toBeLessThanOrEqual(48 * KiB);
    expect(budget.refusals).toBeGreaterThan(0);
    a.f.push(packetA.subarray(packetA.length - 100));
    b.f.push(packetB.subarray(packetB.length - 100));
    expect(a.errors).toEqual([]);
    expect(b.errors).toEqual([]);
    // A grew first and is whole; B was kept in part and decodes as far as it goes, truncated.
    expect(a.frames[0]!.truncated).toBe(false);
    expect(b.frames[0]!.truncated).toBe(true);
    expect(b.frames[0]!.payloadCut).toBeUndefined();
    const pb = decodeFrame(b.frames[0]!, '5.0');
    expect(pb).toMatchObject({ type: 'SUBSCRIBE', packetId: 2, truncated: true });
    if (pb.type !== 'SUBSCRIBE') throw new Error();
    expect(pb.subscriptions.length).toBeGreaterThan(0);
    expect(pb.subscriptions.length).toBeLessThan(650);
    // Both ended: the budget is all back, and the next large packet is kept whole.
    expect(budget.inUse).toBe(0);
    const next = bigSubscribe(40 * KiB, 3);
    feed(b.f, next);
    expect(b.frames[1]!.truncated).toBe(false);
    expect(budget.inUse).toBe(0);
  });

  it('comes back when the stream ends inside a frame or turns out malformed', () => {
    const budget = new CaptureBudget(1024 * KiB);
    const a = framer(budget);
    const packet = bigSubscribe(60 * KiB);
    feed(a.f, packet.subarray(0, 50 * KiB));
    expect(budget.inUse).toBeGreaterThan(0);
    a.f.end();
    expect(budget.inUse).toBe(0);
    expect(a.errors.map((e) => e.code)).toEqual(['MQTT_STREAM_ENDED_MID_PACKET']);
  });

  it('bounds a PUBLISH kept whole (no payload preview limit) and one sized to its preview alike', () => {
    const budget = new CaptureBudget(16 * KiB);
    const whole = framer(budget);
    const sized = framer(budget, 256);
    const big = publish({ version: '5.0', topic: 't', payload: Buffer.alloc(60 * KiB, 0x61) });
    feed(whole.f, big.subarray(0, 50 * KiB), 4096);
    feed(sized.f, big, 4096);
    // The sized one needs its header and 256 bytes of preview only: never refused, and not
    // truncated but cut inside its payload; the whole one is truncated by the budget.
    expect(sized.frames[0]!.truncated).toBe(true);
    expect(sized.frames[0]!.payloadCut).toBe(true);
    whole.f.push(big.subarray(50 * KiB));
    expect(whole.frames[0]!.body.length).toBeLessThanOrEqual(16 * KiB + 4 * KiB);
    expect(whole.frames[0]!.truncated).toBe(true);
    expect(whole.frames[0]!.payloadCut).toBeUndefined();
    expect(budget.inUse).toBe(0);
  });

  it('defaults to 2 MiB, or four packets at --capture-max', () => {
    expect(defaultCaptureBudget(64 * KiB)).toBe(2 * 1024 * KiB);
    expect(defaultCaptureBudget(16 * 1024 * KiB)).toBe(64 * 1024 * KiB);
  });
});

describe('the tap with --capture-budget', () => {
  it('shares one budget between connections and says so once, with a warning, when it is spent', () => {
    const sink = createCollectSink('info');
    const tap = createTap(sink, { ...DEFAULT_TAP_OPTIONS, captureBudget: 48 * KiB });
    const conns = [0, 1, 2].map((i) =>
      tap.open({
        conn: `c${i}`,
        client: { address: '127.0.0.1', port: 50000 + i },
        local: { address: '127.0.0.1', port: 1884 },
        upstream: '127.0.0.1:1883',
        transport: 'tcp',
        startedAt: 0,
      }),
    );
    const packets = conns.map((_, i) => bigSubscribe(40 * KiB, i + 1));
    conns.forEach((c, i) => {
      c.data('client', connect({ version: '5.0', clientId: `c${i}` }));
      const p = packets[i]!;
      for (let at = 0; at < p.length - 100; at += 1000)
        c.data('client', p.subarray(at, Math.min(at + 1000, p.length - 100)));
    });
    for (const [i, c] of conns.entries()) c.data('client', packets[i]!.subarray(packets[i]!.length - 100));
    const warnings = sink.events('capture-budget').map((r) => r.record);
    expect(warnings).toEqual([{ event: 'capture-budget', limit: 48 * KiB }]);
    const subscribes = sink.records.filter((r) => r.record.type === 'SUBSCRIBE').map((r) => r.record);
    expect(subscribes.map((r) => r.truncated === true)).toEqual([false, true, true]);
  });
});
