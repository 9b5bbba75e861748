/**
 * What the socket pair needs from either end, whatever the transport: the subset of `net.Socket`
 * it uses. `net.Socket` is a peer as it is (no wrapper on the TCP path); a TLS socket becomes one
 * through `TlsPeer` (tls-writes.ts), which writes a record at a time, and a WebSocket through
 * `WebSocketPeer` (websocket-stream.ts).
 *
 * Contract, as net.Socket keeps it:
 * - `data` carries MQTT stream bytes (never WebSocket framing); chunks are never reused.
 * - `write()` returning false means "stop feeding me until `drain`".
 * - `end` is the peer's orderly close (TCP FIN, TLS close_notify, WebSocket close frame).
 * - `error` (at most one) comes before `close`; `close` comes exactly once, last.
 * - `destroy(err)` closes at once and reports `err` as the error, asynchronously.
 * - `writable` is false once nothing written can reach the peer any more (closed, or a WebSocket
 *   close frame sent or received): the pair then neither counts nor shows those bytes as forwarded.
 */
import type { Endpoint, ProxiedInfo } from '../observe/observer.js';

export interface PeerStream {
  write(chunk: Buffer): boolean;
  /** Orderly close of our sending side; for a WebSocket, of both (it has no half-close). */
  end(): unknown;
  destroy(err?: Error): unknown;
  pause(): unknown;
  resume(): unknown;
  readonly writable: boolean;
  /** Bytes accepted by write() but not yet handed to the kernel. */
  readonly writableLength: number;
  readonly destroyed: boolean;
  on(event: 'data', listener: (chunk: Buffer) => void): unknown;
  on(event: 'end' | 'close' | 'drain', listener: () => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
}

/** A client the listener accepted: its stream, once the transport's handshakes are done. */
export interface AcceptedClient {
  stream: PeerStream;
  /** The listener, as records show it (`mqtts://127.0.0.1:8883`). */
  listener: string;
  client: Endpoint;
  /** Came with a PROXY protocol header: `client` is the header's source. */
  proxied?: ProxiedInfo;
  local: Endpoint;
  transport: string;
  /** TLS listeners that ask for certificates: whether the client's verified, and if not why. */
  certificate?: ClientVerification;
  tls?: Record<string, unknown>;
  websocket?: Record<string, unknown>;
}

export interface ClientVerification {
  verified: boolean;
  /** Why not: `no client certificate`, or OpenSSL's code (`UNABLE_TO_VERIFY_LEAF_SIGNATURE`...). */
  reason?: string;
}

/** A connection to the broker being made. Failures arrive as the stream's `error`. */
export interface DialedUpstream {
  stream: PeerStream;
  /** Calls back once MQTT bytes can flow: TCP connected, TLS verified, WebSocket upgraded. */
  onReady(callback: () => void): void;
  /** Our end of the upstream connection, once ready. */
  localEndpoint(): Endpoint;
  /** A hint for a failure of this dial (e.g. which flag fixes a certificate error), if any. */
  hint?(err: Error): string | undefined;
}

export type Dialer = () => DialedUpstream;

export function socketEndpoint(address: string | undefined, port: number | undefined): Endpoint {
  return { address: address ?? '', port: port ?? 0 };
}
