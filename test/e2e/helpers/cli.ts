/**
 * The built CLI (`node bin/mqtt-tap.js`) in a child process, as users run it, with its NDJSON log in
 * a temp file; and its memory as the kernel reports it (/proc/PID/status).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN } from './build-dist.js';
import type { Cleanups } from './tap-proxy.js';

export interface LogLine {
  level: number;
  time: number;
  msg: string;
  event: string;
  [key: string]: unknown;
}

export interface Cli {
  proc: ChildProcess;
  pid: number;
  logFile: string;
  stderr(): string;
  /** Every record written to the log file so far. */
  log(): LogLine[];
  /** Resolves with the first record matching `pred` once it is in the file. */
  waitForRecord(pred: (r: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Starts `mqtt-tap ARGS --log-file <temp> --no-pretty` and waits until it says it is listening.
 * The process (SIGKILL if still running) and the temp dir are removed by `cleanups`.
 */
export async function startCli(
  cleanups: Cleanups,
  args: string[],
  /** Runs it under `ulimit -n fdLimit` (through sh); `env`: variables added (MQTT_TAP_*...). */
  opts: { fdLimit?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<Cli> {
  // dist/ is built by the globalSetup (build-dist.ts) before any test file runs.
  const dir = mkdtempSync(join(tmpdir(), 'mqtt-tap-e2e-'));
  cleanups.add(() => rmSync(dir, { recursive: true, force: true }));
  const logFile = join(dir, 'tap.ndjson');
  // No inherited MQTT_TAP_* variables: only the flags given here apply.
  const env = {
    ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MQTT_TAP_'))),
    ...opts.env,
  };
  const argv = [BIN, ...args, '--log-file', logFile, '--no-pretty'];
  const proc =
    opts.fdLimit === undefined
      ? spawn(process.execPath, argv, { env, stdio: ['ignore', 'ignore', 'pipe'] })
      : spawn('sh', ['-c', `ulimit -n ${opts.fdLimit} && exec "$0" "$@"`, process.execPath, ...argv], {
          env,
          stdio: ['ignore', 'ignore', 'pipe'],
        });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once('exit', (code, signal) => resolve({ code, signal })),
  );
  cleanups.add(async () => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    await exited;
  });
  let stderr = '';
  proc.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  const log = (): LogLine[] => {
    let text = '';
    try {
      text = readFileSync(logFile, 'utf8');
    } catch {
      return [];
    }
    // A line still being written has no newline yet: only whole lines count.
    return text
      .split('\n')
      .slice(0, -1)
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as LogLine);
  };
  const cli: Cli = {
    proc,
    pid: proc.pid ?? 0,
    logFile,
    stderr: () => stderr,
    log,
    async waitForRecord(pred, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = log().find(pred);
        if (found) return found;
        if (proc.exitCode !== null || proc.signalCode !== null || Date.now() > deadline) {
          throw new Error(
            `no such record (exit ${proc.exitCode ?? proc.signalCode}); stderr: ${stderr}; log: ${JSON.stringify(log())}`,
          );
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    exited,
  };
  await cli.waitForRecord((r) => r.event === 'listening');
  return cli;
}

/** SIGTERM, then the exit code once the process is gone. */
export async function stopCli(cli: Cli): Promise<number | null> {
  cli.proc.kill('SIGTERM');
  const { code } = await cli.exited;
  return code;
}

export interface Memory {
  /** Resident set size now, bytes. */
  rss: number;
  /** Peak resident set size (since start, or since `resetPeak`), bytes. */
  hwm: number;
}

/** VmRSS and VmHWM of `pid` from /proc/PID/status. */
export function memoryOf(pid: number): Memory {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string): number => {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(status);
    if (!m) throw new Error(`no ${field} in /proc/${pid}/status`);
    return Number(m[1]) * 1024;
  };
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

/**
 * Resets the peak (VmHWM) to the current RSS (`5` to /proc/PID/clear_refs, Linux 4.0+), so that a
 * later VmHWM is the peak of what happened in between. False when the kernel refuses.
 */
export function resetPeak(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}
