/**
 * MQTT 3.1.1 peers on raw sockets for payloads too big to hold: a publisher that writes one PUBLISH
 * header and then generates its payload block by block (honouring backpressure), and a subscriber
 * that parses packet headers but streams a PUBLISH payload straight into a hash. Neither ever holds
 * more than one block of payload.
 */
import { createHash, randomFillSync } from 'node:crypto';
import { once } from 'node:events';
import * as net from 'node:net';
import type { Cleanups } from './tap-proxy.js';

const BLOCK = 1024 * 1024;

function varint(n: number): Buffer {
  const out: number[] = [];
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    out.push(byte);
  } while (n > 0);
  return Buffer.from(out);
}

function str(s: string): Buffer {
  const b = Buffer.from(s, 'utf8');
  const len = Buffer.alloc(2);
  len.writeUInt16BE(b.length);
  return Buffer.concat([len, b]);
}

/** CONNECT, MQTT 3.1.1, clean session, keep alive 0 (a long transfer must not be cut by it). */
export function connectPacket(clientId: string): Buffer {
  const body = Buffer.concat([str('MQTT'), Buffer.from([4, 0x02, 0, 0]), str(clientId)]);
  return Buffer.concat([Buffer.from([0x10]), varint(body.length), body]);
}

interface Packet {
  type: number;
  body: Buffer;
}

/**
 * Frames what a raw socket receives. PUBLISH payloads are not kept: `onPayload` gets each piece as
 * it arrives, then `onPublishEnd`.
 */
class StreamingReader {
  private pending: Buffer = Buffer.alloc(0);
  private payloadLeft = 0;
  private readonly packets: Packet[] = [];
  private readonly waiters: Array<(p: Packet) => void> = [];

  constructor(
    private readonly onPublishStart: (topic: string, length: number) => void,
    private readonly onPayload: (piece: Buffer) => void,
    private readonly onPublishEnd: () => void,
  ) {}

  push(chunk: Buffer): void {
    let data = chunk;
    while (data.length > 0) {
      if (this.payloadLeft > 0) {
        const take = Math.min(this.payloadLeft, data.length);
        this.onPayload(data.subarray(0, take));
        this.payloadLeft -= take;
        data = data.subarray(take);
        if (this.payloadLeft === 0) this.onPublishEnd();
        continue;
      }
      this.pending = this.pending.length === 0 ? data : Buffer.concat([this.pending, data]);
      data = this.parse();
    }
  }

  /** Consumes whole non-PUBLISH packets and PUBLISH headers from `pending`; returns payload bytes that follow. */
  private parse(): Buffer {
    for (;;) {
      const buf = this.pending;
      if (buf.length < 2) return Buffer.alloc(0);
      let remaining = 0;
      let multiplier = 1;
      let i = 1;
      for (; ; i++) {
        const byte = buf[i];
        if (byte === undefined) return Buffer.alloc(0);
        remaining += (byte & 0x7f) * multiplier;
        multiplier *= 128;
        if ((byte & 0x80) === 0) break;
        if (i === 4) throw new Error('malformed Remaining Length');
      }
      const headerEnd = i + 1;
      const type = buf[0]! >> 4;
      if (type === 3) {
        const qos = (buf[0]! >> 1) & 3;
        if (buf.length < headerEnd + 2) return Buffer.alloc(0);
        const topicLength = buf.readUInt16BE(headerEnd);
        const payloadStart = headerEnd + 2 + topicLength + (qos > 0 ? 2 : 0);
        if (buf.length < payloadStart) return Buffer.alloc(0);
        const topic = buf.toString('utf8', headerEnd + 2, headerEnd + 2 + topicLength);
        const length = remaining - (payloadStart - headerEnd);
        this.onPublishStart(topic, length);
        this.pending = Buffer.alloc(0);
        if (length === 0) {
          this.onPublishEnd();
          this.pending = buf.subarray(payloadStart);
          continue;
        }
        this.payloadLeft = length;
        return buf.subarray(payloadStart);
      }
      const total = headerEnd + remaining;
      if (buf.length < total) return Buffer.alloc(0);
      const packet = { type, body: Buffer.from(buf.subarray(headerEnd, total)) };
      this.pending = buf.subarray(total);
      const waiter = this.waiters.shift();
      if (waiter) waiter(packet);
      else this.packets.push(packet);
    }
  }

  next(timeoutMs = 5000): Promise<Packet> {
    const ready = this.packets.shift();
    if (ready) return Promise.resolve(ready);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no packet in time')), timeoutMs);
      this.waiters.push((p) => {
        clearTimeout(timer);
        resolve(p);
      });
    });
  }
}

export interface Received {
  topic: string;
  length: number;
  sha256: string;
}

export interface BigSubscriber {
  /** Resolves with the first PUBLISH received, once its whole payload is in. */
  received: Promise<Received>;
  close(): void;
}

async function rawSocket(cleanups: Cleanups, port: number): Promise<net.Socket> {
  const socket = net.connect({ host: '127.0.0.1', port });
  socket.on('error', () => {});
  cleanups.add(() => socket.destroy());
  await once(socket, 'connect');
  return socket;
}

/** Connects, subscribes to `filter` at QoS 0 and waits for the SUBACK. */
export async function bigSubscriber(
  cleanups: Cleanups,
  port: number,
  clientId: string,
  filter: string,
): Promise<BigSubscriber> {
  const socket = await rawSocket(cleanups, port);
  let resolveReceived!: (r: Received) => void;
  const received = new Promise<Received>((resolve) => {
    resolveReceived = resolve;
  });
  let current: { topic: string; length: number; hash: ReturnType<typeof createHash> } | undefined;
  const reader = new StreamingReader(
    (topic, length) => {
      current = { topic, length, hash: createHash('sha256') };
    },
    (piece) => current?.hash.update(piece),
    () => {
      if (current)
        resolveReceived({ topic: current.topic, length: current.length, sha256: current.hash.digest('hex') });
    },
  );
  socket.on('data', (chunk: Buffer) => reader.push(chunk));
  socket.write(connectPacket(clientId));
  const connack = await reader.next();
  if (connack.type !== 2 || connack.body[1] !== 0)
    throw new Error(`subscriber refused: ${connack.body.toString('hex')}`);
  const body = Buffer.concat([Buffer.from([0x00, 0x01]), str(filter), Buffer.from([0])]);
  socket.write(Buffer.concat([Buffer.from([0x82]), varint(body.length), body]));
  const suback = await reader.next();
  if (suback.type !== 9 || suback.body[2] !== 0)
    throw new Error(`subscription refused: ${suback.body.toString('hex')}`);
  return { received, close: () => socket.destroy() };
}

/** Resolves on 'drain'; rejects if the socket closes first. Leaves no listener behind. */
function drained(socket: net.Socket, where: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onDrain = (): void => {
      socket.off('close', onClose);
      resolve();
    };
    const onClose = (): void => {
      socket.off('drain', onDrain);
      reject(new Error(`the publisher's connection closed ${where}`));
    };
    socket.once('drain', onDrain);
    socket.once('close', onClose);
  });
}

export interface Published {
  sha256: string;
  /** The first `n` bytes of the payload, for checking the log's preview. */
  head: Buffer;
}

/**
 * Connects, publishes `size` pseudo-random bytes to `topic` at QoS 0 (header first, then 1 MiB blocks,
 * each a fresh buffer so that nothing queued is overwritten), sends DISCONNECT and ends.
 */
export async function publishBig(
  cleanups: Cleanups,
  port: number,
  clientId: string,
  topic: string,
  size: number,
  headBytes = 256,
): Promise<Published> {
  const socket = await rawSocket(cleanups, port);
  const reader = new StreamingReader(
    () => {},
    () => {},
    () => {},
  );
  socket.on('data', (chunk: Buffer) => reader.push(chunk));
  socket.write(connectPacket(clientId));
  const connack = await reader.next();
  if (connack.type !== 2 || connack.body[1] !== 0)
    throw new Error(`publisher refused: ${connack.body.toString('hex')}`);

  const topicBytes = str(topic);
  socket.write(Buffer.concat([Buffer.from([0x30]), varint(topicBytes.length + size), topicBytes]));
  const template = randomFillSync(Buffer.allocUnsafe(BLOCK));
  const hash = createHash('sha256');
  let head = Buffer.alloc(0);
  for (let sent = 0, index = 0; sent < size; index++) {
    const n = Math.min(BLOCK, size - sent);
    const block = Buffer.allocUnsafe(n);
    template.copy(block, 0, 0, n);
    // Every block differs: a lost, repeated or reordered block changes the hash.
    block.writeUInt32BE(index, 0);
    hash.update(block);
    if (head.length < headBytes) head = Buffer.concat([head, block.subarray(0, headBytes - head.length)]);
    sent += n;
    if (!socket.write(block)) await drained(socket, `after ${sent} of ${size} bytes`);
  }
  socket.write(Buffer.from([0xe0, 0x00]));
  socket.end();
  return { sha256: hash.digest('hex'), head };
}
