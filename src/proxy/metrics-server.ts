/**
 * The --metrics HTTP endpoint: `/metrics` (Prometheus text format), `/healthz` (the process
 * answers) and `/readyz` (the listeners are bound and the broker accepts a TCP connection within
 * a timeout). Its own small server, apart from the forwarding path.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect } from 'node:net';
import type { HostPort } from './address.js';

export interface Readiness {
  ready: boolean;
  /** One line for people: what is ready or what is not. */
  detail: string;
}

export interface MetricsServerOptions {
  host: string;
  port: number;
  /** The exposition and its content type. */
  metrics: () => Promise<{ contentType: string; body: string }>;
  ready: () => Promise<Readiness>;
}

export interface MetricsServer {
  /** `host:port` bound (the port resolved when 0 was asked for). */
  address: { host: string; port: number };
  close(): Promise<void>;
}

export async function startMetricsServer(options: MetricsServerOptions): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    handle(options, req, res).catch((err: unknown) => {
      if (!res.headersSent) send(res, 500, `error: ${err instanceof Error ? err.message : String(err)}\n`);
      else res.destroy();
    });
  });
  // A scraper that stops reading must not hold sockets forever.
  server.requestTimeout = 10_000;
  server.headersTimeout = 10_000;
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = server.address();
  const port = typeof bound === 'object' && bound !== null ? bound.port : options.port;
  return {
    address: { host: options.host, port },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function handle(
  options: MetricsServerOptions,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('Allow', 'GET, HEAD');
    send(res, 405, 'method not allowed\n');
    return;
  }
  const path = (req.url ?? '/').split('?')[0];
  switch (path) {
    case '/metrics': {
      const { contentType, body } = await options.metrics();
      send(res, 200, body, contentType, req.method === 'HEAD');
      return;
    }
    case '/healthz':
      send(res, 200, 'ok\n', undefined, req.method === 'HEAD');
      return;
    case '/readyz': {
      const r = await options.ready();
      send(
        res,
        r.ready ? 200 : 503,
        `${r.ready ? 'ready' : 'not ready'}: ${r.detail}\n`,
        undefined,
        req.method === 'HEAD',
      );
      return;
    }
    default:
      send(res, 404, 'not found: /metrics, /healthz, /readyz\n');
  }
}

function send(
  res: ServerResponse,
  status: number,
  body: string,
  contentType = 'text/plain; charset=utf-8',
  head = false,
): void {
  res.writeHead(status, {
    'Content-Type': contentType,
    'Content-Length': Buffer.byteLength(body),
    'Cache-Control': 'no-store',
  });
  res.end(head ? undefined : body);
}

/**
 * Whether the broker accepts a TCP connection within `timeoutMs` (closed at once, nothing sent).
 * Concurrent checks share one attempt, and a result is reused for `cacheMs`: probes from several
 * balancers and the kubelet do not each open a connection to the broker.
 */
export function upstreamProbe(
  upstream: HostPort,
  timeoutMs: number,
  cacheMs = 1000,
): () => Promise<{ reachable: boolean; detail: string }> {
  let inFlight: Promise<{ reachable: boolean; detail: string }> | undefined;
  let last: { at: number; result: { reachable: boolean; detail: string } } | undefined;
  const host = upstream.host.replace(/^\[|\]$/g, '');
  const where = `${upstream.host}:${upstream.port}`;
  const attempt = (): Promise<{ reachable: boolean; detail: string }> =>
    new Promise((resolve) => {
      const t0 = performance.now();
      const socket = connect({ host, port: upstream.port });
      const done = (reachable: boolean, detail: string): void => {
        clearTimeout(timer);
        socket.destroy();
        resolve({ reachable, detail });
      };
      const timer = setTimeout(
        () => done(false, `broker ${where} did not accept within ${timeoutMs} ms`),
        timeoutMs,
      );
      socket.once('connect', () =>
        done(true, `broker ${where} reachable (${Math.round(performance.now() - t0)} ms)`),
      );
      socket.once('error', (err: NodeJS.ErrnoException) =>
        done(false, `broker ${where} unreachable: ${err.code ?? err.message}`),
      );
    });
  return () => {
    const now = performance.now();
    if (last !== undefined && now - last.at < cacheMs) return Promise.resolve(last.result);
    inFlight ??= attempt().then((result) => {
      last = { at: performance.now(), result };
      inFlight = undefined;
      return result;
    });
    return inFlight;
  };
}
