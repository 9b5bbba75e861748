/**
 * Debian's HAProxy (2.6) as a real peer: a generated config in a temp dir, run in the foreground
 * (`-db`), its log (`log stdout`, `option tcplog`) kept, stopped by PID.
 *
 * Readiness is read from /proc/net/tcp (its frontends in LISTEN), not by connecting: a probe
 * connection would reach the backends and show up in their records.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import {
  accessSync,
  constants as fsConstants,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const HAPROXY_BIN = '/usr/sbin/haproxy';

/** `global` and `defaults` for TCP mode with one line per connection on stdout (`%ci` is the PROXY source). */
export const HAPROXY_TCP_DEFAULTS = [
  'global',
  '  nbthread 1',
  '  log stdout format raw local0 info',
  'defaults',
  '  mode tcp',
  '  log global',
  '  option tcplog',
  '  timeout connect 5s',
  '  timeout client 30s',
  '  timeout server 30s',
  '',
].join('\n');

export interface Haproxy {
  pid: number;
  /** Everything it wrote to stdout and stderr so far (its log lines). */
  output(): string;
  /** Resolves with the first log line matching `pattern`. */
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<string>;
  stop(): Promise<void>;
}

/** Why HAProxy cannot be used here; undefined when it can. */
export function haproxyUnavailableReason(): string | undefined {
  try {
    accessSync(HAPROXY_BIN, fsConstants.X_OK);
    return undefined;
  } catch {
    return `missing ${HAPROXY_BIN} (apt-get install haproxy)`;
  }
}

/** For `describe.skipIf(!requireHaproxy())`: under CI=true a missing HAProxy fails the suite. */
export function requireHaproxy(): boolean {
  const reason = haproxyUnavailableReason();
  if (reason === undefined) return true;
  if (process.env.CI === 'true' || process.env.CI === '1') {
    throw new Error(`haproxy is required in CI: ${reason}`);
  }
  console.warn(`[skip] haproxy tests skipped: ${reason}`);
  return false;
}

/** Whether something on 127.0.0.1 is in LISTEN on `port` (state 0A in /proc/net/tcp). */
function listening(port: number): boolean {
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  return readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .some((line) => {
      const f = line.trim().split(/\s+/);
      return f[1] === local && f[3] === '0A';
    });
}

/**
 * Starts HAProxy with `config` (use HAPROXY_TCP_DEFAULTS first) and waits until every port in
 * `frontends` (bound on 127.0.0.1) listens.
 */
export async function startHaproxy(config: string, frontends: readonly number[]): Promise<Haproxy> {
  const reason = haproxyUnavailableReason();
  if (reason !== undefined) throw new Error(`cannot start haproxy: ${reason}`);
  const dir = mkdtempSync(join(tmpdir(), 'mqtt-tap-haproxy-'));
  const file = join(dir, 'haproxy.cfg');
  writeFileSync(file, config);
  const child: ChildProcess = spawn(HAPROXY_BIN, ['-db', '-f', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const collect = (chunk: Buffer): void => {
    output += chunk.toString('utf8');
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const running = (): boolean => child.exitCode === null && child.signalCode === null;
  const stop = async (): Promise<void> => {
    if (running()) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 10_000;
  while (!frontends.every(listening)) {
    if (!running() || Date.now() > deadline) {
      await stop();
      throw new Error(`haproxy did not start (exit ${child.exitCode ?? child.signalCode}): ${output}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    pid: child.pid ?? 0,
    output: () => output,
    async waitForLog(pattern, timeoutMs = 10_000) {
      const end = Date.now() + timeoutMs;
      for (;;) {
        const line = output.split('\n').find((l) => pattern.test(l));
        if (line !== undefined) return line;
        if (Date.now() > end) throw new Error(`no haproxy log line matching ${pattern}: ${output}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    stop,
  };
}
