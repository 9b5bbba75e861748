/**
 * E without the network: the CPU mqtt-tap's tap and log sink spend per packet when fed the
 * scenario-A stream in process (no sockets, no broker), so none of the forwarding path's syscall
 * noise is in it. Run in its own process by the bench:
 *
 *   node dist/scripts/bench/tap-cost.js ROOT LEVEL PACKETS_EACH_WAY LOG_FILE [metrics]
 *
 * ROOT is an mqtt-tap checkout with a build (this one, or the --compare one); `metrics`: the tap also
 * feeds the --metrics counters. Prints one JSON line.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { connect, publishHead, sequencePayload } from './wire.js';

const [root, level, countArg, logFile, metricsArg] = process.argv.slice(2);
if (root === undefined || (level !== 'info' && level !== 'warn') || logFile === undefined) {
  console.error('usage: tap-cost ROOT info|warn PACKETS LOG_FILE');
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
for (let at = 0; at < warm; at += 65536) conn.data('client', stream.subarray(at, Math.min(at + 65536, warm)));
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
await sink.close();
rmSync(logFile, { force: true });
console.log(
  JSON.stringify({
    level,
    metrics: options.metrics !== undefined,
    packets: 2 * n,
    cpuUsPerPacket: (cpu.user + cpu.system) / (2 * n),
    wallMs: wall,
  }),
);
