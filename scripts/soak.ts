/**
 * A hostile soak of a live mqtt-tap (issue 12): nothing a client, a broker or a stalled log does may
 * take it down, change a forwarded byte, grow it without bound or leak a password.
 *
 *   npm run soak [-- --scale 0.1 --seed abc123]
 *
 * Two mqtt-tap processes (the built CLI), each listening on TCP, TLS, WebSocket and WebSocket over
 * TLS: one in front of Debian's mosquitto, one in front of a scripted broker in this process. Then:
 *
 *  1. 1,000 × scale hostile connections held open at once, each inside a large packet both ways
 *     (first, while the process is fresh: its peak RSS is the phase's own);
 *  2. hostile inputs (10^6 × scale mutated packets of all 15 types, 3.1/3.1.1/5.0, random chunks)
 *     both ways through the scripted broker, checked byte for byte, and client→broker to mosquitto;
 *     at the same time connection faults (10^4 × scale) against the mosquitto side, a few slow
 *     clients, and the scripted side's stdout left unread for the middle third;
 *  3. 10,000 msg/s through the mosquitto side, first with its log read, then with stdout unread for
 *     60 s × scale: RSS and forwarding rate compared.
 *
 * A process that exits is restarted and counted. Every output (stdout, stderr, pcapng) is searched
 * for the marker passwords. One table at the end (Markdown); everything to bench-results/soak-*.json.
 * Exit status 1 when a bar is missed.
 */

import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_LOG_BUFFER_BYTES } from '../src/sinks/log-sink.js';
import { cpuSeconds, killAll, onCleanup } from './bench/procs.js';
import { startBroker } from './bench/targets.js';
import { selfSigned } from './soak/certs.js';
import { drawFault, type FaultResult, runFault, slowLoris } from './soak/faults.js';
import {
  Barrier,
  HostileBroker,
  type HostileContext,
  type HostileResult,
  Mutex,
  runHostile,
} from './soak/hostile.js';
import { type MosquittoResult, runMosquittoInput } from './soak/mosquitto-path.js';
import { scanPcapng } from './soak/pcapng-scan.js';
import { markdown, passed, type Summary } from './soak/report.js';
import { Rng } from './soak/rng.js';
import { Markers } from './soak/secrets.js';
import { connectionsFor, hostileSpec, mosquittoSpec, setTransports } from './soak/specs.js';
import { stalledLogWindows } from './soak/stall.js';
import { TapProcess } from './soak/tap-process.js';
import { TRANSPORTS, type Transport } from './soak/transports.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const PHASES = ['inputs', 'faults', 'concurrent', 'stall'] as const;
type Phase = (typeof PHASES)[number];

interface Options {
  scale: number;
  seed: string;
  out: string;
  json: string | undefined;
  keepFiles: boolean;
  tapArgs: string[];
  rate: number;
  logBufferMB: number;
  rssCapMB: number;
  phases: Set<Phase>;
  only: string | undefined;
  idleTimeoutMs: number;
  holdMs: number;
  transports: readonly Transport[];
}

const USAGE = `usage: npm run soak -- [options]
  --scale X            multiply every count and duration (default 1: 10^6 inputs, 10^4 faults,
                       1,000 concurrent connections, 60 s stalled log); CI runs 0.01
  --seed S             replay a run (default: random, printed)
  --only ID            run one connection of a seeded run again (h-12, c-3, m-40, f-977) and print it
  --phases LIST        subset of: inputs,faults,concurrent,stall (default all)
  --rate N             messages per second during the stalled-log windows (default 10000)
  --log-buffer-mb N    the log buffer the RSS bar assumes (default: mqtt-tap's --log-buffer default)
  --rss-cap-mb N       end the stalled window early if mqtt-tap's RSS passes this (default 2048)
  --idle-timeout-ms N  a paired connection with no byte moving this long is "stalled" (default 30000)
  --transports LIST    the listeners connections pick from: subset of tcp,tls,ws,wss (default all)
  --hold-ms N          how long the concurrent phase holds its connections once all are in (default
                       1000); with --phases concurrent, time to profile mqtt-tap at that phase's peak
  --tap-arg ARG        extra argument for both mqtt-tap processes (repeatable), e.g. --tap-arg=--log-buffer=32MiB
  --out DIR            where the JSON goes (default bench-results)
  --json FILE          write the JSON summary to FILE as well
  --keep-files         keep recordings and mqtt-tap's stdout/stderr (DIR/soak-tmp-PID)`;

function parseArgs(argv: string[]): Options {
  const o: Options = {
    scale: 1,
    seed: Math.floor(Math.random() * 0xffffffff)
      .toString(16)
      .padStart(8, '0'),
    out: join(ROOT, 'bench-results'),
    json: undefined,
    keepFiles: false,
    tapArgs: [],
    rate: 10_000,
    logBufferMB: DEFAULT_LOG_BUFFER_BYTES / 1024 / 1024,
    rssCapMB: 2048,
    phases: new Set(PHASES),
    only: undefined,
    idleTimeoutMs: 30_000,
    holdMs: 1000,
    transports: TRANSPORTS,
  };
  for (let i = 0; i < argv.length; i++) {
    let flag = argv[i]!;
    let inline: string | undefined;
    const eq = flag.indexOf('=');
    if (flag.startsWith('--') && eq > 0) {
      inline = flag.slice(eq + 1);
      flag = flag.slice(0, eq);
    }
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value\n${USAGE}`);
      return v;
    };
    const num = (): number => {
      const v = Number(value());
      if (!(v > 0)) throw new Error(`${flag} must be a positive number`);
      return v;
    };
    switch (flag) {
      case '--scale':
        o.scale = num();
        break;
      case '--seed':
        o.seed = value();
        break;
      case '--only':
        o.only = value();
        break;
      case '--phases': {
        const list = value().split(',');
        for (const p of list)
          if (!PHASES.includes(p as Phase)) throw new Error(`unknown phase ${p}\n${USAGE}`);
        o.phases = new Set(list as Phase[]);
        break;
      }
      case '--rate':
        o.rate = num();
        break;
      case '--log-buffer-mb':
        o.logBufferMB = num();
        break;
      case '--rss-cap-mb':
        o.rssCapMB = num();
        break;
      case '--idle-timeout-ms':
        o.idleTimeoutMs = num();
        break;
      case '--transports': {
        const list = value().split(',');
        for (const t of list)
          if (!TRANSPORTS.includes(t as Transport)) throw new Error(`unknown transport ${t}\n${USAGE}`);
        o.transports = list as Transport[];
        break;
      }
      case '--hold-ms':
        o.holdMs = num();
        break;
      case '--tap-arg':
        o.tapArgs.push(value());
        break;
      case '--out':
        o.out = resolve(value());
        break;
      case '--json':
        o.json = resolve(value());
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

// --- running many at once ---------------------------------------------------------------------------

/** Runs `fn(0..count-1)` on `lanes` concurrent lanes. */
async function lanes(count: number, width: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < count) await fn(next++);
  };
  await Promise.all(Array.from({ length: Math.min(width, count) }, lane));
}

const MB = 1024 * 1024;
const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

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

async function main(): Promise<number> {
  const opts = parseArgs(process.argv.slice(2));
  setTransports(opts.transports);
  const t0 = performance.now();
  const elapsed = (): string => {
    const s = (performance.now() - t0) / 1000;
    return `${Math.floor(s / 60)}:${String(Math.floor(s % 60)).padStart(2, '0')}`;
  };
  const scratch = join(opts.out, `soak-tmp-${process.pid}`);
  mkdirSync(scratch, { recursive: true });
  onCleanup(() => {
    if (!opts.keepFiles) rmSync(scratch, { recursive: true, force: true });
  });
  const certs = selfSigned();
  onCleanup(() => certs.remove());
  const markers = new Markers(opts.seed);
  const mosquitto = await startBroker('mosquitto', ROOT);
  const scripted = await HostileBroker.start();
  const tapOptions = {
    root: ROOT,
    cert: certs.cert,
    key: certs.key,
    scratch,
    extraArgs: opts.tapArgs,
    grams: markers.grams,
    keepLog: opts.keepFiles,
  };
  const M = await TapProcess.start({
    ...tapOptions,
    name: 'M',
    upstream: { host: mosquitto.host, port: mosquitto.port },
  });
  const H = await TapProcess.start({
    ...tapOptions,
    name: 'H',
    upstream: { host: '127.0.0.1', port: scripted.port },
  });
  const hctx: HostileContext = {
    tap: H,
    broker: scripted,
    mutex: new Mutex(),
    idleTimeoutMs: opts.idleTimeoutMs,
  };
  console.log(
    `mqtt-tap soak: seed ${opts.seed}, scale ${opts.scale}, build ${gitDescribe()}, mosquitto ${mosquitto.version}, node ${process.version}`,
  );
  const only = opts.transports.length < TRANSPORTS.length ? ` --transports ${opts.transports.join(',')}` : '';
  console.log(`  replay: npm run soak -- --seed ${opts.seed} --scale ${opts.scale}${only}`);

  if (opts.only !== undefined) return replayOne(opts, markers, hctx, M);

  const hostile: HostileResult[] = [];
  const viaMosquitto: MosquittoResult[] = [];
  const faults: FaultResult[] = [];
  const inputsTarget = Math.round(1e6 * opts.scale);
  // Planned a little over the target: connections that reset stop sending part-way.
  const planned = inputsTarget * 1.08;
  const hCount = opts.phases.has('inputs') ? connectionsFor(opts.seed, 'h', planned * 0.8, 2) : 0;
  const mCount = opts.phases.has('inputs') ? connectionsFor(opts.seed, 'm', planned * 0.2, 1) : 0;
  const fCount = opts.phases.has('faults') ? Math.round(1e4 * opts.scale) : 0;
  const cCount = opts.phases.has('concurrent') ? Math.max(10, Math.round(1000 * opts.scale)) : 0;

  let hDone = 0;
  let held: Barrier | undefined;
  const progress = setInterval(() => {
    if (held !== undefined) {
      console.log(
        `  [${elapsed()}] ${held.arrived}/${2 * cCount} sides inside their large packet, RSS H ${(H.rss() / MB).toFixed(0)} MB`,
      );
      return;
    }
    console.log(
      `  [${elapsed()}] scripted ${hDone}/${hCount}, mosquitto ${viaMosquitto.length}/${mCount}, faults ${faults.length}/${fCount}, ` +
        `restarts ${M.restarts.length + H.restarts.length}, RSS M ${(M.rss() / MB).toFixed(0)} MB H ${(H.rss() / MB).toFixed(0)} MB`,
    );
  }, 15_000);

  // --- phase 1: many hostile connections open at once, on a fresh process ---
  let concurrent: Summary['concurrent'];
  if (cCount > 0) {
    console.log(
      `phase 1: ${cCount} hostile connections held open at once, each inside a large packet both ways`,
    );
    await H.ready();
    const barrier = new Barrier(2 * cCount);
    held = barrier;
    const rssBefore = H.rss();
    H.resetPeak();
    const cctx: HostileContext = { ...hctx, barrier };
    const results: HostileResult[] = [];
    const all = lanes(cCount, cCount, async (i) => {
      results.push(await runHostile(hostileSpec(opts.seed, 'c', i, markers), cctx));
    });
    const allIn = await Promise.race([barrier.allIn.then(() => true), delay(180_000).then(() => false)]);
    await delay(opts.holdMs);
    const rssAtHold = H.rss();
    const open = cCount - results.length;
    barrier.release();
    held = undefined;
    await all;
    hostile.push(...results);
    concurrent = {
      connections: cCount,
      heldOpen: allIn ? open : 0,
      peakMB: H.peak() / MB,
      rssAtHoldMB: rssAtHold / MB,
      rssBeforeMB: rssBefore / MB,
    };
    console.log(`  [${elapsed()}] phase 1 done: peak ${(concurrent.peakMB).toFixed(1)} MB`);
  }

  // --- phase 2: inputs and faults, all at once ---
  if (hCount + mCount + fCount > 0) {
    console.log(
      `phase 2: ${hCount} scripted-broker connections, ${mCount} to mosquitto, ${fCount} faults (H's stdout unread for the middle third)`,
    );
    const stallFrom = Math.floor(hCount / 3);
    const stallTo = Math.floor((2 * hCount) / 3);
    const scriptedRun = lanes(hCount, 16, async (i) => {
      // A try that could not connect because H was restarting is run again, from the same seed.
      hostile.push(
        await H.whileUp(
          () => runHostile(hostileSpec(opts.seed, 'h', i, markers), hctx),
          (r) => r.outcome === 'no-connection' || (r.outcome === 'cut-by-restart' && r.inputs.client === 0),
        ),
      );
      hDone++;
      if (hDone === stallFrom && hCount >= 3) H.stallLog();
      if (hDone === stallTo || H.rss() > opts.rssCapMB * MB) H.resumeLog();
    });
    const mosquittoRun = lanes(mCount, 8, async (i) => {
      viaMosquitto.push(
        await M.whileUp(
          () => runMosquittoInput(mosquittoSpec(opts.seed, i, markers), M),
          (r) => r.outcome === 'no-connection' || (r.outcome === 'cut-by-restart' && r.inputs === 0),
        ),
      );
    });
    const faultRun = lanes(fCount, 32, async (i) => {
      faults.push(
        await M.whileUp(
          () => runFault(drawFault(`f-${i}`, Rng.derive(opts.seed, 'f', i)), { tap: M, markers }, opts.scale),
          (r) => r.outcome === 'refused',
        ),
      );
    });
    const loris = opts.phases.has('faults')
      ? Promise.all(
          Array.from({ length: Math.max(1, Math.round(4 * opts.scale)) }, (_, k) =>
            slowLoris(
              `s-${k}`,
              Rng.derive(opts.seed, 's', k),
              M,
              markers,
              Math.max(3, Math.round(30 * opts.scale)),
            ),
          ),
        ).then((r) => {
          faults.push(...r);
        })
      : Promise.resolve();
    await Promise.all([scriptedRun, mosquittoRun, faultRun, loris]);
    H.resumeLog();
    console.log(`  [${elapsed()}] phase 2 done`);
  }

  // --- phase 3: the stalled log under load ---
  let stall: Summary['stall'];
  if (opts.phases.has('stall')) {
    const stalledSeconds = Math.max(2, 60 * opts.scale);
    const unstalledSeconds = Math.max(2, 30 * opts.scale);
    console.log(
      `phase 3: ${opts.rate} msg/s through M; ${unstalledSeconds.toFixed(0)} s with its log read, then ${stalledSeconds.toFixed(0)} s with stdout unread`,
    );
    await M.ready();
    const r = Rng.derive(opts.seed, 'stall');
    stall = await stalledLogWindows(M, markers, {
      rate: opts.rate,
      unstalledSeconds,
      stalledSeconds,
      drainLimitSeconds: Math.max(10, 30 * opts.scale),
      rssCapMB: opts.rssCapMB,
      rng: () => r.float(),
    });
    console.log(`  [${elapsed()}] phase 3 done`);
  }
  clearInterval(progress);

  // --- the end: stop, read every output, search it ---
  const own = process.cpuUsage();
  const cpu: Record<string, number> = { soak: (own.user + own.system) / 1e6 };
  try {
    cpu.mosquitto = cpuSeconds(mosquitto.pid);
  } catch {
    // Gone.
  }
  const shutdown: Record<string, string> = {};
  for (const tap of [M, H]) {
    const s0 = performance.now();
    await tap.stop(20_000);
    shutdown[tap.name] =
      `${((performance.now() - s0) / 1000).toFixed(1)} s${tap.killedAtStop ? ' (needed SIGKILL)' : ''}`;
  }
  cpu.M = M.cpuSeconds;
  cpu.H = H.cpuSeconds;
  await scripted.close();
  await mosquitto.close();
  const scans = [];
  for (const tap of [M, H])
    for (const f of tap.recordings()) scans.push(await scanPcapng(f, markers.grams, tap.upstreamPort));

  const scanners = [...M.scanners, ...H.scanners];
  const secretExamples = [...scanners.flatMap((s) => s.examples), ...scans.flatMap((s) => s.examples)];
  const outcomes: Record<string, number> = {};
  for (const h of hostile) outcomes[h.outcome] = (outcomes[h.outcome] ?? 0) + 1;
  const byKind: Record<string, Record<string, number>> = {};
  for (const f of faults) {
    byKind[f.kind] ??= {};
    byKind[f.kind]![f.outcome] = (byKind[f.kind]![f.outcome] ?? 0) + 1;
  }
  const valid = faults.filter((f) => f.kind === 'valid-session');
  const droppedReported = [M, H].some((t) =>
    t.logs.some((l) => l.dropped.records > 0 || l.dropped.atStop !== undefined),
  );
  const droppedLines = [M, H].reduce(
    (a, t) => a + t.logs.reduce((b, l) => b + Math.max(l.dropped.fromRecords, l.dropped.atStop ?? 0), 0),
    0,
  );
  const logSummary = (t: TapProcess) => {
    const events: Record<string, number> = {};
    for (const l of t.logs) for (const [k, v] of l.events) events[k] = (events[k] ?? 0) + v;
    return {
      lines: t.logLines,
      bytes: t.logBytes,
      events,
      internalErrors: t.logs.flatMap((l) => l.internalErrors),
    };
  };
  const summary: Summary = {
    seed: opts.seed,
    scale: opts.scale,
    seconds: (performance.now() - t0) / 1000,
    inputs: {
      clientViaScripted: hostile.reduce((a, h) => a + h.inputs.client, 0),
      clientViaMosquitto: viaMosquitto.reduce((a, m) => a + m.inputs, 0),
      brokerToClient: hostile.reduce((a, h) => a + h.inputs.broker, 0),
      total: 0,
    },
    connections: {
      scripted: hostile.length - (concurrent?.connections ?? 0),
      mosquitto: viaMosquitto.length,
      concurrent: concurrent?.connections ?? 0,
    },
    outcomes,
    differences: hostile.filter((h) => h.outcome === 'difference' || h.outcome === 'stalled').length,
    failures: [
      ...hostile.filter((h) => h.outcome !== 'ok'),
      ...viaMosquitto.filter((m) => m.outcome !== 'ok'),
      ...faults.filter((f) => f.outcome === 'failed' || f.outcome === 'timeout'),
    ].slice(0, 200),
    mosquittoUnclean: viaMosquitto.filter((m) => m.outcome === 'unclean').length,
    faults: { total: faults.length, byKind },
    validSessions: {
      ok: valid.filter((f) => f.outcome === 'done').length,
      total: valid.length,
      refused: valid.filter((f) => f.outcome === 'refused').length,
    },
    restarts: [M, H].map((t) => ({ name: t.name, restarts: t.restarts })),
    peakRssMB: { M: M.peakRss / MB, H: H.peakRss / MB },
    logBufferMB: opts.logBufferMB,
    log: { M: logSummary(M), H: logSummary(H) },
    logDropped: {
      reported: droppedReported,
      lines: droppedLines,
      detail: droppedReported
        ? 'from log-dropped/stopped records'
        : 'no log-dropped or stopped count in the log',
    },
    secrets: {
      found: scanners.reduce((a, s) => a + s.hits, 0) + scans.reduce((a, s) => a + s.hits, 0),
      windows: scanners.reduce((a, s) => a + s.windows, 0) + scans.reduce((a, s) => a + s.windows, 0),
      markersSent:
        hostile.reduce((a, h) => a + h.secrets, 0) + viaMosquitto.reduce((a, m) => a + m.secrets, 0),
      examples: secretExamples.slice(0, 20),
      byWhere: leaksByWhere([M, H], scans),
      scanned: [
        ...scanners.map((s) => s.output),
        ...scans.map((s) => `${s.file} (${s.payloadBytes} payload bytes)`),
      ],
    },
    shutdown,
    cpuSeconds: cpu,
    unexpectedUpstreams: scripted.unpaired,
  };
  summary.inputs.total =
    summary.inputs.clientViaScripted + summary.inputs.clientViaMosquitto + summary.inputs.brokerToClient;
  if (concurrent !== undefined) summary.concurrent = concurrent;
  if (stall !== undefined) summary.stall = stall;

  const table = markdown(summary);
  console.log(`\n${table}\n`);
  for (const f of summary.failures.slice(0, 20)) console.log(`  failure: ${JSON.stringify(f)}`);
  for (const [k, v] of Object.entries(summary.secrets.byWhere).sort((a, b) => b[1] - a[1])) {
    console.log(`  secrets found: ${v} in ${k}`);
  }
  for (const e of summary.secrets.examples.slice(0, 10)) console.log(`  secret: ${JSON.stringify(e)}`);
  for (const r of summary.restarts)
    for (const x of r.restarts) console.log(`  restart of ${r.name}: ${JSON.stringify(x)}`);
  console.log(
    `  CPU seconds: ${Object.entries(cpu)
      .map(([k, v]) => `${k} ${v.toFixed(1)}`)
      .join(', ')}; load average ${loadavg()
      .map((x) => x.toFixed(1))
      .join(' ')}`,
  );
  mkdirSync(opts.out, { recursive: true });
  const file = join(opts.out, `soak-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  const json = JSON.stringify({ options: { ...opts, phases: [...opts.phases] }, table, ...summary }, null, 1);
  writeFileSync(file, json);
  if (opts.json !== undefined) writeFileSync(opts.json, json);
  console.log(`results: ${file}`);
  return passed(summary) ? 0 : 1;
}

/** Leaks per output kind and place (`M stdout: malformed.hex (hex)`, `H pcapng client→broker payload (raw)`). */
function leaksByWhere(
  taps: TapProcess[],
  scans: Awaited<ReturnType<typeof scanPcapng>>[],
): Record<string, number> {
  const out: Record<string, number> = {};
  const add = (k: string, v: number): void => {
    out[k] = (out[k] ?? 0) + v;
  };
  for (const t of taps) {
    for (const s of t.scanners)
      for (const [k, v] of s.byWhere)
        add(`${t.name} ${s.output.includes('stderr') ? 'stderr' : 'stdout'}: ${k}`, v);
  }
  for (const s of scans) {
    const name = /\/([MH])-\d+/.exec(s.file)?.[1] ?? '?';
    for (const [k, v] of s.byWhere) add(`${name} ${k}`, v);
  }
  return out;
}

/** Runs one connection of a seeded run and prints its result. */
async function replayOne(
  opts: Options,
  markers: Markers,
  hctx: HostileContext,
  M: TapProcess,
): Promise<number> {
  const id = opts.only!;
  const m = /^([hcmf])-(\d+)$/.exec(id);
  if (!m) throw new Error(`--only wants h-N, c-N, m-N or f-N, not ${id}`);
  const i = Number(m[2]);
  let result: unknown;
  if (m[1] === 'h' || m[1] === 'c') {
    const spec = hostileSpec(opts.seed, m[1], i, markers);
    result = await runHostile({ ...spec }, hctx);
  } else if (m[1] === 'm') result = await runMosquittoInput(mosquittoSpec(opts.seed, i, markers), M);
  else result = await runFault(drawFault(id, Rng.derive(opts.seed, 'f', i)), { tap: M, markers }, opts.scale);
  console.log(JSON.stringify(result, null, 1));
  const taps = [M, hctx.tap];
  for (const tap of taps) await tap.stop();
  await hctx.broker.close();
  const scans = [];
  for (const tap of taps)
    for (const f of tap.recordings()) scans.push(await scanPcapng(f, markers.grams, tap.upstreamPort));
  for (const [k, v] of Object.entries(leaksByWhere(taps, scans)))
    console.log(`  secrets found: ${v} in ${k}`);
  const found = [...taps.flatMap((t) => t.scanners), ...scans].flatMap((s) => s.examples);
  for (const e of found) console.log(`  secret: ${JSON.stringify(e)}`);
  for (const tap of taps)
    for (const r of tap.restarts) console.log(`  restart of ${tap.name}: ${JSON.stringify(r)}`);
  return 0;
}

process.on('uncaughtException', (err) => {
  console.error('soak: uncaught', err);
  killAll();
  process.exit(2);
});

for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    killAll();
    process.exit(130);
  });
}

main()
  .then((code) => {
    killAll();
    process.exit(code);
  })
  .catch((err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
    killAll();
    process.exit(2);
  });
