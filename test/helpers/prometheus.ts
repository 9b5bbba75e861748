/**
 * Debian's Prometheus (/usr/bin/prometheus) started by a test: its own config and storage in a temp
 * dir, its web API on a free loopback port, stopped by its PID.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants as fsConstants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.js';

export const PROMETHEUS_BIN = '/usr/bin/prometheus';

export function prometheusAvailable(): boolean {
  try {
    accessSync(PROMETHEUS_BIN, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** For `describe.skipIf(!requirePrometheus())`: under CI=true a missing Prometheus fails the suite. */
export function requirePrometheus(): boolean {
  if (prometheusAvailable()) return true;
  if (process.env.CI === 'true' || process.env.CI === '1') {
    throw new Error(`Prometheus is required in CI: missing ${PROMETHEUS_BIN} (apt-get install prometheus)`);
  }
  console.warn(`[skip] Prometheus tests skipped: missing ${PROMETHEUS_BIN}`);
  return false;
}

export interface QueryResult {
  metric: Record<string, string>;
  value: [number, string];
}

export interface Prometheus {
  url: string;
  pid: number;
  /** An instant query through the HTTP API; throws on an error answer. */
  query(expr: string): Promise<QueryResult[]>;
  /** Resolves once `expr` returns a sample for which `pred` holds. */
  waitFor(expr: string, pred: (r: QueryResult[]) => boolean, timeoutMs?: number): Promise<QueryResult[]>;
  stop(): Promise<void>;
}

/** Starts Prometheus scraping `targets` (`host:port`) every second. */
export async function startPrometheus(targets: string[]): Promise<Prometheus> {
  const dir = mkdtempSync(join(tmpdir(), 'mqtt-tap-prometheus-'));
  const config = join(dir, 'prometheus.yml');
  writeFileSync(
    config,
    [
      'global:',
      '  scrape_interval: 1s',
      '  evaluation_interval: 1s',
      'scrape_configs:',
      '  - job_name: mqtt-tap',
      '    static_configs:',
      `      - targets: [${targets.map((t) => JSON.stringify(t)).join(', ')}]`,
      '',
    ].join('\n'),
  );
  const port = await freePort();
  const proc: ChildProcess = spawn(
    PROMETHEUS_BIN,
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  proc.stderr!.on('data', (c: Buffer) => {
    stderr += c.toString('utf8');
  });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const stop = async (): Promise<void> => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
    const killer = setTimeout(() => proc.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(killer);
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      if ((await fetch(`${url}/-/ready`)).ok) break;
    } catch {
      // not listening yet
    }
    if (proc.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`Prometheus did not start: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const query = async (expr: string): Promise<QueryResult[]> => {
    const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(expr)}`);
    const body = (await res.json()) as { status: string; error?: string; data?: { result: QueryResult[] } };
    if (body.status !== 'success') throw new Error(`query ${expr}: ${body.error}`);
    return body.data!.result;
  };
  return {
    url,
    pid: proc.pid!,
    query,
    async waitFor(expr, pred, timeoutMs = 20_000) {
      const end = Date.now() + timeoutMs;
      for (;;) {
        const result = await query(expr);
        if (pred(result)) return result;
        if (Date.now() > end) throw new Error(`no such result for ${expr}: ${JSON.stringify(result)}`);
        await new Promise((r) => setTimeout(r, 250));
      }
    },
    stop,
  };
}
