/**
 * The broker (mosquitto, else aedes) and the targets the load goes through: the broker directly,
 * the plain relay, and mqtt-tap (JSON to a file at info or warn, optionally recording pcapng).
 * Relay and mqtt-tap are started fresh for every run, so peak RSS is the run's own.
 */
import { type ChildProcess, execFileSync, type SpawnOptions } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { launchMosquitto } from '../../src/proxy/embedded-broker.js';
import { exited, freePort, onCleanup, stop, track, waitForPort } from './procs.js';
import type { Version } from './wire.js';

const HOST = '127.0.0.1';

export interface Broker {
  kind: 'mosquitto' | 'aedes';
  version: string;
  host: string;
  port: number;
  pid: number;
  /** The protocol the load speaks: 5.0 with mosquitto, 3.1.1 with aedes. */
  protocol: Version;
  /** What is non-default in the broker's configuration. */
  config: string[];
  close(): Promise<void>;
}

export const MOSQUITTO = '/usr/sbin/mosquitto';

/**
 * Queue and in-flight limits lifted: mosquitto 2.0's defaults (1000 queued, 20 in flight) drop QoS 0
 * messages to a subscriber that falls behind and cap QoS 1 in-flight below the 100 scenario B uses.
 * Everything else, Nagle included, is mosquitto's default.
 */
const MOSQUITTO_TUNING = ['max_queued_messages 0', 'max_inflight_messages 0', 'max_queued_bytes 0'];

export async function startBroker(
  prefer: 'auto' | 'mosquitto' | 'aedes',
  root: string,
  extraConfig: readonly string[] = [],
): Promise<Broker> {
  if (prefer !== 'aedes' && existsSync(MOSQUITTO)) {
    const proc = await launchMosquitto({
      binary: MOSQUITTO,
      config: (port) =>
        [
          `listener ${port} ${HOST}`,
          'allow_anonymous true',
          'persistence false',
          'log_dest stderr',
          ...MOSQUITTO_TUNING,
          ...extraConfig,
          '',
        ].join('\n'),
    });
    return {
      kind: 'mosquitto',
      version: proc.version ?? 'unknown',
      host: proc.host,
      port: proc.port,
      pid: proc.pid,
      protocol: '5.0',
      config: [...MOSQUITTO_TUNING, ...extraConfig],
      close: () => proc.stop(),
    };
  }
  if (prefer === 'mosquitto') throw new Error(`--broker mosquitto: ${MOSQUITTO} not found`);
  console.log(
    `${prefer === 'aedes' ? '--broker aedes' : `mosquitto not found at ${MOSQUITTO}`}: using aedes in a child ` +
      'process instead, with an MQTT 3.1.1 load (aedes speaks no 5.0). Figures are not comparable with a mosquitto run.',
  );
  const child = track(process.execPath, [join(root, 'dist/scripts/bench/aedes-broker.js')], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const line = await firstLine(child, 10_000);
  const m = /^listening (\d+) aedes (\S*)/.exec(line);
  if (!m) throw new Error(`aedes broker said "${line}"`);
  return {
    kind: 'aedes',
    version: m[2] || 'unknown',
    host: HOST,
    port: Number(m[1]),
    pid: child.pid ?? 0,
    protocol: '3.1.1',
    config: [],
    close: () => stop(child),
  };
}

function firstLine(child: ChildProcess, timeoutMs: number): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error(`no output after ${timeoutMs} ms`)), timeoutMs);
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (s: string) => {
      text += s;
      const nl = text.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        resolvePromise(text.slice(0, nl));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited with code ${code} before saying anything`));
    });
  });
}

// --- targets ---------------------------------------------------------------------------------------

export type TargetName =
  | 'direct'
  | 'relay'
  | 'mqtt-tap'
  | 'mqtt-tap warn'
  | 'mqtt-tap +record'
  | 'mqtt-tap +metrics'
  | 'other'
  | 'other warn';

export interface TargetSpec {
  name: TargetName;
  kind: 'direct' | 'relay' | 'mqtt-tap';
  level?: 'info' | 'warn';
  record?: boolean;
  /** With --metrics on a free loopback port (not scraped during the run). */
  metrics?: boolean;
  /** The other build given with --compare (another checkout's bin/mqtt-tap.js). */
  other?: boolean;
}

export const TARGETS: Record<TargetName, TargetSpec> = {
  direct: { name: 'direct', kind: 'direct' },
  relay: { name: 'relay', kind: 'relay' },
  'mqtt-tap': { name: 'mqtt-tap', kind: 'mqtt-tap', level: 'info' },
  'mqtt-tap warn': { name: 'mqtt-tap warn', kind: 'mqtt-tap', level: 'warn' },
  'mqtt-tap +record': { name: 'mqtt-tap +record', kind: 'mqtt-tap', level: 'info', record: true },
  'mqtt-tap +metrics': { name: 'mqtt-tap +metrics', kind: 'mqtt-tap', level: 'info', metrics: true },
  other: { name: 'other', kind: 'mqtt-tap', level: 'info', other: true },
  'other warn': { name: 'other warn', kind: 'mqtt-tap', level: 'warn', other: true },
};

export interface RunningTarget {
  spec: TargetSpec;
  host: string;
  port: number;
  /** The process between the clients and the broker; undefined for `direct`. */
  pid: number | undefined;
  /** Stops the process; returns the sizes of what it wrote (log, recording), then removes them. */
  stop(): Promise<{ logBytes?: number; recordBytes?: number }>;
}

export interface TargetContext {
  root: string;
  broker: Broker;
  /** Where logs and recordings of a run go (removed after the run unless kept). */
  scratch: string;
  keepFiles: boolean;
  /** Node options for the relay and mqtt-tap processes (profiling: --cpu-prof --cpu-prof-dir=DIR). */
  nodeOptions?: readonly string[];
  /** Root of another mqtt-tap build for the `other` targets (before/after comparisons in one run). */
  otherRoot?: string;
  /** The CPU the relay or mqtt-tap is pinned to (`taskset -c`), away from the broker and the load. */
  cpu?: number;
}

export const TASKSET = '/usr/bin/taskset';

/** Starts `node ARGS`, under `taskset -c CPU` when a CPU is given (taskset execs: same pid). */
function launchNode(args: string[], cpu: number | undefined, options: SpawnOptions): ChildProcess {
  if (cpu === undefined) return track(process.execPath, args, options);
  return track(TASKSET, ['-c', String(cpu), process.execPath, ...args], options);
}

let runCounter = 0;

export async function startTarget(spec: TargetSpec, ctx: TargetContext): Promise<RunningTarget> {
  const { broker } = ctx;
  if (spec.kind === 'direct') {
    return { spec, host: broker.host, port: broker.port, pid: undefined, stop: async () => ({}) };
  }
  mkdirSync(ctx.scratch, { recursive: true });
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    let child: ChildProcess;
    let logFile: string | undefined;
    let recordFile: string | undefined;
    if (spec.kind === 'relay') {
      child = launchNode(
        [
          ...(ctx.nodeOptions ?? []),
          join(ctx.root, 'dist/scripts/bench/relay.js'),
          String(port),
          broker.host,
          String(broker.port),
        ],
        ctx.cpu,
        { stdio: ['ignore', 'ignore', 'inherit'] },
      );
    } else {
      runCounter++;
      logFile = resolve(ctx.scratch, `mqtt-tap-${process.pid}-${runCounter}.ndjson`);
      const args = [
        ...(ctx.nodeOptions ?? []),
        join(spec.other && ctx.otherRoot !== undefined ? ctx.otherRoot : ctx.root, 'bin/mqtt-tap.js'),
        '-l',
        `${HOST}:${port}`,
        '-u',
        `${broker.host}:${broker.port}`,
        '--log-file',
        logFile,
        '--level',
        spec.level ?? 'info',
      ];
      if (spec.record) {
        recordFile = resolve(ctx.scratch, `mqtt-tap-${process.pid}-${runCounter}.pcapng`);
        args.push('--record', recordFile);
      }
      if (spec.metrics) args.push('--metrics', `${HOST}:0`);
      // With --keep-files its stdout is kept too (node's --trace-gc and the like write there).
      const stdout = ctx.keepFiles ? openSync(`${logFile}.stdout`, 'w') : 'ignore';
      child = launchNode(args, ctx.cpu, { stdio: ['ignore', stdout, 'pipe'] });
      if (typeof stdout === 'number') closeSync(stdout);
      let stderr = '';
      child.stderr?.setEncoding('utf8');
      child.stderr?.on('data', (s: string) => {
        // Kept short: only the start-up line and failures are expected here.
        if (stderr.length < 8192) stderr += s;
      });
      child.once('exit', (code, signal) => {
        if (code !== 0 && signal !== 'SIGTERM' && signal !== 'SIGKILL' && stderr.trim() !== '') {
          console.error(
            `  mqtt-tap exited (code ${code}, signal ${signal}): ${stderr.trim().slice(0, 2000)}`,
          );
        }
      });
    }
    const files = [logFile, recordFile].filter((f): f is string => f !== undefined);
    const forget = onCleanup(() => {
      if (!ctx.keepFiles) for (const f of files) rmSync(f, { force: true });
    });
    try {
      await waitForPort(HOST, port, 10_000, child);
    } catch (err) {
      await stop(child);
      forget();
      if (!ctx.keepFiles) for (const f of files) rmSync(f, { force: true });
      if (attempt < 2) continue; // the port was taken between freePort() and the bind
      throw err;
    }
    return {
      spec,
      host: HOST,
      port,
      pid: child.pid,
      stop: async () => {
        await stop(child);
        await exited(child);
        const out: { logBytes?: number; recordBytes?: number } = {};
        if (logFile !== undefined && existsSync(logFile)) out.logBytes = statSync(logFile).size;
        if (recordFile !== undefined) out.recordBytes = recordedBytes(recordFile);
        forget();
        if (!ctx.keepFiles) for (const f of files) rmSync(f, { force: true });
        return out;
      },
    };
  }
}

function recordedBytes(file: string): number | undefined {
  return existsSync(file) ? statSync(file).size : undefined;
}

/** mqtt-tap's build knows --record (issue 5) when its help says so. */
export function tapSupportsRecord(root: string): boolean {
  return tapHelp(root).includes('--record ');
}

/** mqtt-tap's build knows --metrics (issue 16) when its help says so. */
export function tapSupportsMetrics(root: string): boolean {
  return tapHelp(root).includes('--metrics ');
}

function tapHelp(root: string): string {
  try {
    return execFileSync(process.execPath, [join(root, 'bin/mqtt-tap.js'), '--help'], { encoding: 'utf8' });
  } catch {
    return '';
  }
}
