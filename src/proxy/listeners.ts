/**
 * Listeners, one per `--listen` address: plain TCP, TLS, WebSocket, WebSocket over TLS. Each hands
 * the proxy an AcceptedClient once its handshakes are done; the proxy never learns more about the
 * transport than the `open` record's fields.
 *
 * TCP and TLS clients are the sockets themselves (no wrapper on the forwarding path); a WebSocket
 * client is a WebSocketPeer. Handshakes that fail (a plain client on a TLS port, a client that does
 * not trust our certificate, a wrong WebSocket path) are reported, never dialled upstream. So are
 * connections without the PROXY protocol header a listener with `acceptProxyProtocol` requires.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import type { Duplex } from 'node:stream';
import * as tls from 'node:tls';
import type { Endpoint, HandshakeFailure } from '../observe/observer.js';
import {
  DEFAULT_WS_PATH,
  formatAddress,
  formatHostPort,
  isTlsTransport,
  redactQuery,
  type TransportAddress,
} from './address.js';
import { originAllowed, shownOrigin } from './origin.js';
import { type AcceptedClient, socketEndpoint } from './peer.js';
import type { AcceptedPeer, ProxyHeaderGate } from './proxy-protocol.js';
import {
  clientVerification,
  serverHandshakeHint,
  serverOptions,
  serverSideTlsInfo,
  type TlsServerConfig,
} from './tls-info.js';
import { TLS_WRITE_SLICE, TlsPeer } from './tls-writes.js';
import { WebSocketPeer } from './websocket-stream.js';
import { wsModule } from './ws-module.js';

export interface ListenerOptions {
  /** Certificate and key (required for mqtts:// and wss://). */
  tls?: TlsServerConfig;
  /** WebSocket listeners: the largest message accepted (ws holds a whole message in memory). */
  wsMaxMessage: number;
  /**
   * WebSocket listeners: origins admitted (normalized, see origin.ts; `*` for any). Handshakes
   * without an Origin header are always admitted; empty: those with one are refused.
   */
  wsOrigins: readonly string[];
}

export interface ListenerCallbacks {
  onClient(client: AcceptedClient): void;
  onHandshakeFailed(info: HandshakeFailure): void;
  /** The listener failed after it started listening (e.g. EMFILE on accept); it carries on. */
  onServerError(err: Error): void;
}

export interface Listener {
  address: Endpoint;
  /** `127.0.0.1:1884`, `mqtts://127.0.0.1:8883`, `ws://127.0.0.1:8080/mqtt` (port resolved). */
  url: string;
  close(): Promise<void>;
}

function errorCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string')
    return err.code;
  return undefined;
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** OpenSSL's reason ("wrong version number") rather than its full error line with file and line. */
function handshakeMessage(err: unknown): string {
  if (typeof err === 'object' && err !== null && 'reason' in err && typeof err.reason === 'string') {
    return err.reason;
  }
  return errorMessage(err).trim();
}

/** The page's origin, as browsers send it (`Sec-WebSocket-Origin` in protocol version 8). */
function requestOrigin(req: http.IncomingMessage): string | undefined {
  const h = req.headers.origin ?? req.headers['sec-websocket-origin'];
  return Array.isArray(h) ? h[0] : h;
}

/** Subprotocol `mqtt` when offered (MQTT 5.0 §6.0.0); else the client's first choice; else none. */
function pickSubprotocol(protocols: Set<string>): string | false {
  if (protocols.has('mqtt')) return 'mqtt';
  if (protocols.has('mqttv3.1')) return 'mqttv3.1';
  for (const p of protocols) return p;
  return false;
}

function listenOn(server: net.Server, { host, port }: TransportAddress): Promise<Endpoint> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => {
      server.off('listening', onListening);
      reject(
        new Error(`cannot listen on ${formatHostPort({ host, port })}: ${errorMessage(err)}`, { cause: err }),
      );
    };
    const onListening = (): void => {
      server.off('error', onError);
      const addr = server.address();
      if (addr === null || typeof addr === 'string') {
        reject(new Error(`unexpected listener address ${String(addr)}`));
        return;
      }
      resolve({ address: addr.address, port: addr.port });
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen({ host, port, exclusive: true });
  });
}

function closeServer(server: net.Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) {
      resolve();
      return;
    }
    server.close(() => resolve());
  });
}

/** A TCP connection to one listener, known by its peer's address and port (unique while open). */
const peerKey = (s: { remoteAddress?: string | undefined; remotePort?: number | undefined }): string =>
  `${s.remoteAddress ?? ''}|${s.remotePort ?? 0}`;

/**
 * Connections still in their TLS or HTTP/WebSocket handshake. On close they are dropped: they were
 * never accepted, and a client stalled mid-handshake must not hold shutdown until a timeout.
 * (Handed-over connections belong to their socket pairs, which the proxy closes.)
 */
class Handshakes {
  private readonly pending = new Map<string, net.Socket>();

  track(server: net.Server): void {
    server.on('connection', (raw: net.Socket) => {
      const key = peerKey(raw);
      this.pending.set(key, raw);
      raw.once('close', () => {
        if (this.pending.get(key) === raw) this.pending.delete(key);
      });
    });
  }

  handedOver(socket: { remoteAddress?: string | undefined; remotePort?: number | undefined }): void {
    this.pending.delete(peerKey(socket));
  }

  dropAll(): void {
    for (const raw of this.pending.values()) raw.destroy();
    this.pending.clear();
  }
}

function destroyOnError(this: Duplex): void {
  this.destroy();
}

/**
 * Gives a handshake socket an error listener. Node removes its own before 'upgrade' (and ws may
 * remove its own), so a reset there would otherwise be an uncaught error that ends the process.
 */
function guardSocket(socket: Duplex): void {
  if (!socket.listeners('error').includes(destroyOnError)) socket.on('error', destroyOnError);
}

/** A small HTTP answer on a socket that will not become a WebSocket. */
function refuseHttp(socket: Duplex, status: number, text: string): void {
  guardSocket(socket);
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const body = `${text}\n`;
  socket.end(
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ''}\r\n` +
      'Connection: close\r\nContent-Type: text/plain; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

/** A listen address, and whether its connections must open with a PROXY protocol header. */
export type ListenerSpec = TransportAddress & { acceptProxyProtocol?: boolean };

/** Starts listening on `spec`; TLS transports need `options.tls`. */
export async function openListener(
  spec: ListenerSpec,
  options: ListenerOptions,
  callbacks: ListenerCallbacks,
): Promise<Listener> {
  const transport = spec.transport;
  const tlsConfig = options.tls;
  if (isTlsTransport(transport) && tlsConfig === undefined) {
    throw new Error(`${formatAddress(spec)} needs a certificate and key (--tls-cert, --tls-key)`);
  }
  let url = formatAddress(spec);
  let proxyGate: ProxyHeaderGate | undefined;
  const peerOf = (s: Partial<net.Socket>): AcceptedPeer =>
    proxyGate?.peer(s) ?? { client: socketEndpoint(s.remoteAddress, s.remotePort) };
  const failed = (socket: net.Socket | Duplex, err: unknown, hint?: string): void => {
    const s = socket as Partial<net.Socket>;
    const info: HandshakeFailure = {
      listener: url,
      client: peerOf(s).client,
      transport,
      message: handshakeMessage(err),
    };
    const code = errorCode(err);
    if (code !== undefined) info.code = code;
    const h = hint ?? serverHandshakeHint(code);
    if (h !== undefined) info.hint = h;
    callbacks.onHandshakeFailed(info);
  };
  const requestCert = tlsConfig?.requestCert === true;
  const handshakes = new Handshakes();

  let server: net.Server;
  if (transport === 'tcp') {
    server = net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
      callbacks.onClient({
        stream: socket,
        listener: url,
        ...peerOf(socket),
        local: socketEndpoint(socket.localAddress, socket.localPort),
        transport,
      });
    });
  } else if (transport === 'tls') {
    const tlsServer = tls.createServer({
      ...serverOptions(tlsConfig!),
      allowHalfOpen: true,
      noDelay: true,
    });
    tlsServer.on('secureConnection', (socket: tls.TLSSocket) => {
      handshakes.handedOver(socket);
      const accepted: AcceptedClient = {
        stream: new TlsPeer(socket),
        listener: url,
        ...peerOf(socket),
        local: socketEndpoint(socket.localAddress, socket.localPort),
        transport,
        tls: serverSideTlsInfo(socket, requestCert),
      };
      if (requestCert) accepted.certificate = clientVerification(socket);
      callbacks.onClient(accepted);
    });
    tlsServer.on('tlsClientError', (err: Error, socket: tls.TLSSocket) => {
      guardSocket(socket);
      failed(socket, err);
    });
    handshakes.track(tlsServer);
    server = tlsServer;
  } else {
    const path = spec.path ?? DEFAULT_WS_PATH;
    const httpServer =
      transport === 'wss'
        ? https.createServer({ ...serverOptions(tlsConfig!), noDelay: true })
        : http.createServer({ noDelay: true });
    const wss = new (wsModule().WebSocketServer)({
      noServer: true,
      perMessageDeflate: false,
      clientTracking: false,
      maxPayload: options.wsMaxMessage,
      handleProtocols: pickSubprotocol,
    });
    wss.on('wsClientError', (err: Error, socket: Duplex) => {
      guardSocket(socket);
      failed(socket, Object.assign(err, { code: errorCode(err) ?? 'WS_BAD_HANDSHAKE' }));
      refuseHttp(socket, 400, `mqtt-tap: ${err.message}`);
    });
    httpServer.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
      guardSocket(socket);
      const requested = (req.url ?? '/').split('?')[0];
      if (requested !== path) {
        const err = Object.assign(new Error(`no MQTT over WebSocket at ${requested}; the path is ${path}`), {
          code: 'WS_PATH_NOT_FOUND',
        });
        failed(socket, err, `connect the client to ${url}`);
        refuseHttp(socket, 404, `mqtt-tap: ${err.message}`);
        return;
      }
      const origin = requestOrigin(req);
      if (!originAllowed(origin, options.wsOrigins)) {
        const shown = shownOrigin(origin ?? '');
        const err = Object.assign(new Error(`origin ${JSON.stringify(shown)} is not allowed`), {
          code: 'WS_ORIGIN_FORBIDDEN',
        });
        failed(
          socket,
          err,
          `a web page opened this WebSocket; to allow it: --ws-origin ${JSON.stringify(shown)}`,
        );
        refuseHttp(socket, 403, 'mqtt-tap: this origin may not open a WebSocket here (see --ws-origin)');
        return;
      }
      wss.handleUpgrade(req, socket, head, (ws) => {
        const raw = socket as net.Socket;
        handshakes.handedOver(raw);
        const stream = new WebSocketPeer(ws, raw, {
          maxMessage: options.wsMaxMessage,
          ...(transport === 'wss' ? { writeSlice: TLS_WRITE_SLICE } : {}),
        });
        const websocket: Record<string, unknown> = {
          path: redactQuery(req.url ?? path),
          protocol: ws.protocol || null,
        };
        const agent = req.headers['user-agent'];
        if (agent !== undefined) websocket.userAgent = agent;
        if (origin !== undefined) websocket.origin = shownOrigin(origin);
        const accepted: AcceptedClient = {
          stream,
          listener: url,
          ...peerOf(raw),
          local: socketEndpoint(raw.localAddress, raw.localPort),
          transport,
          websocket,
        };
        if (transport === 'wss') {
          accepted.tls = serverSideTlsInfo(raw as tls.TLSSocket, requestCert);
          if (requestCert) accepted.certificate = clientVerification(raw as tls.TLSSocket);
        }
        callbacks.onClient(accepted);
      });
    });
    // Plain HTTP (a browser, a health check): say what this port is, and close.
    httpServer.on('request', (_req: http.IncomingMessage, res: http.ServerResponse) => {
      res.writeHead(426, {
        'Content-Type': 'text/plain; charset=utf-8',
        Connection: 'close',
        Upgrade: 'websocket',
      });
      res.end(`mqtt-tap: MQTT over WebSocket only, at ${url}\n`);
    });
    httpServer.on('clientError', (err: Error, socket: Duplex) => {
      guardSocket(socket);
      failed(socket, err);
      refuseHttp(socket, 400, 'mqtt-tap: bad HTTP request');
    });
    if (transport === 'wss') {
      httpServer.on('tlsClientError', (err: Error, socket: tls.TLSSocket) => {
        guardSocket(socket);
        failed(socket, err);
      });
    }
    handshakes.track(httpServer);
    server = httpServer;
  }

  if (spec.acceptProxyProtocol === true) {
    // Loaded only when used, like the WebSocket module.
    const { requireProxyHeaders, proxyHeaderFailure } = await import('./proxy-protocol.js');
    proxyGate = requireProxyHeaders(server, (raw, failure) =>
      callbacks.onHandshakeFailed(proxyHeaderFailure(url, transport, raw, failure)),
    );
  }
  const address = await listenOn(server, spec);
  url = formatAddress({ ...spec, host: address.address, port: address.port });
  server.on('error', (err: Error) => callbacks.onServerError(err));
  return {
    address,
    url,
    close: () => {
      const closed = closeServer(server);
      handshakes.dropAll();
      proxyGate?.dropAll();
      return closed;
    },
  };
}
