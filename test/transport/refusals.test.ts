/**
 * Clients mqtt-tap refuses on its own, over real sockets, never dialling the broker for them:
 * beyond maxConnections, and clients whose certificate was not verified while mqtt-tap presents
 * its own client certificate upstream (unless upstreamCertForAll).
 */
import type * as net from 'node:net';
import * as tls from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { connect } from '../helpers/packets.js';
import { connectClient, plainServer, waitUntil, whenClosed } from '../proxy/harness.js';
import { generateCerts, type TestCerts } from './helpers/certs.js';
import { type TapHarness, tapProxy } from './helpers/tap-harness.js';

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

async function harness(options: Parameters<typeof tapProxy>[0]): Promise<TapHarness> {
  const tap = await tapProxy(options);
  cleanups.push(() => tap.close());
  return tap;
}

async function countingBroker(): Promise<{ port: number; dialled: () => number }> {
  let dialled = 0;
  const srv = await plainServer((s) => {
    dialled += 1;
    s.resume();
  });
  cleanups.push(() => srv.close());
  return { port: srv.port, dialled: () => dialled };
}

describe('maxConnections: one client too many is closed at once, with a record, never dialled', () => {
  it('TCP: the third of two allowed is refused; once one leaves, the next is forwarded', async () => {
    const broker = await countingBroker();
    const tap = await harness({
      listen: [{ host: '127.0.0.1', port: 0 }],
      upstream: { host: '127.0.0.1', port: broker.port },
      maxConnections: 2,
    });
    const a = await connectClient(tap.port());
    const b = await connectClient(tap.port());
    await waitUntil(() => broker.dialled() === 2, 5000, 'two upstreams');
    const c = await connectClient(tap.port());
    const cPort = c.localPort;
    c.on('error', () => {});
    await whenClosed(c);
    const refused = await tap.sink.waitFor((r) => r.record.event === 'refused');
    expect(refused.level).toBe('warn');
    expect(refused.record).toMatchObject({
      listener: `127.0.0.1:${tap.port()}`,
      client: `127.0.0.1:${cPort}`,
      transport: 'tcp',
      code: 'MAX_CONNECTIONS',
      error: '2 connections open, the most allowed (--max-connections)',
    });
    expect(broker.dialled()).toBe(2);
    expect(tap.sink.events('open')).toHaveLength(2);

    a.end();
    await tap.closed(String((await tap.open(0)).conn));
    const d = await connectClient(tap.port());
    await waitUntil(() => broker.dialled() === 3, 5000, 'the next client dialled');
    d.destroy();
    b.destroy();
  });

  it('WebSocket: the client beyond the limit gets close code 1013 (Try Again Later)', async () => {
    const broker = await countingBroker();
    const tap = await harness({
      listen: [{ host: '127.0.0.1', port: 0, transport: 'ws', path: '/mqtt' }],
      upstream: { host: '127.0.0.1', port: broker.port },
      maxConnections: 1,
    });
    const open = (): Promise<WebSocket> =>
      new Promise((resolve, reject) => {
        const ws = new WebSocket(`ws://127.0.0.1:${tap.port()}/mqtt`, ['mqtt']);
        cleanups.push(() => ws.terminate());
        ws.once('open', () => resolve(ws));
        ws.once('error', reject);
      });
    await open();
    await waitUntil(() => broker.dialled() === 1, 5000, 'first upstream');
    const second = await open();
    const code = await new Promise<number>((r) => second.once('close', (c) => r(c)));
    expect(code).toBe(1013);
    expect((await tap.sink.waitFor((r) => r.record.event === 'refused')).record).toMatchObject({
      transport: 'ws',
      code: 'MAX_CONNECTIONS',
    });
    expect(broker.dialled()).toBe(1);
  });
});

describe('upstream client certificate: only verified clients use it, unless upstreamCertForAll', () => {
  let certs: TestCerts;
  /** A TLS broker that requires a client certificate signed by the test CA. */
  let broker: { port: number; subjects: string[]; close(): Promise<void> };

  beforeAll(async () => {
    certs = generateCerts();
    const subjects: string[] = [];
    const server = tls.createServer(
      {
        cert: certs.read(certs.server),
        key: certs.read(certs.serverKey),
        ca: certs.read(certs.ca),
        requestCert: true,
        rejectUnauthorized: true,
      },
      (s) => {
        subjects.push(s.getPeerX509Certificate()?.subject.replace(/\n/g, ', ') ?? '');
        s.on('error', () => {});
        s.resume();
      },
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    broker = {
      port: (server.address() as net.AddressInfo).port,
      subjects,
      close: () => new Promise<void>((r) => server.close(() => r())),
    };
  });
  afterAll(async () => {
    await broker?.close();
    certs?.remove();
  });

  const upstreamTls = () => ({
    ca: certs.read(certs.ca),
    cert: certs.read(certs.client),
    key: certs.read(certs.clientKey),
  });

  it('a listener that cannot verify its clients: startProxy refuses to start', async () => {
    for (const [listen, tlsConfig, why] of [
      [{ host: '127.0.0.1', port: 0 }, undefined, 'cannot show a certificate'],
      [
        { host: '127.0.0.1', port: 0, transport: 'tls' as const },
        { cert: certs.read(certs.server), key: certs.read(certs.serverKey) },
        'are not asked for a certificate',
      ],
      [
        { host: '127.0.0.1', port: 0, transport: 'tls' as const },
        { cert: certs.read(certs.server), key: certs.read(certs.serverKey), requestCert: true },
        'checked against no CA of yours',
      ],
    ] as const) {
      await expect(
        tapProxy({
          listen: [listen],
          upstream: { host: '127.0.0.1', port: broker.port, transport: 'tls' },
          upstreamTls: upstreamTls(),
          ...(tlsConfig !== undefined ? { tls: tlsConfig } : {}),
        }),
      ).rejects.toThrow(why);
    }
  });

  async function verifyingTap(): Promise<TapHarness> {
    return harness({
      listen: [{ host: '127.0.0.1', port: 0, transport: 'tls' }],
      upstream: { host: '127.0.0.1', port: broker.port, transport: 'tls' },
      tls: {
        cert: certs.read(certs.server),
        key: certs.read(certs.serverKey),
        ca: certs.read(certs.ca),
        requestCert: true,
      },
      upstreamTls: upstreamTls(),
    });
  }

  /** A TLS client with the given certificate (none when undefined); resolves once it is closed or after sending. */
  async function tlsClient(port: number, cert?: { cert: Buffer; key: Buffer }): Promise<tls.TLSSocket> {
    const s = tls.connect({ host: '127.0.0.1', port, ca: certs.read(certs.ca), ...(cert ?? {}) });
    s.on('error', () => {});
    cleanups.push(() => s.destroy());
    await new Promise<void>((resolve) => {
      s.once('secureConnect', () => resolve());
      s.once('close', () => resolve());
    });
    s.write(connect({ version: '5.0', clientId: 'tls-id' }));
    return s;
  }

  it('a verified client is forwarded: the broker sees mqtt-tap’s certificate', async () => {
    const tap = await verifyingTap();
    await tlsClient(tap.port(), { cert: certs.read(certs.client), key: certs.read(certs.clientKey) });
    await waitUntil(() => broker.subjects.length === 1, 5000, 'the broker accepting mqtt-tap');
    expect(broker.subjects[0]).toContain('CN=sensor-1');
    expect(tap.sink.events('refused')).toEqual([]);
    broker.subjects.length = 0;
  });

  it.each([
    ['no certificate', undefined, 'no client certificate'],
    ['a certificate from another CA', 'other', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'],
  ])('%s: refused with a record saying why, never dialled', async (_name, which, reason) => {
    const tap = await verifyingTap();
    const cert =
      which === 'other'
        ? { cert: certs.read(certs.otherClient), key: certs.read(certs.otherClientKey) }
        : undefined;
    const s = await tlsClient(tap.port(), cert);
    await whenClosed(s as unknown as net.Socket);
    const refused = await tap.sink.waitFor((r) => r.record.event === 'refused');
    expect(refused.record).toMatchObject({
      transport: 'tls',
      code: 'CLIENT_CERT_NOT_VERIFIED',
      error: expect.stringContaining(`(${reason})`),
      hint: expect.stringContaining('--upstream-cert-for-all'),
    });
    expect(tap.sink.events('open')).toEqual([]);
    expect(broker.subjects).toEqual([]);
  });

  it('upstreamCertForAll: a plain listener is allowed and its clients are forwarded with the certificate', async () => {
    const tap = await harness({
      listen: [{ host: '127.0.0.1', port: 0 }],
      upstream: { host: '127.0.0.1', port: broker.port, transport: 'tls' },
      upstreamTls: upstreamTls(),
      upstreamCertForAll: true,
    });
    const c = await connectClient(tap.port());
    c.write(connect({ version: '5.0', clientId: 'for-all' }));
    await waitUntil(() => broker.subjects.length === 1, 5000, 'the broker accepting mqtt-tap');
    c.destroy();
    broker.subjects.length = 0;
  });
});

describe('plain sockets: nothing refused below the limit', () => {
  it('the default limit is generous: 50 clients at once are all forwarded', async () => {
    const broker = await countingBroker();
    const tap = await harness({
      listen: [{ host: '127.0.0.1', port: 0 }],
      upstream: { host: '127.0.0.1', port: broker.port },
    });
    const clients = await Promise.all(Array.from({ length: 50 }, () => connectClient(tap.port())));
    await waitUntil(() => broker.dialled() === 50, 5000, 'fifty upstreams');
    for (const c of clients) c.destroy();
    expect(tap.sink.events('refused')).toEqual([]);
  });
});
