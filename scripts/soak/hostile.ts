/**
 * Hostile connections through mqtt-tap to the scripted broker, checked byte for byte both ways.
 *
 * The scripted broker is a `node:net` server in the soak's own process. Connections are paired
 * one at a time: a client registers with the broker, connects, and holds a lock until the broker
 * has accepted the upstream connection mqtt-tap opened for it. Then both sides run at once: the
 * client writes its stream, the broker its script, each in random chunks, and each side compares
 * what arrives with what the other sent (incrementally, and by SHA-256 at the end).
 *
 * A side that resets its connection makes the other direction's rule "a prefix of what was sent";
 * every other connection must deliver exactly what was sent.
 */
import { createHash } from 'node:crypto';
import * as net from 'node:net';
import type { Level } from './packets.js';
import type { Rng } from './rng.js';
import { chunkSize, inputsWithin, type Stream } from './streams.js';
import type { TapProcess } from './tap-process.js';
import { isWebSocket, openPipe, type Pipe, type Transport } from './transports.js';

export type ClientMode = 'normal' | 'half-close' | 'reset';
export type BrokerMode = 'normal' | 'early-fin' | 'reset';

export const yieldIo = (): Promise<void> => new Promise((r) => setImmediate(r));

/** One lock, handed over in order. */
export class Mutex {
  private tail: Promise<void> = Promise.resolve();

  acquire(): Promise<() => void> {
    let release!: () => void;
    const next = new Promise<void>((r) => {
      release = r;
    });
    const ready = this.tail.then(() => release);
    this.tail = this.tail.then(() => next);
    return ready;
  }
}

/** Resolves everyone once `count` arrivals (or departures) are in. */
export class Barrier {
  /** Sides that have arrived (or left). */
  arrived = 0;
  private open = false;
  private waiters: (() => void)[] = [];
  readonly allIn: Promise<void>;
  private signalAllIn!: () => void;

  constructor(private readonly count: number) {
    this.allIn = new Promise((r) => {
      this.signalAllIn = r;
    });
    if (count === 0) this.signalAllIn();
  }

  arrive(): Promise<void> {
    this.leave();
    if (this.open) return Promise.resolve();
    return new Promise((r) => this.waiters.push(r));
  }

  /** Counts an arrival that will not wait (a side that failed). */
  leave(): void {
    if (++this.arrived === this.count) this.signalAllIn();
  }

  release(): void {
    this.open = true;
    for (const w of this.waiters) w();
    this.waiters = [];
  }
}

export class HostileBroker {
  unpaired = 0;
  private next: ((socket: net.Socket) => void) | undefined;
  private readonly sockets = new Set<net.Socket>();

  private constructor(
    private readonly server: net.Server,
    readonly port: number,
  ) {}

  static async start(): Promise<HostileBroker> {
    const server = net.createServer({ allowHalfOpen: true, noDelay: true });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: '127.0.0.1', port: 0 }, () => resolve());
    });
    const addr = server.address();
    const broker = new HostileBroker(server, typeof addr === 'object' && addr !== null ? addr.port : 0);
    server.on('connection', (s) => broker.accept(s));
    return broker;
  }

  /** The next accepted connection goes to `take`; returns a cancel function. */
  expect(take: (socket: net.Socket) => void): () => void {
    this.next = take;
    return () => {
      if (this.next === take) this.next = undefined;
    };
  }

  private accept(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    socket.on('error', () => {});
    const take = this.next;
    this.next = undefined;
    if (take !== undefined) {
      take(socket);
      return;
    }
    // Nobody expected it (a client that gave up waiting): read and let go.
    this.unpaired++;
    socket.resume();
    socket.once('end', () => socket.end());
  }

  close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    return new Promise((r) => this.server.close(() => r()));
  }
}

export interface Verdict {
  rule: 'equal' | 'prefix';
  sent: number;
  received: number;
  ok: boolean;
  /** First offset where the received bytes differ from those sent (or run past their end). */
  firstDifference?: number;
  sha256Equal?: boolean;
}

/** Compares arriving bytes with the bytes sent, as they arrive. */
export class Receiver {
  received = 0;
  firstDifference = -1;
  private readonly hash = createHash('sha256');

  constructor(private readonly expected: Stream) {}

  feed(chunk: Buffer): void {
    this.hash.update(chunk);
    if (this.firstDifference < 0) {
      const exp = this.expected.data;
      const at = this.received;
      const n = Math.max(0, Math.min(chunk.length, exp.length - at));
      if (n > 0 && exp.compare(chunk, 0, n, at, at + n) !== 0) {
        let i = 0;
        while (chunk[i] === exp[at + i]) i++;
        this.firstDifference = at + i;
      } else if (n < chunk.length) this.firstDifference = at + n;
    }
    this.received += chunk.length;
  }

  get complete(): boolean {
    return this.received >= this.expected.data.length;
  }

  verdict(rule: 'equal' | 'prefix'): Verdict {
    const sent = this.expected.data.length;
    const v: Verdict = { rule, sent, received: this.received, ok: false };
    if (this.firstDifference >= 0) v.firstDifference = this.firstDifference;
    if (rule === 'equal') {
      v.sha256Equal = this.hash.digest('hex') === this.expected.sha256;
      v.ok = v.sha256Equal && this.received === sent && this.firstDifference < 0;
    } else v.ok = this.firstDifference < 0;
    return v;
  }
}

export interface HostileSpec {
  id: string;
  transport: Transport;
  level: Level;
  client: Stream;
  broker: Stream;
  clientMode: ClientMode;
  brokerMode: BrokerMode;
  /** Where a resetting side stops writing. */
  clientCut: number;
  brokerCut: number;
  clientRng: Rng;
  brokerRng: Rng;
  /** WebSocket masking keys (apart, so that close frames do not shift the chunking). */
  maskRng: Rng;
}

export interface HostileContext {
  tap: TapProcess;
  broker: HostileBroker;
  mutex: Mutex;
  /** The concurrency phase: both sides stop inside their big packet until released. */
  barrier?: Barrier;
  idleTimeoutMs: number;
}

export type Outcome = 'ok' | 'difference' | 'stalled' | 'no-connection' | 'cut-by-restart';

export interface HostileResult {
  id: string;
  transport: Transport;
  level: Level;
  clientMode: ClientMode;
  brokerMode: BrokerMode;
  outcome: Outcome;
  inputs: { client: number; broker: number };
  secrets: number;
  toBroker?: Verdict;
  toClient?: Verdict;
  detail?: string;
  ms: number;
}

/** Writes `data[from, to)` in random chunks while `alive()`; returns where it stopped. */
export async function writeChunks(
  rng: Rng,
  data: Buffer,
  from: number,
  to: number,
  write: (chunk: Buffer) => boolean,
  drained: () => Promise<void>,
  alive: () => boolean,
  progress: () => void,
): Promise<number> {
  let at = from;
  while (at < to && alive()) {
    const n = chunkSize(rng, to - at);
    const ok = write(data.subarray(at, at + n));
    at += n;
    progress();
    if (!ok) await drained();
    else if (rng.chance(0.25)) await yieldIo();
  }
  return at;
}

function socketDrained(s: net.Socket): Promise<void> {
  if (!s.writableNeedDrain || s.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      s.off('drain', done);
      s.off('close', done);
      resolve();
    };
    s.once('drain', done);
    s.once('close', done);
  });
}

/** Runs one paired connection to its end. */
export async function runHostile(spec: HostileSpec, ctx: HostileContext): Promise<HostileResult> {
  const t0 = performance.now();
  const generation = ctx.tap.generation;
  const result: HostileResult = {
    id: spec.id,
    transport: spec.transport,
    level: spec.level,
    clientMode: spec.clientMode,
    brokerMode: spec.brokerMode,
    outcome: 'ok',
    inputs: { client: 0, broker: 0 },
    secrets: 0,
    ms: 0,
  };
  const barrier = ctx.barrier;
  let clientArrived = false;
  let brokerArrived = false;
  const finish = (outcome: Outcome, detail?: string): HostileResult => {
    if (barrier !== undefined) {
      if (!clientArrived) barrier.leave();
      if (!brokerArrived) barrier.leave();
      clientArrived = brokerArrived = true;
    }
    result.outcome = outcome;
    if (detail !== undefined) result.detail = detail;
    result.ms = Math.round(performance.now() - t0);
    return result;
  };

  // --- pairing ---
  let pipe: Pipe;
  let sock: net.Socket;
  const release = await ctx.mutex.acquire();
  let cancel: () => void = () => {};
  try {
    const accepted = new Promise<net.Socket>((resolve) => {
      cancel = ctx.broker.expect(resolve);
    });
    pipe = await openPipe(
      spec.transport,
      ctx.tap.endpoints,
      () => spec.maskRng.bytes(4),
      spec.clientMode === 'reset',
    );
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), 10_000);
    });
    const s = await Promise.race([accepted, timeout]);
    clearTimeout(timer);
    if (s === undefined) {
      pipe.destroy();
      throw new Error('mqtt-tap did not connect upstream within 10 s');
    }
    sock = s;
  } catch (err) {
    cancel();
    release();
    const restarted = ctx.tap.generation !== generation || ctx.tap.restarting;
    return finish(
      restarted ? 'cut-by-restart' : 'no-connection',
      err instanceof Error ? err.message : String(err),
    );
  }
  cancel();
  release();

  // --- both sides at once ---
  const toBroker = new Receiver(spec.client);
  const toClient = new Receiver(spec.broker);
  let lastProgress = performance.now();
  let waiting = false;
  const progress = (): void => {
    lastProgress = performance.now();
  };
  const clientRule = spec.clientMode === 'reset' || spec.brokerMode === 'reset' ? 'prefix' : 'equal';
  // mqtt-tap may have reset it already, while the client's handshake was still finishing.
  const brokerClosed = sock.closed
    ? Promise.resolve()
    : new Promise<void>((r) => sock.once('close', () => r()));

  pipe.onData = (c) => {
    toClient.feed(c);
    progress();
  };
  const clientEnded = new Promise<void>((r) => {
    pipe.onEnd = r;
  });

  const clientSide = async (): Promise<void> => {
    const data = spec.client.data;
    const alive = (): boolean => !pipe.isClosed;
    const hold = barrier !== undefined ? (spec.client.hold ?? data.length) : data.length;
    const stop = spec.clientMode === 'reset' ? Math.min(spec.clientCut, hold) : hold;
    const write = (c: Buffer): boolean => pipe.write(c);
    const drained = (): Promise<void> => pipe.drained();
    let at = await writeChunks(spec.clientRng, data, 0, stop, write, drained, alive, progress);
    if (barrier !== undefined && spec.clientMode !== 'reset') {
      clientArrived = true;
      waiting = true;
      await barrier.arrive();
      waiting = false;
      progress();
      at = await writeChunks(spec.clientRng, data, at, data.length, write, drained, alive, progress);
    } else if (spec.clientMode === 'reset' && spec.clientCut < data.length) {
      at = await writeChunks(spec.clientRng, data, at, spec.clientCut, write, drained, alive, progress);
    }
    result.inputs.client = inputsWithin(spec.client, at);
    if (spec.clientMode === 'reset') {
      await yieldIo();
      pipe.reset();
    } else if (spec.clientMode === 'half-close') pipe.end();
    else if (!isWebSocket(spec.transport)) {
      // Normal close: the broker ends first (through mqtt-tap), then the client.
      await Promise.race([clientEnded, pipe.closed]);
      pipe.end();
    }
    await pipe.closed;
  };

  let brokerEnded = false;
  let scriptDone = false;
  let upstreamEnded = false;
  const endBroker = (): void => {
    if (brokerEnded || sock.destroyed) return;
    brokerEnded = true;
    sock.end();
  };
  const maybeEnd = (): void => {
    if (scriptDone && spec.brokerMode === 'normal' && (toBroker.complete || upstreamEnded)) endBroker();
  };
  sock.on('data', (c: Buffer) => {
    toBroker.feed(c);
    progress();
    maybeEnd();
  });
  sock.on('end', () => {
    upstreamEnded = true;
    maybeEnd();
  });

  const brokerSide = async (): Promise<void> => {
    const data = spec.broker.data;
    const alive = (): boolean => !sock.destroyed && !brokerEnded;
    const hold = barrier !== undefined ? (spec.broker.hold ?? data.length) : data.length;
    const stop = spec.brokerMode === 'reset' ? Math.min(spec.brokerCut, hold) : hold;
    const write = (c: Buffer): boolean => sock.write(c);
    const drained = (): Promise<void> => socketDrained(sock);
    let at = await writeChunks(spec.brokerRng, data, 0, stop, write, drained, alive, progress);
    if (barrier !== undefined && spec.brokerMode !== 'reset') {
      brokerArrived = true;
      waiting = true;
      await barrier.arrive();
      waiting = false;
      progress();
      at = await writeChunks(spec.brokerRng, data, at, data.length, write, drained, alive, progress);
    } else if (spec.brokerMode === 'reset' && spec.brokerCut < data.length) {
      at = await writeChunks(spec.brokerRng, data, at, spec.brokerCut, write, drained, alive, progress);
    }
    result.inputs.broker = inputsWithin(spec.broker, at);
    scriptDone = true;
    if (spec.brokerMode === 'reset') {
      await yieldIo();
      if (!sock.destroyed) sock.resetAndDestroy();
    } else if (spec.brokerMode === 'early-fin') endBroker();
    else maybeEnd();
    await brokerClosed;
  };

  // --- watchdog: no byte moving either way for too long ---
  let stalled = false;
  const watchdog = setInterval(() => {
    if (waiting || performance.now() - lastProgress < ctx.idleTimeoutMs) return;
    stalled = true;
    pipe.destroy();
    sock.destroy();
  }, 1000);
  try {
    await Promise.all([clientSide(), brokerSide()]);
  } finally {
    clearInterval(watchdog);
  }
  result.secrets = spec.client.secrets;
  result.toBroker = toBroker.verdict(clientRule);
  result.toClient = toClient.verdict(clientRule);
  const ok = result.toBroker.ok && result.toClient.ok;
  const where = (v: Verdict): string =>
    `${v.received}/${v.sent} B${v.firstDifference !== undefined ? `, first difference at ${v.firstDifference}` : ''}`;
  const detail = `client→broker ${where(result.toBroker)}; broker→client ${where(result.toClient)}`;
  if (ctx.tap.generation !== generation) return finish(ok ? 'ok' : 'cut-by-restart', ok ? undefined : detail);
  if (stalled) return finish('stalled', `no byte moved for ${ctx.idleTimeoutMs} ms: ${detail}`);
  return finish(ok ? 'ok' : 'difference', ok ? undefined : detail);
}
