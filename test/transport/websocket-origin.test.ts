/**
 * Which web pages may open a WebSocket through mqtt-tap: handshakes with an Origin header (every
 * browser sends one) are refused with 403 and a handshake-failed record unless --ws-origin admits
 * that origin; clients that send none (mqtt.js in Node, paho, mosquitto_pub) are not affected.
 */
import type * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { normalizeOrigin, originAllowed } from '../../src/proxy/origin.js';
import { plainServer } from '../proxy/harness.js';
import { type TapHarness, tapProxy } from './helpers/tap-harness.js';

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

async function setup(wsOrigins?: string[]): Promise<{ tap: TapHarness; dialled: () => number }> {
  const sockets: net.Socket[] = [];
  const srv = await plainServer((s) => sockets.push(s));
  cleanups.push(() => srv.close());
  const tap = await tapProxy({
    listen: [{ host: '127.0.0.1', port: 0, transport: 'ws', path: '/mqtt' }],
    upstream: { host: '127.0.0.1', port: srv.port },
    ...(wsOrigins !== undefined ? { wsOrigins } : {}),
  });
  cleanups.push(() => tap.close());
  return { tap, dialled: () => sockets.length };
}

/** Opens a WebSocket with this Origin (none when undefined): 'open' or the HTTP status. */
function handshake(port: number, origin?: string): Promise<'open' | number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/mqtt`, ['mqtt'], origin === undefined ? {} : { origin });
    cleanups.push(() => ws.terminate());
    ws.once('open', () => resolve('open'));
    ws.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      res.resume();
    });
    ws.once('error', reject);
  });
}

describe('default: browser origins refused, clients without Origin accepted', () => {
  it('no Origin header: accepted, and the open record has no origin', async () => {
    const { tap } = await setup();
    expect(await handshake(tap.port())).toBe('open');
    expect((await tap.open(0)).websocket).not.toHaveProperty('origin');
  });

  it('an Origin header: 403, a handshake-failed record naming it and the flag, no broker dial', async () => {
    const { tap, dialled } = await setup();
    expect(await handshake(tap.port(), 'https://evil.example')).toBe(403);
    const failed = await tap.sink.waitFor((r) => r.record.event === 'handshake-failed');
    expect(failed.level).toBe('warn');
    expect(failed.record).toMatchObject({
      listener: `ws://127.0.0.1:${tap.port()}/mqtt`,
      transport: 'ws',
      code: 'WS_ORIGIN_FORBIDDEN',
      error: 'origin "https://evil.example" is not allowed',
      hint: expect.stringContaining('--ws-origin "https://evil.example"'),
    });
    expect(tap.sink.events('open')).toEqual([]);
    expect(dialled()).toBe(0);
  });

  it('Origin: null (a sandboxed page, file://) is refused too', async () => {
    const { tap } = await setup();
    expect(await handshake(tap.port(), 'null')).toBe(403);
  });
});

describe('--ws-origin admits the origins listed', () => {
  it('a listed origin opens, whatever its case; the open record carries it; others get 403', async () => {
    const { tap } = await setup(['http://localhost:3000']);
    expect(await handshake(tap.port(), 'http://localhost:3000')).toBe('open');
    expect((await tap.open(0)).websocket).toMatchObject({ origin: 'http://localhost:3000' });
    expect(await handshake(tap.port(), 'HTTP://LOCALHOST:3000')).toBe('open');
    expect(await handshake(tap.port(), 'http://localhost:3001')).toBe(403);
    expect(await handshake(tap.port())).toBe('open');
  });

  it('* admits every origin', async () => {
    const { tap } = await setup(['*']);
    expect(await handshake(tap.port(), 'https://anything.example')).toBe('open');
    expect((await tap.open(0)).websocket).toMatchObject({ origin: 'https://anything.example' });
  });
});

describe('origin matching', () => {
  it.each([
    ['http://localhost:3000', 'http://localhost:3000'],
    ['HTTPS://Example.COM', 'https://example.com'],
    ['https://example.com:443', 'https://example.com'],
    ['https://example.com/', 'https://example.com'],
    ['null', 'null'],
    ['*', '*'],
  ])('%s is the origin %s', (text, normal) => {
    expect(normalizeOrigin(text)).toBe(normal);
  });

  it.each(['example.com', 'https://example.com/app', 'https://example.com?x=1', ''])(
    '%j is not an origin',
    (text) => {
      expect(() => normalizeOrigin(text)).toThrow('is not an origin');
    },
  );

  it('a header that is not an origin never matches', () => {
    expect(originAllowed('https://a.example/path', ['https://a.example'])).toBe(false);
    expect(originAllowed('garbage', ['https://a.example'])).toBe(false);
    expect(originAllowed(undefined, [])).toBe(true);
  });
});
