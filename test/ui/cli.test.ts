/**
 * The web view's flags on the built CLI: a bad address is a usage error; beyond loopback a token is
 * generated, the URL with it printed once on stderr (never in the log), and required.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { BIN } from '../e2e/helpers/build-dist.js';
import { startCli, stopCli } from '../e2e/helpers/cli.js';
import { Cleanups } from '../e2e/helpers/tap-proxy.js';
import { startAedes } from '../helpers/aedes-broker.js';
import { freePort } from '../helpers/free-port.js';

const cleanups = new Cleanups();
afterEach(() => cleanups.run());

function run(args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], (err, _stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stderr });
    });
  });
}

describe('--ui flags', () => {
  it('a bad --ui address or a short --ui-token is a usage error (exit 2)', async () => {
    const bad = await run(['--ui', 'localhost:notaport']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--ui "localhost:notaport": expected [HOST:]PORT');
    const short = await run(['--ui', '8080', '--ui-token', 'short']);
    expect(short.code).toBe(2);
    expect(short.stderr).toContain('--ui-token: at least 16 characters');
  });

  it('beyond loopback: a generated token, the URL printed once on stderr and not in the log, required', async () => {
    const broker = await startAedes();
    cleanups.add(() => broker.close());
    const uiPort = await freePort();
    const cli = await startCli(cleanups, [
      '-l',
      `127.0.0.1:${await freePort()}`,
      '-u',
      `127.0.0.1:${broker.port}`,
      '--ui',
      `0.0.0.0:${uiPort}`,
    ]);
    await cli.waitForRecord((r) => r.event === 'ui-listening');
    // stderr is written first, but the log file may be read before the pipe is.
    const url = /web view at http:\/\/0\.0\.0\.0:(\d+)\/\?token=([\w-]+)\n/;
    for (let i = 0; i < 250 && !url.test(cli.stderr()); i++) await new Promise((r) => setTimeout(r, 20));
    const m = url.exec(cli.stderr());
    expect(m?.[1]).toBe(String(uiPort));
    const token = m![2]!;
    expect(token.length).toBeGreaterThanOrEqual(24);
    expect(cli.stderr().split(token).length - 1).toBe(1);
    expect(readFileSync(cli.logFile, 'utf8')).not.toContain(token);
    expect((await fetch(`http://127.0.0.1:${uiPort}/`)).status).toBe(403);
    const page = await fetch(`http://127.0.0.1:${uiPort}/?token=${token}`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(await stopCli(cli)).toBe(0);
  });
});
