/**
 * What the forwarding path tells whoever watches it. The proxy calls these after it has forwarded
 * the bytes, inside try/catch: an observer can never delay, change or break forwarding.
 */

import type { Direction } from '../protocol/direction.js';

export type { Direction };

export interface Endpoint {
  address: string;
  port: number;
}

/** How a client came through a load balancer that sent a PROXY protocol header. */
export interface ProxiedInfo {
  version: 1 | 2;
  /** The TCP peer that sent the header (the balancer). */
  via: Endpoint;
  /** Where the client connected, as the header says; absent when it names no addresses (then `client` is `via`). */
  destination?: Endpoint;
}

export interface OpenInfo {
  /** Short id, unique in the process (e.g. "c1"). */
  conn: string;
  /** The client: the TCP peer, or the source a PROXY protocol header named (see `proxied`). */
  client: Endpoint;
  /** Listeners with --accept-proxy-protocol: the header's version and the balancer it came through. */
  proxied?: ProxiedInfo;
  /** The proxy's own local endpoint that accepted the client. */
  local: Endpoint;
  /** The listener as the `listening` record names it (`127.0.0.1:1884`, `ws://...`); live connections only. */
  listener?: string;
  /** `host:port` (or URL) of the broker this connection is forwarded to. */
  upstream: string;
  /** Set once the upstream socket is connected. */
  upstreamLocal?: Endpoint;
  /** How the client reached us: `tcp`, `tls`, `ws` or `wss`; filled by the listener. */
  transport: string;
  /** TLS listeners: protocol, cipher, SNI, ALPN and the client certificate (see tls-info.ts). */
  tls?: Record<string, unknown>;
  /** WebSocket listeners: the request path and the negotiated subprotocol. */
  websocket?: Record<string, unknown>;
  startedAt: number;
}

export interface CloseInfo {
  /** Who closed (or failed) first. */
  closedBy: Direction | 'proxy';
  /** Socket error that ended the connection, if any (`code` and message). */
  error?: { side: Direction; code?: string; message: string };
  durationMs: number;
  /** Bytes forwarded each way. */
  bytes: { fromClient: number; fromBroker: number };
  /**
   * Bytes that arrived after the other side had closed (e.g. a broker's answer to a WebSocket
   * client that sent its close frame): dropped, not in `bytes`, never shown. Absent when none.
   */
  notForwarded?: { fromClient: number; fromBroker: number };
  /** What other observers add to this connection's close record (their `closeFields`, via fanOut). */
  fields?: Record<string, unknown>;
}

export interface UpstreamErrorInfo {
  upstream: string;
  /** Node's or OpenSSL's code, e.g. `ECONNREFUSED`, `UNABLE_TO_VERIFY_LEAF_SIGNATURE`. */
  code?: string;
  message: string;
  /** What to do about it, when the transport knows (e.g. `--upstream-ca FILE`). */
  hint?: string;
}

/** A client that reached a listener but never became a connection (TLS or WebSocket handshake failed). */
export interface HandshakeFailure {
  /** The listener, as a URL (`mqtts://127.0.0.1:8883`). */
  listener: string;
  client: Endpoint;
  transport: string;
  code?: string;
  message: string;
  hint?: string;
  /** The first bytes received, in hex, when they tell what the client sent instead. */
  received?: string;
}

/**
 * A client mqtt-tap itself closed right after accepting it, without dialling the broker: over
 * --max-connections, or an unverified client certificate where only verified clients may use
 * mqtt-tap's own upstream certificate.
 */
export interface RefusedClient extends HandshakeFailure {
  code: string;
}

export interface ConnectionObserver {
  /**
   * A chunk already forwarded (or being forwarded) to the other side. Never mutate it. `at`: when
   * it arrived (ms since the epoch), given by callers that show it later than that.
   */
  data(from: Direction, chunk: Buffer, at?: number): void;
  /**
   * How many of the next bytes from `from` this observer would only count, with no record and no
   * other effect (the body of a large PUBLISH past what is kept of it). A caller that shows chunks
   * later than they came may show a chunk that short at once instead of holding on to it.
   */
  countOnly?(from: Direction): number;
  /** Bytes from `from` are missing (a hole in a capture): that direction is shown no further. */
  gap?(from: Direction): void;
  /** The upstream connection is established. */
  upstreamConnected?(info: OpenInfo): void;
  /** The broker could not be reached; the client connection is being closed. */
  upstreamError(info: UpstreamErrorInfo): void;
  /**
   * Fields this observer adds to the connection's close record, which another observer writes
   * (e.g. the bytes a recording lost). Asked right before close(), synchronously.
   */
  closeFields?(): Record<string, unknown> | undefined;
  /** Both sockets are closed; called exactly once. */
  close(info: CloseInfo): void;
}

export interface ProxyObserver {
  open(info: OpenInfo): ConnectionObserver;
  /** A client whose TLS or WebSocket handshake failed: no connection, no broker dial. */
  handshakeFailed?(info: HandshakeFailure): void;
  /** A client refused by mqtt-tap's own limits or policy: no connection, no broker dial. */
  refused?(info: RefusedClient): void;
}

/** One observer that tells several (the tap, the recorder...); each is isolated from the others' failures. */
export function fanOut(observers: readonly ProxyObserver[], onError: (err: unknown) => void): ProxyObserver {
  if (observers.length === 1) return observers[0]!;
  return {
    handshakeFailed: (info) => isolated(observers, (o) => o.handshakeFailed?.(info), onError),
    refused: (info) => isolated(observers, (o) => o.refused?.(info), onError),
    open(info: OpenInfo): ConnectionObserver {
      const conns: ConnectionObserver[] = [];
      isolated(observers, (o) => conns.push(o.open(info)), onError);
      const each = (fn: (c: ConnectionObserver) => void): void => isolated(conns, fn, onError);
      const fieldsOf = (c: ConnectionObserver): Record<string, unknown> | undefined => {
        try {
          return c.closeFields?.();
        } catch (err) {
          onError(err);
          return undefined;
        }
      };
      return {
        data: (from, chunk, at) => each((c) => c.data(from, chunk, at)),
        // Bytes are only counted when every observer would only count them.
        countOnly: (from) => {
          let min = Number.POSITIVE_INFINITY;
          for (const c of conns) {
            try {
              min = Math.min(min, c.countOnly?.(from) ?? 0);
            } catch (err) {
              onError(err);
              return 0;
            }
          }
          return min;
        },
        gap: (from) => each((c) => c.gap?.(from)),
        upstreamConnected: (i) => each((c) => c.upstreamConnected?.(i)),
        upstreamError: (e) => each((c) => c.upstreamError(e)),
        closeFields: () => merge(conns.map(fieldsOf)),
        close: (i) => {
          // Each observer is given what the others add to the close record.
          const fields = conns.map(fieldsOf);
          isolated(
            [...conns.entries()],
            ([n, c]) => {
              const others = merge([i.fields, ...fields.filter((_, m) => m !== n)]);
              c.close(others === undefined ? i : { ...i, fields: others });
            },
            onError,
          );
        },
      };
    },
  };
}

/** Calls `fn` on each item; a throw is reported and the others still run. */
function isolated<T>(items: readonly T[], fn: (item: T) => void, onError: (err: unknown) => void): void {
  for (const item of items) {
    try {
      fn(item);
    } catch (err) {
      onError(err);
    }
  }
}

/** The fields of several observers in one object; undefined when none adds any. */
function merge(
  parts: ReadonlyArray<Record<string, unknown> | undefined>,
): Record<string, unknown> | undefined {
  let out: Record<string, unknown> | undefined;
  for (const p of parts) if (p !== undefined) out = Object.assign(out ?? {}, p);
  return out;
}
