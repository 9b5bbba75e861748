/**
 * Writes to TLS connections go out a record at a time (src/proxy/tls-writes.ts): Node's TLS socket
 * keeps, for the life of the connection, a buffer as large as the largest single write. Checked on
 * real sockets through the proxy, both directions, on mqtts:// and wss:// listeners and upstreams:
 * every write to a TLS socket is at most 16 KiB, the bytes arrive unchanged and in order, and an
 * end after a large chunk still delivers all of it first.
 */
import { createHash, randomBytes } from 'node:crypto';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import type { RunningProxy } from '../../src/proxy/server.js';
import { SliceQueue, TLS_WRITE_SLICE } from '../../src/proxy/tls-writes.js';
import { generateCerts, type TestCerts } from './helpers/certs.js';
import { tapProxy } from './helpers/tap-harness.js';

let certs: TestCerts;
const started: { close(): unknown }[] = [];

beforeAll(() => {
  certs = generateCerts();
});
afterAll(() => certs?.remove());
afterEach(async () => {
  for (const s of started.splice(0)) await s.close();
  writes.length = 0;
});

/**
 * What each TLS socket of the test handed to its handle per write (a writev's chunks together: the
 * handle encrypts them as one write). net.Socket's _writeGeneric is that one step for every socket.
 */
const writes: { socket: tls.TLSSocket; remotePort: number | undefined; bytes: number }[] = [];
type WriteGeneric = (writev: boolean, data: unknown, encoding: string, cb: () => void) => unknown;
const socketProto = net.Socket.prototype as unknown as { _writeGeneric: WriteGeneric };
const originalWriteGeneric = socketProto._writeGeneric;
beforeAll(() => {
  socketProto._writeGeneric = function (this: net.Socket, writev, data, encoding, cb) {
    if ((this as tls.TLSSocket).encrypted === true) {
      const bytes = writev
        ? (data as { chunk: Buffer }[]).reduce((n, d) => n + d.chunk.length, 0)
        : (data as Buffer).length;
      writes.push({ socket: this as tls.TLSSocket, remotePort: this.remotePort, bytes });
    }
    return originalWriteGeneric.call(this, writev, data, encoding, cb);
  };
});
afterAll(() => {
  socketProto._writeGeneric = originalWriteGeneric;
});

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** A TCP or TLS "broker" that sends `toClient` in one write and ends, and keeps what it reads. */
async function scriptedBroker(
  toClient: Buffer,
  secure: boolean,
): Promise<{ port: number; received: Promise<Buffer> }> {
  let resolveReceived!: (b: Buffer) => void;
  const received = new Promise<Buffer>((r) => {
    resolveReceived = r;
  });
  const onSocket = (socket: net.Socket): void => {
    const parts: Buffer[] = [];
    socket.on('data', (c: Buffer) => parts.push(c));
    socket.on('end', () => resolveReceived(Buffer.concat(parts)));
    socket.on('error', () => {});
    socket.end(toClient);
  };
  const server = secure
    ? tls.createServer(
        { cert: certs.read(certs.server), key: certs.read(certs.serverKey), allowHalfOpen: true },
        onSocket,
      )
    : net.createServer({ allowHalfOpen: true }, onSocket);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  started.push({ close: () => new Promise((r) => server.close(r)) });
  return { port: (server.address() as net.AddressInfo).port, received };
}

/** The real proxy and tap. */
async function proxy(options: Parameters<typeof tapProxy>[0]): Promise<RunningProxy> {
  const h = await tapProxy(options);
  started.push(h);
  return h.proxy;
}

/** Reads a socket to its end. */
function readAll(socket: net.Socket): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    socket.on('data', (c: Buffer) => parts.push(c));
    socket.on('end', () => resolve(Buffer.concat(parts)));
    socket.on('error', reject);
  });
}

describe('SliceQueue', () => {
  it('sends in order, a slice at a time, each after the last one called back', async () => {
    const sent: Buffer[] = [];
    let inFlight = 0;
    let idle = 0;
    const q = new SliceQueue(
      4,
      (part, done) => {
        expect(inFlight).toBe(0);
        inFlight++;
        sent.push(Buffer.from(part));
        setImmediate(() => {
          inFlight--;
          done();
        });
      },
      () => idle++,
    );
    q.push(Buffer.from('abcdefghij'));
    q.push(Buffer.from('kl'));
    expect(q.busy).toBe(true);
    expect(q.pending).toBe(8);
    while (q.busy) await new Promise((r) => setImmediate(r));
    expect(sent.map(String)).toEqual(['abcd', 'efgh', 'ij', 'kl']);
    expect(idle).toBe(1);
    expect(q.pending).toBe(0);
  });

  it('drops what is queued on a failed send or clear(), and ignores callbacks from before', async () => {
    const dones: ((err?: Error | null) => void)[] = [];
    const q = new SliceQueue(
      2,
      (_part, done) => dones.push(done),
      () => {},
    );
    q.push(Buffer.from('abcdef'));
    q.clear();
    expect(q.busy).toBe(false);
    q.push(Buffer.from('xy'));
    dones[0]!(); // the callback of the send from before clear()
    expect(dones).toHaveLength(2);
    dones[1]!(new Error('EPIPE'));
    expect(q.busy).toBe(false);
  });
});

describe('writes to TLS sockets are at most one record', () => {
  const big = randomBytes(200 * 1024 + 7);
  const fromClient = randomBytes(150 * 1024 + 3);

  it('mqtts:// listener: 200 KB from the broker reach the client unchanged, then its end', async () => {
    const broker = await scriptedBroker(big, false);
    const p = await proxy({
      listen: [{ host: '127.0.0.1', port: 0, transport: 'tls' }],
      upstream: { host: '127.0.0.1', port: broker.port },
      tls: { cert: certs.read(certs.server), key: certs.read(certs.serverKey) },
    });
    const client = tls.connect({ host: '127.0.0.1', port: p.addresses[0]!.port, rejectUnauthorized: false });
    const got = readAll(client);
    await new Promise((r) => client.once('secureConnect', r));
    client.end(fromClient);
    expect(sha(await got)).toBe(sha(big));
    expect(sha(await broker.received)).toBe(sha(fromClient));
    const proxySide = writes.filter((w) => w.socket !== client);
    expect(proxySide.reduce((n, w) => n + w.bytes, 0)).toBe(big.length);
    expect(Math.max(...proxySide.map((w) => w.bytes))).toBeLessThanOrEqual(TLS_WRITE_SLICE);
  });

  it('mqtts:// upstream: 150 KB from the client reach the broker unchanged, in slices', async () => {
    const broker = await scriptedBroker(big, true);
    const p = await proxy({
      listen: [{ host: '127.0.0.1', port: 0 }],
      upstream: { host: '127.0.0.1', port: broker.port, transport: 'tls' },
      upstreamTls: { insecure: true },
    });
    const client = net.connect({ host: '127.0.0.1', port: p.addresses[0]!.port, allowHalfOpen: true });
    const got = readAll(client);
    client.end(fromClient);
    expect(sha(await got)).toBe(sha(big));
    expect(sha(await broker.received)).toBe(sha(fromClient));
    // The broker's socket is server side: the proxy's upstream socket is the one client-side socket.
    const upstreamSide = writes.filter((w) => w.remotePort === broker.port);
    expect(upstreamSide.reduce((n, w) => n + w.bytes, 0)).toBe(fromClient.length);
    expect(Math.max(...upstreamSide.map((w) => w.bytes))).toBeLessThanOrEqual(TLS_WRITE_SLICE);
  });

  it('wss:// listener: WebSocket messages of at most 16 KiB, the bytes unchanged', async () => {
    const broker = await scriptedBroker(big, false);
    const p = await proxy({
      listen: [{ host: '127.0.0.1', port: 0, transport: 'wss', path: '/mqtt' }],
      upstream: { host: '127.0.0.1', port: broker.port },
      tls: { cert: certs.read(certs.server), key: certs.read(certs.serverKey) },
    });
    const ws = new WebSocket(`wss://127.0.0.1:${p.addresses[0]!.port}/mqtt`, ['mqtt'], {
      rejectUnauthorized: false,
    });
    const messages: Buffer[] = [];
    ws.on('message', (m: Buffer) => messages.push(m));
    await new Promise((r) => ws.once('open', r));
    ws.send(fromClient);
    await new Promise((r) => ws.once('close', r));
    expect(sha(Buffer.concat(messages))).toBe(sha(big));
    expect(Math.max(...messages.map((m) => m.length))).toBeLessThanOrEqual(TLS_WRITE_SLICE);
    expect(sha(await broker.received)).toBe(sha(fromClient));
  });

  it('wss:// upstream: messages to the broker of at most 16 KiB, the bytes unchanged', async () => {
    const server = (await import('node:https')).createServer({
      cert: certs.read(certs.server),
      key: certs.read(certs.serverKey),
    });
    const wss = new WebSocketServer({ server, path: '/mqtt' });
    const messages: Buffer[] = [];
    let resolveDone!: () => void;
    const done = new Promise<void>((r) => {
      resolveDone = r;
    });
    wss.on('connection', (ws) => {
      ws.on('message', (m: Buffer) => {
        messages.push(m);
        if (messages.reduce((n, b) => n + b.length, 0) === fromClient.length) resolveDone();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    started.push({ close: () => new Promise((r) => server.close(r)) });
    started.push({ close: () => new Promise((r) => wss.close(r)) });
    const p = await proxy({
      listen: [{ host: '127.0.0.1', port: 0 }],
      upstream: {
        host: '127.0.0.1',
        port: (server.address() as net.AddressInfo).port,
        transport: 'wss',
        path: '/mqtt',
      },
      upstreamTls: { insecure: true },
    });
    const client = net.connect({ host: '127.0.0.1', port: p.addresses[0]!.port });
    client.on('error', () => {});
    client.write(fromClient);
    await done;
    client.destroy();
    expect(sha(Buffer.concat(messages))).toBe(sha(fromClient));
    expect(Math.max(...messages.map((m) => m.length))).toBeLessThanOrEqual(TLS_WRITE_SLICE);
  });
});
