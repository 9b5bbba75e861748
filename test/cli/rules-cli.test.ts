/**
 * `mqtt-tap rules` as users run it (bin/mqtt-tap.js → dist/, built by the vitest globalSetup): the
 * coverage table as JSON lines, filtered by status and MQTT version.
 */
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { RULES, type RuleRow } from '../../src/protocol/catalogue/rules.js';

const BIN = join(dirname(fileURLToPath(import.meta.url)), '../../bin/mqtt-tap.js');

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
      resolve({ code, stdout, stderr });
    });
  });
}

const lines = (stdout: string): RuleRow[] =>
  stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as RuleRow);

describe('mqtt-tap rules', () => {
  it('prints every row of the table as one JSON line, keys in order', async () => {
    const { code, stdout, stderr } = await run(['rules']);
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(lines(stdout)).toEqual(RULES);
    expect(stdout.split('\n')[0]).toMatch(
      /^\{"rule":"MQTT-1\.5\.4-1","version":"5\.0","status":"checked","code":/,
    );
  });

  it('--status and --protocol filter', async () => {
    const [notYet5, checked311] = await Promise.all([
      run(['rules', '--status', 'not-yet', '--protocol', '5.0']),
      run(['rules', '--status', 'checked', '--protocol', '3.1.1']),
    ]);
    expect(lines(notYet5.stdout)).toEqual(RULES.filter((r) => r.status === 'not-yet' && r.version === '5.0'));
    expect(lines(checked311.stdout)).toEqual(
      RULES.filter((r) => r.status === 'checked' && r.version === '3.1.1'),
    );
    expect(lines(notYet5.stdout).length).toBeGreaterThan(0);
  });

  it('refuses a status it does not know with exit code 2', async () => {
    const bad = await run(['rules', '--status', 'done']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('Choices: "checked", "not-observable", "not-yet"');
  });
});
