import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { type RunningProxy, type StartProxyOptions, startProxy } from '../../src/proxy/server.js';
import { freePort } from '../helpers/free-port.js';
import {
  connectClient,
  drainToHash,
  type PlainServer,
  plainServer,
  RecordingObserver,
  sha256,
  sleep,
  waitUntil,
  whenClosed,
  writeAll,
} from './harness.js';

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

async function proxyTo(
  port: number,
  observer = new RecordingObserver(),
  extra: Partial<StartProxyOptions> = {},
): Promise<{ proxy: RunningProxy; observer: RecordingObserver; port: number }> {
  const proxy = await startProxy({
    listen: [{ host: '127.0.0.1', port: 0 }],
    upstream: { host: '127.0.0.1', port },
    observer,
    ...extra,
  });
  cleanups.push(() => proxy.close(0));
  return { proxy, observer, port: proxy.addresses[0]!.port };
}

async function server(onSocket: (s: net.Socket) => void, allowHalfOpen = false): Promise<PlainServer> {
  const srv = await plainServer(onSocket, allowHalfOpen);
  cleanups.push(() => srv.close());
  return srv;
}

function collect(socket: net.Socket): { text: () => string; ended: Promise<void> } {
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  const ended = new Promise<void>((resolve) => socket.once('end', () => resolve()));
  return { text: () => Buffer.concat(chunks).toString('latin1'), ended };
}

describe('startProxy: connection lifecycle', () => {
  it('reports open with short unique ids, the client and local endpoints and the upstream', async () => {
    const srv = await server(() => {});
    const { proxy, observer, port } = await proxyTo(srv.port);
    const a = await connectClient(port);
    const b = await connectClient(port);
    const [ca, cb] = [await observer.nth(0), await observer.nth(1)];
    expect(ca.info.conn).toMatch(/^c\d+$/);
    expect(cb.info.conn).toMatch(/^c\d+$/);
    expect(ca.info.conn).not.toBe(cb.info.conn);
    expect(ca.info).toMatchObject({
      client: { address: '127.0.0.1', port: a.localPort },
      local: { address: '127.0.0.1', port },
      upstream: `127.0.0.1:${srv.port}`,
      transport: 'tcp',
    });
    await waitUntil(() => ca.connectedInfo !== undefined && cb.connectedInfo !== undefined);
    expect(ca.connectedInfo?.upstreamLocal?.address).toBe('127.0.0.1');
    expect(proxy.connections().map((c) => c.state)).toEqual(['open', 'open']);
    a.destroy();
    b.destroy();
    await Promise.all([ca.closed, cb.closed]);
    expect(ca.closeCount).toBe(1);
  });

  it("ends the broker's side once when the client half-closes and then closes", async () => {
    // A second end() on a finished socket builds an ERR_STREAM_ALREADY_FINISHED error, stack and all.
    const srv = await server((s) => {
      s.on('data', () => {});
      s.on('end', () => s.end());
    }, true);
    let ends = 0;
    const { observer, port } = await proxyTo(srv.port, new RecordingObserver(), {
      dial: (target) => {
        const socket = new net.Socket({ allowHalfOpen: true });
        const end = socket.end.bind(socket);
        socket.end = ((...args: Parameters<net.Socket['end']>) => {
          ends++;
          return end(...args);
        }) as net.Socket['end'];
        return socket.connect(target.port, target.host);
      },
    });
    const client = await connectClient(port);
    const conn = await observer.nth(0);
    await waitUntil(() => conn.connectedInfo !== undefined);
    client.end('bye');
    client.resume();
    await conn.closed;
    expect(conn.bytes.client).toBe(3);
    expect(ends).toBe(1);
  });

  it('listens on several addresses at once', async () => {
    const srv = await server((s) => s.pipe(s));
    const proxy = await startProxy({
      listen: [
        { host: '127.0.0.1', port: 0 },
        { host: '127.0.0.1', port: 0 },
      ],
      upstream: { host: '127.0.0.1', port: srv.port },
      observer: new RecordingObserver(),
    });
    cleanups.push(() => proxy.close(0));
    expect(proxy.addresses).toHaveLength(2);
    for (const addr of proxy.addresses) {
      const c = await connectClient(addr.port);
      const got = collect(c);
      c.end('ping');
      await got.ended;
      expect(got.text()).toBe('ping');
    }
  });

  it('refuses to start on a port already taken, naming it', async () => {
    const taken = net.createServer();
    await new Promise<void>((r) => taken.listen({ host: '127.0.0.1', port: 0 }, r));
    cleanups.push(() => new Promise((r) => taken.close(r)));
    const port = (taken.address() as net.AddressInfo).port;
    await expect(
      startProxy({
        listen: [{ host: '127.0.0.1', port }],
        upstream: { host: '127.0.0.1', port: 1 },
        observer: new RecordingObserver(),
      }),
    ).rejects.toThrow(`cannot listen on 127.0.0.1:${port}`);
  });
});

describe('startProxy: half-close and who closed first', () => {
  it('client FIN reaches the broker, which can still answer; closedBy client', async () => {
    const srv = await server((s) => {
      const got: Buffer[] = [];
      s.on('data', (c: Buffer) => got.push(c));
      s.on('end', () => s.end(`got ${Buffer.concat(got).toString()}`));
    }, true);
    const { observer, port } = await proxyTo(srv.port);
    const client = await connectClient(port, true);
    const answer = collect(client);
    client.end('hello');
    await answer.ended;
    expect(answer.text()).toBe('got hello');
    const info = await (await observer.nth(0)).closed;
    expect(info).toMatchObject({ closedBy: 'client', bytes: { fromClient: 5, fromBroker: 9 } });
    expect(info.error).toBeUndefined();
  });

  it('broker FIN reaches the client, which can still send; closedBy broker', async () => {
    let brokerGot!: Promise<string>;
    const srv = await server((s) => {
      const got = collect(s);
      brokerGot = got.ended.then(() => got.text());
      s.end('bye');
    }, true);
    const { observer, port } = await proxyTo(srv.port);
    const client = await connectClient(port, true);
    const fromBroker = collect(client);
    await fromBroker.ended;
    expect(fromBroker.text()).toBe('bye');
    client.end('still here');
    await whenClosed(client);
    const info = await (await observer.nth(0)).closed;
    expect(await brokerGot).toBe('still here');
    expect(info).toMatchObject({ closedBy: 'broker', bytes: { fromClient: 10, fromBroker: 3 } });
  });

  it('a reset on the client side destroys the broker side and records the error', async () => {
    let brokerSocket: net.Socket | undefined;
    const srv = await server((s) => {
      brokerSocket = s;
    });
    const { observer, port } = await proxyTo(srv.port);
    const client = await connectClient(port);
    const conn = await observer.nth(0);
    await waitUntil(() => brokerSocket !== undefined && conn.connectedInfo !== undefined);
    client.resetAndDestroy();
    const info = await conn.closed;
    expect(info.closedBy).toBe('client');
    expect(info.error).toMatchObject({ side: 'client', code: 'ECONNRESET' });
    await whenClosed(brokerSocket!);
  });

  it('a reset on the broker side closes the client; closedBy broker', async () => {
    const srv = await server((s) => {
      s.once('data', () => s.resetAndDestroy());
    });
    const { observer, port } = await proxyTo(srv.port);
    const client = await connectClient(port);
    client.on('error', () => {});
    client.write('x');
    await whenClosed(client);
    const info = await (await observer.nth(0)).closed;
    expect(info.closedBy).toBe('broker');
    expect(info.error).toMatchObject({ side: 'broker', code: 'ECONNRESET' });
  });
});

describe('startProxy: upstream failures', () => {
  it('broker down: upstreamError with the OS code, the client sees the close, nothing observed', async () => {
    const deadPort = await freePort();
    const { observer, port } = await proxyTo(deadPort);
    const client = await connectClient(port);
    client.on('error', () => {});
    client.write(Buffer.from('101000044d5154540402003c0004746573', 'hex'));
    await whenClosed(client);
    const conn = await observer.nth(0);
    const info = await conn.closed;
    expect(conn.upstreamErrors).toEqual([
      {
        upstream: `127.0.0.1:${deadPort}`,
        code: 'ECONNREFUSED',
        message: expect.stringContaining('ECONNREFUSED'),
      },
    ]);
    expect(conn.events).toEqual(['upstreamError', 'close']);
    expect(info).toMatchObject({
      closedBy: 'broker',
      error: { side: 'broker', code: 'ECONNREFUSED' },
      bytes: { fromClient: 0, fromBroker: 0 },
    });
  });

  it('a broker that never answers the dial: ETIMEDOUT after connectTimeoutMs', async () => {
    const { observer, port } = await proxyTo(1, new RecordingObserver(), {
      connectTimeoutMs: 100,
      // A socket that is never connected: the dial hangs as with a black-holed address.
      dial: () => new net.Socket({ allowHalfOpen: true }),
    });
    const client = await connectClient(port);
    client.on('error', () => {});
    const t0 = Date.now();
    await whenClosed(client);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(90);
    const conn = await observer.nth(0);
    expect(conn.upstreamErrors[0]).toMatchObject({ code: 'ETIMEDOUT', upstream: '127.0.0.1:1' });
    expect((await conn.closed).closedBy).toBe('broker');
  });

  it('client bytes sent before the broker connects are held (bounded, client paused) then forwarded', async () => {
    let resolveReceived!: (got: { sha: string; bytes: number }) => void;
    const received = new Promise<{ sha: string; bytes: number }>((r) => {
      resolveReceived = r;
    });
    const srv = await server((s) => {
      void drainToHash(s).then(resolveReceived);
    });
    let connectNow!: () => void;
    const dialled = new Promise<void>((r) => {
      connectNow = r;
    });
    const { proxy, observer, port } = await proxyTo(srv.port, new RecordingObserver(), {
      pendingLimit: 64 * 1024,
      dial: (target) => {
        const socket = new net.Socket({ allowHalfOpen: true });
        void dialled.then(() => socket.connect(target.port, target.host));
        return socket;
      },
    });
    const client = await connectClient(port);
    const payload = Buffer.alloc(4 * 1024 * 1024);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 7919) & 0xff;
    const writing = writeAll(client, [payload]).then(() => client.end());
    await sleep(100);
    const [held] = proxy.connections();
    expect(held?.state).toBe('connecting');
    // The limit plus at most one socket read beyond it.
    expect(held?.pending).toBeGreaterThan(0);
    expect(held?.pending).toBeLessThanOrEqual(64 * 1024 + 64 * 1024);
    const conn = await observer.nth(0);
    expect(conn.bytes.client).toBe(0);
    connectNow();
    await writing;
    const got = await received;
    expect(got).toEqual({ sha: sha256(payload), bytes: payload.length });
    await conn.closed;
    expect(conn.events[0]).toBe('upstreamConnected');
    expect(conn.digest('client')).toBe(sha256(payload));
  });

  function delayedDial(): { dial: StartProxyOptions['dial']; connectNow: () => void } {
    let connectNow!: () => void;
    const dialled = new Promise<void>((r) => {
      connectNow = r;
    });
    return {
      connectNow,
      dial: (target) => {
        const socket = new net.Socket({ allowHalfOpen: true });
        void dialled.then(() => {
          if (!socket.destroyed) socket.connect(target.port, target.host);
        });
        return socket;
      },
    };
  }

  it('a client that resets while the broker is being dialled: dial abandoned, closedBy client', async () => {
    const { dial, connectNow } = delayedDial();
    const srv = await server(() => {});
    const { observer, port } = await proxyTo(srv.port, new RecordingObserver(), { dial });
    const client = await connectClient(port);
    const conn = await observer.nth(0);
    client.resetAndDestroy();
    const info = await conn.closed;
    connectNow();
    expect(info).toMatchObject({ closedBy: 'client', error: { side: 'client', code: 'ECONNRESET' } });
    expect(conn.upstreamErrors).toEqual([]);
    expect(conn.events).toEqual(['close']);
  });

  it('data and FIN sent while the broker is being dialled are both delivered once it connects', async () => {
    const { dial, connectNow } = delayedDial();
    let brokerGot!: Promise<string>;
    const srv = await server((s) => {
      const got = collect(s);
      brokerGot = got.ended.then(() => got.text());
    });
    const { observer, port } = await proxyTo(srv.port, new RecordingObserver(), { dial });
    const client = await connectClient(port, true);
    client.end('early');
    const conn = await observer.nth(0);
    await sleep(50);
    expect(conn.bytes.client).toBe(0);
    connectNow();
    await waitUntil(() => brokerGot !== undefined);
    expect(await brokerGot).toBe('early');
    expect(await conn.closed).toMatchObject({ closedBy: 'client', bytes: { fromClient: 5 } });
  });
});

describe('startProxy: backpressure keeps the proxy buffers bounded', () => {
  const TOTAL = 24 * 1024 * 1024;
  const BOUND = 256 * 1024;

  it('client → slow broker: the proxy stops reading the client', async () => {
    let brokerSide: net.Socket | undefined;
    const srv = await server((s) => {
      brokerSide = s;
      s.pause();
    });
    const { proxy, port } = await proxyTo(srv.port);
    const client = await connectClient(port);
    const chunk = Buffer.alloc(64 * 1024, 0xab);
    const chunks = Array.from({ length: TOTAL / chunk.length }, () => chunk);
    const writing = writeAll(client, chunks).then(() => client.end());
    await waitUntil(() => brokerSide !== undefined);
    // Let every buffer along the way fill up, then look at the proxy's share.
    let before = -1;
    for (;;) {
      await sleep(50);
      const now = proxy.connections()[0]!.bytes.fromClient;
      if (now === before) break;
      before = now;
    }
    const stalled = proxy.connections()[0]!;
    expect(stalled.bytes.fromClient).toBeLessThan(TOTAL);
    expect(stalled.buffered.toBroker).toBeLessThanOrEqual(BOUND);
    const got = drainToHash(brokerSide!);
    brokerSide!.resume();
    await writing;
    expect((await got).bytes).toBe(TOTAL);
  });

  it('broker → slow client: the proxy stops reading the broker', async () => {
    const chunk = Buffer.alloc(64 * 1024, 0xcd);
    const srv = await server((s) => {
      void writeAll(
        s,
        Array.from({ length: TOTAL / chunk.length }, () => chunk),
      ).then(() => s.end());
    });
    const { proxy, port } = await proxyTo(srv.port);
    const client = await connectClient(port);
    client.pause();
    await waitUntil(() => proxy.connections().length === 1);
    let before = -1;
    for (;;) {
      await sleep(50);
      const now = proxy.connections()[0]!.bytes.fromBroker;
      if (now === before) break;
      before = now;
    }
    const stalled = proxy.connections()[0]!;
    expect(stalled.bytes.fromBroker).toBeLessThan(TOTAL);
    expect(stalled.buffered.toClient).toBeLessThanOrEqual(BOUND);
    const got = drainToHash(client);
    client.resume();
    expect((await got).bytes).toBe(TOTAL);
  });
});

describe('startProxy: the observer can never affect forwarding', () => {
  it('an observer that throws everywhere: bytes still flow exactly, reported once per connection', async () => {
    const srv = await server((s) => s.pipe(s));
    const errors: Array<{ err: unknown; conn?: string; where: string }> = [];
    const throwing = {
      open() {
        return {
          data() {
            throw new Error('data boom');
          },
          upstreamConnected() {
            throw new Error('connected boom');
          },
          upstreamError() {
            throw new Error('error boom');
          },
          close() {
            throw new Error('close boom');
          },
        };
      },
    };
    const proxy = await startProxy({
      listen: [{ host: '127.0.0.1', port: 0 }],
      upstream: { host: '127.0.0.1', port: srv.port },
      observer: throwing,
      onError: (err, ctx) => {
        const entry: { err: unknown; conn?: string; where: string } = { err, where: ctx.where };
        if (ctx.conn !== undefined) entry.conn = ctx.conn;
        errors.push(entry);
      },
    });
    cleanups.push(() => proxy.close(0));
    const payload = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 31 + 7) & 0xff;
    for (let round = 0; round < 2; round++) {
      const client = await connectClient(proxy.addresses[0]!.port);
      const echoed = drainToHash(client);
      await writeAll(client, [payload.subarray(0, 1000), payload.subarray(1000)]);
      client.end();
      expect(await echoed).toEqual({ sha: sha256(payload), bytes: payload.length });
      await whenClosed(client);
    }
    await waitUntil(() => proxy.connections().length === 0);
    expect(errors).toHaveLength(2);
    expect(errors[0]).toMatchObject({
      where: 'observer',
      err: expect.objectContaining({ message: 'connected boom' }),
    });
    expect(new Set(errors.map((e) => e.conn)).size).toBe(2);
  });

  it('an observer whose open() throws still gets a forwarded connection', async () => {
    const srv = await server((s) => s.pipe(s));
    const errors: unknown[] = [];
    const proxy = await startProxy({
      listen: [{ host: '127.0.0.1', port: 0 }],
      upstream: { host: '127.0.0.1', port: srv.port },
      observer: {
        open() {
          throw new Error('open boom');
        },
      },
      onError: (err) => errors.push(err),
    });
    cleanups.push(() => proxy.close(0));
    const client = await connectClient(proxy.addresses[0]!.port);
    const echoed = collect(client);
    client.end('abc');
    await echoed.ended;
    expect(echoed.text()).toBe('abc');
    expect(errors).toHaveLength(1);
  });
});

describe('startProxy: graceful close', () => {
  it('stops accepting, waits for the grace period, then closes what is left (closedBy proxy)', async () => {
    const srv = await server(() => {});
    const { proxy, observer, port } = await proxyTo(srv.port);
    const idle = await connectClient(port);
    idle.on('error', () => {});
    const conn = await observer.nth(0);
    await waitUntil(() => conn.connectedInfo !== undefined);
    const t0 = Date.now();
    const closing = proxy.close(200);
    await expect(connectClient(port)).rejects.toThrow(/ECONNREFUSED/);
    await closing;
    const elapsed = Date.now() - t0;
    expect(elapsed).toBeGreaterThanOrEqual(190);
    expect(elapsed).toBeLessThan(2000);
    expect((await conn.closed).closedBy).toBe('proxy');
    await whenClosed(idle);
    expect(srv.sockets.size).toBe(0);
  });

  it('resolves as soon as the last connection ends on its own within the grace period', async () => {
    const srv = await server(() => {});
    const { proxy, observer, port } = await proxyTo(srv.port);
    const client = await connectClient(port);
    const conn = await observer.nth(0);
    await waitUntil(() => conn.connectedInfo !== undefined);
    const t0 = Date.now();
    const closing = proxy.close(5000);
    setTimeout(() => client.destroy(), 50);
    await closing;
    expect(Date.now() - t0).toBeLessThan(1000);
    expect((await conn.closed).closedBy).toBe('client');
  });

  it('a second close with a shorter grace brings the deadline forward', async () => {
    const srv = await server(() => {});
    const { proxy, observer, port } = await proxyTo(srv.port);
    const client = await connectClient(port);
    client.on('error', () => {});
    await waitUntil(() => observer.connections[0]?.connectedInfo !== undefined);
    const t0 = Date.now();
    const first = proxy.close(60_000);
    const second = proxy.close(0);
    expect(second).toBe(first);
    await first;
    expect(Date.now() - t0).toBeLessThan(1000);
  });
});
