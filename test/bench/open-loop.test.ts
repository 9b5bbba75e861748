/**
 * The open-loop generator behind bench scenarios L and CAP, against a real mosquitto: every message
 * arrives and is acked, and a stall between client and broker shows up in full in the latencies,
 * because they are measured from the scheduled send time, not from when the client got to send.
 */
import * as net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLoop } from '../../scripts/bench/open-loop.js';
import { type Mosquitto, requireMosquitto, startMosquitto } from '../helpers/mosquitto.js';

/** A relay that stops reading from its clients for `stallMs` once `stallAfterMs` have passed. */
async function stallingRelay(
  upstreamPort: number,
  stallAfterMs: number,
  stallMs: number,
): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const started = Date.now();
  const server = net.createServer({ noDelay: true }, (client) => {
    const upstream = net.connect({ host: '127.0.0.1', port: upstreamPort, noDelay: true });
    sockets.add(client).add(upstream);
    client.pipe(upstream).pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    const wait = stallAfterMs - (Date.now() - started);
    if (wait >= 0 && stallMs > 0) {
      setTimeout(() => {
        client.pause();
        setTimeout(() => client.resume(), stallMs);
      }, wait);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const address = server.address() as net.AddressInfo;
  return {
    port: address.port,
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

describe.skipIf(!requireMosquitto())('bench open-loop generator', () => {
  let broker: Mosquitto;
  beforeAll(async () => {
    broker = await startMosquitto({ extraConfig: ['max_inflight_messages 0', 'max_queued_messages 0'] });
  });
  afterAll(async () => {
    await broker.stop();
  });

  it('delivers and acks every measured QoS 1 message, in order', async () => {
    const r = await openLoop({
      host: broker.host,
      port: broker.port,
      version: '5.0',
      qos: 1,
      rate: 2000,
      seconds: 0.5,
      warmupSeconds: 0.1,
      tag: 'delivers',
    });
    expect(r.error).toBeUndefined();
    expect(r.measured).toBe(1000);
    expect(r.delivered).toBe(1000);
    expect(r.acked).toBe(1000);
    expect(r.delivery.p50).toBeGreaterThan(0);
    expect(r.puback?.max).toBeLessThan(Number.POSITIVE_INFINITY);
  });

  it('counts a stall from the scheduled time of every message due during it', async () => {
    // 1,000 msg/s for 1.5 s; the relay stops reading for 400 ms after 700 ms.
    const relay = await stallingRelay(broker.port, 700, 400);
    try {
      const r = await openLoop({
        host: '127.0.0.1',
        port: relay.port,
        version: '5.0',
        qos: 1,
        rate: 1000,
        seconds: 1.5,
        warmupSeconds: 0,
        tag: 'stall',
      });
      expect(r.error).toBeUndefined();
      // The first message held back waits the whole stall; about 400 of 1,500 wait some of it, so
      // the 99th percentile is far above a closed-loop client's (which would not have sent them).
      expect(r.delivery.max).toBeGreaterThan(300);
      expect(r.delivery.p99).toBeGreaterThan(200);
      expect(r.puback?.max ?? 0).toBeGreaterThan(300);
      // The generator itself kept its schedule: it is never what the stall is blamed on.
      expect(r.lateness.p99).toBeLessThan(50);
    } finally {
      await relay.close();
    }
  });
});
