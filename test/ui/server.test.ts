/**
 * The web view's server side without a browser: the hub beside the log (same records, every level),
 * a page's bounded queue (a stalled page misses records, counted; forwarding never waits), the
 * token, Host and Origin checks, and the report's cap.
 */
import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createTap } from '../../src/observe/tap.js';
import { DEFAULT_TAP_OPTIONS } from '../../src/observe/tap-options.js';
import { RecordKeeper } from '../../src/ui/consumers.js';
import { teeSink, UiHub } from '../../src/ui/hub.js';
import { reportHtml } from '../../src/ui/report.js';
import { startUiServer, type UiServer } from '../../src/ui/server.js';
import { Cleanups } from '../e2e/helpers/tap-proxy.js';
import { createCollectSink } from '../helpers/collect-sink.js';
import { connack, connect, publish } from '../helpers/packets.js';

const cleanups = new Cleanups();
afterEach(() => cleanups.run());

function openConnection(hub: UiHub, level: 'info' | 'warn' = 'info') {
  const log = createCollectSink(level);
  const conn = createTap(teeSink(log, hub), DEFAULT_TAP_OPTIONS).open({
    conn: 'c1',
    client: { address: '127.0.0.1', port: 50000 },
    local: { address: '127.0.0.1', port: 1884 },
    upstream: '127.0.0.1:1883',
    transport: 'tcp',
    startedAt: Date.now(),
  });
  conn.data(
    'client',
    connect({ version: '5.0', clientId: 'dev-1', username: 'u', password: Buffer.from('hunter2-secret') }),
  );
  conn.data('broker', connack({ version: '5.0', code: 0x87 }));
  return { log, conn };
}

async function start(
  hub: UiHub,
  extra: Partial<Parameters<typeof startUiServer>[0]> = {},
): Promise<UiServer> {
  const ui = await startUiServer({ host: '127.0.0.1', port: 0, hub, ...extra });
  cleanups.add(() => ui.close());
  return ui;
}

interface Message {
  t: string;
  missed?: number;
  rows: { conn: string; packets: { fromClient: number } }[];
  records: { event: string; type?: string; msg: string; [k: string]: unknown }[];
}

/** A page's WebSocket, collecting what it is sent. */
async function pageSocket(url: string, headers: Record<string, string> = {}) {
  const ws = new WebSocket(url, { headers });
  cleanups.add(() => ws.terminate());
  const messages: Message[] = [];
  ws.on('message', (data) => messages.push(JSON.parse(String(data)) as Message));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return { ws, messages };
}

function status(url: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    request(url, { headers }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    })
      .on('error', reject)
      .end();
  });
}

async function until(pred: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('web view: hub and server', () => {
  it('with no page attached, rows are kept; the log is unchanged', () => {
    const hub = new UiHub();
    const { log, conn } = openConnection(hub, 'warn');
    conn.data('client', publish({ version: '5.0', topic: 'a/b', payload: Buffer.from('x') }));
    const row = hub.rows.get('c1')!;
    expect(row).toMatchObject({
      conn: 'c1',
      clientId: 'dev-1',
      username: 'u',
      protocol: '5.0',
      state: 'open',
      packets: { fromClient: 2, fromBroker: 1 },
      lastReason: { type: 'CONNACK', hex: '0x87', name: 'Not authorized', error: true },
    });
    // The log at warn still gets only the refusal, though the hub asks for every level.
    expect(log.records.map((r) => r.msg)).toEqual([
      expect.stringMatching(/^CONNACK 0x87 Not authorized \(\d+ ms\)$/),
    ]);
  });

  it("a page gets rows and the log's own records, secrets redacted; what it sends reaches nothing", async () => {
    const hub = new UiHub();
    const ui = await start(hub);
    const page = await pageSocket(`ws://127.0.0.1:${ui.port}/ws`);
    await until(() => page.messages.length > 0);
    expect(page.messages[0]!.t).toBe('hello');
    const { log, conn } = openConnection(hub);
    page.ws.send('{"t":"publish","topic":"x"}');
    conn.data('client', publish({ version: '5.0', topic: 'a/b', payload: Buffer.from('hello') }));
    await until(() => page.messages.some((m) => m.records.some((r) => r.type === 'PUBLISH')));
    const records = page.messages.flatMap((m) => m.records);
    expect(records.map((r) => r.msg)).toEqual(log.records.map((r) => r.msg));
    const connectRecord = records.find((r) => r.type === 'CONNECT')!;
    const { level: _l, time: _t, msg: _m, ...fields } = connectRecord;
    expect(fields).toEqual(log.records.find((r) => r.record.type === 'CONNECT')!.record);
    expect(JSON.stringify(page.messages)).not.toContain('hunter2');
    expect(page.messages.at(-1)!.rows[0]!.conn).toBe('c1');
  });

  it('a page that stops reading misses records beyond its queue, counted; the tap never waits for it', async () => {
    const hub = new UiHub();
    const ui = await start(hub, { queueRecords: 100 });
    const page = await pageSocket(`ws://127.0.0.1:${ui.port}/ws`);
    await until(() => page.messages.length > 0);
    const { conn } = openConnection(hub);
    // The page's socket stops reading: the kernel buffers fill, then ws holds the rest.
    (page.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    const payload = Buffer.alloc(2000, 'p');
    const started = performance.now();
    for (let i = 0; i < 20_000; i++) {
      conn.data('client', publish({ version: '5.0', topic: 'load/t', payload }));
      if (i % 500 === 0) await new Promise((r) => setTimeout(r, 5));
    }
    const elapsed = performance.now() - started;
    (page.ws as unknown as { _socket: { resume(): void } })._socket.resume();
    await until(() => (page.messages.at(-1)?.missed ?? 0) > 0, 10_000);
    const missed = page.messages.at(-1)!.missed!;
    const got = page.messages.flatMap((m) => m.records).filter((r) => r.type === 'PUBLISH').length;
    expect(missed).toBeGreaterThan(0);
    expect(got + missed).toBeLessThanOrEqual(20_000);
    expect(got).toBeLessThan(20_000);
    // Counted beside the connection row: the page's own count, the row's the proxy's.
    expect(hub.rows.get('c1')!.packets.fromClient).toBe(20_001);
    expect(elapsed).toBeLessThan(60_000);
  });

  it('beyond loopback a token is required; on loopback only loopback Host names and same-origin WebSockets', async () => {
    const hub = new UiHub();
    const token = 'a-token-of-twenty-chars';
    const withToken = await start(hub, { token });
    expect(await status(`http://127.0.0.1:${withToken.port}/`)).toBe(403);
    expect(await status(`http://127.0.0.1:${withToken.port}/?token=wrong-token-of-twenty`)).toBe(403);
    expect(await status(withToken.url)).toBe(200);
    await expect(pageSocket(`ws://127.0.0.1:${withToken.port}/ws`)).rejects.toThrow(/403/);
    await pageSocket(`ws://127.0.0.1:${withToken.port}/ws?token=${token}`);

    const plain = await start(hub);
    expect(await status(plain.url)).toBe(200);
    // A DNS-rebinding page reaches 127.0.0.1 under its own name.
    expect(await status(plain.url, { host: `evil.example:${plain.port}` })).toBe(403);
    await expect(
      pageSocket(`ws://127.0.0.1:${plain.port}/ws`, { origin: 'http://evil.example' }),
    ).rejects.toThrow(/403/);
    await pageSocket(`ws://127.0.0.1:${plain.port}/ws`, { origin: `http://127.0.0.1:${plain.port}` });
    expect(await status(`http://127.0.0.1:${plain.port}/other`)).toBe(404);
  });

  it('a report larger than its cap keeps the first and last records of each connection and says so', () => {
    const hub = new UiHub();
    const keeper = new RecordKeeper({ headPerConnection: 5, tailPerConnection: 5, total: 1000 });
    hub.attach(keeper);
    const { conn } = openConnection(hub);
    for (let i = 0; i < 50; i++)
      conn.data('client', publish({ version: '5.0', topic: `t/${i}`, payload: Buffer.from('x') }));
    const records = keeper
      .records()
      .map((j) => JSON.parse(j) as { event: string; topic?: string; records?: number });
    expect(records).toHaveLength(11);
    // open, CONNECT, CONNACK, session, t/0 ... left out ... t/45..t/49
    expect(records[4]!.topic).toBe('t/0');
    expect(records[5]).toEqual({ event: 'left-out', conn: 'c1', records: 44 });
    expect(records.slice(6).map((r) => r.topic)).toEqual(['t/45', 't/46', 't/47', 't/48', 't/49']);
    const html = reportHtml(hub, keeper, 'cap.pcapng');
    expect(html).toContain('This capture is larger than a report holds: 44 of 54 records are left out');
  });
});
