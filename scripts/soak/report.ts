/**
 * The soak's one table (Markdown) and the verdicts behind it.
 */
import type { FaultResult } from './faults.js';
import type { HostileResult } from './hostile.js';
import type { MosquittoResult } from './mosquitto-path.js';
import type { SecretHit } from './secrets.js';
import type { StallResult } from './stall.js';
import type { Restart } from './tap-process.js';

export interface Summary {
  seed: string;
  scale: number;
  seconds: number;
  inputs: { total: number; clientViaScripted: number; clientViaMosquitto: number; brokerToClient: number };
  connections: { scripted: number; mosquitto: number; concurrent: number };
  outcomes: Record<string, number>;
  /** Paired connections whose bytes differed or stopped moving (the ones shown in `failures`). */
  differences: number;
  failures: (HostileResult | MosquittoResult | FaultResult)[];
  mosquittoUnclean: number;
  faults: { total: number; byKind: Record<string, Record<string, number>> };
  /** `refused`: could not connect, mqtt-tap being down (it restarted meanwhile). */
  validSessions: { ok: number; total: number; refused: number };
  restarts: { name: string; restarts: Restart[] }[];
  peakRssMB: Record<string, number>;
  concurrent?: {
    connections: number;
    heldOpen: number;
    peakMB: number;
    rssAtHoldMB: number;
    rssBeforeMB: number;
  };
  stall?: StallResult;
  logBufferMB: number;
  log: Record<
    string,
    { lines: number; bytes: number; events: Record<string, number>; internalErrors: string[] }
  >;
  logDropped: { reported: boolean; lines: number; detail: string };
  secrets: {
    found: number;
    windows: number;
    markersSent: number;
    byWhere: Record<string, number>;
    examples: SecretHit[];
    scanned: string[];
  };
  shutdown: Record<string, string>;
  cpuSeconds: Record<string, number>;
  /** Upstream connections the scripted broker accepted that no client was waiting for. */
  unexpectedUpstreams: number;
}

export interface Row {
  what: string;
  result: string;
  bar: string;
  ok: boolean | undefined;
}

const n = (x: number): string => Math.round(x).toLocaleString('en-US');
const mb = (x: number): string => `${x.toFixed(1)} MB`;

export function rows(s: Summary): Row[] {
  const out: Row[] = [];
  const target = Math.round(1e6 * s.scale);
  out.push({
    what: 'hostile MQTT inputs sent',
    result: `${n(s.inputs.total)} (client→broker ${n(s.inputs.clientViaScripted + s.inputs.clientViaMosquitto)}, of which ${n(s.inputs.clientViaMosquitto)} to mosquitto; broker→client ${n(s.inputs.brokerToClient)}) over ${n(s.connections.scripted + s.connections.mosquitto + s.connections.concurrent)} connections`,
    bar: `≈ ${n(target)}`,
    ok: s.inputs.total >= target * 0.9,
  });
  const byOutcome = Object.entries(s.faults.byKind)
    .map(([k, o]) => `${k} ${n(Object.values(o).reduce((a, b) => a + b, 0))}`)
    .join(', ');
  out.push({
    what: 'connection faults',
    result: `${n(s.faults.total)} (${byOutcome})`,
    bar: `≈ ${n(Math.round(1e4 * s.scale))}`,
    ok: s.faults.total >= Math.round(1e4 * s.scale) * 0.9,
  });
  const restarts = s.restarts.reduce((a, r) => a + r.restarts.length, 0);
  const first = s.restarts.flatMap((r) => r.restarts.map((x) => ({ name: r.name, ...x })))[0];
  const cause = first
    ? `; first: ${first.name} exited (code ${first.code}, signal ${first.signal}): ${first.stderr.trim().split('\n').slice(-3).join(' ').slice(0, 300)}`
    : '';
  out.push({
    what: 'mqtt-tap restarts (process exits)',
    result: `${restarts} (${s.restarts.map((r) => `${r.name} ${r.restarts.length}`).join(', ')})${cause}`,
    bar: '0',
    ok: restarts === 0,
  });
  const paired = s.connections.scripted + s.connections.concurrent;
  const other = Object.entries(s.outcomes)
    .filter(([k]) => k !== 'ok' && k !== 'difference')
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  out.push({
    what: 'connections with forwarded bytes ≠ sent (sha256, both ways; scripted broker)',
    result: `${n(s.differences)} of ${n(paired)}${other ? ` (${other})` : ''}`,
    bar: '0',
    ok: s.differences === 0 && (s.outcomes['no-connection'] ?? 0) === 0,
  });
  out.push({
    what: 'mosquitto path: broker→client bytes framing cleanly',
    result: `${n(s.connections.mosquitto - s.mosquittoUnclean)} of ${n(s.connections.mosquitto)}`,
    bar: 'all',
    ok: s.mosquittoUnclean === 0,
  });
  out.push({
    what: 'valid sessions amid the faults',
    result: `${n(s.validSessions.ok)} of ${n(s.validSessions.total)} worked${s.validSessions.refused > 0 ? ` (${n(s.validSessions.refused)} could not connect: mqtt-tap was down)` : ''}`,
    bar: 'all',
    ok: s.validSessions.ok === s.validSessions.total,
  });
  out.push({
    what: 'peak RSS of mqtt-tap (VmHWM, whole run)',
    result: Object.entries(s.peakRssMB)
      .map(([k, v]) => `${k} ${mb(v)}`)
      .join(', '),
    bar: '',
    ok: undefined,
  });
  if (s.concurrent !== undefined) {
    const c = s.concurrent;
    out.push({
      what: `peak RSS with ${n(c.connections)} concurrent hostile connections (each mid-way through a large packet both ways)`,
      result: `${mb(c.peakMB)} (${n(c.heldOpen)} held open at once; RSS ${mb(c.rssBeforeMB)} before, ${mb(c.rssAtHoldMB)} while held)`,
      bar: '< 200 MB',
      ok: c.peakMB < 200 && c.heldOpen === c.connections,
    });
  }
  if (s.stall !== undefined) {
    const st = s.stall;
    const grow = (w: StallResult['unstalled']): number => w.peakMB - w.rssStartMB;
    const limit = s.logBufferMB + 32;
    out.push({
      what: `stalled stdout (${st.stalled.seconds.toFixed(0)} s, ${n(st.targetRate)} msg/s): RSS growth (peak − start)`,
      result: `+${mb(grow(st.stalled))} stalled vs +${mb(grow(st.unstalled))} unstalled (${st.unstalled.seconds.toFixed(0)} s, log read at ${mb(st.unstalled.logBytes / st.unstalled.seconds / 1048576)}/s)${st.stalled.cutShort ? `; ${st.stalled.cutShort}` : ''}`,
      bar: `≤ log buffer (${n(s.logBufferMB)} MB) + 32 MB = ${n(limit)} MB`,
      ok: grow(st.stalled) <= limit && st.stalled.cutShort === undefined,
    });
    const delta = (st.stalled.rate / st.unstalled.rate - 1) * 100;
    out.push({
      what: 'stalled stdout: forwarding rate (subscriber, through mqtt-tap both ways)',
      result: `${n(st.stalled.rate)} msg/s stalled vs ${n(st.unstalled.rate)} unstalled (${delta >= 0 ? '+' : ''}${delta.toFixed(1)} %); ${n(st.lost)} lost; then ${mb(st.backlogBytes / 1048576)} of log ${st.drainCutShort ? `read in ${st.drainSeconds.toFixed(0)} s, still coming` : `drained in ${st.drainSeconds.toFixed(1)} s`}`,
      bar: 'within 10 %',
      ok: Math.abs(delta) <= 10 && st.lost === 0,
    });
  }
  out.push({
    what: 'log lines dropped',
    result: s.logDropped.reported
      ? `${n(s.logDropped.lines)} (${s.logDropped.detail})`
      : `n/a (${s.logDropped.detail})`,
    bar: '',
    ok: undefined,
  });
  out.push({
    what: 'secrets found in any output (stdout, stderr, pcapng)',
    result: `${n(s.secrets.found)} leaks (${n(s.secrets.windows)} 4-byte runs)${s.secrets.examples.length > 0 ? ` (first in ${s.secrets.examples[0]!.output}, ${s.secrets.examples[0]!.form})` : ''}; ${n(s.secrets.markersSent)} marker passwords sent where mqtt-tap can see them`,
    bar: '0',
    ok: s.secrets.found === 0,
  });
  out.push({
    what: 'duration',
    result: `${Math.floor(s.seconds / 60)}:${String(Math.round(s.seconds % 60)).padStart(2, '0')}`,
    bar: s.scale === 1 ? '≈ 5 min' : '',
    ok: undefined,
  });
  return out;
}

export function markdown(s: Summary): string {
  const lines = ['| measure | result | bar | |', '| --- | --- | --- | --- |'];
  for (const r of rows(s)) {
    const mark = r.ok === undefined ? '' : r.ok ? 'ok' : '**FAIL**';
    lines.push(`| ${r.what} | ${r.result.replace(/\|/g, '\\|')} | ${r.bar} | ${mark} |`);
  }
  return lines.join('\n');
}

export function passed(s: Summary): boolean {
  return rows(s).every((r) => r.ok !== false);
}
