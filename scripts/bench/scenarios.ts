/**
 * The scenarios. Each run gets a fresh target (see targets.ts), drives its load through it, checks
 * that every message arrived intact and in order, and returns its metrics. A run that loses,
 * reorders or damages a message fails: its rate would be meaningless.
 */
import { closeSync, existsSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { RawClient } from './client.js';
import { openLoop, type Percentiles } from './open-loop.js';
import {
  cpuSeconds,
  cpuTimes,
  delay,
  exited,
  peakRssBytes,
  resetPeakRss,
  rssBytes,
  stop,
  syscalls,
  track,
} from './procs.js';
import { percentile } from './stats.js';
import type { Broker, RunningTarget } from './targets.js';
import {
  isSequencePayload,
  LARGE_HEADER,
  largeHeader,
  pattern,
  payloadOffset,
  payloadSequence,
  puback,
  publish,
  publishHead,
  sequencePayload,
  type Version,
} from './wire.js';

export type ScenarioId = 'A' | 'A2' | 'B' | 'C' | 'D' | 'F' | 'L';

export interface RunContext {
  target: RunningTarget;
  broker: Broker;
  version: Version;
  /** Multiplies message counts and sizes (1 = the figures); for quick iterations. */
  scale: number;
  scratch: string;
  /** A2's publisher: mosquitto_pub -l (default when installed) or a raw socket flushing each packet. */
  a2Clients: 'mosquitto' | 'raw';
  tag: string;
}

export type Metrics = Record<string, number>;

export const MOSQUITTO_PUB = '/usr/bin/mosquitto_pub';
export const MOSQUITTO_SUB = '/usr/bin/mosquitto_sub';

/** After the last message, before the final CPU sample: lets mqtt-tap's 100 ms log flush happen. */
const SETTLE_MS = 300;

const now = (): number => performance.now();

function scaled(n: number, scale: number, min = 1): number {
  return Math.max(min, Math.round(n * scale));
}

class Deferred<T = void> {
  resolve!: (v: T) => void;
  reject!: (e: Error) => void;
  readonly promise = new Promise<T>((res, rej) => {
    this.resolve = res;
    this.reject = rej;
  });

  constructor() {
    // A failure may come before anyone awaits it (a client process dying early): not unhandled.
    this.promise.catch(() => {});
  }
}

/** Rejects if no progress is reported for `stallMs`, or after `limitMs` in all. */
function watchdog<T>(
  work: Promise<T>,
  progress: () => number,
  stallMs: number,
  limitMs: number,
  what: string,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const start = now();
    let last = progress();
    let lastChange = start;
    const timer = setInterval(() => {
      const p = progress();
      const t = now();
      if (p !== last) {
        last = p;
        lastChange = t;
      }
      if (t - lastChange > stallMs) reject(new Error(`${what}: stalled at ${p} for ${stallMs} ms`));
      else if (t - start > limitMs) reject(new Error(`${what}: not done after ${limitMs} ms (at ${p})`));
    }, 250);
    work.then(
      (v) => {
        clearInterval(timer);
        resolve(v);
      },
      (e: unknown) => {
        clearInterval(timer);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

// --- CPU / syscall accounting ------------------------------------------------------------------------

interface Snapshot {
  targetCpu?: number;
  targetSys?: number;
  targetIo?: { reads: number; writes: number } | undefined;
  brokerCpu: number;
  bench: NodeJS.CpuUsage;
}

function snapshot(ctx: RunContext): Snapshot {
  const pid = ctx.target.pid;
  const s: Snapshot = { brokerCpu: cpuSeconds(ctx.broker.pid), bench: process.cpuUsage() };
  if (pid !== undefined) {
    const t = cpuTimes(pid);
    s.targetCpu = t.user + t.system;
    s.targetSys = t.system;
    s.targetIo = syscalls(pid);
  }
  return s;
}

/** CPU and syscalls between two snapshots, per forwarded MQTT packet (µs, counts). */
function accounting(a: Snapshot, b: Snapshot, packets: number): Metrics {
  const m: Metrics = {
    packets,
    brokerCpuUsPerPacket: ((b.brokerCpu - a.brokerCpu) * 1e6) / packets,
    benchCpuS: (b.bench.user + b.bench.system - a.bench.user - a.bench.system) / 1e6,
  };
  if (a.targetCpu !== undefined && b.targetCpu !== undefined) {
    m.targetCpuS = b.targetCpu - a.targetCpu;
    if (a.targetSys !== undefined && b.targetSys !== undefined) m.targetSysS = b.targetSys - a.targetSys;
    m.cpuUsPerPacket = (m.targetCpuS * 1e6) / packets;
  }
  if (a.targetIo && b.targetIo) {
    m.readsPerPacket = (b.targetIo.reads - a.targetIo.reads) / packets;
    m.writesPerPacket = (b.targetIo.writes - a.targetIo.writes) / packets;
  }
  return m;
}

// --- subscriber-side checks -------------------------------------------------------------------------

/** Checks that sequence-numbered small payloads arrive 0, 1, 2... exactly once and intact. */
class SequenceCheck {
  next = 0;
  received = 0;
  error: string | undefined;
  firstAt = 0;
  lastAt = 0;
  readonly done = new Deferred();

  constructor(
    private readonly total: number,
    private readonly payloadLength: number,
  ) {}

  payload(p: Buffer): void {
    const t = now();
    if (this.received === 0) this.firstAt = t;
    this.received++;
    if (!isSequencePayload(p, this.next, this.payloadLength)) {
      const got = payloadSequence(p);
      this.error ??=
        got === this.next
          ? `message ${got} damaged (${p.length} bytes: ${JSON.stringify(p.toString('latin1').slice(0, 80))})`
          : `expected message ${this.next}, got ${got < 0 ? 'an unnumbered payload' : got} (lost, reordered or duplicated)`;
      if (got >= 0) this.next = got;
    }
    this.next++;
    if (this.next >= this.total) {
      this.lastAt = t;
      if (this.error !== undefined) this.done.reject(new Error(this.error));
      else if (this.received !== this.total)
        this.done.reject(new Error(`received ${this.received} messages, expected ${this.total}`));
      else this.done.resolve();
    }
  }
}

/** Large payloads: `largeHeader(seq)` then the shared pattern, compared with memcmp as they stream in. */
class LargeCheck {
  private seq = 0;
  private pos = 0;
  private inPacket = false;
  received = 0;
  bytes = 0;
  lastAt = 0;
  error: string | undefined;
  readonly done = new Deferred();

  constructor(
    private readonly version: Version,
    private readonly total: number,
    private readonly size: number,
  ) {}

  start(type: number, flags: number, _remaining: number, head: Buffer): void {
    if (type !== 3) {
      this.fail(`unexpected large packet of type ${type}`);
      return;
    }
    this.inPacket = true;
    this.pos = 0;
    this.data(head.subarray(payloadOffset(this.version, flags, head)));
  }

  data(chunk: Buffer): void {
    if (!this.inPacket || chunk.length === 0) return;
    let c = chunk;
    if (this.pos < LARGE_HEADER) {
      const n = Math.min(LARGE_HEADER - this.pos, c.length);
      const want = largeHeader(this.seq).subarray(this.pos, this.pos + n);
      if (!c.subarray(0, n).equals(want)) this.fail(`message ${this.seq}: header damaged or out of order`);
      this.pos += n;
      c = c.subarray(n);
    }
    if (c.length > 0) {
      const from = this.pos - LARGE_HEADER;
      if (this.pos + c.length > this.size) this.fail(`message ${this.seq}: longer than ${this.size} bytes`);
      else if (!c.equals(pattern(this.size).subarray(from, from + c.length)))
        this.fail(`message ${this.seq}: payload damaged near byte ${this.pos}`);
      this.pos += c.length;
    }
  }

  end(): void {
    if (!this.inPacket) return;
    this.inPacket = false;
    if (this.pos !== this.size) this.fail(`message ${this.seq}: ${this.pos} bytes, expected ${this.size}`);
    this.bytes += this.pos;
    this.received++;
    this.seq++;
    if (this.received === this.total) {
      this.lastAt = now();
      if (this.error !== undefined) this.done.reject(new Error(this.error));
      else this.done.resolve();
    }
  }

  private fail(msg: string): void {
    this.error ??= msg;
  }
}

function largePayloadBody(size: number): Buffer {
  // Payload = 16-byte header + pattern[0, size - 16): the pattern buffer is sized `size` so the
  // checker's slices line up with what was written.
  return pattern(size).subarray(0, size - LARGE_HEADER);
}

// --- A: QoS 0, batched --------------------------------------------------------------------------------

const SMALL_PACKET = 64;

function smallPayloadLength(v: Version, topic: string): number {
  return SMALL_PACKET - publishHead(v, topic, 0).length;
}

let streamCache: { key: string; stream: Buffer } | undefined;

/** N pre-encoded 64-byte QoS 0 PUBLISH packets, one buffer, built once per process. */
function smallStream(v: Version, topic: string, n: number): Buffer {
  const key = `${v} ${topic} ${n}`;
  if (streamCache?.key === key) return streamCache.stream;
  const len = smallPayloadLength(v, topic);
  const head = publishHead(v, topic, len);
  const stream = Buffer.allocUnsafe(n * SMALL_PACKET);
  for (let i = 0; i < n; i++) {
    const at = i * SMALL_PACKET;
    head.copy(stream, at);
    sequencePayload(i, len).copy(stream, at + head.length);
  }
  streamCache = { key, stream };
  return stream;
}

const BATCH = 64 * 1024;

export function scenarioA(ctx: RunContext): Promise<Metrics> {
  return smallQos0(ctx, 'A', 'bench/a', async (pub, stream) => {
    for (let at = 0; at < stream.length; at += BATCH) {
      if (!pub.write(stream.subarray(at, at + BATCH))) await pub.drained();
    }
  });
}

/**
 * The QoS 0 stream of A and A2: `n` pre-encoded 64-byte PUBLISH packets written by `write`, a raw
 * subscriber checking every sequence number, the rate from the first write to the last message.
 */
async function smallQos0(
  ctx: RunContext,
  label: string,
  topic: string,
  write: (pub: RawClient, stream: Buffer, n: number) => Promise<void>,
): Promise<Metrics> {
  const n = scaled(200_000, ctx.scale, 1000);
  const v = ctx.version;
  const len = smallPayloadLength(v, topic);
  const stream = smallStream(v, topic, n);
  const { host, port } = ctx.target;
  const tag = label.toLowerCase();
  const sub = await RawClient.open(host, port, v, `bench-${tag}-sub-${ctx.tag}`);
  const pub = await RawClient.open(host, port, v, `bench-${tag}-pub-${ctx.tag}`);
  try {
    await sub.subscribe(topic, 0);
    const check = new SequenceCheck(n, len);
    sub.handlers.publish = (flags, body) => check.payload(body.subarray(payloadOffset(v, flags, body)));
    const before = snapshot(ctx);
    const t0 = now();
    const writing = write(pub, stream, n);
    await watchdog(Promise.all([writing, check.done.promise]), () => check.received, 15_000, 180_000, label);
    const seconds = (check.lastAt - t0) / 1000;
    await delay(SETTLE_MS);
    const after = snapshot(ctx);
    return { messages: n, msgPerS: n / seconds, seconds, ...accounting(before, after, 2 * n) };
  } finally {
    await Promise.all([pub.close(), sub.close()]);
  }
}

// --- A2: QoS 0, one packet per write ---------------------------------------------------------------------

let linesFile: { key: string; path: string } | undefined;

function a2Lines(ctx: RunContext, n: number, len: number): string {
  const key = `${n} ${len}`;
  if (linesFile?.key === key && existsSync(linesFile.path)) return linesFile.path;
  const path = join(ctx.scratch, `a2-lines-${process.pid}.txt`);
  const out = Buffer.allocUnsafe(n * (len + 1));
  for (let i = 0; i < n; i++) {
    sequencePayload(i, len).copy(out, i * (len + 1));
    out[i * (len + 1) + len] = 0x0a;
  }
  writeFileSync(path, out);
  linesFile = { key, path };
  return path;
}

export const A2_PROBE_TOPIC = 'bench/a2/probe';

/**
 * A2 with Debian's clients: `mosquitto_sub -C N+1` subscribed to the data topic and to a topic
 * holding one retained probe message (its arrival proves the subscription is active; the +1 is the
 * probe), then `mosquitto_pub -l --nodelay` reading the N lines from a file: one PUBLISH per line, each
 * its own write() and, with --nodelay, its own TCP segment.
 */
export async function scenarioA2(ctx: RunContext): Promise<Metrics> {
  if (ctx.a2Clients === 'raw') return scenarioA2Raw(ctx);
  const n = scaled(200_000, ctx.scale, 1000);
  const v = ctx.version;
  const topic = 'bench/a2/data';
  const len = smallPayloadLength(v, topic);
  const file = a2Lines(ctx, n, len);
  const { host, port } = ctx.target;
  const common = ['-h', host, '-p', String(port), '-V', v === '5.0' ? 'mqttv5' : 'mqttv311', '-q', '0'];
  const sub = track(
    MOSQUITTO_SUB,
    [...common, '-i', `bench-a2-sub-${ctx.tag}`, '-t', A2_PROBE_TOPIC, '-t', topic, '-C', String(n + 1)],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  sub.stderr?.setEncoding('utf8');
  sub.stderr?.on('data', (s: string) => {
    stderr += s;
  });
  const check = new SequenceCheck(n, len);
  const probed = new Deferred();
  let sawProbe = false;
  let rest: Buffer | undefined;
  sub.stdout?.on('data', (chunk: Buffer) => {
    const buf = rest === undefined ? chunk : Buffer.concat([rest, chunk]);
    rest = undefined;
    let at = 0;
    for (;;) {
      const nl = buf.indexOf(0x0a, at);
      if (nl < 0) break;
      const line = buf.subarray(at, nl);
      at = nl + 1;
      if (!sawProbe) {
        sawProbe = true;
        if (line.toString('latin1') !== 'probe')
          check.error ??= `first line was not the probe: ${line.toString('latin1').slice(0, 80)}`;
        probed.resolve();
      } else check.payload(line);
    }
    if (at < buf.length) rest = Buffer.from(buf.subarray(at));
  });
  sub.once('exit', (code) => {
    const why = new Error(`mosquitto_sub exited (code ${code}) ${stderr.trim()}`);
    probed.reject(why);
    if (check.next < n) check.done.reject(why);
  });
  let pub: ReturnType<typeof track> | undefined;
  try {
    await watchdog(probed.promise, () => 0, 10_000, 10_000, 'A2 subscribe');
    const before = snapshot(ctx);
    const t0 = now();
    const stdin = openSync(file, 'r');
    try {
      pub = track(
        MOSQUITTO_PUB,
        [...common, '-i', `bench-a2-pub-${ctx.tag}`, '-t', topic, '-l', '--nodelay'],
        {
          stdio: [stdin, 'ignore', 'inherit'],
        },
      );
    } finally {
      closeSync(stdin);
    }
    await watchdog(check.done.promise, () => check.received, 15_000, 180_000, 'A2');
    const seconds = (check.lastAt - t0) / 1000;
    await watchdog(Promise.all([exited(pub), exited(sub)]), () => 0, 10_000, 10_000, 'A2 clients exit');
    await delay(SETTLE_MS);
    const after = snapshot(ctx);
    // Forwarded packets: N PUBLISH each way, plus mosquitto_pub's CONNECT, CONNACK and DISCONNECT and
    // mosquitto_sub's DISCONNECT, all inside the measured window.
    return { messages: n, msgPerS: n / seconds, seconds, ...accounting(before, after, 2 * n + 4) };
  } finally {
    if (pub) await stop(pub, 2000);
    await stop(sub, 2000);
  }
}

/** A2 without mosquitto's clients: raw sockets, the publisher waits for each write to complete. */
function scenarioA2Raw(ctx: RunContext): Promise<Metrics> {
  return smallQos0(ctx, 'A2', 'bench/a2/data', async (pub, stream, n) => {
    for (let i = 0; i < n; i++) {
      const p = stream.subarray(i * SMALL_PACKET, (i + 1) * SMALL_PACKET);
      // Each packet is handed to the kernel on its own: the next write waits for this one.
      await new Promise<void>((resolve, reject) =>
        pub.socket.write(p, (err) => (err ? reject(err) : resolve())),
      );
    }
  });
}

// --- B: QoS 1, 100 in flight ------------------------------------------------------------------------------

export async function scenarioB(ctx: RunContext): Promise<Metrics> {
  const n = scaled(20_000, ctx.scale, 500);
  const window = 100;
  const v = ctx.version;
  const topic = 'bench/b';
  const len = smallPayloadLength(v, topic) - 2; // the packet identifier takes 2 bytes
  const packets: Buffer[] = [];
  for (let i = 0; i < n; i++) packets.push(publish(v, topic, sequencePayload(i, len), 1, (i % 65535) + 1));
  const { host, port } = ctx.target;
  const sub = await RawClient.open(host, port, v, `bench-b-sub-${ctx.tag}`);
  const pub = await RawClient.open(host, port, v, `bench-b-pub-${ctx.tag}`);
  try {
    await sub.subscribe(topic, 1);
    const check = new SequenceCheck(n, len);
    sub.handlers.publish = (flags, body) => {
      if (((flags >> 1) & 3) > 0) sub.write(puback(body.readUInt16BE(2 + body.readUInt16BE(0))));
      check.payload(body.subarray(payloadOffset(v, flags, body)));
    };
    const sentAt = new Float64Array(n);
    const latency = new Float64Array(n);
    const seqOfId = new Int32Array(65536).fill(-1);
    let sent = 0;
    let acked = 0;
    let lastAckAt = 0;
    let ackError: string | undefined;
    const acksDone = new Deferred();
    const send = (): void => {
      pub.socket.cork();
      while (sent < n && sent - acked < window) {
        seqOfId[(sent % 65535) + 1] = sent;
        sentAt[sent] = now();
        pub.write(packets[sent]!);
        sent++;
      }
      pub.socket.uncork();
    };
    pub.handlers.puback = (id, body) => {
      const t = now();
      const seq = seqOfId[id]!;
      if (seq < 0) ackError ??= `PUBACK for unknown packet id ${id}`;
      else {
        seqOfId[id] = -1;
        latency[seq] = t - sentAt[seq]!;
      }
      if (body.length >= 3 && body[2]! >= 0x80)
        ackError ??= `PUBACK ${id} refused: 0x${body[2]!.toString(16)}`;
      acked++;
      lastAckAt = t;
      if (acked === n) {
        if (ackError) acksDone.reject(new Error(ackError));
        else acksDone.resolve();
      } else if (sent < n) send();
    };
    const before = snapshot(ctx);
    const t0 = now();
    send();
    await watchdog(
      Promise.all([acksDone.promise, check.done.promise]),
      () => acked + check.received,
      15_000,
      120_000,
      'B',
    );
    const seconds = (Math.max(lastAckAt, check.lastAt) - t0) / 1000;
    await delay(SETTLE_MS);
    const after = snapshot(ctx);
    latency.sort();
    return {
      messages: n,
      msgPerS: n / seconds,
      seconds,
      pubackP50Ms: percentile(latency, 50),
      pubackP99Ms: percentile(latency, 99),
      // PUBLISH + PUBACK on the publisher's side, PUBLISH + PUBACK on the subscriber's.
      ...accounting(before, after, 4 * n),
    };
  } finally {
    await Promise.all([pub.close(), sub.close()]);
  }
}

// --- C: large messages ----------------------------------------------------------------------------------

async function largeTransfer(
  ctx: RunContext,
  topic: string,
  count: number,
  size: number,
  onSubscribed?: () => void,
): Promise<{ seconds: number; before: Snapshot; after: Snapshot }> {
  const v = ctx.version;
  const { host, port } = ctx.target;
  const body = largePayloadBody(size);
  const head = publishHead(v, topic, size);
  const sub = await RawClient.open(host, port, v, `bench-${topic.replace('/', '-')}-sub-${ctx.tag}`);
  const pub = await RawClient.open(host, port, v, `bench-${topic.replace('/', '-')}-pub-${ctx.tag}`);
  try {
    await sub.subscribe(topic, 0);
    const check = new LargeCheck(v, count, size);
    sub.handlers.largeStart = (type, flags, remaining, h) => check.start(type, flags, remaining, h);
    sub.handlers.largeData = (chunk) => check.data(chunk);
    sub.handlers.largeEnd = () => check.end();
    onSubscribed?.();
    const before = snapshot(ctx);
    const t0 = now();
    const writing = (async () => {
      for (let i = 0; i < count; i++) {
        pub.write(Buffer.concat([head, largeHeader(i)]));
        if (!pub.write(body)) await pub.drained();
      }
    })();
    await watchdog(
      Promise.all([writing, check.done.promise]),
      () => check.bytes + check.received,
      15_000,
      180_000,
      topic,
    );
    const seconds = (check.lastAt - t0) / 1000;
    await delay(SETTLE_MS);
    const after = snapshot(ctx);
    return { seconds, before, after };
  } finally {
    await Promise.all([pub.close(), sub.close()]);
  }
}

export async function scenarioC(ctx: RunContext): Promise<Metrics> {
  const count = scaled(200, ctx.scale, 10);
  const size = 1 << 20;
  const { seconds, before, after } = await largeTransfer(ctx, 'bench/c', count, size);
  return {
    messages: count,
    mbPerS: (count * size) / seconds / 1e6,
    seconds,
    ...accounting(before, after, 2 * count),
  };
}

// --- F: memory for one huge message -------------------------------------------------------------------------

export async function scenarioF(ctx: RunContext): Promise<Metrics> {
  const size = scaled(200 * 1024 * 1024, ctx.scale, 1 << 20);
  const pid = ctx.target.pid;
  let baseline = Number.NaN;
  let sampledPeak = 0;
  let hwmReset = false;
  let sampler: NodeJS.Timeout | undefined;
  const { seconds } = await largeTransfer(ctx, 'bench/f', 1, size, () => {
    if (pid === undefined) return;
    hwmReset = resetPeakRss(pid);
    baseline = rssBytes(pid);
    sampledPeak = baseline;
    // A backup for kernels that refuse clear_refs, and a cross-check.
    sampler = setInterval(() => {
      try {
        sampledPeak = Math.max(sampledPeak, rssBytes(pid));
      } catch {
        // The process is gone; the run fails elsewhere.
      }
    }, 5);
  }).finally(() => clearInterval(sampler));
  const m: Metrics = { mbPerS: size / seconds / 1e6, seconds, bytes: size };
  if (pid !== undefined) {
    const peak = hwmReset ? Math.max(peakRssBytes(pid), sampledPeak) : sampledPeak;
    m.rssBaselineMB = baseline / 1e6;
    m.rssPeakMB = peak / 1e6;
    m.rssGrowthMB = (peak - baseline) / 1e6;
  }
  return m;
}

// --- D: many connections ----------------------------------------------------------------------------------

export async function scenarioD(ctx: RunContext): Promise<Metrics> {
  const n = scaled(1000, ctx.scale, 50);
  const inFlight = 50;
  const v = ctx.version;
  const topic = 'bench/d';
  const { host, port } = ctx.target;
  const pid = ctx.target.pid;
  const rssStart = pid === undefined ? Number.NaN : rssBytes(pid);
  const publisher = await RawClient.open(host, port, v, `bench-d-pub-${ctx.tag}`);
  const clients: RawClient[] = [];
  let connected = 0;
  let received = 0;
  let closed = 0;
  const allClosed = new Deferred();
  let failure: Error | undefined;
  const message = publish(v, topic, Buffer.from('hello, 1000 clients'));
  try {
    const before = snapshot(ctx);
    const t0 = now();
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < n) {
        const i = next++;
        const c = await RawClient.open(host, port, v, `bench-d-${ctx.tag}-${i}`);
        clients.push(c);
        c.handlers.publish = () => {
          received++;
          void c.close();
        };
        void c.closed.then(() => {
          closed++;
          if (closed === n) allClosed.resolve();
        });
        await c.subscribe(topic, 0);
        connected++;
      }
    };
    const workers = Array.from({ length: inFlight }, () => worker());
    await watchdog(
      Promise.all(workers).catch((e: unknown) => {
        failure = e instanceof Error ? e : new Error(String(e));
        throw failure;
      }),
      () => connected,
      15_000,
      120_000,
      'D connect',
    );
    const tConnected = now();
    publisher.write(message);
    await watchdog(allClosed.promise, () => closed, 15_000, 60_000, 'D receive+disconnect');
    const t1 = now();
    if (received !== n) throw new Error(`D: ${received} of ${n} clients received the message`);
    await delay(SETTLE_MS);
    const after = snapshot(ctx);
    const m: Metrics = {
      clients: n,
      seconds: (t1 - t0) / 1000,
      connectSeconds: (tConnected - t0) / 1000,
      // CONNECT, CONNACK, SUBSCRIBE, SUBACK, PUBLISH, DISCONNECT per client, + the one PUBLISH in.
      ...accounting(before, after, 6 * n + 1),
    };
    if (pid !== undefined) {
      m.rssStartMB = rssStart / 1e6;
      m.peakRssMB = peakRssBytes(pid) / 1e6;
    }
    return m;
  } finally {
    for (const c of clients) c.destroy();
    await publisher.close();
  }
}

// --- L: open-loop latency -------------------------------------------------------------------------------

/** Scenario L's rates (messages per second), each held for 10 s × scale after 1 s of warm-up. */
export const L_RATES = [1000, 5000, 10_000] as const;
export const L_SECONDS = 10;

/** The metric key of one figure of one rate in L's results, e.g. `L1000.deliveryP99Ms`. */
export function lKey(rate: number, figure: string): string {
  return `L${rate}.${figure}`;
}

function percentileMetrics(rate: number, name: string, p: Percentiles): Metrics {
  return {
    [lKey(rate, `${name}P50Ms`)]: p.p50,
    [lKey(rate, `${name}P99Ms`)]: p.p99,
    [lKey(rate, `${name}P999Ms`)]: p.p999,
    [lKey(rate, `${name}MaxMs`)]: p.max,
  };
}

/**
 * QoS 1, 64 B, one publisher and one subscriber through the target, at each of L_RATES in turn:
 * PUBACK round trip and publish-to-delivery latency from the scheduled send time (open-loop.ts).
 */
export async function scenarioL(ctx: RunContext): Promise<Metrics> {
  const m: Metrics = {};
  const failures: string[] = [];
  for (const rate of L_RATES) {
    let before: Snapshot | undefined;
    let after: Snapshot | undefined;
    const r = await openLoop({
      host: ctx.target.host,
      port: ctx.target.port,
      version: ctx.version,
      qos: 1,
      rate,
      seconds: Math.max(1, L_SECONDS * ctx.scale),
      warmupSeconds: 1,
      tag: `${ctx.tag}-${rate}`,
      onMeasureStart: () => {
        before = snapshot(ctx);
      },
      onMeasureEnd: () => {
        after = snapshot(ctx);
      },
    });
    if (r.error !== undefined) failures.push(`${rate}/s: ${r.error}`);
    Object.assign(m, percentileMetrics(rate, 'delivery', r.delivery));
    if (r.puback) Object.assign(m, percentileMetrics(rate, 'puback', r.puback));
    Object.assign(m, percentileMetrics(rate, 'late', r.lateness));
    if (before && after) {
      const cpu = accounting(before, after, 4 * r.measured).cpuUsPerPacket;
      if (cpu !== undefined) m[lKey(rate, 'cpuUsPerPacket')] = cpu;
    }
  }
  if (failures.length > 0) throw new Error(`L: ${failures.join('; ')}`);
  return m;
}

export const SCENARIOS: Record<ScenarioId, (ctx: RunContext) => Promise<Metrics>> = {
  A: scenarioA,
  A2: scenarioA2,
  B: scenarioB,
  C: scenarioC,
  D: scenarioD,
  F: scenarioF,
  L: scenarioL,
};
