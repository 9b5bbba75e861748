/**
 * Capacity per core: the highest steady open-loop rate (64 B, QoS 0 or 1) at which mqtt-tap, on a
 * core of its own, keeps the 99th percentile of publish-to-delivery latency within 1 ms of the
 * broker reached directly at the same rate. Rates rise by a fixed factor; each step runs direct,
 * then a fresh mqtt-tap, and a failed step is run once more before it counts as the limit.
 */
import { performance } from 'node:perf_hooks';
import { type OpenLoopResult, openLoop } from './open-loop.js';
import { cpuSeconds } from './procs.js';
import type { Broker, RunningTarget } from './targets.js';
import type { Version } from './wire.js';

/** The added p99 the issue allows. */
export const CAPACITY_ADDED_P99_MS = 1;
/** Past this p99 with no proxy at all, the broker and the clients on their core are the limit. */
const LOAD_SATURATED_P99_MS = 10;

export interface CapacityStep {
  rate: number;
  /** MQTT packets through mqtt-tap per second: PUBLISH in and out, plus both PUBACKs at QoS 1. */
  packetsPerS: number;
  directP99Ms: number;
  tapP99Ms: number;
  addedP99Ms: number;
  /** mqtt-tap's CPU time over the measured window, as a share of one core. */
  tapCpuShare: number | undefined;
  pass: boolean;
  retried: boolean;
  error?: string;
}

export interface CapacityResult {
  qos: 0 | 1;
  level: 'info' | 'warn';
  steps: CapacityStep[];
  /** The highest passing step, if any. */
  rate: number | undefined;
  packetsPerS: number | undefined;
  /** Why the search stopped. */
  stoppedBy: string;
}

export interface CapacityOptions {
  broker: Broker;
  version: Version;
  qos: 0 | 1;
  level: 'info' | 'warn';
  startTap: () => Promise<RunningTarget>;
  seconds: number;
  startRate: number;
  factor: number;
  maxRate: number;
  log: (line: string) => void;
}

export function packetsPerMessage(qos: 0 | 1): number {
  return qos === 0 ? 2 : 4;
}

let runs = 0;

async function measure(
  o: CapacityOptions,
  host: string,
  port: number,
  rate: number,
  pid: number | undefined,
): Promise<{ r: OpenLoopResult; cpuShare: number | undefined }> {
  let cpu0 = 0;
  let t0 = 0;
  let share: number | undefined;
  const r = await openLoop({
    host,
    port,
    version: o.version,
    qos: o.qos,
    rate,
    seconds: o.seconds,
    warmupSeconds: 0.5,
    tag: `cap-${process.pid}-${++runs}`,
    onMeasureStart: () => {
      if (pid === undefined) return;
      cpu0 = cpuSeconds(pid);
      t0 = performance.now();
    },
    onMeasureEnd: () => {
      if (pid === undefined) return;
      share = (cpuSeconds(pid) - cpu0) / ((performance.now() - t0) / 1000);
    },
  });
  return { r, cpuShare: share };
}

async function step(o: CapacityOptions, rate: number): Promise<CapacityStep> {
  const direct = await measure(o, o.broker.host, o.broker.port, rate, undefined);
  const tap = await o.startTap();
  let t: Awaited<ReturnType<typeof measure>>;
  try {
    t = await measure(o, tap.host, tap.port, rate, tap.pid);
  } finally {
    await tap.stop();
  }
  const added = t.r.delivery.p99 - direct.r.delivery.p99;
  const s: CapacityStep = {
    rate,
    packetsPerS: rate * packetsPerMessage(o.qos),
    directP99Ms: direct.r.delivery.p99,
    tapP99Ms: t.r.delivery.p99,
    addedP99Ms: added,
    tapCpuShare: t.cpuShare,
    pass: direct.r.error === undefined && t.r.error === undefined && added < CAPACITY_ADDED_P99_MS,
    retried: false,
  };
  if (direct.r.error === undefined && !(direct.r.delivery.p99 <= LOAD_SATURATED_P99_MS)) {
    s.pass = false;
    s.error = `direct: p99 ${direct.r.delivery.p99.toFixed(1)} ms with no proxy (over ${LOAD_SATURATED_P99_MS} ms)`;
  }
  if (direct.r.error !== undefined) s.error = `direct: ${direct.r.error}`;
  else if (t.r.error !== undefined) s.error = `mqtt-tap: ${t.r.error}`;
  return s;
}

export async function capacity(o: CapacityOptions): Promise<CapacityResult> {
  const steps: CapacityStep[] = [];
  let best: CapacityStep | undefined;
  let stoppedBy = `reached the highest rate tried (${o.maxRate.toLocaleString('en-US')} msg/s)`;
  for (let rate = o.startRate; rate <= o.maxRate; rate = Math.round(rate * o.factor)) {
    let s = await step(o, rate);
    if (!s.pass) {
      const again = await step(o, rate);
      again.retried = true;
      steps.push(s);
      s = again;
    }
    steps.push(s);
    o.log(
      `  capacity QoS ${o.qos} ${o.level} ${rate.toLocaleString('en-US')} msg/s: direct p99 ${s.directP99Ms.toFixed(2)} ms, ` +
        `mqtt-tap p99 ${s.tapP99Ms.toFixed(2)} ms (added ${s.addedP99Ms.toFixed(2)}), mqtt-tap CPU ` +
        `${s.tapCpuShare === undefined ? '-' : `${(s.tapCpuShare * 100).toFixed(0)}%`}` +
        `${s.pass ? '' : ` — ${s.error ?? 'over the limit'}`}${s.retried ? ' (second try)' : ''}`,
    );
    if (!s.pass) {
      stoppedBy = s.error?.startsWith('direct')
        ? `the load side (broker and clients on their core) failed at ${rate.toLocaleString('en-US')} msg/s: ${s.error}`
        : `${rate.toLocaleString('en-US')} msg/s failed twice: ${s.error ?? `added p99 ${s.addedP99Ms.toFixed(2)} ms`}`;
      break;
    }
    best = s;
  }
  return {
    qos: o.qos,
    level: o.level,
    steps,
    rate: best?.rate,
    packetsPerS: best?.packetsPerS,
    stoppedBy,
  };
}
