/**
 * The web view in a real browser: Debian's chromium driven by playwright-core (Playwright's own
 * browser download is not reachable here), against the built CLI with --ui.
 */
import { accessSync, constants, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { ROOT } from '../e2e/helpers/build-dist.js';
import { type Cli, startCli } from '../e2e/helpers/cli.js';
import type { Cleanups } from '../e2e/helpers/tap-proxy.js';
import { freePort } from '../helpers/free-port.js';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** Screenshots of each view, kept as test artifacts (two of them are in the README). */
export const ARTIFACTS = join(ROOT, 'test-artifacts/ui');

/** True when chromium is installed; in CI its absence fails instead of skipping. */
export function requireChromium(): boolean {
  try {
    accessSync(CHROMIUM, constants.X_OK);
    return true;
  } catch {
    if (process.env.CI === 'true' || process.env.CI === '1')
      throw new Error(`chromium is required in CI: ${CHROMIUM} not found (apt-get install chromium)`);
    console.warn(`[skip] browser tests skipped: ${CHROMIUM} not found`);
    return false;
  }
}

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    // Root in CI and containers: chromium's sandbox needs user namespaces it may not have.
    args: ['--no-sandbox', '--disable-dev-shm-usage'],
  });
}

export async function newPage(browser: Browser, cleanups: Cleanups): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  cleanups.add(() => context.close());
  const page = await context.newPage();
  // A wait that fails says what it waited for, well before the test's own timeout.
  page.setDefaultTimeout(8000);
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  cleanups.add(() => {
    if (errors.length > 0) throw new Error(`errors in the page: ${errors.join('; ')}`);
  });
  return page;
}

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`) });
}

export interface TapWithUi {
  cli: Cli;
  /** `mqtt://127.0.0.1:PORT`: where clients connect. */
  mqtt: string;
  /** The web view's URL as printed on stderr. */
  ui: string;
}

/** The built CLI in front of `upstreamPort` with the web view on a free loopback port. */
export async function startTapWithUi(
  cleanups: Cleanups,
  upstreamPort: number,
  extra: string[] = [],
): Promise<TapWithUi> {
  const listen = await freePort();
  const uiPort = await freePort();
  const cli = await startCli(cleanups, [
    '-l',
    `127.0.0.1:${listen}`,
    '-u',
    `127.0.0.1:${upstreamPort}`,
    '--ui',
    `127.0.0.1:${uiPort}`,
    ...extra,
  ]);
  const deadline = Date.now() + 10_000;
  for (;;) {
    const m = /web view at (\S+)/.exec(cli.stderr());
    if (m) return { cli, mqtt: `mqtt://127.0.0.1:${listen}`, ui: m[1]! };
    if (Date.now() > deadline) throw new Error(`no web view URL on stderr: ${cli.stderr()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
