/**
 * The live web view (--ui): an HTTP server for the page and a WebSocket per page that sends what
 * the hub gives it. Pages only receive: whatever they send is ignored, and nothing reaches a broker.
 * Each page has a bounded queue; a page that falls behind misses records, counted and shown.
 */
import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { type WebSocket, WebSocketServer } from 'ws';
import { PageQueue, type RecordKeeper } from './consumers.js';
import type { UiHub } from './hub.js';
import { isLoopback } from './loopback.js';
import { contentSecurityPolicy, pageHtml } from './page.js';

/** How often each page is sent what waited (ms). */
export const SEND_INTERVAL_MS = 100;
/** A page whose socket still holds this much is skipped at a send: its queue fills instead. */
export const PAGE_SOCKET_BYTES = 1024 * 1024;

export interface UiServerOptions {
  host: string;
  port: number;
  hub: UiHub;
  /** Required in the page's URL (`?token=`) when given. */
  token?: string;
  /** A replayed capture's records, sent whole to each page when it opens. */
  keeper?: RecordKeeper;
  /** Page queue bounds (tests make them small). */
  queueRecords?: number;
  queueBytes?: number;
}

export interface UiServer {
  /** The page's address (with the token when there is one). */
  url: string;
  port: number;
  pages(): number;
  close(): Promise<void>;
}

function sameToken(given: string | null, token: string): boolean {
  if (given === null) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

export async function startUiServer(opts: UiServerOptions): Promise<UiServer> {
  const { hub } = opts;
  const page = pageHtml({ mode: 'live' });
  const wss = new WebSocketServer({ noServer: true, maxPayload: 1024 });
  const pages = new Map<WebSocket, PageQueue>();
  let port = opts.port;

  /** Without a token, only loopback names may be used (a DNS-rebinding page cannot reach it). */
  const allowed = (req: IncomingMessage): boolean => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (opts.token !== undefined) return sameToken(url.searchParams.get('token'), opts.token);
    const host = (req.headers.host ?? '').replace(/:\d+$/, '');
    return isLoopback(host);
  };

  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (req.method !== 'GET' || path !== '/') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    if (!allowed(req)) {
      res.writeHead(403, { 'content-type': 'text/plain' }).end('forbidden: the URL needs its token\n');
      return;
    }
    res.writeHead(200, {
      'content-type': 'text/html; charset=utf-8',
      'content-security-policy': contentSecurityPolicy('live'),
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
    });
    res.end(page);
  });

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    // Only the page itself: another site's script may not open it (its Origin differs).
    const origin = req.headers.origin;
    const sameOrigin = origin === undefined || origin === `http://${req.headers.host ?? ''}`;
    if (path !== '/ws' || !allowed(req) || !sameOrigin) {
      socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const queue = new PageQueue(opts.queueRecords, opts.queueBytes);
      const rows = [...hub.rows.values()];
      const kept = opts.keeper?.records() ?? [];
      ws.send(`{"t":"hello","rows":${JSON.stringify(rows)},"records":[${kept.join(',')}]}`);
      pages.set(ws, queue);
      const detach = hub.attach(queue);
      ws.on('message', () => {});
      ws.on('error', () => ws.terminate());
      ws.on('close', () => {
        detach();
        pages.delete(ws);
      });
    });
  });

  const timer = setInterval(() => {
    for (const [ws, queue] of pages) {
      if (ws.readyState !== ws.OPEN || ws.bufferedAmount > PAGE_SOCKET_BYTES) continue;
      const message = queue.take(hub);
      if (message !== undefined) ws.send(message);
    }
  }, SEND_INTERVAL_MS);
  timer.unref();

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  port = (server.address() as AddressInfo).port;
  const hostPart = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  const url = `http://${hostPart}:${port}/${opts.token !== undefined ? `?token=${encodeURIComponent(opts.token)}` : ''}`;
  return {
    url,
    port,
    pages: () => pages.size,
    close: async () => {
      clearInterval(timer);
      for (const ws of pages.keys()) ws.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
