import { createHash, randomFillSync } from 'node:crypto';
import type * as net from 'node:net';
import { setImmediate as tick } from 'node:timers/promises';
import fc from 'fast-check';
import * as mqttPacket from 'mqtt-packet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningProxy, startProxy } from '../../src/proxy/server.js';
import { vbi } from '../helpers/packets.js';
import {
  connectClient,
  drainToHash,
  type PlainServer,
  plainServer,
  RecordingObserver,
  sha256,
  writeAll,
} from './harness.js';

/** Real packets of every family, both protocol versions, so the stream looks like MQTT too. */
const REAL_PACKETS: Buffer[] = [
  mqttPacket.generate({
    cmd: 'connect',
    protocolId: 'MQTT',
    protocolVersion: 4,
    clean: true,
    clientId: 'dev-42',
    keepalive: 60,
    username: 'alice',
    password: Buffer.from('secret'),
  }),
  mqttPacket.generate(
    { cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: true, clientId: 'v5', keepalive: 30 },
    { protocolVersion: 5 },
  ),
  mqttPacket.generate({ cmd: 'connack', returnCode: 4, sessionPresent: false }),
  mqttPacket.generate({ cmd: 'connack', reasonCode: 0x86, sessionPresent: false }, { protocolVersion: 5 }),
  mqttPacket.generate({
    cmd: 'publish',
    topic: 'a/b',
    payload: Buffer.from('hello'),
    qos: 1,
    messageId: 7,
    retain: false,
    dup: false,
  }),
  mqttPacket.generate({ cmd: 'subscribe', messageId: 9, subscriptions: [{ topic: 'a/#', qos: 1 }] }),
  mqttPacket.generate({ cmd: 'suback', messageId: 9, granted: [0x80] }),
  mqttPacket.generate({ cmd: 'pingreq' }),
  mqttPacket.generate({ cmd: 'disconnect', reasonCode: 0x8e }, { protocolVersion: 5 }),
];

/** Deterministic filler, so large pieces cost one integer to shrink rather than thousands of bytes. */
function filler(length: number, seed: number): Buffer {
  const buf = Buffer.allocUnsafe(length);
  let x = seed | 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    buf[i] = x & 0xff;
  }
  return buf;
}

const framed = fc
  .record({
    type: fc.integer({ min: 0, max: 15 }),
    flags: fc.integer({ min: 0, max: 15 }),
    body: fc.uint8Array({ maxLength: 300 }),
  })
  .map(({ type, flags, body }) =>
    Buffer.concat([Buffer.from([(type << 4) | flags, ...vbi(body.length)]), body]),
  );
const bigFramed = fc
  .record({ length: fc.integer({ min: 0, max: 300_000 }), seed: fc.integer() })
  .map(({ length, seed }) => Buffer.concat([Buffer.from([0x30, ...vbi(length)]), filler(length, seed)]));
const garbage = fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a));
const bigGarbage = fc
  .record({ length: fc.integer({ min: 0, max: 200_000 }), seed: fc.integer() })
  .map(({ length, seed }) => filler(length, seed));

const streamArb = fc
  .array(
    fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom(...REAL_PACKETS) },
      { weight: 4, arbitrary: framed },
      { weight: 1, arbitrary: bigFramed },
      { weight: 2, arbitrary: garbage },
      { weight: 1, arbitrary: bigGarbage },
    ),
    { maxLength: 25 },
  )
  .map((parts) => Buffer.concat(parts));

/**
 * Cut sizes applied in a cycle: tiny cuts (1..8 bytes) split headers everywhere, and one large cut
 * per cycle keeps the number of writes (and the test's time) in check on large streams.
 */
const cutsArb = fc
  .tuple(
    fc.integer({ min: 4096, max: 70_000 }),
    fc.array(fc.oneof(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 70_000 })), { maxLength: 7 }),
  )
  .map(([big, rest]) => [...rest, big]);

function chunk(stream: Buffer, cuts: readonly number[]): Buffer[] {
  const out: Buffer[] = [];
  let at = 0;
  for (let i = 0; at < stream.length; i++) {
    const size = cuts[i % cuts.length]!;
    out.push(stream.subarray(at, at + size));
    at += size;
  }
  return out;
}

/** Writes chunk by chunk, yielding to the event loop now and then so chunks travel as separate segments. */
async function sendChunks(socket: net.Socket, chunks: readonly Buffer[]): Promise<void> {
  for (let i = 0; i < chunks.length; i++) {
    await writeAll(socket, [chunks[i]!]);
    if (i % 3 === 0) await tick();
  }
  socket.end();
}

describe('byte-exact forwarding', () => {
  let upstream: PlainServer;
  let proxy: RunningProxy;
  const observer = new RecordingObserver();
  /** What the upstream of the next connection sends, and where it reports what it received. */
  let nextBrokerChunks: Buffer[] = [];
  let onBrokerConnection: (received: Promise<{ sha: string; bytes: number }>) => void = () => {};

  beforeAll(async () => {
    upstream = await plainServer((socket) => {
      socket.setNoDelay(true);
      onBrokerConnection(drainToHash(socket));
      void sendChunks(socket, nextBrokerChunks);
    }, true);
    proxy = await startProxy({
      listen: [{ host: '127.0.0.1', port: 0 }],
      upstream: { host: '127.0.0.1', port: upstream.port },
      observer,
    });
  });

  afterAll(async () => {
    await proxy.close(0);
    await upstream.close();
  });

  it('property: random MQTT and garbage streams, randomly chunked, both ways at once: sha256 equal', async () => {
    await fc.assert(
      fc.asyncProperty(streamArb, cutsArb, streamArb, cutsArb, async (up, upCuts, down, downCuts) => {
        nextBrokerChunks = chunk(down, downCuts);
        const brokerReceived = new Promise<{ sha: string; bytes: number }>((resolve) => {
          onBrokerConnection = (received) => void received.then(resolve);
        });
        const client = await connectClient(proxy.addresses[0]!.port, true);
        client.setNoDelay(true);
        const clientReceived = drainToHash(client);
        await sendChunks(client, chunk(up, upCuts));
        const [atClient, atBroker] = await Promise.all([clientReceived, brokerReceived]);
        expect(atBroker).toEqual({ sha: sha256(up), bytes: up.length });
        expect(atClient).toEqual({ sha: sha256(down), bytes: down.length });
        const conn = observer.connections.at(-1)!;
        const info = await conn.closed;
        // The observer saw the very same bytes, in order.
        expect(conn.digest('client')).toBe(sha256(up));
        expect(conn.digest('broker')).toBe(sha256(down));
        expect(info.bytes).toEqual({ fromClient: up.length, fromBroker: down.length });
        expect(info.error).toBeUndefined();
      }),
      { numRuns: 100 },
    );
  });

  it('200 MB each way at once passes byte-exact with bounded proxy buffers', async () => {
    const TOTAL = 200 * 1024 * 1024;
    const CHUNK = 64 * 1024;
    /** Generates and sends TOTAL random bytes without holding them; returns their sha256. */
    const sendGenerated = async (socket: net.Socket): Promise<string> => {
      const hash = createHash('sha256');
      for (let sent = 0; sent < TOTAL; sent += CHUNK) {
        const buf = randomFillSync(Buffer.allocUnsafe(CHUNK));
        hash.update(buf);
        if (!socket.write(buf)) await new Promise((r) => socket.once('drain', r));
      }
      socket.end();
      return hash.digest('hex');
    };
    let brokerSent: Promise<string> = Promise.resolve('');
    let brokerGot: Promise<{ sha: string; bytes: number }> = Promise.resolve({ sha: '', bytes: 0 });
    const big = await plainServer((socket) => {
      brokerGot = drainToHash(socket);
      brokerSent = sendGenerated(socket);
    }, true);
    const bigObserver = new RecordingObserver();
    const bigProxy = await startProxy({
      listen: [{ host: '127.0.0.1', port: 0 }],
      upstream: { host: '127.0.0.1', port: big.port },
      observer: bigObserver,
    });
    try {
      let maxBuffered = 0;
      const sampler = setInterval(() => {
        for (const c of bigProxy.connections()) {
          maxBuffered = Math.max(maxBuffered, c.buffered.toBroker, c.buffered.toClient, c.pending);
        }
      }, 5);
      const t0 = performance.now();
      const client = await connectClient(bigProxy.addresses[0]!.port, true);
      const clientGot = drainToHash(client);
      const clientSent = await sendGenerated(client);
      const [atClient, atBroker] = await Promise.all([clientGot, brokerGot]);
      const seconds = (performance.now() - t0) / 1000;
      clearInterval(sampler);
      expect(atBroker).toEqual({ sha: clientSent, bytes: TOTAL });
      expect(atClient).toEqual({ sha: await brokerSent, bytes: TOTAL });
      const conn = await bigObserver.nth(0);
      const info = await conn.closed;
      expect(info.bytes).toEqual({ fromClient: TOTAL, fromBroker: TOTAL });
      expect(conn.digest('client')).toBe(clientSent);
      expect(maxBuffered).toBeLessThanOrEqual(256 * 1024);
      console.info(
        `200 MB each way through the proxy in ${seconds.toFixed(2)} s ` +
          `(${((2 * TOTAL) / 1024 / 1024 / seconds).toFixed(0)} MB/s both directions, hashing included); ` +
          `max proxy write buffer ${(maxBuffered / 1024).toFixed(0)} KiB`,
      );
    } finally {
      await bigProxy.close(0);
      await big.close();
    }
  }, 60_000);
});
