/**
 * WebSocket limits and endings with real peers: a message over the limit closes that connection
 * with 1009 and a close record saying why (client side and ws:// upstream side); bytes that arrive
 * after a close frame went the other way are neither counted nor shown as forwarded.
 */
import * as http from 'node:http';
import type * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { type RawData, WebSocket, WebSocketServer } from 'ws';
import { DEFAULT_WS_MAX_MESSAGE, defaultWsMaxMessage, WS_MAX_MESSAGE_LIMIT } from '../../src/proxy/limits.js';
import { connect, publish } from '../helpers/packets.js';
import { connectClient, plainServer, waitUntil, whenClosed } from '../proxy/harness.js';
import { type TapHarness, tapProxy } from './helpers/tap-harness.js';

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

const wsListen = [{ host: '127.0.0.1', port: 0, transport: 'ws' as const, path: '/mqtt' }];

async function harness(options: Parameters<typeof tapProxy>[0]): Promise<TapHarness> {
  const tap = await tapProxy(options);
  cleanups.push(() => tap.close());
  return tap;
}

async function broker(onSocket: (s: net.Socket) => void = () => {}, allowHalfOpen = false) {
  const srv = await plainServer(onSocket, allowHalfOpen);
  cleanups.push(() => srv.close());
  return srv;
}

async function wsClient(url: string): Promise<{ ws: WebSocket; closed: Promise<number> }> {
  const ws = new WebSocket(url, ['mqtt'], { perMessageDeflate: false });
  ws.on('error', () => {});
  cleanups.push(() => ws.terminate());
  const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('unexpected-response', () => reject(new Error('upgrade refused')));
  });
  return { ws, closed };
}

/** A ws server standing in for a broker's WebSocket endpoint. */
async function wsBroker(): Promise<{
  port: number;
  nth: (n: number) => Promise<WebSocket>;
  got: () => number;
}> {
  const server = http.createServer();
  const wss = new WebSocketServer({ server, perMessageDeflate: false });
  const sockets: WebSocket[] = [];
  let got = 0;
  wss.on('connection', (ws) => {
    sockets.push(ws);
    ws.on('message', (d: RawData) => (got += (d as Buffer).length));
    ws.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(
    () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.terminate();
        wss.close();
        server.close(() => r());
      }),
  );
  return {
    port: (server.address() as net.AddressInfo).port,
    nth: async (n) => {
      await waitUntil(() => sockets.length > n, 5000, `ws broker connection ${n}`);
      return sockets[n]!;
    },
    got: () => got,
  };
}

describe('--ws-max-message: a larger message closes that connection with 1009 and a record', () => {
  it('defaults: --capture-max + 4 MiB, within the largest MQTT packet', () => {
    expect(DEFAULT_WS_MAX_MESSAGE).toBe(64 * 1024 + 4 * 1024 * 1024);
    expect(defaultWsMaxMessage(1000)).toBe(1000 + 4 * 1024 * 1024);
    expect(defaultWsMaxMessage(256 * 1024 * 1024)).toBe(WS_MAX_MESSAGE_LIMIT);
  });

  it('from a client: a message of the limit passes, one byte more gets 1009; the broker never sees it', async () => {
    let brokerGot = 0;
    const srv = await broker((s) => s.on('data', (c: Buffer) => (brokerGot += c.length)));
    const tap = await harness({
      listen: wsListen,
      upstream: { host: '127.0.0.1', port: srv.port },
      wsMaxMessage: 64 * 1024,
    });
    const client = await wsClient(`ws://127.0.0.1:${tap.port()}/mqtt`);
    client.ws.send(Buffer.alloc(64 * 1024, 0x30));
    await waitUntil(() => brokerGot === 64 * 1024, 5000, 'the message at the limit');
    client.ws.send(Buffer.alloc(64 * 1024 + 1, 0x30));
    expect(await client.closed).toBe(1009);
    const close = await tap.closed(String((await tap.open(0)).conn));
    expect(close).toMatchObject({
      closedBy: 'client',
      error: {
        side: 'client',
        code: 'WS_MESSAGE_TOO_BIG',
        message: expect.stringMatching(/over 65536 bytes \(--ws-max-message\).*1009/),
      },
      bytes: { fromClient: 64 * 1024, fromBroker: 0 },
    });
    expect(brokerGot).toBe(64 * 1024);
  });

  it('the default applies without the option: a message one byte over it gets 1009', async () => {
    const srv = await broker();
    const tap = await harness({ listen: wsListen, upstream: { host: '127.0.0.1', port: srv.port } });
    const client = await wsClient(`ws://127.0.0.1:${tap.port()}/mqtt`);
    client.ws.send(Buffer.alloc(DEFAULT_WS_MAX_MESSAGE + 1));
    expect(await client.closed).toBe(1009);
    const close = await tap.closed(String((await tap.open(0)).conn));
    expect(close).toMatchObject({ error: { side: 'client', code: 'WS_MESSAGE_TOO_BIG' } });
  });

  it('from a ws:// broker: 1009 to the broker, the TCP client closed, the record names the broker side', async () => {
    const wb = await wsBroker();
    const tap = await harness({
      listen: [{ host: '127.0.0.1', port: 0 }],
      upstream: { host: '127.0.0.1', port: wb.port, transport: 'ws', path: '/mqtt' },
      wsMaxMessage: 1024,
    });
    const client = await connectClient(tap.port());
    client.on('error', () => {});
    const ws = await wb.nth(0);
    const brokerClosed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
    ws.send(Buffer.alloc(1025, 0x30));
    expect(await brokerClosed).toBe(1009);
    await whenClosed(client);
    const close = await tap.closed(String((await tap.open(0)).conn));
    expect(close).toMatchObject({
      closedBy: 'broker',
      error: {
        side: 'broker',
        code: 'WS_MESSAGE_TOO_BIG',
        message: expect.stringContaining('over 1024 bytes'),
      },
      bytes: { fromBroker: 0 },
    });
  });
});

describe('bytes after a close frame are not counted or shown as forwarded', () => {
  it("a ws client's close frame: the broker's answer after it is dropped, and the close record says so", async () => {
    const connack = Buffer.from('20020000', 'hex');
    const srv = await broker((s) => {
      // A broker that answers the client's FIN, as some do with a last packet.
      s.resume();
      s.on('end', () => s.end(connack));
    }, true);
    const tap = await harness({ listen: wsListen, upstream: { host: '127.0.0.1', port: srv.port } });
    const client = await wsClient(`ws://127.0.0.1:${tap.port()}/mqtt`);
    const c = connect({ version: '3.1.1', clientId: 'closing' });
    client.ws.send(c);
    await waitUntil(() => srv.sockets.size === 1, 5000, 'upstream');
    client.ws.close(1000);
    const conn = String((await tap.open(0)).conn);
    const close = await tap.closed(conn);
    expect(close).toMatchObject({
      closedBy: 'client',
      bytes: { fromClient: c.length, fromBroker: 0 },
      notForwarded: { fromClient: 0, fromBroker: connack.length },
    });
    expect(tap.packets(conn).filter((p) => p.from === 'broker')).toEqual([]);
  });

  it("a ws:// broker's close frame: what the TCP client sends after it is dropped, not counted", async () => {
    const wb = await wsBroker();
    const tap = await harness({
      listen: [{ host: '127.0.0.1', port: 0 }],
      upstream: { host: '127.0.0.1', port: wb.port, transport: 'ws', path: '/mqtt' },
    });
    const client = await connectClient(tap.port(), true);
    client.on('error', () => {});
    const c = connect({ version: '3.1.1', clientId: 'late' });
    client.write(c);
    await waitUntil(() => wb.got() === c.length, 5000, 'CONNECT at the ws broker');
    const ws = await wb.nth(0);
    const ended = new Promise<void>((r) => client.once('end', () => r()));
    ws.close(1000);
    await ended;
    // Half-open: the client still writes after the broker's end reached it.
    const late = publish({ version: '3.1.1', topic: 'late', payload: Buffer.from('never forwarded') });
    client.end(late);
    const conn = String((await tap.open(0)).conn);
    const close = await tap.closed(conn);
    expect(close).toMatchObject({
      closedBy: 'broker',
      bytes: { fromClient: c.length, fromBroker: 0 },
      notForwarded: { fromClient: late.length, fromBroker: 0 },
    });
    expect(tap.packets(conn).map((p) => p.type)).toEqual(['CONNECT']);
    expect(wb.got()).toBe(c.length);
  });

  it('a clean WebSocket close with nothing late: no notForwarded field', async () => {
    const srv = await broker();
    const tap = await harness({ listen: wsListen, upstream: { host: '127.0.0.1', port: srv.port } });
    const client = await wsClient(`ws://127.0.0.1:${tap.port()}/mqtt`);
    await waitUntil(() => srv.sockets.size === 1, 5000, 'upstream');
    client.ws.close(1000);
    const close = await tap.closed(String((await tap.open(0)).conn));
    expect(close).not.toHaveProperty('notForwarded');
  });
});
