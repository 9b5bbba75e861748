/**
 * A broker that is not one: a real TCP server on 127.0.0.1 that answers with exact scripted bytes.
 * For codes no installable broker sends (CONNACK 0x86, DISCONNECT 0x8E/0x8D/0x95...). It frames what
 * it receives (fixed header + Remaining Length) so scripts can wait for whole packets.
 */
import * as net from 'node:net';

/** Hex with optional whitespace, e.g. `'20 03 00 86 00'`. */
export type Bytes = Buffer | string;

export function toBytes(bytes: Bytes): Buffer {
  if (Buffer.isBuffer(bytes)) return bytes;
  const clean = bytes.replace(/\s+/g, '');
  if (!/^(?:[0-9a-fA-F]{2})*$/.test(clean)) throw new Error(`not hex: ${bytes}`);
  return Buffer.from(clean, 'hex');
}

export interface ScriptedConnection {
  socket: net.Socket;
  /** Every byte received so far. */
  received(): Buffer;
  /** The next whole MQTT packet (fixed header included) received on this connection. */
  nextPacket(timeoutMs?: number): Promise<Buffer>;
  send(bytes: Bytes): Promise<void>;
  /** FIN after everything sent. */
  end(): Promise<void>;
  /** Abort (RST when data is unread). */
  destroy(): void;
  /** Resolves when the socket has closed. */
  readonly closed: Promise<void>;
}

export type Script = (conn: ScriptedConnection) => Promise<void> | void;

export interface ScriptStep {
  /** Wait for the next packet, and check its type (1..15) when given. */
  expect?: number | true;
  send?: Bytes;
  /** `end`: FIN; `destroy`: abort; `wait`: keep the connection open until the peer closes. */
  after?: 'end' | 'destroy' | 'wait';
  /** Pause before this step. */
  delayMs?: number;
}

/** A script from a list of steps; e.g. `[{expect: 1, send: '20 03 00 86 00', after: 'end'}]`. */
export function steps(list: readonly ScriptStep[]): Script {
  return async (conn) => {
    for (const step of list) {
      if (step.delayMs) await new Promise((r) => setTimeout(r, step.delayMs));
      if (step.expect !== undefined) {
        const packet = await conn.nextPacket();
        const type = packet[0]! >> 4;
        if (step.expect !== true && type !== step.expect) {
          throw new Error(`scripted broker expected packet type ${step.expect}, got ${type}`);
        }
      }
      if (step.send !== undefined) await conn.send(step.send);
      if (step.after === 'end') await conn.end();
      else if (step.after === 'destroy') conn.destroy();
      else if (step.after === 'wait') await conn.closed;
    }
  };
}

export interface ScriptedBroker {
  host: string;
  port: number;
  url: string;
  connections: ScriptedConnection[];
  /** Errors thrown by scripts (a failed `expect`, for instance). */
  errors: Error[];
  close(): Promise<void>;
}

/** Length of the first whole packet in `buf`, or undefined if incomplete. */
function frameLength(buf: Buffer): number | undefined {
  let multiplier = 1;
  let length = 0;
  for (let i = 1; i <= 4; i++) {
    const byte = buf[i];
    if (byte === undefined) return undefined;
    length += (byte & 0x7f) * multiplier;
    if ((byte & 0x80) === 0) {
      const total = 1 + i + length;
      return buf.length >= total ? total : undefined;
    }
    multiplier *= 128;
  }
  throw new Error('scripted broker: malformed Remaining Length');
}

function connection(socket: net.Socket): ScriptedConnection {
  const chunks: Buffer[] = [];
  let unframed = Buffer.alloc(0);
  const packets: Buffer[] = [];
  const waiters: Array<(p: Buffer) => void> = [];
  socket.on('data', (chunk: Buffer) => {
    chunks.push(chunk);
    unframed = Buffer.concat([unframed, chunk]);
    for (let n = frameLength(unframed); n !== undefined; n = frameLength(unframed)) {
      const packet = unframed.subarray(0, n);
      unframed = unframed.subarray(n);
      const waiter = waiters.shift();
      if (waiter) waiter(packet);
      else packets.push(packet);
    }
  });
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  return {
    socket,
    closed,
    received: () => Buffer.concat(chunks),
    nextPacket(timeoutMs = 5000) {
      const ready = packets.shift();
      if (ready) return Promise.resolve(ready);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('scripted broker: no packet in time')), timeoutMs);
        waiters.push((p) => {
          clearTimeout(timer);
          resolve(p);
        });
      });
    },
    send: (bytes) =>
      new Promise((resolve, reject) =>
        socket.write(toBytes(bytes), (err) => (err ? reject(err) : resolve())),
      ),
    end: () => new Promise((resolve) => socket.end(() => resolve())),
    destroy: () => socket.destroy(),
  };
}

export async function startScriptedBroker(script: Script | readonly ScriptStep[]): Promise<ScriptedBroker> {
  const run: Script = typeof script === 'function' ? script : steps(script);
  const connections: ScriptedConnection[] = [];
  const errors: Error[] = [];
  const server = net.createServer((socket) => {
    const conn = connection(socket);
    connections.push(conn);
    Promise.resolve()
      .then(() => run(conn))
      .catch((err: unknown) => {
        errors.push(err instanceof Error ? err : new Error(String(err)));
        socket.destroy();
      });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => resolve());
  });
  const addr = server.address();
  if (addr === null || typeof addr === 'string') throw new Error('scripted broker has no port');
  return {
    host: '127.0.0.1',
    port: addr.port,
    url: `mqtt://127.0.0.1:${addr.port}`,
    connections,
    errors,
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of connections) c.destroy();
        server.close(() => resolve());
      }),
  };
}
