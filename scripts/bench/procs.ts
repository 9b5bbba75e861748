/**
 * Processes the benchmark starts (broker, relay, mqtt-tap, mosquitto clients) and what /proc says
 * about them. Every child is registered so that it is stopped on any exit path, Ctrl-C included.
 */
import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';

const children = new Set<ChildProcess>();
const cleanups = new Set<() => void>();

/** Spawns a child in its own process group (a terminal Ctrl-C reaches the bench only) and tracks it. */
export function track(command: string, args: readonly string[], options: SpawnOptions = {}): ChildProcess {
  const child = spawn(command, args, { detached: true, ...options });
  children.add(child);
  child.once('exit', () => children.delete(child));
  child.once('error', () => children.delete(child));
  return child;
}

/** Something to undo on exit (temp files); runs synchronously. */
export function onCleanup(fn: () => void): () => void {
  cleanups.add(fn);
  return () => cleanups.delete(fn);
}

/** Kills every child still running (by its own pid) and runs the cleanups. Synchronous. */
export function killAll(): void {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
  }
  children.clear();
  for (const fn of cleanups) {
    try {
      fn();
    } catch {
      // Best effort.
    }
  }
  cleanups.clear();
}

export function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the child is gone. */
export async function stop(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited(child);
  clearTimeout(timer);
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => {
      const addr = server.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Waits until something accepts TCP connections on host:port. */
export async function waitForPort(
  host: string,
  port: number,
  timeoutMs: number,
  child?: ChildProcess,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child !== undefined && (child.exitCode !== null || child.signalCode !== null)) {
      throw new Error(
        `process exited (code ${child.exitCode}, signal ${child.signalCode}) before listening on ${port}`,
      );
    }
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host, port });
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listening on ${host}:${port} after ${timeoutMs} ms`);
    await delay(20);
  }
}

// --- /proc -----------------------------------------------------------------------------------------

const TICKS_PER_SECOND = 100; // getconf CLK_TCK on Linux (USER_HZ is 100 on every mainstream arch)

/** User + system CPU of the whole process (all threads), in seconds; utime and stime from /proc/PID/stat. */
export function cpuSeconds(pid: number): number {
  const t = cpuTimes(pid);
  return t.user + t.system;
}

/** User and system CPU of the whole process (all threads), in seconds. */
export function cpuTimes(pid: number): { user: number; system: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  // Fields after the command name (which may contain spaces), 1-based: utime 14, stime 15.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: Number(rest[11]) / TICKS_PER_SECOND, system: Number(rest[12]) / TICKS_PER_SECOND };
}

/** Kibibytes from /proc/PID/status (VmRSS, VmHWM). */
function statusKiB(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const text = readFileSync(`/proc/${pid}/status`, 'latin1');
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
  return m ? Number(m[1]) : Number.NaN;
}

export function rssBytes(pid: number): number {
  return statusKiB(pid, 'VmRSS') * 1024;
}

export function peakRssBytes(pid: number): number {
  return statusKiB(pid, 'VmHWM') * 1024;
}

/** Resets the process's peak RSS (VmHWM) to its current RSS (Linux >= 4.0); false when refused. */
export function resetPeakRss(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** Read and write system calls so far (/proc/PID/io syscr, syscw), or undefined when not readable. */
export function syscalls(pid: number): { reads: number; writes: number } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/io`, 'latin1');
    const r = /^syscr:\s+(\d+)/m.exec(text);
    const w = /^syscw:\s+(\d+)/m.exec(text);
    if (!r || !w) return undefined;
    return { reads: Number(r[1]), writes: Number(w[1]) };
  } catch {
    return undefined;
  }
}
