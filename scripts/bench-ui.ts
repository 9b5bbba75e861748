/**
 * What --ui costs with no page attached (issue 15: at most 0.3 µs of CPU per packet more): the tap
 * and log sink in process, with and without the web view's hub, in the same run
 * (scripts/bench/ui-cost.ts), at info and warn, in `--runs` fresh processes each.
 *
 *   npm run bench:ui [-- --runs 3 --slice 20000 --slices 20]
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const runs = arg('runs', 3);
const scratch = mkdtempSync(join(tmpdir(), 'mqtt-tap-bench-ui-'));
const fmt = (n: number): string => n.toFixed(3);
try {
  for (let run = 0; run < runs; run++) {
    for (const level of ['info', 'warn']) {
      const out = execFileSync(
        process.execPath,
        [
          '--expose-gc',
          join(ROOT, 'dist/scripts/bench/ui-cost.js'),
          level,
          String(arg('slice', 20_000)),
          String(arg('slices', 20)),
          join(scratch, 'log.ndjson'),
        ],
        { encoding: 'utf8', timeout: 300_000 },
      );
      const r = JSON.parse(out.trim().split('\n').at(-1)!) as Record<string, number>;
      console.log(
        `run ${run + 1}/${runs} ${level.padEnd(4)}: without --ui ${fmt(r.offUsPerPacket!)} µs/pkt, ` +
          `--ui with no page ${fmt(r.uiUsPerPacket!)} µs/pkt, added ${fmt(r.addedUsPerPacket!)} ` +
          `[${fmt(r.addedMin!)} – ${fmt(r.addedMax!)}] (median of slice pairs; target ≤ 0.3)`,
      );
    }
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
