/**
 * Clients that reset their connection in the middle of a TLS or WebSocket handshake, against the
 * built CLI: whatever they send first (a wrong path, a bad upgrade, HTTP garbage, half a request,
 * TLS garbage), mqtt-tap stays up, records what it can, and still serves the next client.
 */
import * as net from 'node:net';
import * as tls from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { type Cli, startCli } from '../e2e/helpers/cli.js';
import { Cleanups } from '../e2e/helpers/tap-proxy.js';
import { connect } from '../helpers/packets.js';
import { type PlainServer, plainServer, waitUntil } from '../proxy/harness.js';
import { generateCerts, type TestCerts } from './helpers/certs.js';

const cleanups = new Cleanups();
afterEach(() => cleanups.run());

let certs: TestCerts;
beforeAll(() => {
  certs = generateCerts();
});
afterAll(() => certs?.remove());

const UPGRADE = (path: string, key = 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n'): string =>
  `GET ${path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n${key}` +
  'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n';

/** What a client sends before resetting, by name. */
const FIRST_BYTES: Record<string, string> = {
  'wrong path': UPGRADE('/x'),
  'upgrade without a key': UPGRADE('/mqtt', ''),
  'HTTP garbage': 'NOT HTTP AT ALL\r\n\r\n',
  'half a request': 'GET /mqtt HTTP/1.1\r\nHost: x\r\nUpgr',
  'a good upgrade': UPGRADE('/mqtt'),
};

/** Connects (over TLS when asked), writes `bytes`, then resets the connection at once. */
async function sendAndReset(port: number, bytes: string, overTls: boolean): Promise<void> {
  const raw = net.connect({ host: '127.0.0.1', port });
  raw.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    raw.once('connect', resolve);
    raw.once('close', () => reject(new Error('closed before connecting')));
  });
  if (overTls) {
    const secure = tls.connect({ socket: raw, rejectUnauthorized: false });
    secure.on('error', () => {});
    await new Promise<void>((resolve) => {
      secure.once('secureConnect', resolve);
      secure.once('close', resolve);
    });
    secure.write(bytes);
  } else {
    raw.write(bytes);
  }
  raw.resetAndDestroy();
}

/** A ws client that sends a CONNECT; resolves once the broker received `bytes`. */
async function wsClientReaches(url: string, broker: PlainServer, got: () => Buffer): Promise<void> {
  const ws = new WebSocket(url, ['mqtt'], { rejectUnauthorized: false });
  ws.on('error', () => {});
  cleanups.add(() => ws.terminate());
  await new Promise<void>((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  const c = connect({ version: '5.0', clientId: 'after-faults' });
  const before = got().length;
  ws.send(c);
  await waitUntil(() => got().length >= before + c.length, 5000, 'bytes at the broker');
  expect(broker.sockets.size).toBeGreaterThan(0);
}

describe('handshake faults with a reset do not take the process down', () => {
  let cli: Cli;
  let broker: PlainServer;
  let received = Buffer.alloc(0);

  beforeAll(async () => {
    broker = await plainServer((s) => s.on('data', (c: Buffer) => (received = Buffer.concat([received, c]))));
  });
  afterAll(() => broker?.close());

  it.each(Object.keys(FIRST_BYTES))('%s, then a reset, 25 times over ws:// and wss://', async (name) => {
    const own = new Cleanups();
    cli = await startCli(own, [
      ...['-l', 'ws://127.0.0.1:0/mqtt', '-l', 'wss://127.0.0.1:0/mqtt', '-l', 'mqtts://127.0.0.1:0'],
      ...['--tls-cert', certs.server, '--tls-key', certs.serverKey],
      ...['-u', `127.0.0.1:${broker.port}`],
    ]);
    cleanups.add(() => own.run());
    const addresses = cli.log().find((r) => r.event === 'listening')!.addresses as string[];
    const port = (url: string): number => Number(/:(\d+)/.exec(url.replace(/^\w+:\/\//, ''))![1]);
    for (let i = 0; i < 25; i++) {
      await sendAndReset(port(addresses[0]!), FIRST_BYTES[name]!, false);
      await sendAndReset(port(addresses[1]!), FIRST_BYTES[name]!, true);
      await sendAndReset(port(addresses[2]!), FIRST_BYTES[name]!, i % 2 === 0);
    }
    // Still up: a well-behaved client on each WebSocket listener reaches the broker.
    await wsClientReaches(addresses[0]!, broker, () => received);
    await wsClientReaches(addresses[1]!, broker, () => received);
    expect(cli.proc.exitCode).toBeNull();
    expect(cli.stderr()).not.toContain('internal error');
    expect(cli.log().filter((r) => r.event === 'internal-error')).toEqual([]);
  });
});
