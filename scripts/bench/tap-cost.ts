/**
 * E without the network: the CPU mqtt-tap's tap and log sink spend per packet when fed a stream in
 * process (no sockets, no broker), so none of the forwarding path's syscall noise is in it. Run in
 * its own process by the bench:
 *
 *   node dist/scripts/bench/tap-cost.js ROOT LEVEL PACKETS_EACH_WAY LOG_FILE [qos0|qos12] [metrics]
 *
 * `qos0` (default): scenario A's 64-byte QoS 0 PUBLISHes, both ways. `qos12`: QoS 1 and QoS 2 flows
 * both ways, 50 in flight each way, every acknowledgement in order, so that the session's in-flight
 * tables, the stateful checks and the contract do their per-packet work (and report nothing).
 * `metrics`: the tap also feeds the --metrics counters. ROOT is an mqtt-tap checkout with a build
 * (this one, or the --compare one). Prints one JSON line.
 */
import { existsSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { connect, publishHead, sequencePayload } from './wire.js';

const [root, level, countArg, logFile, ...more] = process.argv.slice(2);
const mode = more.includes('qos12') ? 'qos12' : 'qos0';
const metricsArg = more.includes('metrics') ? 'metrics' : undefined;
if (
  root === undefined ||
  (level !== 'info' && level !== 'warn') ||
  logFile === undefined ||
  more.some((a) => a !== 'qos0' && a !== 'qos12' && a !== 'metrics')
) {
  console.error('usage: tap-cost ROOT info|warn PACKETS LOG_FILE [qos0|qos12] [metrics]');
  process.exit(2);
}
const n = Number(countArg ?? 200_000);

const load = (rel: string): Promise<unknown> => import(pathToFileURL(join(root, 'dist/src', rel)).href);
/** The first of `paths` that ROOT's build has: modules moved between layers over time. */
async function loadFirst(...paths: string[]): Promise<unknown> {
  for (const [i, rel] of paths.entries()) {
    try {
      return await load(rel);
    } catch (err) {
      if (i === paths.length - 1) throw err;
    }
  }
  throw new Error('no path given');
}
const { createTap } = (await loadFirst(
  'observe/tap.js',
  'proxy/tap.js',
)) as typeof import('../../src/observe/tap.js');
const { DEFAULT_TAP_OPTIONS } = (await loadFirst(
  'observe/tap-options.js',
  'proxy/tap-options.js',
)) as typeof import('../../src/observe/tap-options.js');
type SinkModule = typeof import('../../src/sinks/log-sink.js');
/** The log sink of ROOT: sinks/log-sink.js, or sinks/pino-logger.js in checkouts from before it. */
async function loadSinkFactory(): Promise<SinkModule['createLogSink']> {
  try {
    return ((await load('sinks/log-sink.js')) as SinkModule).createLogSink;
  } catch {
    const old = (await load('sinks/pino-logger.js')) as { createPinoSink: SinkModule['createLogSink'] };
    return old.createPinoSink;
  }
}
const createLogSink = await loadSinkFactory();

const sink = createLogSink({ level, destination: logFile, pretty: false });
const options = { ...DEFAULT_TAP_OPTIONS };
if (metricsArg === 'metrics') {
  const { PacketMetrics } = (await load(
    'sinks/packet-metrics.js',
  )) as typeof import('../../src/sinks/packet-metrics.js');
  options.metrics = new PacketMetrics();
}
const conn = createTap(sink, options).open({
  conn: 'c1',
  client: { address: '127.0.0.1', port: 50000 },
  local: { address: '127.0.0.1', port: 1884 },
  upstream: '127.0.0.1:1883',
  transport: 'tcp',
  startedAt: Date.now(),
});
conn.data('client', connect('5.0', 'bench-tap-cost'));
conn.data('broker', Buffer.from([0x20, 3, 0, 0, 0]));

if (mode === 'qos12') await flows();
else await qos0();

/** Scenario A's stream, both ways. */
async function qos0(): Promise<void> {
  const topic = 'bench/a';
  const len = 64 - publishHead('5.0', topic, 0).length;
  const head = publishHead('5.0', topic, len);
  const stream = Buffer.allocUnsafe(n * 64);
  for (let i = 0; i < n; i++) {
    head.copy(stream, i * 64);
    sequencePayload(i, len).copy(stream, i * 64 + head.length);
  }

  // Warm-up, as a proxy would have been running for a while: 10% of the stream, not measured.
  const warm = Math.floor(n / 10) * 64;
  for (let at = 0; at < warm; at += 65536)
    conn.data('client', stream.subarray(at, Math.min(at + 65536, warm)));
  await sink.flush();

  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let at = 0; at < stream.length; at += 65536) {
    const chunk = stream.subarray(at, at + 65536);
    conn.data('client', chunk);
    conn.data('broker', chunk);
    // One event-loop turn per pair of reads, as on a socket: the log's writes complete in between.
    await new Promise((resolve) => setImmediate(resolve));
  }
  await sink.flush();
  const cpu = process.cpuUsage(c0);
  const wall = performance.now() - t0;
  await report(2 * n, cpu, wall);
}

/**
 * QoS 1 and QoS 2 flows both ways, in rounds: each side sends 50 PUBLISHes (QoS 1 and 2 in turn,
 * ids 1 to 50), the other acknowledges (PUBACK, PUBREC), PUBREL and PUBCOMP follow. 300 packets a
 * round, in the order a real connection would carry them.
 */
async function flows(): Promise<void> {
  const inFlight = 50;
  const topic = 'bench/g';
  const len = 64 - publishHead('5.0', topic, 0, 1, 1).length;
  const ack = (type: number, id: number): Buffer => Buffer.from([type, 2, id >> 8, id & 0xff]);
  const publishes = (): Buffer =>
    Buffer.concat(
      Array.from({ length: inFlight }, (_, i) => {
        const id = i + 1;
        return Buffer.concat([
          publishHead('5.0', topic, len, id % 2 === 1 ? 1 : 2, id),
          sequencePayload(i, len),
        ]);
      }),
    );
  const ids = Array.from({ length: inFlight }, (_, i) => i + 1);
  const qos2 = ids.filter((id) => id % 2 === 0);
  const acks = Buffer.concat(ids.map((id) => ack(id % 2 === 1 ? 0x40 : 0x50, id)));
  const pubrels = Buffer.concat(qos2.map((id) => ack(0x62, id)));
  const pubcomps = Buffer.concat(qos2.map((id) => ack(0x70, id)));
  const pub = publishes();
  // client→ PUBLISH; broker→ acks + PUBLISH; client→ PUBREL + acks; broker→ PUBCOMP + PUBREL; client→ PUBCOMP.
  const steps: [Dir, Buffer][] = [
    ['client', pub],
    ['broker', Buffer.concat([acks, pub])],
    ['client', Buffer.concat([pubrels, acks])],
    ['broker', Buffer.concat([pubcomps, pubrels])],
    ['client', pubcomps],
  ];
  const perRound = 2 * (inFlight + inFlight + 2 * qos2.length);
  const rounds = Math.max(1, Math.round((2 * n) / perRound));
  const round = (): void => {
    for (const [from, bytes] of steps) conn.data(from, bytes);
  };
  for (let r = 0; r < Math.max(1, rounds / 10); r++) round();
  await sink.flush();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let r = 0; r < rounds; r++) {
    round();
    // About 64 KiB a turn, as scenario A's reads.
    if (r % 20 === 19) await new Promise((resolve) => setImmediate(resolve));
  }
  await sink.flush();
  const cpu = process.cpuUsage(c0);
  const wall = performance.now() - t0;
  await report(rounds * perRound, cpu, wall);
}

type Dir = 'client' | 'broker';

async function report(packets: number, cpu: NodeJS.CpuUsage, wall: number): Promise<void> {
  await sink.close();
  const logBytes = existsSync(logFile!) ? statSync(logFile!).size : 0;
  rmSync(logFile!, { force: true });
  console.log(
    JSON.stringify({
      level,
      mode,
      metrics: options.metrics !== undefined,
      packets,
      cpuUsPerPacket: (cpu.user + cpu.system) / packets,
      wallMs: wall,
      logBytes,
    }),
  );
}
