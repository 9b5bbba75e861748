/**
 * The transport's byte-exact property (issue 3 case 8, test/proxy/byte-exact.test.ts) again, but with
 * the real tap decoding every chunk into a real sink: whatever the decoder makes of MQTT, cut MQTT or
 * garbage, both directions arrive unchanged, and the tap reports rather than fails.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { vbi } from '../helpers/packets.js';
import {
  connectClient,
  drainToHash,
  type PlainServer,
  plainServer,
  sha256,
  writeAll,
} from '../proxy/harness.js';
import { Cleanups, startTapProxy, type TapProxy } from './helpers/tap-proxy.js';

const cleanups = new Cleanups();

/** A few real packets (3.1.1 and 5.0) so that streams look like MQTT, then stop looking like it. */
const REAL = [
  '101000044d5154540402003c000474657374', // CONNECT 3.1.1 "test"
  '101200044d5154540502003c0000057465737435', // CONNECT 5.0 "test5", no properties
  '20020000', // CONNACK accepted
  '2003008600', // 5.0 CONNACK 0x86
  '320c0003612f62000768656c6c6f', // PUBLISH qos 1 a/b id 7 "hello"
  '820800090003612f2301', // SUBSCRIBE id 9 a/# qos 1
  '9003000980', // SUBACK id 9 0x80
  'c000', // PINGREQ
  'e0028e00', // 5.0 DISCONNECT 0x8E
].map((h) => Buffer.from(h, 'hex'));

const part = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...REAL) },
  {
    weight: 3,
    arbitrary: fc
      .record({
        type: fc.integer({ min: 0, max: 15 }),
        flags: fc.integer({ min: 0, max: 15 }),
        body: fc.uint8Array({ maxLength: 300 }),
      })
      .map(({ type, flags, body }) =>
        Buffer.concat([Buffer.from([(type << 4) | flags, ...vbi(body.length)]), body]),
      ),
  },
  { weight: 2, arbitrary: fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)) },
);
const stream = fc.array(part, { maxLength: 20 }).map((parts) => Buffer.concat(parts));
const cuts = fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 6 });

function chunk(buf: Buffer, sizes: readonly number[]): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0, i = 0; at < buf.length; i++) {
    const size = sizes[i % sizes.length]!;
    out.push(buf.subarray(at, at + size));
    at += size;
  }
  return out;
}

describe('byte-exact through the real tap', () => {
  let upstream: PlainServer;
  let tp: TapProxy;
  let brokerSends: Buffer[] = [];
  let onBroker: (received: Promise<{ sha: string; bytes: number }>) => void = () => {};

  beforeAll(async () => {
    upstream = await plainServer((socket) => {
      onBroker(drainToHash(socket));
      void writeAll(socket, brokerSends).then(() => socket.end());
    }, true);
    cleanups.add(() => upstream.close());
    tp = await startTapProxy(cleanups, { host: '127.0.0.1', port: upstream.port });
  });
  afterAll(() => cleanups.run());

  it('property: random MQTT, cut MQTT and garbage, both ways at once, chunked small: sha256 equal, every connection closed and reported', async () => {
    let runs = 0;
    await fc.assert(
      fc.asyncProperty(stream, cuts, stream, cuts, async (up, upCuts, down, downCuts) => {
        runs++;
        brokerSends = chunk(down, downCuts);
        const atBroker = new Promise<{ sha: string; bytes: number }>((resolve) => {
          onBroker = (received) => void received.then(resolve);
        });
        const client = await connectClient(tp.port, true);
        const atClient = drainToHash(client);
        await writeAll(client, chunk(up, upCuts));
        client.end();
        expect(await atBroker).toEqual({ sha: sha256(up), bytes: up.length });
        expect(await atClient).toEqual({ sha: sha256(down), bytes: down.length });
      }),
      { numRuns: 60 },
    );
    await tp.sink.waitFor(() => tp.sink.events('close').length === runs);
    expect(tp.sink.events('internal-error')).toEqual([]);
    expect(tp.sink.events('open')).toHaveLength(runs);
  });
});
