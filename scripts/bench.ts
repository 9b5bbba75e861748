/**
 * What watching costs: mqtt-tap against a plain `node:net` relay and against the broker directly,
 * in the same run, on loopback (issue 6).
 *
 *   npm run bench [-- --only A,B --rounds 1 --scale 0.1 --targets relay,mqtt-tap]
 *
 * Starts mosquitto (aedes in a child process when mosquitto is absent, with a 3.1.1 load), then runs
 * every scenario against each target in rotating order for `--rounds` rounds. Relay and mqtt-tap are
 * fresh processes for every run. Prints a table (medians and min-max) and writes everything, raw runs
 * included, to bench-results/bench-<time>.json. See scripts/bench/scenarios.ts for how each scenario
 * is generated and measured.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, hostname, loadavg, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { CAPACITY_ADDED_P99_MS, type CapacityResult, capacity } from './bench/capacity.js';
import { RawClient } from './bench/client.js';
import { killAll, onCleanup } from './bench/procs.js';
import {
  A2_PROBE_TOPIC,
  L_RATES,
  L_SECONDS,
  lKey,
  type Metrics,
  MOSQUITTO_PUB,
  MOSQUITTO_SUB,
  type RunContext,
  SCENARIOS,
  type ScenarioId,
} from './bench/scenarios.js';
import { type Stat, stat } from './bench/stats.js';
import {
  type Broker,
  startBroker,
  startTarget,
  TARGETS,
  TASKSET,
  type TargetContext,
  type TargetName,
  tapSupportsMetrics,
  tapSupportsRecord,
} from './bench/targets.js';
import { publishHead } from './bench/wire.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const ALL: ScenarioId[] = ['A', 'A2', 'B', 'C', 'D', 'F', 'L'];

interface Options {
  only: ScenarioId[];
  /** E is derived from A and A2; asking for it alone runs them. */
  wantE: boolean;
  /** The capacity search (CAP): the highest rate one core of mqtt-tap takes within 1 ms of p99. */
  wantCapacity: boolean;
  /** Broker and load on CPU 0, the relay or mqtt-tap under test on CPU 1. */
  pin: boolean;
  rounds: number;
  scale: number;
  targets: TargetName[] | undefined;
  broker: 'auto' | 'mosquitto' | 'aedes';
  /** Extra mosquitto.conf lines (experiments; the defaults are what the issue measured). */
  brokerConf: string[];
  a2: 'auto' | 'mosquitto' | 'raw';
  out: string;
  keepFiles: boolean;
  nodeOptions: string[];
  /** Another mqtt-tap build (its root directory): adds the targets "other" and "other warn". */
  compare: string | undefined;
}

const USAGE = `usage: npm run bench -- [options]
  --only A,A2,B,C,D,E,F,G,L,CAP  scenarios to run (default all; E = CPU per packet, from A and A2;
                          G = QoS 1 and 2 flows, tap + sink alone, vs --compare: no sockets;
                          L = open-loop latency at 1,000, 5,000 and 10,000 msg/s; CAP = capacity per core)
  --pin / --no-pin        broker and load generators on CPU 0, the relay or mqtt-tap on CPU 1
                          (taskset; default --pin where there are two or more CPUs)
  --rounds N              rounds per scenario (default 5; every round runs every target once)
  --scale X               multiply message counts and sizes (default 1: the issue's figures)
  --targets LIST          subset of: direct, relay, mqtt-tap, "mqtt-tap warn", "mqtt-tap +record",
                          "mqtt-tap +metrics"
  --broker auto|mosquitto|aedes    (default auto: mosquitto if installed)
  --broker-conf LINE      extra mosquitto.conf line (repeatable), e.g. "set_tcp_nodelay true"
  --a2 auto|mosquitto|raw  A2 publisher/subscriber: mosquitto_pub -l/mosquitto_sub -C, or raw sockets
  --out DIR               where the JSON goes (default bench-results)
  --node-option OPT       node option for the relay and mqtt-tap processes (repeatable), e.g.
                          --node-option --cpu-prof --node-option --cpu-prof-dir=bench-results/prof
  --compare DIR           also run another mqtt-tap build (DIR/bin/mqtt-tap.js) as "other" and
                          "other warn": before/after figures from the same run
  --keep-files            keep mqtt-tap's logs and recordings (in DIR/tmp-PID)`;

function parseArgs(argv: string[]): Options {
  const o: Options = {
    only: [...ALL],
    wantE: true,
    wantCapacity: true,
    pin: cpus().length >= 2 && existsSync(TASKSET),
    rounds: 5,
    scale: 1,
    targets: undefined,
    broker: 'auto',
    brokerConf: [],
    a2: 'auto',
    out: join(ROOT, 'bench-results'),
    keepFiles: false,
    nodeOptions: [],
    compare: undefined,
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value\n${USAGE}`);
      return v;
    };
    switch (flag) {
      case '--only': {
        const list = value()
          .split(',')
          .map((s) => s.trim().toUpperCase())
          .filter((s) => s !== '');
        for (const s of list) {
          if (s !== 'E' && s !== 'G' && s !== 'CAP' && !ALL.includes(s as ScenarioId))
            throw new Error(`unknown scenario ${s}\n${USAGE}`);
        }
        o.wantCapacity = list.includes('CAP');
        // G is tap-cost alone (no sockets): it runs with E's in-process part, without A and A2.
        o.wantE = list.includes('E') || list.includes('G');
        o.only = ALL.filter((s) => list.includes(s) || (list.includes('E') && (s === 'A' || s === 'A2')));
        break;
      }
      case '--rounds':
        o.rounds = Math.max(1, Math.floor(Number(value())));
        break;
      case '--scale':
        o.scale = Number(value());
        if (!(o.scale > 0)) throw new Error('--scale must be > 0');
        break;
      case '--targets': {
        const list = value()
          .split(',')
          .map((s) => s.trim());
        for (const t of list) if (!(t in TARGETS)) throw new Error(`unknown target "${t}"\n${USAGE}`);
        o.targets = list as TargetName[];
        break;
      }
      case '--broker': {
        const b = value();
        if (b !== 'auto' && b !== 'mosquitto' && b !== 'aedes') throw new Error(USAGE);
        o.broker = b;
        break;
      }
      case '--broker-conf':
        o.brokerConf.push(value());
        break;
      case '--a2': {
        const b = value();
        if (b !== 'auto' && b !== 'mosquitto' && b !== 'raw') throw new Error(USAGE);
        o.a2 = b;
        break;
      }
      case '--out':
        o.out = resolve(value());
        break;
      case '--node-option':
        o.nodeOptions.push(value());
        break;
      case '--compare':
        o.compare = resolve(value());
        break;
      case '--pin':
        if (!existsSync(TASKSET)) throw new Error(`--pin needs ${TASKSET} (util-linux)`);
        o.pin = true;
        break;
      case '--no-pin':
        o.pin = false;
        break;
      case '--keep-files':
        o.keepFiles = true;
        break;
      case '-h':
      case '--help':
        console.log(USAGE);
        process.exit(0);
        break;
      default:
        throw new Error(`unknown option ${flag}\n${USAGE}`);
    }
  }
  return o;
}

interface Run {
  scenario: ScenarioId;
  round: number;
  order: number;
  target: TargetName;
  ok: boolean;
  error?: string;
  metrics: Metrics;
  logBytes?: number;
  recordBytes?: number;
  wallSeconds: number;
}

// --- what to show -------------------------------------------------------------------------------------

interface Column {
  key: string;
  label: string;
  digits: number;
}

interface View {
  title: string;
  headline: Column;
  /** Ratio column against the relay's median headline. */
  ratio: boolean;
  extras: Column[];
}

function views(version: string, a2: string): Record<ScenarioId, View> {
  const cpu: Column = { key: 'cpuUsPerPacket', label: 'CPU µs/pkt', digits: 2 };
  const rd: Column = { key: 'readsPerPacket', label: 'reads/pkt', digits: 2 };
  const wr: Column = { key: 'writesPerPacket', label: 'writes/pkt', digits: 2 };
  const broker: Column = { key: 'brokerCpuUsPerPacket', label: 'broker µs/pkt', digits: 2 };
  const log: Column = { key: 'logMB', label: 'log MB', digits: 0 };
  return {
    A: {
      title: `A. QoS 0 batched: 200,000 × 64 B PUBLISH (MQTT ${version}), pre-encoded, raw socket, 64 KiB writes; raw subscriber checks every sequence number`,
      headline: { key: 'msgPerS', label: 'msg/s', digits: 0 },
      ratio: true,
      extras: [cpu, rd, wr, broker, log],
    },
    A2: {
      title: `A2. QoS 0, one packet per write: 200,000 × 64 B, ${a2}`,
      headline: { key: 'msgPerS', label: 'msg/s', digits: 0 },
      ratio: true,
      extras: [cpu, rd, wr, broker, log],
    },
    B: {
      title:
        'B. QoS 1: 20,000 × 64 B, 100 in flight, raw publisher; raw QoS 1 subscriber acks and checks order',
      headline: { key: 'msgPerS', label: 'msg/s', digits: 0 },
      ratio: true,
      extras: [
        { key: 'pubackP50Ms', label: 'PUBACK p50 ms', digits: 2 },
        { key: 'pubackP99Ms', label: 'PUBACK p99 ms', digits: 2 },
        cpu,
      ],
    },
    C: {
      title: 'C. Large: 200 × 1 MiB QoS 0 PUBLISH; subscriber compares every byte (MB = 10^6 B of payload)',
      headline: { key: 'mbPerS', label: 'MB/s', digits: 0 },
      ratio: true,
      extras: [cpu, { key: 'recordMB', label: 'record MB', digits: 0 }],
    },
    D: {
      title:
        'D. Connections: 1,000 clients, ≤ 50 handshakes in flight, each CONNECT+SUBSCRIBE, receive one, DISCONNECT',
      headline: { key: 'seconds', label: 'total s', digits: 2 },
      ratio: true,
      extras: [
        { key: 'connectSeconds', label: 'connect s', digits: 2 },
        { key: 'peakRssMB', label: 'peak RSS MB', digits: 1 },
        { key: 'rssStartMB', label: 'RSS at start MB', digits: 1 },
      ],
    },
    F: {
      title: 'F. Memory: one 200 MiB QoS 0 PUBLISH through the target; peak RSS (VmHWM) minus RSS before it',
      headline: { key: 'rssGrowthMB', label: 'RSS growth MB', digits: 1 },
      ratio: false,
      extras: [
        { key: 'rssBaselineMB', label: 'RSS before MB', digits: 1 },
        { key: 'rssPeakMB', label: 'peak MB', digits: 1 },
        { key: 'mbPerS', label: 'MB/s', digits: 0 },
      ],
    },
    L: {
      title:
        `L. Open loop: QoS 1, 64 B, one publisher and one subscriber, at ${L_RATES.map((r) => r.toLocaleString('en-US')).join(', ')} msg/s ` +
        `(${L_SECONDS} s × scale each after 1 s of warm-up), mosquitto with ${LATENCY_BROKER_CONF.join(', ')}; ` +
        'latency from the scheduled send time, ms; median [min–max] over rounds',
      headline: {
        key: lKey(L_RATES[L_RATES.length - 1]!, 'deliveryP99Ms'),
        label: `ms p99 at ${L_RATES[L_RATES.length - 1]!.toLocaleString('en-US')}/s`,
        digits: 2,
      },
      ratio: false,
      extras: [],
    },
  };
}

function fmt(x: number | undefined, digits: number): string {
  if (x === undefined || !Number.isFinite(x)) return '-';
  return x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function fmtStat(s: Stat | undefined, digits: number): string {
  if (s === undefined) return '-';
  if (s.n === 1) return fmt(s.median, digits);
  return `${fmt(s.median, digits)} [${fmt(s.min, digits)}–${fmt(s.max, digits)}]`;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  const lines = rows.map((r) =>
    r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  '),
  );
  lines.splice(1, 0, widths.map((w) => '-'.repeat(w)).join('  '));
  return lines.join('\n');
}

// --- the run ------------------------------------------------------------------------------------------

/** Whether this build has --metrics (set once at start). */
let metricsSupported = false;

function targetsFor(
  s: ScenarioId,
  record: boolean,
  wanted: TargetName[] | undefined,
  other = false,
): TargetName[] {
  const base: TargetName[] =
    s === 'F'
      ? ['relay', 'mqtt-tap']
      : s === 'C' || s === 'L'
        ? ['direct', 'relay', 'mqtt-tap']
        : // At warn everything is decoded and nothing logged: tells the log's share from the rest.
          ['direct', 'relay', 'mqtt-tap', 'mqtt-tap warn'];
  if (record && (s === 'A' || s === 'C')) base.push('mqtt-tap +record');
  // --metrics' cost per packet is measured where E is (A, A2), its latency histograms in B.
  if (metricsSupported && (s === 'A' || s === 'A2' || s === 'B')) base.push('mqtt-tap +metrics');
  if (other) base.push('other');
  if (other && base.includes('mqtt-tap warn')) base.push('other warn');
  return wanted === undefined ? base : base.filter((t) => wanted.includes(t));
}

function gitDescribe(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
      cwd: ROOT,
      encoding: 'utf8',
    }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no', 'src'], {
      cwd: ROOT,
      encoding: 'utf8',
    }).trim();
    return dirty === '' ? head : `${head} (src/ modified)`;
  } catch {
    return 'unknown';
  }
}

async function setRetainedProbe(broker: Broker): Promise<void> {
  const c = await RawClient.open(broker.host, broker.port, broker.protocol, 'bench-probe');
  const payload = Buffer.from('probe');
  c.write(Buffer.concat([publishHead(broker.protocol, A2_PROBE_TOPIC, payload.length, 0, 0, true), payload]));
  await c.close();
}

async function main(): Promise<number> {
  const opts = parseArgs(process.argv.slice(2));
  const started = performance.now();
  const scratch = join(opts.out, `tmp-${process.pid}`);
  mkdirSync(scratch, { recursive: true });
  onCleanup(() => {
    if (!opts.keepFiles) rmSync(scratch, { recursive: true, force: true });
  });
  const record = tapSupportsRecord(ROOT);
  metricsSupported = tapSupportsMetrics(ROOT);
  // Every thread of the bench, and every child it starts but the target, on CPU 0.
  if (opts.pin)
    execFileSync(TASKSET, ['-a', '-p', '-c', String(LOAD_CPU), String(process.pid)], { stdio: 'ignore' });
  const targetCpu = opts.pin ? TARGET_CPU : undefined;
  const broker = await startBroker(opts.broker, ROOT, opts.brokerConf);
  // L and CAP measure latency: with mosquitto's default (Nagle on) its PUBACKs wait for the
  // client's delayed ACK, which would set the floor of every row. A second mosquitto without it.
  const latencyBroker =
    (opts.only.includes('L') || opts.wantCapacity) && broker.kind === 'mosquitto'
      ? await startBroker('mosquitto', ROOT, [...opts.brokerConf, ...LATENCY_BROKER_CONF])
      : broker;
  const haveClients = existsSync(MOSQUITTO_PUB) && existsSync(MOSQUITTO_SUB);
  const a2Clients: 'mosquitto' | 'raw' = opts.a2 === 'auto' ? (haveClients ? 'mosquitto' : 'raw') : opts.a2;
  const a2Text =
    a2Clients === 'mosquitto'
      ? 'mosquitto_pub -l --nodelay reading lines from a file → mosquitto_sub -C (its stdout checked line by line)'
      : 'raw publisher writing each packet only after the previous write completed → raw subscriber';
  const load1 = loadavg();
  console.log(
    `mqtt-tap bench: ${broker.kind} ${broker.version} (pid ${broker.pid}, MQTT ${broker.protocol} load), node ${process.version}, ` +
      `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, load average ${load1.map((x) => x.toFixed(2)).join(' ')}`,
  );
  console.log(
    `rounds ${opts.rounds}, scale ${opts.scale}, scenarios ${opts.only.join(' ')}${opts.wantE ? ' (+E)' : ''}` +
      `${record ? ', --record supported: "mqtt-tap +record" runs in A and C' : ', mqtt-tap has no --record: skipped'}`,
  );
  console.log(
    opts.pin
      ? `pinned: broker, load generators and this process on CPU ${LOAD_CPU}; relay and mqtt-tap on CPU ${TARGET_CPU}\n`
      : 'not pinned: every process on every CPU\n',
  );
  if (opts.only.includes('A2')) await setRetainedProbe(broker);

  const runs: Run[] = [];
  const capacities: CapacityResult[] = [];
  let tag = 0;
  try {
    for (const s of opts.only) {
      const targets = targetsFor(s, record, opts.targets, opts.compare !== undefined);
      for (let round = 0; round < opts.rounds; round++) {
        const order = targets.map((_, i) => targets[(i + round) % targets.length]!);
        for (const [position, name] of order.entries()) {
          const t0 = performance.now();
          const run: Run = {
            scenario: s,
            round,
            order: position,
            target: name,
            ok: false,
            metrics: {},
            wallSeconds: 0,
          };
          let target: Awaited<ReturnType<typeof startTarget>> | undefined;
          const b = s === 'L' ? latencyBroker : broker;
          try {
            target = await startTarget(TARGETS[name], targetContext(opts, b, scratch, targetCpu));
            const ctx: RunContext = {
              target,
              broker: b,
              version: b.protocol,
              scale: opts.scale,
              scratch,
              a2Clients,
              tag: `${++tag}`,
            };
            run.metrics = await SCENARIOS[s](ctx);
            run.ok = true;
          } catch (err) {
            run.error = err instanceof Error ? err.message : String(err);
          } finally {
            if (target) {
              try {
                const files = await target.stop();
                if (files.logBytes !== undefined) {
                  run.logBytes = files.logBytes;
                  run.metrics.logMB = files.logBytes / 1e6;
                }
                if (files.recordBytes !== undefined) {
                  run.recordBytes = files.recordBytes;
                  run.metrics.recordMB = files.recordBytes / 1e6;
                }
              } catch (err) {
                run.error ??= `stopping the target: ${err instanceof Error ? err.message : String(err)}`;
              }
            }
          }
          run.wallSeconds = (performance.now() - t0) / 1000;
          runs.push(run);
          const v = views(broker.protocol, a2Text)[s];
          const head = run.metrics[v.headline.key];
          console.log(
            `  ${s} round ${round + 1}/${opts.rounds} ${name.padEnd(16)} ` +
              (run.ok
                ? `${fmt(head, v.headline.digits)} ${v.headline.label}` +
                  (run.metrics.cpuUsPerPacket !== undefined
                    ? `, ${fmt(run.metrics.cpuUsPerPacket, 2)} µs CPU/pkt`
                    : '')
                : `FAILED: ${run.error}`) +
              ` (${run.wallSeconds.toFixed(1)} s)`,
          );
        }
      }
    }
    if (opts.wantCapacity)
      capacities.push(...(await capacitySearch(opts, latencyBroker, scratch, targetCpu)));
  } finally {
    await broker.close();
    if (latencyBroker !== broker) await latencyBroker.close();
  }

  const alone = opts.wantE ? tapAlone(opts, scratch) : [];
  return report(opts, runs, alone, capacities, broker, a2Text, record, load1, started);
}

/** Issue 17's targets for added CPU per packet (µs): live at info and warn, the tap alone at info. */
const ADDED_INFO_US = 3;
const ADDED_WARN_US = 0.5;
const ALONE_INFO_US = 1.5;
/** L: mqtt-tap's percentile may exceed the relay's by this much (ms). */
const LATENCY_MARGINS = [
  ['P99', 'p99', 0.5],
  ['P999', 'p99.9', 1],
  ['Max', 'max', 5],
] as const;
/** Capacity per core at info, in MQTT packets per second through mqtt-tap. */
const CAPACITY_PACKETS_TARGET = 100_000;

/** How every relay and mqtt-tap of a run is started: this build (or --compare's), pinned or not. */
function targetContext(
  opts: Options,
  broker: Broker,
  scratch: string,
  cpu: number | undefined,
): TargetContext {
  return {
    root: ROOT,
    broker,
    scratch,
    keepFiles: opts.keepFiles,
    nodeOptions: opts.nodeOptions,
    ...(opts.compare !== undefined ? { otherRoot: opts.compare } : {}),
    ...(cpu !== undefined ? { cpu } : {}),
  };
}

/** The second broker's extra configuration, for L and CAP. */
const LATENCY_BROKER_CONF = ['set_tcp_nodelay true'];

/** The CPU the broker and the load generators share, and the one the target has to itself. */
const LOAD_CPU = 0;
const TARGET_CPU = 1;

/** CAP: QoS 0 and QoS 1, mqtt-tap at info and at warn, each a rising ladder of rates. */
async function capacitySearch(
  opts: Options,
  broker: Broker,
  scratch: string,
  cpu: number | undefined,
): Promise<CapacityResult[]> {
  const out: CapacityResult[] = [];
  for (const level of ['info', 'warn'] as const) {
    for (const qos of [0, 1] as const) {
      out.push(
        await capacity({
          broker,
          version: broker.protocol,
          qos,
          level,
          startTap: () =>
            startTarget(
              TARGETS[level === 'info' ? 'mqtt-tap' : 'mqtt-tap warn'],
              targetContext(opts, broker, scratch, cpu),
            ),
          seconds: Math.max(1, CAPACITY_STEP_SECONDS * opts.scale),
          startRate: CAPACITY_START_RATE,
          factor: CAPACITY_FACTOR,
          maxRate: CAPACITY_MAX_RATE,
          log: (line) => console.log(line),
        }),
      );
    }
  }
  return out;
}

/** The capacity ladder: 2,000 msg/s, then 25% more each step; 3 s measured per step. */
const CAPACITY_START_RATE = 2_000;
const CAPACITY_FACTOR = 1.25;
const CAPACITY_MAX_RATE = 400_000;
const CAPACITY_STEP_SECONDS = 3;

interface AloneRun {
  target: 'mqtt-tap' | 'other';
  level: 'info' | 'warn';
  /** scenario A's QoS 0 stream, or QoS 1 and QoS 2 flows both ways (tap-cost.ts). */
  stream: 'qos0' | 'qos12';
  /** The tap fed its --metrics counters too. */
  metrics: boolean;
  round: number;
  cpuUsPerPacket?: number;
  error?: string;
}

/**
 * E without the network (scripts/bench/tap-cost.ts): tap + sink fed scenario A's stream, and QoS 1
 * and 2 flows, in a process of their own, CPU per packet; rotating order, like the rest.
 */
function tapAlone(opts: Options, scratch: string): AloneRun[] {
  const builds: { target: AloneRun['target']; root: string }[] = [{ target: 'mqtt-tap', root: ROOT }];
  if (opts.compare !== undefined) builds.push({ target: 'other', root: opts.compare });
  const cases = builds.flatMap((b) =>
    (['qos0', 'qos12'] as const).flatMap((stream) =>
      (['info', 'warn'] as const).map((level) => ({ ...b, level, stream, metrics: false })),
    ),
  );
  if (metricsSupported) {
    for (const level of ['info', 'warn'] as const)
      cases.push({ target: 'mqtt-tap', root: ROOT, level, stream: 'qos0', metrics: true });
  }
  const out: AloneRun[] = [];
  const n = Math.max(1000, Math.round(200_000 * opts.scale));
  for (let round = 0; round < opts.rounds; round++) {
    for (let i = 0; i < cases.length; i++) {
      const c = cases[(i + round) % cases.length]!;
      const run: AloneRun = { target: c.target, level: c.level, stream: c.stream, metrics: c.metrics, round };
      try {
        const text = execFileSync(
          process.execPath,
          [
            join(ROOT, 'dist/scripts/bench/tap-cost.js'),
            c.root,
            c.level,
            String(n),
            join(scratch, `tap-cost-${process.pid}.ndjson`),
            c.stream,
            ...(c.metrics ? ['metrics'] : []),
          ],
          { encoding: 'utf8', timeout: 120_000, stdio: ['ignore', 'pipe', 'pipe'] },
        );
        const parsed = JSON.parse(text.trim().split('\n').at(-1) ?? '{}') as { cpuUsPerPacket?: unknown };
        if (typeof parsed.cpuUsPerPacket === 'number') run.cpuUsPerPacket = parsed.cpuUsPerPacket;
        else run.error = `unexpected output: ${text.slice(0, 200)}`;
      } catch (err) {
        run.error = err instanceof Error ? err.message.slice(0, 500) : String(err);
      }
      out.push(run);
      console.log(
        `  E round ${round + 1}/${opts.rounds} ${`${c.target} ${c.level} ${c.stream}${c.metrics ? ' +metrics' : ''}`.padEnd(30)} ` +
          (run.cpuUsPerPacket !== undefined
            ? `${fmt(run.cpuUsPerPacket, 2)} µs CPU/pkt, tap + sink alone`
            : `FAILED: ${run.error}`),
      );
    }
  }
  return out;
}

interface Check {
  what: string;
  value: string;
  target: string;
  pass: boolean | undefined;
}

const PERCENTILES = [
  ['P50', 'p50'],
  ['P99', 'p99'],
  ['P999', 'p99.9'],
  ['Max', 'max'],
] as const;

/** L: one row per rate and target; every cell the median over rounds with its [min–max]. */
function latencyTable(
  perTarget: Record<string, Record<string, Stat | undefined>> | undefined,
  targets: TargetName[],
): string {
  const rows: string[][] = [
    [
      'rate/s',
      'target',
      ...PERCENTILES.map(([, label]) => `delivery ${label}`),
      ...PERCENTILES.map(([, label]) => `PUBACK ${label}`),
      'send late p99',
      'CPU µs/pkt',
    ],
  ];
  for (const rate of L_RATES) {
    for (const t of targets) {
      const per = perTarget?.[t];
      const cell = (figure: string): string => fmtStat(per?.[lKey(rate, figure)], 2);
      rows.push([
        rate.toLocaleString('en-US'),
        t,
        ...PERCENTILES.map(([key]) => cell(`delivery${key}Ms`)),
        ...PERCENTILES.map(([key]) => cell(`puback${key}Ms`)),
        cell('lateP99Ms'),
        fmt(per?.[lKey(rate, 'cpuUsPerPacket')]?.median, 2),
      ]);
    }
  }
  return table(rows);
}

/** CAP: the highest passing rate of each ladder, and every step of it. */
function capacityTable(results: CapacityResult[]): string {
  const rows: string[][] = [
    [
      'ladder',
      'highest rate within +1 ms p99',
      'packets/s through mqtt-tap',
      'steps (msg/s: added p99 ms, mqtt-tap CPU)',
      'stopped by',
    ],
  ];
  for (const c of results) {
    rows.push([
      `QoS ${c.qos}, ${c.level}`,
      c.rate === undefined ? 'none' : `${fmt(c.rate, 0)} msg/s`,
      fmt(c.packetsPerS, 0),
      c.steps
        .map(
          (st) =>
            `${fmt(st.rate / 1000, 1)}k: ${st.pass ? '' : '✗'}${fmt(st.addedP99Ms, 2)}` +
            `${st.tapCpuShare === undefined ? '' : ` ${(st.tapCpuShare * 100).toFixed(0)}%`}`,
        )
        .join(', '),
      c.stoppedBy,
    ]);
  }
  return table(rows);
}

function report(
  opts: Options,
  runs: Run[],
  alone: AloneRun[],
  capacities: CapacityResult[],
  broker: Broker,
  a2Text: string,
  record: boolean,
  load1: number[],
  started: number,
): number {
  const vs = views(broker.protocol, a2Text);
  const summary: Record<string, Record<string, Record<string, Stat | undefined>>> = {};
  const out: string[] = [];
  const headlineOf = (s: ScenarioId, t: TargetName): Stat | undefined =>
    summary[s]?.[t]?.[vs[s].headline.key];
  for (const s of opts.only) {
    const v = vs[s];
    const targets = targetsFor(s, record, opts.targets, opts.compare !== undefined);
    summary[s] = {};
    for (const t of targets) {
      const ok = runs.filter((r) => r.scenario === s && r.target === t && r.ok);
      const keys = new Set(ok.flatMap((r) => Object.keys(r.metrics)));
      const per: Record<string, Stat | undefined> = {};
      for (const k of keys) per[k] = stat(ok.map((r) => r.metrics[k] ?? Number.NaN));
      summary[s][t] = per;
    }
    if (s === 'L') {
      out.push(`${v.title}\n${latencyTable(summary.L, targets)}`);
      continue;
    }
    const relay = headlineOf(s, 'relay');
    const rows: string[][] = [
      [
        'target',
        `${v.headline.label} median [min–max]`,
        ...(v.ratio ? ['vs relay'] : []),
        ...v.extras.map((e) => e.label),
        'failed',
      ],
    ];
    for (const t of targets) {
      const per = summary[s][t]!;
      const h = per[v.headline.key];
      const failed = runs.filter((r) => r.scenario === s && r.target === t && !r.ok).length;
      rows.push([
        t,
        fmtStat(h, v.headline.digits),
        ...(v.ratio ? [h && relay ? `${(h.median / relay.median).toFixed(2)}x` : '-'] : []),
        ...v.extras.map((e) => fmt(per[e.key]?.median, e.digits)),
        failed > 0 ? String(failed) : '',
      ]);
    }
    out.push(`${v.title}\n${table(rows)}`);
  }

  // E: mqtt-tap's CPU per forwarded packet minus the relay's, paired by round.
  const eRows: string[][] = [
    [
      'scenario',
      'target at level',
      'relay µs/pkt',
      'target µs/pkt',
      'added µs/pkt median [min–max]',
      'tap+sink alone µs/pkt',
    ],
  ];
  const aloneStat = (t: string, level = t.endsWith('warn') ? 'warn' : 'info'): Stat | undefined => {
    const target = t.startsWith('other') ? 'other' : 'mqtt-tap';
    const metrics = t.includes('+metrics');
    return stat(
      alone
        .filter(
          (a) => a.target === target && a.level === level && a.metrics === metrics && a.stream === 'qos0',
        )
        .map((a) => a.cpuUsPerPacket ?? Number.NaN),
    );
  };
  const added: Record<string, Stat | undefined> = {};
  if (opts.wantE) {
    for (const s of ['A', 'A2'] as const) {
      if (!opts.only.includes(s)) continue;
      const taps = targetsFor(s, record, opts.targets, opts.compare !== undefined).filter(
        (t) =>
          t === 'mqtt-tap' ||
          t === 'mqtt-tap warn' ||
          t === 'mqtt-tap +metrics' ||
          t === 'other' ||
          t === 'other warn',
      );
      for (const t of taps) {
        const diffs: number[] = [];
        for (let round = 0; round < opts.rounds; round++) {
          const tap = runs.find((r) => r.scenario === s && r.round === round && r.target === t && r.ok);
          const rel = runs.find((r) => r.scenario === s && r.round === round && r.target === 'relay' && r.ok);
          const a = tap?.metrics.cpuUsPerPacket;
          const b = rel?.metrics.cpuUsPerPacket;
          if (a !== undefined && b !== undefined) diffs.push(a - b);
        }
        const d = stat(diffs);
        added[`${s} ${t}`] = d;
        eRows.push([
          s,
          t.endsWith('warn') ? `${t.replace(' warn', '')} warn` : `${t} info`,
          fmt(summary[s]?.relay?.cpuUsPerPacket?.median, 2),
          fmt(summary[s]?.[t]?.cpuUsPerPacket?.median, 2),
          fmtStat(d, 2),
          fmtStat(aloneStat(t), 2),
        ]);
      }
    }
    out.push(
      'E. Added CPU per forwarded MQTT packet: (user+sys of the target from /proc/PID/stat) / packets, ' +
        'mqtt-tap minus the relay of the same round. "alone": the tap and its log sink fed the same 64-byte ' +
        'stream in process, no sockets (scripts/bench/tap-cost.ts): what the tap adds without the ' +
        `forwarding path's syscall noise\n${table(eRows)}`,
    );
  }

  // G: QoS 1 and 2 flows, tap + sink alone; with --compare, this build minus the other, paired by round.
  const flowCost = (target: AloneRun['target'], level: AloneRun['level'], round?: number): number[] =>
    alone
      .filter(
        (a) =>
          a.stream === 'qos12' &&
          !a.metrics &&
          a.target === target &&
          a.level === level &&
          (round === undefined || a.round === round),
      )
      .map((a) => a.cpuUsPerPacket ?? Number.NaN);
  const flowAdded: Partial<Record<AloneRun['level'], Stat | undefined>> = {};
  if (opts.wantE) {
    const gRows: string[][] = [
      ['level', 'this build µs/pkt median [min–max]', 'other µs/pkt', 'this − other median [min–max]'],
    ];
    for (const level of ['info', 'warn'] as const) {
      const diffs: number[] = [];
      for (let round = 0; round < opts.rounds; round++) {
        const a = flowCost('mqtt-tap', level, round)[0];
        const b = flowCost('other', level, round)[0];
        if (a !== undefined && b !== undefined) diffs.push(a - b);
      }
      flowAdded[level] = stat(diffs);
      gRows.push([
        level,
        fmtStat(stat(flowCost('mqtt-tap', level)), 2),
        fmtStat(stat(flowCost('other', level)), 2),
        fmtStat(flowAdded[level], 2),
      ]);
    }
    out.push(
      'G. QoS 1 and QoS 2 flows both ways, 50 in flight each way, tap + sink alone (tap-cost.ts qos12): ' +
        `CPU per packet; "other" is the --compare build, paired by round\n${table(gRows)}`,
    );
  }

  // The issue's targets.
  const checks: Check[] = [];
  if (opts.compare !== undefined && flowAdded.warn !== undefined) {
    const d = flowAdded.warn;
    checks.push({
      what: 'G QoS 1+2 flows at warn, this build − --compare build (no sockets)',
      value: `${fmt(d.median, 2)} µs/pkt`,
      target: '≤ 0.3 µs',
      pass: d.median <= 0.3,
    });
  }
  const ratioCheck = (s: ScenarioId, min: number): void => {
    const tap = headlineOf(s, 'mqtt-tap');
    const relay = headlineOf(s, 'relay');
    if (!opts.only.includes(s)) return;
    const r = tap && relay ? tap.median / relay.median : undefined;
    checks.push({
      what: `${s} rate, mqtt-tap / relay`,
      value: r === undefined ? '-' : `${r.toFixed(2)}x`,
      target: `≥ ${min}x`,
      pass: r === undefined ? undefined : r >= min,
    });
  };
  ratioCheck('A', 0.95);
  ratioCheck('A2', 0.9);
  ratioCheck('B', 0.95);
  ratioCheck('C', 1.0);
  if (opts.only.includes('D')) {
    const tap = headlineOf('D', 'mqtt-tap');
    const relay = headlineOf('D', 'relay');
    const r = tap && relay ? tap.median / relay.median : undefined;
    checks.push({
      what: 'D time, mqtt-tap / relay',
      value: r === undefined ? '-' : `${r.toFixed(2)}x`,
      target: '≤ 1.2x',
      pass: r === undefined ? undefined : r <= 1.2,
    });
    const rss = summary.D?.['mqtt-tap']?.peakRssMB?.median;
    checks.push({
      what: 'D peak RSS, mqtt-tap',
      value: `${fmt(rss, 1)} MB`,
      target: '≤ 120 MB',
      pass: rss === undefined ? undefined : rss <= 120,
    });
  }
  for (const [key, d] of Object.entries(added)) {
    if (key.includes('other') || key.includes('+metrics')) continue;
    const warn = key.endsWith('warn');
    const limit = warn ? ADDED_WARN_US : ADDED_INFO_US;
    checks.push({
      what: `E ${key.split(' ')[0]} added CPU at ${warn ? 'warn' : 'info'}`,
      value: `${fmt(d?.median, 2)} µs/pkt`,
      target: `≤ ${limit} µs`,
      pass: d === undefined ? undefined : d.median <= limit,
    });
  }
  if (opts.wantE) {
    for (const t of ['mqtt-tap', 'mqtt-tap warn'] as const) {
      const warn = t.endsWith('warn');
      const limit = warn ? ADDED_WARN_US : ALONE_INFO_US;
      const a = aloneStat(t);
      checks.push({
        what: `E tap + sink alone at ${warn ? 'warn' : 'info'} (no sockets)`,
        value: `${fmt(a?.median, 2)} µs/pkt`,
        target: `≤ ${limit} µs`,
        pass: a === undefined ? undefined : a.median <= limit,
      });
    }
  }
  // --metrics: CPU per packet with it minus without, paired by round (forwarded) or alone.
  if (opts.wantE && metricsSupported) {
    for (const s of ['A', 'A2'] as const) {
      if (!opts.only.includes(s)) continue;
      const diffs: number[] = [];
      for (let round = 0; round < opts.rounds; round++) {
        const cpuOf = (t: TargetName): number | undefined =>
          runs.find((r) => r.scenario === s && r.round === round && r.target === t && r.ok)?.metrics
            .cpuUsPerPacket;
        const on = cpuOf('mqtt-tap +metrics');
        const off = cpuOf('mqtt-tap');
        if (on !== undefined && off !== undefined) diffs.push(on - off);
      }
      const d = stat(diffs);
      checks.push({
        what: `E ${s} --metrics minus without, same round`,
        value: `${fmtStat(d, 2)} µs/pkt`,
        target: '≤ 0.3 µs',
        pass: d === undefined ? undefined : d.median <= 0.3,
      });
    }
    for (const level of ['info', 'warn'] as const) {
      const diffs: number[] = [];
      for (let round = 0; round < opts.rounds; round++) {
        const cpuOf = (metrics: boolean): number | undefined =>
          alone.find(
            (a) => a.target === 'mqtt-tap' && a.level === level && a.metrics === metrics && a.round === round,
          )?.cpuUsPerPacket;
        const on = cpuOf(true);
        const off = cpuOf(false);
        if (on !== undefined && off !== undefined) diffs.push(on - off);
      }
      const d = stat(diffs);
      checks.push({
        what: `E tap alone at ${level}: --metrics minus without`,
        value: `${fmtStat(d, 3)} µs/pkt`,
        target: '≤ 0.3 µs',
        pass: d === undefined ? undefined : d.median <= 0.3,
      });
    }
  }
  if (opts.only.includes('L')) {
    for (const rate of L_RATES) {
      for (const [key, label, margin] of LATENCY_MARGINS) {
        const diff = (figure: string): number | undefined => {
          const tap = summary.L?.['mqtt-tap']?.[lKey(rate, figure)]?.median;
          const relay = summary.L?.relay?.[lKey(rate, figure)]?.median;
          return tap !== undefined && relay !== undefined ? tap - relay : undefined;
        };
        const delivery = diff(`delivery${key}Ms`);
        const ack = diff(`puback${key}Ms`);
        const signed = (x: number | undefined): string =>
          x === undefined ? '-' : `${x >= 0 ? '+' : ''}${fmt(x, 2)}`;
        checks.push({
          what: `L ${fmt(rate, 0)}/s ${label}, mqtt-tap − relay (delivery, PUBACK)`,
          value: `${signed(delivery)}, ${signed(ack)} ms`,
          target: `≤ +${margin} ms`,
          pass: delivery === undefined || ack === undefined ? undefined : delivery <= margin && ack <= margin,
        });
      }
    }
  }
  for (const c of capacities) {
    if (c.level !== 'info') continue;
    checks.push({
      what: `capacity per core at info, QoS ${c.qos} (p99 within +${CAPACITY_ADDED_P99_MS} ms of direct)`,
      value: `${fmt(c.packetsPerS, 0)} packets/s`,
      target: `≥ ${fmt(CAPACITY_PACKETS_TARGET, 0)}`,
      pass: c.packetsPerS !== undefined && c.packetsPerS >= CAPACITY_PACKETS_TARGET,
    });
  }
  if (opts.only.includes('F')) {
    const tap = summary.F?.['mqtt-tap']?.rssGrowthMB?.median;
    const relay = summary.F?.relay?.rssGrowthMB?.median;
    const ok = tap !== undefined && relay !== undefined ? tap <= relay + 16 : undefined;
    checks.push({
      what: 'F RSS growth, mqtt-tap vs relay + 16 MB',
      value: `${fmt(tap, 1)} vs ${fmt(relay, 1)} MB`,
      target: `≤ ${fmt(relay === undefined ? undefined : relay + 16, 1)} MB`,
      pass: ok,
    });
  }
  if (capacities.length > 0)
    out.push(
      'CAP. Capacity per core: open-loop 64 B PUBLISHes through mqtt-tap on a core of its own, logging to a ' +
        `file; the highest rate whose delivery p99 stays within +${CAPACITY_ADDED_P99_MS} ms of the broker reached ` +
        `directly at the same rate (rates +25% a step, ${CAPACITY_STEP_SECONDS} s × scale each, a failed step tried twice)\n` +
        capacityTable(capacities),
    );
  out.push(
    `Targets (medians, same run)\n${table([
      ['check', 'measured', 'target', ''],
      ...checks.map((c) => [
        c.what,
        c.value,
        c.target,
        c.pass === undefined ? 'n/a' : c.pass ? 'ok' : 'FAIL',
      ]),
    ])}`,
  );

  const seconds = (performance.now() - started) / 1000;
  const load2 = loadavg();
  const meta = {
    date: new Date().toISOString(),
    host: hostname(),
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model,
    memoryGB: Math.round(totalmem() / 1e9),
    loadAverageStart: load1,
    loadAverageEnd: load2,
    node: process.version,
    broker: { kind: broker.kind, version: broker.version, protocol: broker.protocol, config: broker.config },
    latencyBroker:
      broker.kind === 'mosquitto'
        ? { config: [...broker.config, ...LATENCY_BROKER_CONF] }
        : 'the same broker',
    mqttTap: gitDescribe(),
    a2: a2Text,
    recordSupported: record,
    options: { ...opts, out: undefined },
    pinned: opts.pin ? { load: LOAD_CPU, target: TARGET_CPU } : false,
    seconds,
  };
  console.log(`\n${out.join('\n\n')}\n`);
  console.log(
    `${runs.length} runs in ${seconds.toFixed(0)} s; load average at the end ${load2.map((x) => x.toFixed(2)).join(' ')}` +
      ' (a busy machine makes every figure noisy: compare within this run only)',
  );
  mkdirSync(opts.out, { recursive: true });
  const file = join(opts.out, `bench-${meta.date.replace(/[:.]/g, '-')}.json`);
  writeFileSync(
    file,
    `${JSON.stringify({ meta, summary, addedCpu: added, flowAdded, checks, capacities, runs, tapAlone: alone }, null, 2)}\n`,
  );
  console.log(`results: ${file}`);
  return runs.some((r) => !r.ok) ? 1 : 0;
}

// --- clean-up on every exit path ------------------------------------------------------------------------

process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(sig, () => {
    console.error(`\n${sig}: stopping every process the bench started`);
    killAll();
    process.exit(130);
  });
}

main().then(
  (code) => {
    killAll();
    process.exit(code);
  },
  (err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
    killAll();
    process.exit(1);
  },
);
