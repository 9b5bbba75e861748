/**
 * A WebSocket as a PeerStream: binary messages in, the MQTT byte stream out, and back.
 *
 * MQTT over WebSocket (MQTT 5.0 §6, 3.1.1 §6) is a byte stream cut into binary frames anywhere: a
 * packet may span frames and a frame may hold several packets. We forward the bytes of each
 * message as one chunk and never look at packet boundaries; the framer downstream does not care.
 *
 * Backpressure: `write()` returns false once `bufferedAmount` (ws's queue plus the socket's) reaches
 * the high-water mark; every send carries the same bound callback, and the first one to run with
 * the queue below the mark emits `drain`. Control frames (pong, close) are at most 125 bytes, so
 * they can never hold the queue above the mark on their own: a `drain` always follows.
 * Reading is paused with ws's own `pause()` (the socket stops being read).
 *
 * A WebSocket has no half-close: `end()` sends a close frame (1000), which ends both directions.
 */
import { EventEmitter } from 'node:events';
import type * as net from 'node:net';
import type { RawData, WebSocket } from 'ws';
import type { PeerStream } from './peer.js';
import { SliceQueue } from './tls-writes.js';

/** Same as net.Socket's default writableHighWaterMark, so TCP and WebSocket peers pace alike. */
export const WS_HIGH_WATER_MARK = 16 * 1024;

const SEND_OPTIONS = { binary: true, compress: false, fin: true } as const;

/** [MQTT-6.0.0-1]: control packets travel in binary frames; anything else closes the connection. */
export const WS_TEXT_FRAME = 'WS_TEXT_FRAME';

/** A message larger than the limit: closed with 1009 (RFC 6455 §7.4.1, Message Too Big). */
export const WS_MESSAGE_TOO_BIG = 'WS_MESSAGE_TOO_BIG';

/** ws's code for a message over its maxPayload; it has already sent the close frame (1009). */
const WS_ERR_TOO_BIG = 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH';

export interface WebSocketPeerOptions {
  /** The maxPayload ws was given: named in the error of a message over it. */
  maxMessage: number;
  highWaterMark?: number;
  /**
   * Over TLS: larger chunks are sent as messages of at most this many bytes, each once the last
   * has left (see tls-writes.ts). Message boundaries carry no meaning in MQTT over WebSocket.
   */
  writeSlice?: number;
}

export class WebSocketPeer extends EventEmitter implements PeerStream {
  private needDrain = false;
  private destroyCalled = false;
  private errorEmitted = false;
  private closeEmitted = false;
  private endEmitted = false;
  /** We sent the close frame first: the peer's close frame is then its answer, not its own end. */
  private endCalled = false;
  private pendingError: Error | undefined;
  private readonly slices: SliceQueue | undefined;
  private closeAfterWrites = false;

  /**
   * @param ws an open (server side) or connecting (client side) WebSocket
   * @param socket the socket under it, when known: its errors (ECONNRESET...) are reported, which
   *   ws itself swallows into a 1006 close
   */
  private readonly highWaterMark: number;
  private readonly maxMessage: number;

  constructor(
    private readonly ws: WebSocket,
    socket: net.Socket | undefined,
    options: WebSocketPeerOptions,
  ) {
    super();
    this.highWaterMark = options.highWaterMark ?? WS_HIGH_WATER_MARK;
    this.maxMessage = options.maxMessage;
    if (options.writeSlice !== undefined) {
      this.slices = new SliceQueue(
        options.writeSlice,
        (part, done) => {
          ws.send(part, SEND_OPTIONS, done);
        },
        this.onSlicesSent,
      );
    }
    ws.binaryType = 'nodebuffer';
    ws.on('message', this.onMessage);
    ws.on('error', this.onError);
    ws.on('close', this.onClose);
    if (socket !== undefined) this.watchSocket(socket);
  }

  /**
   * Watches the socket under the WebSocket, once ws has its own listeners on it (server side: from
   * the start; client side: from 'open'). Reports its errors, and the peer's close frame as `end`
   * the moment it is read: ws only says 'close' after the closing handshake and the TCP close, by
   * when the other side may have closed too and "who closed first" would be wrong.
   */
  watchSocket(socket: net.Socket): void {
    socket.on('error', this.onError);
    socket.on('data', this.afterSocketData);
  }

  get destroyed(): boolean {
    return this.destroyCalled || this.closeEmitted;
  }

  /** False once a close frame went either way: what is written then goes nowhere. */
  get writable(): boolean {
    return this.ws.readyState === this.ws.OPEN && !this.destroyCalled;
  }

  get writableLength(): number {
    return this.ws.bufferedAmount + (this.slices?.pending ?? 0);
  }

  /** The negotiated subprotocol ('' when none). */
  get protocol(): string {
    return this.ws.protocol;
  }

  write(chunk: Buffer): boolean {
    // After a close frame either way, writes go nowhere (callers check `writable` first).
    if (this.ws.readyState !== this.ws.OPEN) return true;
    const slices = this.slices;
    if (slices !== undefined && (slices.busy || chunk.length > slices.slice)) {
      slices.push(chunk);
      this.needDrain = true;
      return false;
    }
    this.ws.send(chunk, SEND_OPTIONS, this.onSent);
    if (this.ws.bufferedAmount < this.highWaterMark) return true;
    this.needDrain = true;
    return false;
  }

  end(): void {
    this.endCalled = true;
    if (this.slices?.busy) this.closeAfterWrites = true;
    else if (this.ws.readyState === this.ws.OPEN) this.ws.close(1000);
    else if (this.ws.readyState === this.ws.CONNECTING) this.ws.terminate();
  }

  /** Closes with this WebSocket status code (e.g. 1013 Try Again Later); reports no error. */
  closeWith(status: number): void {
    this.endCalled = true;
    if (this.ws.readyState === this.ws.OPEN) this.ws.close(status);
    else this.ws.terminate();
  }

  destroy(err?: Error): void {
    if (this.destroyCalled || this.closeEmitted) return;
    this.destroyCalled = true;
    this.slices?.clear();
    if (err !== undefined && !this.errorEmitted) this.pendingError = err;
    if (this.ws.readyState === this.ws.CLOSED) process.nextTick(this.onClose);
    else this.ws.terminate();
  }

  pause(): void {
    this.ws.pause();
  }

  resume(): void {
    this.ws.resume();
  }

  /** Closes with a WebSocket status code and reports `err` as the connection's error. */
  private fail(status: number, err: Error): void {
    if (this.destroyCalled || this.closeEmitted) return;
    this.destroyCalled = true;
    this.slices?.clear();
    this.pendingError = err;
    if (this.ws.readyState === this.ws.OPEN) this.ws.close(status);
    else this.ws.terminate();
  }

  private readonly onMessage = (data: RawData, isBinary: boolean): void => {
    if (this.destroyCalled) return;
    if (!isBinary) {
      const err = Object.assign(
        new Error('text frame received: MQTT over WebSocket uses binary frames only [MQTT-6.0.0-1]'),
        { code: WS_TEXT_FRAME },
      );
      this.fail(1003, err);
      return;
    }
    // binaryType 'nodebuffer': a Buffer, fragments already joined.
    const chunk = data as Buffer;
    if (chunk.length > 0) this.emit('data', chunk);
  };

  private readonly afterSocketData = (): void => {
    // ws has parsed the chunk: CLOSING without our end() or an error means a close frame came in.
    if (
      this.ws.readyState === this.ws.CLOSING &&
      !this.endCalled &&
      !this.endEmitted &&
      !this.destroyCalled &&
      !this.errorEmitted
    ) {
      this.endEmitted = true;
      this.emit('end');
    }
  };

  private readonly onSlicesSent = (): void => {
    if (this.closeAfterWrites) {
      this.closeAfterWrites = false;
      if (this.ws.readyState === this.ws.OPEN) this.ws.close(1000);
    }
    this.onSent();
  };

  private readonly onSent = (): void => {
    if (this.needDrain && !this.slices?.busy && this.ws.bufferedAmount < this.highWaterMark) {
      this.needDrain = false;
      this.emit('drain');
    }
  };

  private readonly onError = (err: Error): void => {
    if (this.destroyCalled || this.errorEmitted) return;
    this.errorEmitted = true;
    this.emit('error', (err as Error & { code?: unknown }).code === WS_ERR_TOO_BIG ? this.tooBig() : err);
  };

  private tooBig(): Error {
    return Object.assign(
      new Error(
        `a WebSocket message over ${this.maxMessage} bytes (--ws-max-message): closed with 1009 Message Too Big`,
      ),
      { code: WS_MESSAGE_TOO_BIG },
    );
  }

  private readonly onClose = (): void => {
    if (this.closeEmitted) return;
    this.closeEmitted = true;
    if (this.pendingError !== undefined) {
      this.errorEmitted = true;
      this.emit('error', this.pendingError);
    } else if (!this.destroyCalled && !this.errorEmitted && !this.endEmitted) {
      // A close frame, or the socket ending without one (1006): the peer's orderly end.
      this.endEmitted = true;
      this.emit('end');
    }
    this.emit('close');
  };
}
