/**
 * What --ui costs with no page attached: one process, two connections through the tap and the log
 * sink, one of them with the web view's hub teed in as --ui does. Scenario A's stream (64-byte QoS 0
 * PUBLISHes, both directions) is fed to each in alternating slices, with a collection before every
 * slice, so that both modes share the heap, the JIT and the machine's moment. Prints one JSON line.
 *
 *   node --expose-gc dist/scripts/bench/ui-cost.js LEVEL PACKETS_PER_SLICE SLICES LOG_FILE
 */
import { rmSync } from 'node:fs';
import { createTap } from '../../src/observe/tap.js';
import { DEFAULT_TAP_OPTIONS } from '../../src/observe/tap-options.js';
import { createLogSink } from '../../src/sinks/log-sink.js';
import type { RecordSink } from '../../src/sinks/sink.js';
import { teeSink, UiHub } from '../../src/ui/hub.js';
import { connect, publishHead, sequencePayload } from './wire.js';

const [level, perSliceArg, slicesArg, logFile] = process.argv.slice(2);
if ((level !== 'info' && level !== 'warn') || logFile === undefined) {
  console.error('usage: node --expose-gc ui-cost.js info|warn PACKETS_PER_SLICE SLICES LOG_FILE');
  process.exit(2);
}
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) {
  console.error('run with node --expose-gc');
  process.exit(2);
}
const perSlice = Number(perSliceArg ?? 20_000);
const slices = Number(slicesArg ?? 20);

const sink = createLogSink({ level, destination: logFile, pretty: false });
const open = (records: RecordSink, conn: string) => {
  const c = createTap(records, DEFAULT_TAP_OPTIONS).open({
    conn,
    client: { address: '127.0.0.1', port: 50000 },
    local: { address: '127.0.0.1', port: 1884 },
    upstream: '127.0.0.1:1883',
    transport: 'tcp',
    startedAt: Date.now(),
  });
  c.data('client', connect('5.0', `bench-${conn}`));
  c.data('broker', Buffer.from([0x20, 3, 0, 0, 0]));
  return c;
};
const conns = { off: open(sink, 'c1'), ui: open(teeSink(sink, new UiHub()), 'c2') };

const topic = 'bench/a';
const len = 64 - publishHead('5.0', topic, 0).length;
const head = publishHead('5.0', topic, len);
const stream = Buffer.allocUnsafe(perSlice * 64);
for (let i = 0; i < perSlice; i++) {
  head.copy(stream, i * 64);
  sequencePayload(i, len).copy(stream, i * 64 + head.length);
}

async function slice(mode: 'off' | 'ui'): Promise<number> {
  await sink.flush();
  gc!();
  const c0 = process.cpuUsage();
  for (let at = 0; at < stream.length; at += 65536) {
    const chunk = stream.subarray(at, at + 65536);
    conns[mode].data('client', chunk);
    conns[mode].data('broker', chunk);
    await new Promise((resolve) => setImmediate(resolve));
  }
  await sink.flush();
  const cpu = process.cpuUsage(c0);
  return (cpu.user + cpu.system) / (2 * perSlice);
}

// Warm-up of both, not measured.
await slice('off');
await slice('ui');
const cost: Record<'off' | 'ui', number[]> = { off: [], ui: [] };
for (let i = 0; i < slices; i++) {
  const order: ('off' | 'ui')[] = i % 2 === 0 ? ['off', 'ui'] : ['ui', 'off'];
  for (const mode of order) cost[mode].push(await slice(mode));
}
await sink.close();
rmSync(logFile, { force: true });
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const added = cost.ui.map((u, i) => u - cost.off[i]!);
console.log(
  JSON.stringify({
    level,
    packets: 2 * perSlice * slices,
    offUsPerPacket: median(cost.off),
    uiUsPerPacket: median(cost.ui),
    addedUsPerPacket: median(added),
    addedMin: Math.min(...added),
    addedMax: Math.max(...added),
  }),
);
