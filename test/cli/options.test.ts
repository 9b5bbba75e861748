/**
 * The option table (src/cli/options.ts) against what users see: every sub-command's flags, with
 * their defaults, in docs/cli.md; decode's flags checked as the proxy's are.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  DECODE_OPTIONS,
  flagOf,
  OPTIONS,
  type OptionDef,
  type OptionId,
  PROXY_OPTIONS,
  REPLAY_OPTIONS,
  RULES_OPTIONS,
} from '../../src/cli/options.js';
import { BIN, ROOT } from '../e2e/helpers/build-dist.js';

const CLI_MD = readFileSync(join(ROOT, 'docs/cli.md'), 'utf8');

/** The table rows of one `## ` section of docs/cli.md, by flag: their cells. */
function rows(heading: string): Map<string, string[]> {
  const start = CLI_MD.indexOf(`\n## ${heading}\n`);
  expect(start, heading).toBeGreaterThanOrEqual(0);
  const end = CLI_MD.indexOf('\n## ', start + 1);
  const out = new Map<string, string[]>();
  for (const line of CLI_MD.slice(start, end === -1 ? undefined : end).split('\n')) {
    const cells = line.split(/(?<!\\)\|/).map((c) => c.trim());
    for (const flag of cells[1]?.match(/--[a-z-]+/g) ?? []) out.set(flag, cells.slice(2, -1));
  }
  return out;
}

/** What a default looks like in a docs table: `256`, `65536`, `auto`, `32MiB`. */
function shownDefault(def: OptionDef): string | undefined {
  if (def.defaultDescription !== undefined) return def.defaultDescription;
  if (typeof def.default === 'number' || typeof def.default === 'string') return String(def.default);
  return undefined;
}

describe('docs/cli.md shows every option of each command from the table', () => {
  it.each([
    ['The proxy', PROXY_OPTIONS],
    ['`mqtt-tap decode`', DECODE_OPTIONS],
    ['`mqtt-tap replay`', REPLAY_OPTIONS],
    ['`mqtt-tap rules`', RULES_OPTIONS],
  ] as const)('%s', (heading, ids: readonly OptionId[]) => {
    const documented = rows(heading);
    for (const id of ids) {
      const flag = `--${flagOf(id)}`;
      const cells = documented.get(flag);
      expect(cells, `${flag} in "${heading}"`).toBeDefined();
      const def: OptionDef = OPTIONS[id];
      const shown = shownDefault(def);
      // Tables with a default column: the table's default, as written there.
      if (cells!.length === 2 && shown !== undefined && !shown.startsWith('--')) {
        expect(cells![0]!.replace(/[`,]/g, ''), flag).toContain(shown.replace(/[`,]/g, ''));
      }
    }
  });
});

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr });
    });
  });
}

describe('mqtt-tap decode: the shared definitions, range checks included', () => {
  it('--payload-max out of range is a usage error, as for the proxy', async () => {
    const { code, stdout, stderr } = await run(['decode', '--payload-max', '-1', '30 05 00 01 61 62 63']);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toContain('--payload-max must be a whole number of bytes between 0 and 1048576');
  });

  it('--payload-max within range still shortens the preview', async () => {
    const { code, stdout } = await run(['decode', '--payload-max', '1', '30 05 00 01 61 62 63']);
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({ type: 'PUBLISH', topic: 'a' });
    expect(stdout).not.toContain('bc');
  });
});
