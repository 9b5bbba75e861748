/**
 * Query strings carry tokens (presigned URLs, JWTs): the built CLI dials the upstream with its
 * query unchanged, and shows query values as `<redacted>` everywhere it writes: the log (listening,
 * open, upstream-error), the pcapng comments, stderr.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as http from 'node:http';
import type * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { type Cli, startCli, stopCli } from '../e2e/helpers/cli.js';
import { Cleanups } from '../e2e/helpers/tap-proxy.js';
import { connect } from '../helpers/packets.js';
import { connectClient, waitUntil } from '../proxy/harness.js';

const UPSTREAM_SECRET = 'up-s3cr3t-token';
const CLIENT_SECRET = 'client-s3cr3t-token';

const cleanups = new Cleanups();
afterEach(() => cleanups.run());

/** A WebSocket broker stand-in: keeps each upgrade's URL and the bytes it got; 404 for `refuse`. */
async function wsBroker(): Promise<{ port: number; urls: string[]; received: () => number }> {
  const server = http.createServer();
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  const urls: string[] = [];
  let received = 0;
  server.on('upgrade', (req, socket: net.Socket, head) => {
    urls.push(req.url ?? '');
    if (req.url?.includes('refuse') === true) {
      socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.on('message', (d: Buffer) => (received += d.length));
      ws.on('error', () => {});
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.add(
    () =>
      new Promise<void>((r) => {
        for (const c of wss.clients) c.terminate();
        server.closeAllConnections();
        server.close(() => r());
      }),
  );
  return { port: (server.address() as net.AddressInfo).port, urls, received: () => received };
}

function everythingWritten(cli: Cli, recording?: string): string {
  const pcap = recording === undefined ? '' : readFileSync(recording).toString('latin1');
  return `${readFileSync(cli.logFile, 'utf8')}\n${cli.stderr()}\n${pcap}`;
}

describe('query values are redacted in every output, and dialled unchanged', () => {
  it('a ws:// upstream with ?token= and a client URL with ?auth=: log, recording and stderr show <redacted>', async () => {
    const broker = await wsBroker();
    const upstreamUrl = `ws://127.0.0.1:${broker.port}/mqtt?token=${UPSTREAM_SECRET}&region=eu`;
    const own = new Cleanups();
    cleanups.add(() => own.run());
    const dir = mkdtempSync(join(tmpdir(), 'mqtt-tap-query-'));
    own.add(() => rmSync(dir, { recursive: true, force: true }));
    const recording = join(dir, 'tap.pcapng');
    const cli = await startCli(own, [
      '-l',
      'ws://127.0.0.1:0/mqtt',
      '-u',
      upstreamUrl,
      '--record',
      recording,
    ]);
    const listening = cli.log().find((r) => r.event === 'listening')!;
    const shownUpstream = `ws://127.0.0.1:${broker.port}/mqtt?token=<redacted>&region=<redacted>`;
    expect(listening.upstream).toBe(shownUpstream);

    const listener = (listening.addresses as string[])[0]!;
    const ws = new WebSocket(`${listener}?auth=${CLIENT_SECRET}&v=2`, ['mqtt']);
    ws.on('error', () => {});
    await new Promise<void>((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    const c = connect({ version: '5.0', clientId: 'q' });
    ws.send(c);
    await waitUntil(() => broker.received() === c.length, 5000, 'CONNECT at the broker');
    // The broker was dialled with the query as given.
    expect(broker.urls).toEqual([`/mqtt?token=${UPSTREAM_SECRET}&region=eu`]);
    ws.close(1000);
    const open = await cli.waitForRecord((r) => r.event === 'open');
    expect(open).toMatchObject({
      upstream: shownUpstream,
      websocket: { path: '/mqtt?auth=<redacted>&v=<redacted>' },
    });
    await cli.waitForRecord((r) => r.event === 'close');
    expect(await stopCli(cli)).toBe(0);
    const written = everythingWritten(cli, recording);
    expect(written).toContain('token=<redacted>');
    expect(written).not.toContain(UPSTREAM_SECRET);
    expect(written).not.toContain(CLIENT_SECRET);
  });

  it('the broker refusing the upgrade: the upstream-error record names the path with its query redacted', async () => {
    const broker = await wsBroker();
    const own = new Cleanups();
    cleanups.add(() => own.run());
    const cli = await startCli(own, [
      ...['-l', '127.0.0.1:0', '-u', `ws://127.0.0.1:${broker.port}/mqtt?refuse=1&token=${UPSTREAM_SECRET}`],
    ]);
    const listener = (cli.log().find((r) => r.event === 'listening')!.addresses as string[])[0]!;
    const client = await connectClient(Number(listener.split(':')[1]));
    client.on('error', () => {});
    client.write(connect({ version: '5.0', clientId: 'q' }));
    const failed = await cli.waitForRecord((r) => r.event === 'upstream-error');
    expect(failed).toMatchObject({
      code: 'WS_UNEXPECTED_RESPONSE',
      upstream: `ws://127.0.0.1:${broker.port}/mqtt?refuse=<redacted>&token=<redacted>`,
      error: expect.stringContaining('/mqtt?refuse=<redacted>&token=<redacted>'),
    });
    await cli.waitForRecord((r) => r.event === 'close');
    client.destroy();
    expect(await stopCli(cli)).toBe(0);
    expect(everythingWritten(cli)).not.toContain(UPSTREAM_SECRET);
  });
});
