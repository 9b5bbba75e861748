/**
 * One live mqtt-tap under soak: the built CLI with TCP, TLS, WebSocket and WebSocket-over-TLS
 * listeners, its log on a stdout pipe the soak can stop reading, a pcapng recording. Every output
 * goes through the secret search as it arrives. If the process exits on its own, that is a restart:
 * it is counted and the process started again on the same ports.
 */
import type { ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cpuSeconds, freePort, peakRssBytes, resetPeakRss, rssBytes, track } from '../bench/procs.js';
import { LogStats } from './log-stats.js';
import { ndjsonWhere, SecretScanner } from './secrets.js';
import type { Endpoints } from './transports.js';

export interface TapOptions {
  name: string;
  root: string;
  upstream: { host: string; port: number };
  cert: string;
  key: string;
  /** Recordings go here as NAME-GEN.pcapng (several files when rotated). */
  scratch: string;
  /** Extra command-line arguments (flags of newer builds). */
  extraArgs: readonly string[];
  grams: ReadonlySet<number>;
  /** Also write stdout and stderr to NAME-GEN.ndjson / .stderr in `scratch` (--keep-files). */
  keepLog: boolean;
}

export interface Restart {
  at: number;
  generation: number;
  code: number | null;
  signal: string | null;
  /** The end of what it wrote on stderr. */
  stderr: string;
}

const HOST = '127.0.0.1';
const WS_PATH = '/mqtt';

/** Local ports in LISTEN state, from /proc/net/tcp. */
function listeningPorts(): Set<number> {
  const out = new Set<number>();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(file, 'latin1');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f[3] === '0A' && f[1] !== undefined) out.add(Number.parseInt(f[1].split(':')[1]!, 16));
    }
  }
  return out;
}

/**
 * Waits until every port is listening, without connecting to any: a test connection to the TCP
 * listener would make mqtt-tap dial the scripted broker, which pairs connections by arrival.
 */
async function waitForListeners(ports: number[], timeoutMs: number, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(
        `mqtt-tap exited (code ${child.exitCode}, signal ${child.signalCode}) before listening`,
      );
    }
    const open = listeningPorts();
    if (ports.every((p) => open.has(p))) return;
    if (Date.now() > deadline)
      throw new Error(`mqtt-tap not listening on ${ports.join(', ')} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export class TapProcess {
  readonly endpoints: Endpoints;
  readonly restarts: Restart[] = [];
  /** What each incarnation logged. */
  readonly logs: LogStats[] = [];
  readonly scanners: SecretScanner[] = [];
  generation = 0;
  /** Highest VmHWM seen over every incarnation. */
  peakRss = 0;
  /** CPU seconds of the incarnations that have ended, and of the running one when last sampled. */
  private cpuEnded = 0;
  private cpuNow = 0;
  /** Whether stdout is being read. */
  reading = true;
  /** The stop at the end needed SIGKILL. */
  killedAtStop = false;
  private child: ChildProcess | undefined;
  private stopping = false;
  private stderrTail = '';
  private sampler: NodeJS.Timeout | undefined;
  private exited: Promise<void> = Promise.resolve();
  private starting: Promise<void> | undefined;

  private constructor(
    private readonly opts: TapOptions,
    ports: number[],
  ) {
    this.endpoints = {
      host: HOST,
      tcp: ports[0]!,
      tls: ports[1]!,
      ws: ports[2]!,
      wss: ports[3]!,
      wsPath: WS_PATH,
    };
  }

  static async start(opts: TapOptions): Promise<TapProcess> {
    const ports: number[] = [];
    while (ports.length < 4) {
      const p = await freePort();
      if (!ports.includes(p)) ports.push(p);
    }
    const tap = new TapProcess(opts, ports);
    await tap.launch();
    tap.sampler = setInterval(() => tap.sample(), 250);
    return tap;
  }

  get name(): string {
    return this.opts.name;
  }

  get upstreamPort(): number {
    return this.opts.upstream.port;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Resolves once a (re)start in progress has finished. */
  ready(): Promise<void> {
    return this.starting ?? Promise.resolve();
  }

  /** Whether the process is down or coming back up. */
  get restarting(): boolean {
    const c = this.child;
    return this.starting !== undefined || c === undefined || c.exitCode !== null || c.signalCode !== null;
  }

  /**
   * Runs `attempt` against a live process: waits out a restart first, and runs it again (twice at
   * most) when it could not connect because the process went down meanwhile.
   */
  async whileUp<T>(attempt: () => Promise<T>, couldNotConnect: (r: T) => boolean): Promise<T> {
    for (let tries = 0; ; tries++) {
      await this.ready();
      const generation = this.generation;
      const r = await attempt();
      if (!couldNotConnect(r) || tries === 2) return r;
      // The exit of a process that reset our connection may take a moment to be seen.
      await new Promise((res) => setTimeout(res, 500));
      if (generation === this.generation && !this.restarting) return r;
    }
  }

  args(): string[] {
    const e = this.endpoints;
    const o = this.opts;
    return [
      join(o.root, 'bin/mqtt-tap.js'),
      '-l',
      `${HOST}:${e.tcp}`,
      '-l',
      `mqtts://${HOST}:${e.tls}`,
      '-l',
      `ws://${HOST}:${e.ws}${WS_PATH}`,
      '-l',
      `wss://${HOST}:${e.wss}${WS_PATH}`,
      '--tls-cert',
      o.cert,
      '--tls-key',
      o.key,
      '-u',
      `${o.upstream.host}:${o.upstream.port}`,
      '--no-pretty',
      '--level',
      'info',
      '--record',
      join(o.scratch, `${o.name}-${this.generation}.pcapng`),
      ...o.extraArgs,
    ];
  }

  /** Every recording written so far (all generations, rotated parts included). */
  recordings(): string[] {
    if (!existsSync(this.opts.scratch)) return [];
    return readdirSync(this.opts.scratch)
      .filter((f) => f.startsWith(`${this.opts.name}-`) && f.endsWith('.pcapng'))
      .sort()
      .map((f) => join(this.opts.scratch, f));
  }

  private launch(): Promise<void> {
    const run = async (): Promise<void> => {
      const gen = this.generation;
      const child = track(process.execPath, this.args(), { stdio: ['ignore', 'pipe', 'pipe'] });
      this.child = child;
      const out = new SecretScanner(this.opts.grams, `${this.name} stdout #${gen}`, ndjsonWhere);
      const err = new SecretScanner(this.opts.grams, `${this.name} stderr #${gen}`, () => 'stderr');
      this.scanners.push(out, err);
      const log = new LogStats();
      this.logs.push(log);
      const copy = (ext: string) =>
        this.opts.keepLog
          ? createWriteStream(join(this.opts.scratch, `${this.name}-${gen}.${ext}`))
          : undefined;
      const outCopy = copy('ndjson');
      const errCopy = copy('stderr');
      child.stdout!.on('data', (c: Buffer) => {
        out.feed(c);
        log.feed(c);
        outCopy?.write(c);
      });
      child.stderr!.on('data', (c: Buffer) => {
        err.feed(c);
        errCopy?.write(c);
        this.stderrTail = (this.stderrTail + c.toString('utf8')).slice(-4000);
      });
      if (!this.reading) child.stdout!.pause();
      // 'close' comes once stdout and stderr are read to their end.
      this.exited = new Promise((resolve) => {
        child.once('close', () => {
          log.end();
          outCopy?.end();
          errCopy?.end();
          resolve();
        });
        child.once('exit', (code, signal) => {
          this.cpuEnded += this.cpuNow;
          this.cpuNow = 0;
          if (this.stopping || this.child !== child) return;
          this.restarts.push({ at: Date.now(), generation: gen, code, signal, stderr: this.stderrTail });
          this.stderrTail = '';
          this.generation++;
          void this.launch();
        });
      });
      const e = this.endpoints;
      await waitForListeners([e.tcp, e.tls, e.ws, e.wss], 20_000, child);
    };
    this.starting = run().finally(() => {
      this.starting = undefined;
    });
    return this.starting;
  }

  private sample(): void {
    const pid = this.child?.pid;
    if (pid === undefined) return;
    try {
      const cpu = cpuSeconds(pid);
      if (Number.isFinite(cpu)) this.cpuNow = cpu;
      const peak = peakRssBytes(pid);
      // A process that has just exited has no VmHWM any more.
      if (Number.isFinite(peak)) this.peakRss = Math.max(this.peakRss, peak);
    } catch {
      // Gone between the check and the read.
    }
  }

  /** CPU seconds used by every incarnation so far (sampled every 250 ms). */
  get cpuSeconds(): number {
    return this.cpuEnded + this.cpuNow;
  }

  rss(): number {
    const pid = this.child?.pid;
    return pid === undefined ? Number.NaN : rssBytes(pid);
  }

  /** VmHWM of the running process. */
  peak(): number {
    const pid = this.child?.pid;
    return pid === undefined ? Number.NaN : peakRssBytes(pid);
  }

  /** Resets VmHWM to the current RSS (so a phase can measure its own peak). */
  resetPeak(): boolean {
    this.sample();
    const pid = this.child?.pid;
    return pid !== undefined && resetPeakRss(pid);
  }

  /** Stops reading stdout: once the pipe is full, mqtt-tap's writes to it block. */
  stallLog(): void {
    this.reading = false;
    this.child?.stdout?.pause();
  }

  resumeLog(): void {
    this.reading = true;
    this.child?.stdout?.resume();
  }

  /** Bytes of log read so far. */
  get logBytes(): number {
    let n = 0;
    for (const l of this.logs) n += l.bytes;
    return n;
  }

  get logLines(): number {
    let n = 0;
    for (const l of this.logs) n += l.lines;
    return n;
  }

  /** SIGTERM, then SIGKILL after `graceMs`; the log is read to its end. */
  async stop(graceMs = 10_000): Promise<void> {
    await this.ready();
    this.stopping = true;
    if (this.sampler !== undefined) clearInterval(this.sampler);
    this.resumeLog();
    const child = this.child;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    this.sample();
    child.kill('SIGTERM');
    const timer = setTimeout(() => {
      this.killedAtStop = true;
      child.kill('SIGKILL');
    }, graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}
