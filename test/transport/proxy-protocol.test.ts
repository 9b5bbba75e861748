/**
 * The PROXY protocol on real sockets: listeners with `acceptProxyProtocol` (TCP, TLS, WebSocket)
 * take the client from the header and never forward the header; a missing, malformed, partial or
 * slow header is a handshake-failed record and no upstream dial; `upstreamProxyProtocol` opens each
 * broker connection with a header naming the client, before TLS on a TLS upstream.
 */
import * as net from 'node:net';
import * as tls from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { encodeProxyHeader } from '../../src/protocol/proxy-header.js';
import { type ProxyHeaderFailure, requireProxyHeaders } from '../../src/proxy/proxy-protocol.js';
import { hex } from '../helpers/hex.js';
import { connack, connect } from '../helpers/packets.js';
import { connectClient, type PlainServer, plainServer, waitUntil, whenClosed } from '../proxy/harness.js';
import { generateCerts, type TestCerts } from './helpers/certs.js';
import { type TapHarness, tapProxy } from './helpers/tap-harness.js';

const CONNECT = connect({ version: '5.0', clientId: 'pp-client' });
const CONNACK = connack({ version: '5.0' });

// Written out by hand from HAProxy's specification, not by our encoder.
const V2_HEADER = hex`0d 0a 0d 0a 00 0d 0a 51 55 49 54 0a  21 11 00 0c
  c0 00 02 0a  c6 33 64 07  c3 50  07 5b`; // 192.0.2.10:50000 → 198.51.100.7:1883
const V1_HEADER = Buffer.from('PROXY TCP6 2001:db8::10 2001:db8::1 50001 8883\r\n');
const V2_LOCAL = hex`0d 0a 0d 0a 00 0d 0a 51 55 49 54 0a  20 00 00 00`;

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

/** A broker stand-in: keeps every byte per connection, answers the first chunk with a CONNACK. */
interface Recorder {
  server: PlainServer;
  received: Buffer[][];
  bytes(n: number): Buffer;
}

async function recorder(answer = true): Promise<Recorder> {
  const received: Buffer[][] = [];
  const server = await plainServer((socket) => {
    const chunks: Buffer[] = [];
    received.push(chunks);
    socket.on('data', (chunk: Buffer) => {
      if (answer && chunks.length === 0) socket.write(CONNACK);
      chunks.push(chunk);
    });
  });
  cleanups.push(() => server.close());
  return { server, received, bytes: (n) => Buffer.concat(received[n] ?? []) };
}

async function harness(options: Parameters<typeof tapProxy>[0]): Promise<TapHarness> {
  const h = await tapProxy(options);
  cleanups.push(() => h.close());
  return h;
}

/** Reads from `socket` until `expected` bytes came. */
function readBytes(socket: net.Socket | tls.TLSSocket, expected: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let n = 0;
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      n += chunk.length;
      if (n >= expected) {
        socket.off('data', onData);
        resolve(Buffer.concat(chunks));
      }
    };
    socket.on('data', onData);
    socket.once('error', reject);
  });
}

describe('accepting the PROXY protocol', () => {
  let broker: Recorder;
  let tap: TapHarness;

  async function setUp(): Promise<void> {
    broker = await recorder();
    tap = await harness({
      listen: [{ host: '127.0.0.1', port: 0, acceptProxyProtocol: true }],
      upstream: { host: '127.0.0.1', port: broker.server.port },
    });
  }

  it('v2: the header names the client in open and close; the broker gets the MQTT bytes only', async () => {
    await setUp();
    const client = await connectClient(tap.port());
    cleanups.push(() => client.destroy());
    client.write(Buffer.concat([V2_HEADER, CONNECT]));
    expect(await readBytes(client, CONNACK.length)).toEqual(CONNACK);
    const open = await tap.open(0);
    expect(open).toMatchObject({
      client: '192.0.2.10:50000',
      proxied: { version: 2, via: `127.0.0.1:${client.localPort}`, destination: '198.51.100.7:1883' },
    });
    client.end();
    const close = await tap.closed(String(open.conn));
    expect(close.client).toBe('192.0.2.10:50000');
    expect(close.bytes).toEqual({ fromClient: CONNECT.length, fromBroker: CONNACK.length });
    expect(broker.bytes(0)).toEqual(CONNECT);
    const packets = tap.packets(String(open.conn)).map((p) => p.type);
    expect(packets).toEqual(['CONNECT', 'CONNACK']);
  });

  it('v1, the header in pieces and the CONNECT after it: the same', async () => {
    await setUp();
    const client = await connectClient(tap.port());
    cleanups.push(() => client.destroy());
    client.setNoDelay(true);
    for (const piece of [V1_HEADER.subarray(0, 3), V1_HEADER.subarray(3, 20), V1_HEADER.subarray(20)]) {
      client.write(piece);
      await new Promise((r) => setTimeout(r, 10));
    }
    client.write(CONNECT);
    expect(await readBytes(client, CONNACK.length)).toEqual(CONNACK);
    const open = await tap.open(0);
    expect(open.client).toBe('[2001:db8::10]:50001');
    expect(open.proxied).toEqual({
      version: 1,
      via: `127.0.0.1:${client.localPort}`,
      destination: '[2001:db8::1]:8883',
    });
    expect(broker.bytes(0)).toEqual(CONNECT);
  });

  it('v2 LOCAL (a balancer health check): accepted, the TCP peer is the client', async () => {
    await setUp();
    const client = await connectClient(tap.port());
    cleanups.push(() => client.destroy());
    client.write(Buffer.concat([V2_LOCAL, CONNECT]));
    await readBytes(client, CONNACK.length);
    const open = await tap.open(0);
    expect(open.client).toBe(`127.0.0.1:${client.localPort}`);
    expect(open.proxied).toEqual({ version: 2, via: `127.0.0.1:${client.localPort}` });
    expect(broker.bytes(0)).toEqual(CONNECT);
  });

  it.each([
    ['no header (an MQTT CONNECT)', CONNECT, 'PROXY_HEADER_MISSING', /^10 /],
    [
      'a malformed v2 header',
      Buffer.concat([V2_HEADER.subarray(0, 12), hex`31`]),
      'PROXY_V2_MALFORMED',
      /^0d 0a/,
    ],
    ['a v1 line without CR', Buffer.from('PROXY UNKNOWN\n'), 'PROXY_V1_MALFORMED', /^50 52 4f 58 59/],
  ])(
    '%s: a handshake-failed record with the code and bytes; closed; never dialled',
    async (_n, bytes, code, received) => {
      await setUp();
      const client = await connectClient(tap.port());
      cleanups.push(() => client.destroy());
      client.on('error', () => {});
      const localPort = client.localPort;
      client.write(bytes);
      await whenClosed(client);
      const failure = await tap.sink.waitFor((r) => r.record.event === 'handshake-failed');
      expect(failure.level).toBe('warn');
      expect(failure.record).toMatchObject({
        event: 'handshake-failed',
        listener: `127.0.0.1:${tap.port()}`,
        client: `127.0.0.1:${localPort}`,
        transport: 'tcp',
        code,
        hint: expect.stringMatching(/--accept-proxy-protocol/),
      });
      expect(String(failure.record.received)).toMatch(received);
      expect(tap.sink.events('open')).toHaveLength(0);
      expect(broker.received).toHaveLength(0);
    },
  );

  it('a connection that ends inside the header: PROXY_HEADER_INCOMPLETE', async () => {
    await setUp();
    const client = await connectClient(tap.port());
    client.end(Buffer.from('PROXY TCP4 192.0.2.1'));
    const failure = await tap.sink.waitFor((r) => r.record.event === 'handshake-failed');
    expect(failure.record).toMatchObject({
      code: 'PROXY_HEADER_INCOMPLETE',
      received: expect.stringMatching(/^50 52/),
    });
    expect(String(failure.record.error)).toMatch(/ended before a complete PROXY header .*after 20 bytes/);
    expect(broker.received).toHaveLength(0);
  });

  it('shutdown does not wait for a client still sending its header', async () => {
    await setUp();
    const client = await connectClient(tap.port());
    cleanups.push(() => client.destroy());
    client.write('PROXY ');
    await new Promise((r) => setTimeout(r, 20));
    await tap.close();
    await whenClosed(client);
    expect(tap.sink.events('handshake-failed')).toHaveLength(0);
  });
});

describe('a PROXY header on a listener without --accept-proxy-protocol', () => {
  it('is forwarded as it is (the broker decides) and named, with the flag that takes it', async () => {
    const broker = await recorder(false);
    const tap = await harness({
      listen: [{ host: '127.0.0.1', port: 0 }],
      upstream: { host: '127.0.0.1', port: broker.server.port },
    });
    const client = await connectClient(tap.port());
    cleanups.push(() => client.destroy());
    client.write(Buffer.concat([V2_HEADER, CONNECT]));
    const notMqtt = await tap.sink.waitFor((r) => r.record.event === 'not-mqtt');
    expect(notMqtt.record).toMatchObject({
      looksLike: 'proxy-v2',
      hint: expect.stringContaining('--accept-proxy-protocol'),
    });
    await waitUntil(() => broker.bytes(0).length === V2_HEADER.length + CONNECT.length);
    expect(broker.bytes(0)).toEqual(Buffer.concat([V2_HEADER, CONNECT]));
  });
});

describe('a PROXY header that never completes', () => {
  it("is PROXY_HEADER_TIMEOUT after the gate's time, with what came", async () => {
    const failures: ProxyHeaderFailure[] = [];
    const server = net.createServer(() => {
      throw new Error('handed over without a header');
    });
    requireProxyHeaders(server, (_raw, f) => failures.push(f), 50);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise((r) => server.close(r)));
    const client = await connectClient((server.address() as net.AddressInfo).port);
    client.write('PROXY TCP4');
    await whenClosed(client);
    expect(failures).toEqual([
      {
        code: 'PROXY_HEADER_TIMEOUT',
        message: expect.stringMatching(/no complete PROXY header within 0.05 s/),
        received: Buffer.from('PROXY TCP4'),
      },
    ]);
  });
});

describe('PROXY protocol with TLS and WebSocket listeners', () => {
  let certs: TestCerts;
  beforeAll(() => {
    certs = generateCerts();
  });
  afterAll(() => certs?.remove());

  it('TLS: the header on the raw connection, then the handshake; the tls and proxied fields both set', async () => {
    const broker = await recorder();
    const tap = await harness({
      listen: [{ host: '127.0.0.1', port: 0, transport: 'tls', acceptProxyProtocol: true }],
      upstream: { host: '127.0.0.1', port: broker.server.port },
      tls: { cert: certs.read(certs.server), key: certs.read(certs.serverKey) },
    });
    const raw = net.connect({ host: '127.0.0.1', port: tap.port() });
    raw.write(V2_HEADER);
    const client = tls.connect({ socket: raw, ca: certs.read(certs.ca), servername: 'localhost' });
    cleanups.push(() => client.destroy());
    await new Promise<void>((resolve, reject) => {
      client.once('secureConnect', resolve);
      client.once('error', reject);
    });
    client.write(CONNECT);
    expect(await readBytes(client, CONNACK.length)).toEqual(CONNACK);
    const open = await tap.open(0);
    expect(open.client).toBe('192.0.2.10:50000');
    expect(open.proxied).toMatchObject({ version: 2, via: `127.0.0.1:${raw.localPort}` });
    expect(open.tls).toMatchObject({ protocol: expect.stringMatching(/^TLS/) });
    expect(broker.bytes(0)).toEqual(CONNECT);
  });

  it('TLS: a ClientHello without a header is PROXY_HEADER_MISSING (16 03 ...)', async () => {
    const broker = await recorder();
    const tap = await harness({
      listen: [{ host: '127.0.0.1', port: 0, transport: 'tls', acceptProxyProtocol: true }],
      upstream: { host: '127.0.0.1', port: broker.server.port },
      tls: { cert: certs.read(certs.server), key: certs.read(certs.serverKey) },
    });
    const client = tls.connect({ host: '127.0.0.1', port: tap.port(), ca: certs.read(certs.ca) });
    client.on('error', () => {});
    cleanups.push(() => client.destroy());
    const failure = await tap.sink.waitFor((r) => r.record.event === 'handshake-failed');
    expect(failure.record).toMatchObject({ code: 'PROXY_HEADER_MISSING', transport: 'tls' });
    expect(String(failure.record.received)).toMatch(/^16 03/);
    expect(broker.received).toHaveLength(0);
  });

  it('WebSocket: the header before the HTTP upgrade', async () => {
    const broker = await recorder();
    const tap = await harness({
      listen: [{ host: '127.0.0.1', port: 0, transport: 'ws', path: '/mqtt', acceptProxyProtocol: true }],
      upstream: { host: '127.0.0.1', port: broker.server.port },
    });
    let rawPort = 0;
    const ws = new WebSocket(`ws://127.0.0.1:${tap.port()}/mqtt`, ['mqtt'], {
      createConnection: () => {
        const raw = net.connect({ host: '127.0.0.1', port: tap.port() });
        raw.once('connect', () => {
          rawPort = raw.localPort ?? 0;
        });
        raw.write(V1_HEADER);
        return raw;
      },
    });
    cleanups.push(() => ws.terminate());
    const answered = new Promise<Buffer>((resolve) => ws.once('message', (d) => resolve(d as Buffer)));
    await new Promise<void>((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    ws.send(CONNECT);
    expect(await answered).toEqual(CONNACK);
    const open = await tap.open(0);
    expect(open.client).toBe('[2001:db8::10]:50001');
    expect(open.proxied).toMatchObject({ version: 1, via: `127.0.0.1:${rawPort}` });
    expect(open.websocket).toMatchObject({ path: '/mqtt', protocol: 'mqtt' });
    expect(broker.bytes(0)).toEqual(CONNECT);
  });
});

describe('sending the PROXY protocol upstream', () => {
  it.each([1, 2] as const)(
    'v%i on TCP: the client and the listener it reached, then the bytes unchanged',
    async (version) => {
      const broker = await recorder();
      const tap = await harness({
        listen: [{ host: '127.0.0.1', port: 0 }],
        upstream: { host: '127.0.0.1', port: broker.server.port },
        upstreamProxyProtocol: version,
      });
      const client = await connectClient(tap.port());
      cleanups.push(() => client.destroy());
      client.write(CONNECT);
      expect(await readBytes(client, CONNACK.length)).toEqual(CONNACK);
      await waitUntil(() => broker.bytes(0).length >= CONNECT.length + 16);
      const expected = encodeProxyHeader(
        version,
        { address: '127.0.0.1', port: client.localPort! },
        { address: '127.0.0.1', port: tap.port() },
      );
      expect(broker.bytes(0)).toEqual(Buffer.concat([expected, CONNECT]));
      if (version === 1) {
        expect(expected.toString()).toBe(
          `PROXY TCP4 127.0.0.1 127.0.0.1 ${client.localPort} ${tap.port()}\r\n`,
        );
      }
      // The header is ours, not the client's: not counted, not decoded.
      client.end();
      const open = await tap.open(0);
      const close = await tap.closed(String(open.conn));
      expect(close.bytes).toEqual({ fromClient: CONNECT.length, fromBroker: CONNACK.length });
    },
  );

  it('a client accepted through a header is sent on with the address that header named', async () => {
    const broker = await recorder();
    const tap = await harness({
      listen: [{ host: '127.0.0.1', port: 0, acceptProxyProtocol: true }],
      upstream: { host: '127.0.0.1', port: broker.server.port },
      upstreamProxyProtocol: 2,
    });
    const client = await connectClient(tap.port());
    cleanups.push(() => client.destroy());
    client.write(Buffer.concat([V2_HEADER, CONNECT]));
    await readBytes(client, CONNACK.length);
    await waitUntil(() => broker.bytes(0).length >= V2_HEADER.length + CONNECT.length);
    // The same header byte for byte: the same client, the same destination, no TLVs.
    expect(broker.bytes(0)).toEqual(Buffer.concat([V2_HEADER, CONNECT]));
  });

  it('TLS: the header before the handshake, read by a PROXY-accepting TLS listener', async () => {
    const certs = generateCerts();
    cleanups.push(() => certs.remove());
    const broker = await recorder();
    const inner = await harness({
      listen: [{ host: '127.0.0.1', port: 0, transport: 'tls', acceptProxyProtocol: true }],
      upstream: { host: '127.0.0.1', port: broker.server.port },
      tls: { cert: certs.read(certs.server), key: certs.read(certs.serverKey) },
    });
    const outer = await harness({
      listen: [{ host: '127.0.0.1', port: 0 }],
      upstream: { host: '127.0.0.1', port: inner.port(), transport: 'tls' },
      upstreamTls: { ca: certs.read(certs.ca), servername: 'localhost' },
      upstreamProxyProtocol: 1,
    });
    const client = await connectClient(outer.port());
    cleanups.push(() => client.destroy());
    client.write(CONNECT);
    expect(await readBytes(client, CONNACK.length)).toEqual(CONNACK);
    const open = await inner.open(0);
    expect(open.client).toBe(`127.0.0.1:${client.localPort}`);
    expect(open.proxied).toMatchObject({ version: 1, destination: `127.0.0.1:${outer.port()}` });
    expect(broker.bytes(0)).toEqual(CONNECT);
  });

  it('TLS: a broker that refuses the connection is an upstream-error record as without the header', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    const tap = await harness({
      listen: [{ host: '127.0.0.1', port: 0 }],
      upstream: { host: '127.0.0.1', port, transport: 'tls' },
      upstreamTls: { insecure: true },
      upstreamProxyProtocol: 2,
    });
    const client = await connectClient(tap.port());
    client.on('error', () => {});
    client.write(CONNECT);
    const failure = await tap.sink.waitFor((r) => r.record.event === 'upstream-error');
    expect(failure.record.code).toBe('ECONNREFUSED');
    await whenClosed(client);
  });

  it('a WebSocket upstream is refused at start: the header has no place there', async () => {
    await expect(
      tapProxy({
        listen: [{ host: '127.0.0.1', port: 0 }],
        upstream: { host: '127.0.0.1', port: 1, transport: 'ws' },
        upstreamProxyProtocol: 2,
      }),
    ).rejects.toThrow(/TCP and TLS upstreams, not ws:/);
  });
});
