/**
 * Shutdown with TLS and WebSocket listeners: clients stalled in their TLS or HTTP handshake were
 * never accepted and must not hold close() until a handshake timeout (120 s for TLS); accepted
 * connections get the grace period, as on TCP.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Transport } from '../../src/proxy/address.js';
import { connectClient, plainServer, whenClosed } from '../proxy/harness.js';
import { generateCerts, type TestCerts } from './helpers/certs.js';
import { tapProxy } from './helpers/tap-harness.js';

let certs: TestCerts;
beforeAll(() => {
  certs = generateCerts();
});
afterAll(() => certs?.remove());

describe('close() with handshakes in progress', () => {
  it.each(['tls', 'ws', 'wss'] as Transport[])(
    '%s listener: stalled handshakes are dropped at once; an accepted connection gets the grace period',
    async (transport) => {
      const broker = await plainServer(() => {});
      try {
        const tap = await tapProxy({
          listen: [
            { host: '127.0.0.1', port: 0, transport },
            { host: '127.0.0.1', port: 0 },
          ],
          upstream: { host: '127.0.0.1', port: broker.port },
          tls: { cert: certs.read(certs.server), key: certs.read(certs.serverKey) },
        });
        // Connected at TCP level, silent: mid-handshake forever.
        const silent = await connectClient(tap.port(0));
        // Half an HTTP request (or half a ClientHello): mid-handshake too.
        const half = await connectClient(tap.port(0));
        half.write(
          transport === 'ws' ? 'GET /mqtt HTTP/1.1\r\nHost: x\r\n' : Buffer.from([0x16, 0x03, 0x01]),
        );
        // An accepted client on the TCP listener, which never closes on its own.
        const accepted = await connectClient(tap.port(1));
        await tap.open(0);
        const t0 = Date.now();
        await tap.close();
        await Promise.all([whenClosed(silent), whenClosed(half), whenClosed(accepted)]);
        expect(Date.now() - t0).toBeLessThan(2000);
        expect(tap.sink.events('open')).toHaveLength(1);
      } finally {
        await broker.close();
      }
    },
  );

  it('grace: an accepted WebSocket client may finish within it', async () => {
    const broker = await plainServer((s) => s.on('data', () => s.end()));
    try {
      const tap = await tapProxy({
        listen: [{ host: '127.0.0.1', port: 0, transport: 'ws' }],
        upstream: { host: '127.0.0.1', port: broker.port },
      });
      const { WebSocket } = await import('ws');
      const ws = new WebSocket(`ws://127.0.0.1:${tap.port()}/mqtt`, ['mqtt']);
      await new Promise((r) => ws.once('open', r));
      await tap.open(0);
      const closing = tap.proxy.close(5000);
      ws.send(Buffer.from([0xc0, 0x00]));
      const t0 = Date.now();
      await closing;
      expect(Date.now() - t0).toBeLessThan(2000);
      const close = tap.sink.events('close')[0]!.record;
      expect(close).toMatchObject({ closedBy: 'broker', bytes: { fromClient: 2 } });
    } finally {
      await broker.close();
    }
  });
});
