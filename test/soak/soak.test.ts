/**
 * The hostile soak (scripts/soak.ts) at a small size, as CI runs it: a live mqtt-tap in front of
 * mosquitto and in front of a scripted broker, ~10^4 mutated packets both ways over TCP, TLS and
 * WebSocket listeners, ~100 connection faults, a stalled log. What must hold at any size: the
 * process never exits, every forwarded byte arrives unchanged, no output holds a password.
 * Timing figures (rates, RSS growth) are the script's to report, not a test's to assert.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT } from '../e2e/helpers/build-dist.js';
import { requireMosquitto } from '../helpers/mosquitto.js';

/** Fixed, so that a red CI run can be replayed: npm run soak -- --scale 0.01 --seed ci-soak-1 */
const SEED = process.env.SOAK_SEED ?? 'ci-soak-1';
const SCALE = '0.01';

interface SoakSummary {
  inputs: { total: number };
  faults: { total: number };
  restarts: { name: string; restarts: { stderr: string }[] }[];
  differences: number;
  outcomes: Record<string, number>;
  failures: unknown[];
  secrets: { found: number; examples: unknown[] };
  peakRssMB: Record<string, number>;
}

const out = mkdtempSync(join(tmpdir(), 'mqtt-tap-soak-test-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

function runSoak(json: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(ROOT, 'dist/scripts/soak.js'), '--scale', SCALE, '--seed', SEED, '--out', out, '--json', json],
      { cwd: ROOT, maxBuffer: 64 * 1024 * 1024, timeout: 170_000 },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : null;
        resolve({ code, output: `${stdout}\n${stderr}` });
      },
    );
  });
}

describe.skipIf(!requireMosquitto())('npm run soak, small size', () => {
  it('keeps mqtt-tap up, forwards every byte unchanged both ways, and leaks no password', async () => {
    const json = join(out, 'summary.json');
    const { code, output } = await runSoak(json);
    // Exit 2 is the soak's own failure (it could not run); 0 and 1 are verdicts.
    expect(code, output).not.toBe(2);
    const s = JSON.parse(readFileSync(json, 'utf8')) as SoakSummary;
    expect(s.inputs.total).toBeGreaterThan(5_000);
    expect(s.faults.total).toBeGreaterThan(50);
    expect(
      s.restarts.flatMap((r) => r.restarts.map((x) => `${r.name}: ${x.stderr}`)),
      'mqtt-tap exited during the soak',
    ).toEqual([]);
    expect(s.differences, JSON.stringify(s.failures.slice(0, 5))).toBe(0);
    expect(s.outcomes['no-connection'] ?? 0, JSON.stringify(s.failures.slice(0, 5))).toBe(0);
    expect(s.secrets.found, JSON.stringify(s.secrets.examples.slice(0, 3))).toBe(0);
    for (const [name, mb] of Object.entries(s.peakRssMB)) expect(mb, `peak RSS of ${name}`).toBeLessThan(500);
  }, 180_000);
});
