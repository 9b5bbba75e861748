/**
 * The stalled log under load: a publisher sends QoS 0 PUBLISHes at a fixed rate through mqtt-tap
 * to mosquitto and a subscriber receives them back through mqtt-tap. First a window with the log
 * read as it comes, then one with mqtt-tap's stdout not read at all (the pipe fills, its writes
 * block); RSS and the forwarding rate of both windows are compared. Then the log is read again
 * and the backlog drains.
 */
import * as net from 'node:net';
import { frame, lengthPrefixed } from './packets.js';
import type { Markers } from './secrets.js';
import type { TapProcess } from './tap-process.js';

export interface WindowResult {
  label: 'unstalled' | 'stalled';
  seconds: number;
  sent: number;
  received: number;
  /** Messages the subscriber received per second during the window. */
  rate: number;
  rssStartMB: number;
  rssEndMB: number;
  peakMB: number;
  /** Log bytes read during the window. */
  logBytes: number;
  /** How busy the soak's own event loop was (0-1): near 1, the soak and not mqtt-tap may be the limit. */
  soakLoopUtilization: number;
  /** Why the window ended early (RSS past the safety cap). */
  cutShort?: string;
}

export interface StallResult {
  targetRate: number;
  unstalled: WindowResult;
  stalled: WindowResult;
  /** Sequence numbers the subscriber never saw, and ones that came out of order. */
  lost: number;
  reordered: number;
  /** Seconds until the log went quiet once read again (or until the soak stopped waiting). */
  drainSeconds: number;
  /** The log was still coming when the soak stopped waiting for it. */
  drainCutShort: boolean;
  /** Log bytes read after the stalled window (the backlog, plus what the tail of the load logged). */
  backlogBytes: number;
}

const TOPIC = 'soak/rate/m';
const PAYLOAD = 64;
const MB = 1024 * 1024;
const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function connectPacket(clientId: string, password: Buffer): Buffer {
  // MQTT 3.1.1, clean session, user name and password, keep alive 60 s.
  return frame(
    0x10,
    Buffer.concat([
      lengthPrefixed('MQTT'),
      Buffer.from([4, 0xc2, 0, 60]),
      lengthPrefixed(clientId),
      lengthPrefixed('soak'),
      lengthPrefixed(password),
    ]),
  );
}

/** Connects through `tap` and waits for CONNACK 0; the socket's later bytes go to `onData`. */
async function rawClient(tap: TapProcess, clientId: string, password: Buffer): Promise<net.Socket> {
  const s = net.connect({ host: tap.endpoints.host, port: tap.endpoints.tcp, noDelay: true });
  s.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    s.once('connect', resolve);
    s.once('error', reject);
  });
  s.write(connectPacket(clientId, password));
  const ack = await new Promise<Buffer>((resolve, reject) => {
    s.once('data', resolve);
    s.once('close', () => reject(new Error(`${clientId}: closed before CONNACK`)));
  });
  if (ack[0] !== 0x20 || ack[3] !== 0) throw new Error(`${clientId}: CONNACK ${ack.toString('hex')}`);
  return s;
}

class Subscriber {
  received = 0;
  lost = 0;
  reordered = 0;
  private next = 0;
  private pending = Buffer.alloc(0);

  constructor(readonly socket: net.Socket) {
    socket.on('data', (c: Buffer) => this.push(c));
  }

  private push(chunk: Buffer): void {
    let b = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    let at = 0;
    while (b.length - at >= 2) {
      let len = 0;
      let mult = 1;
      let i = at + 1;
      let done = false;
      for (let k = 0; k < 4 && i < b.length; k++) {
        const x = b[i++]!;
        len += (x & 0x7f) * mult;
        mult *= 128;
        if ((x & 0x80) === 0) {
          done = true;
          break;
        }
      }
      if (!done || i + len > b.length) break;
      if (b[at]! >> 4 === 3) {
        const topicLen = b.readUInt16BE(i);
        const p = i + 2 + topicLen;
        const seq = Number(b.toString('latin1', p, p + 8));
        this.received++;
        if (seq > this.next) this.lost += seq - this.next;
        if (seq < this.next) this.reordered++;
        else this.next = seq + 1;
      }
      at = i + len;
    }
    b = b.subarray(at);
    this.pending = b.length === 0 ? Buffer.alloc(0) : Buffer.from(b);
  }
}

class Publisher {
  sent = 0;
  private timer: NodeJS.Timeout | undefined;
  private blocked = false;
  private readonly template: Buffer;
  private readonly seqAt: number;

  constructor(
    readonly socket: net.Socket,
    private readonly rate: number,
  ) {
    this.template = frame(0x30, Buffer.concat([lengthPrefixed(TOPIC), Buffer.alloc(PAYLOAD, 0x61)]));
    this.seqAt = this.template.length - PAYLOAD;
    socket.on('drain', () => {
      this.blocked = false;
    });
  }

  start(): void {
    const t0 = performance.now();
    this.timer = setInterval(() => {
      if (this.blocked) return;
      const due = Math.floor(((performance.now() - t0) / 1000) * this.rate) - this.sent;
      if (due <= 0) return;
      const size = this.template.length;
      const batch = Buffer.allocUnsafe(due * size);
      for (let k = 0; k < due; k++) {
        this.template.copy(batch, k * size);
        batch.write(String(this.sent + k).padStart(8, '0'), k * size + this.seqAt, 'latin1');
      }
      this.sent += due;
      if (!this.socket.write(batch)) this.blocked = true;
    }, 10);
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
  }
}

interface Probe {
  t: number;
  sent: number;
  received: number;
  rss: number;
  log: number;
}

export async function stalledLogWindows(
  tap: TapProcess,
  markers: Markers,
  opts: {
    rate: number;
    unstalledSeconds: number;
    stalledSeconds: number;
    /** How long to wait for the backlog to drain before going on. */
    drainLimitSeconds: number;
    rssCapMB: number;
    rng: () => number;
  },
): Promise<StallResult> {
  const pick = (): Buffer => markers.pool[Math.floor(opts.rng() * markers.pool.length)]!;
  const subSocket = await rawClient(tap, 'soak-rate-sub', pick());
  const sub = new Subscriber(subSocket);
  subSocket.write(
    frame(0x82, Buffer.concat([Buffer.from([0, 1]), lengthPrefixed('soak/rate/#'), Buffer.from([0])])),
  );
  await delay(500);
  const pubSocket = await rawClient(tap, 'soak-rate-pub', pick());
  const pub = new Publisher(pubSocket, opts.rate);
  pub.start();
  await delay(1000);

  const probe = (): Probe => ({
    t: performance.now(),
    sent: pub.sent,
    received: sub.received,
    rss: tap.rss(),
    log: tap.logBytes,
  });
  const window = async (label: WindowResult['label'], seconds: number): Promise<WindowResult> => {
    tap.resetPeak();
    const elu = performance.eventLoopUtilization();
    const a = probe();
    let cutShort: string | undefined;
    const end = a.t + seconds * 1000;
    while (performance.now() < end) {
      await delay(250);
      const rss = tap.rss();
      if (rss > opts.rssCapMB * MB) {
        cutShort = `RSS reached ${(rss / MB).toFixed(0)} MB (the soak's cap, --rss-cap-mb) after ${((performance.now() - a.t) / 1000).toFixed(1)} s`;
        break;
      }
    }
    const b = probe();
    const secs = (b.t - a.t) / 1000;
    const r: WindowResult = {
      label,
      seconds: secs,
      sent: b.sent - a.sent,
      received: b.received - a.received,
      rate: (b.received - a.received) / secs,
      rssStartMB: a.rss / MB,
      rssEndMB: b.rss / MB,
      peakMB: tap.peak() / MB,
      logBytes: b.log - a.log,
      soakLoopUtilization: performance.eventLoopUtilization(elu).utilization,
    };
    if (cutShort !== undefined) r.cutShort = cutShort;
    return r;
  };

  const unstalled = await window('unstalled', opts.unstalledSeconds);
  tap.stallLog();
  let stalled: WindowResult;
  try {
    stalled = await window('stalled', opts.stalledSeconds);
  } finally {
    tap.resumeLog();
  }
  const logAtResume = tap.logBytes;
  pub.stop();
  // Let the subscriber catch up, then the log drain.
  const t0 = performance.now();
  let last = -1;
  while (sub.received !== last) {
    last = sub.received;
    await delay(1000);
  }
  let lastLog = -1;
  let drainCutShort = false;
  while (tap.logBytes !== lastLog) {
    if (performance.now() - t0 > opts.drainLimitSeconds * 1000) {
      drainCutShort = true;
      break;
    }
    lastLog = tap.logBytes;
    await delay(1000);
  }
  const drainSeconds = (performance.now() - t0) / 1000 - (drainCutShort ? 0 : 2);
  pubSocket.end(Buffer.from([0xe0, 0]));
  subSocket.end(Buffer.from([0xe0, 0]));
  await delay(200);
  pubSocket.destroy();
  subSocket.destroy();
  return {
    targetRate: opts.rate,
    unstalled,
    stalled,
    lost: sub.lost + Math.max(0, pub.sent - sub.received - sub.lost),
    reordered: sub.reordered,
    drainSeconds: Math.max(0, drainSeconds),
    drainCutShort,
    backlogBytes: tap.logBytes - logAtResume,
  };
}
