/**
 * Issue 15: `mqtt-tap replay FILE --html report.html` gives one self-contained page that, opened from
 * file:// with nothing else reachable, shows the same ladder as the live view did for that capture.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { reasonInfo } from '../../src/record/reason.js';
import { BIN } from '../e2e/helpers/build-dist.js';
import { stopCli } from '../e2e/helpers/cli.js';
import { Cleanups, mqttConnect, mqttRefusal } from '../e2e/helpers/tap-proxy.js';
import { requireMosquitto, startMosquitto } from '../helpers/mosquitto.js';
import { launchBrowser, newPage, requireChromium, screenshot, startTapWithUi } from './helpers.js';

const run = promisify(execFile);
const cleanups = new Cleanups();
afterEach(() => cleanups.run());

/** The ladder's arrows and events as text, answer times left out (the report's are the capture's). */
async function ladderLabels(page: Page): Promise<string[]> {
  const labels = await page.locator('#ladder .arrow .label').allTextContents();
  return labels.map((l) => l.replace(/ \(\d+ ms\)$/, ''));
}

describe.skipIf(!requireMosquitto() || !requireChromium())('replay --html report in chromium', () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchBrowser();
  });
  afterAll(() => browser?.close());

  it('opened from file://, the report shows the ladder the live view showed, fetches nothing, and says what a click says', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mqtt-tap-report-'));
    cleanups.add(() => rmSync(dir, { recursive: true, force: true }));
    const capture = join(dir, 'session.pcapng');
    const broker = await startMosquitto({ users: [{ username: 'user1', password: 'right_pass' }] });
    cleanups.add(() => broker.stop());
    const tap = await startTapWithUi(cleanups, broker.port, ['--record', capture]);
    const live = await newPage(browser, cleanups);
    await live.goto(tap.ui);
    await live.locator('#status', { hasText: 'live' }).waitFor();

    await mqttRefusal(tap.mqtt, 5, { clientId: 'test-client5', username: 'user1', password: 'wrong_pass' });
    const client = await mqttConnect(cleanups, tap.mqtt, 5, {
      clientId: 'good-client',
      username: 'user1',
      password: 'right_pass',
    });
    await client.publishAsync('plant/line1/temp', '21.5', { qos: 1 });
    await client.endAsync();
    await live.locator('#connections tr[data-conn="c2"] td.state', { hasText: 'closed' }).waitFor();
    const liveLadders: string[][] = [];
    for (const conn of ['c1', 'c2']) {
      await live.locator(`#connections tr[data-conn="${conn}"]`).click();
      await live.locator('#ladder .arrow[data-type="close"]').waitFor();
      liveLadders.push(await ladderLabels(live));
    }
    expect(await stopCli(tap.cli)).toBe(0);

    const report = join(dir, 'report.html');
    const { stderr } = await run(process.execPath, [BIN, 'replay', capture, '--html', report]);
    expect(stderr).toContain(`report written to ${report}`);
    expect(statSync(report).mode & 0o777).toBe(0o600);
    const html = readFileSync(report, 'utf8');
    // Everything inline: no element loads anything (the CSP would refuse it too).
    expect(/<(script|link|img|iframe|object|embed)\b[^>]*\b(src|href)=/i.test(html)).toBe(false);
    expect(html.includes('wrong_pass') || html.includes('right_pass')).toBe(false);

    const page = await newPage(browser, cleanups);
    const requests: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    await page.goto(pathToFileURL(report).href);
    await page.locator('#ladder .arrow[data-type="CONNACK"]').waitFor();
    expect(requests).toEqual([pathToFileURL(report).href]);

    const reportLadders: string[][] = [];
    for (const conn of ['c1', 'c2']) {
      await page.locator(`#connections tr[data-conn="${conn}"]`).click();
      await page.locator('#ladder .arrow[data-type="close"]').waitFor();
      reportLadders.push(await ladderLabels(page));
    }
    expect(reportLadders).toEqual(liveLadders);
    expect(reportLadders[0]).toEqual([
      expect.stringMatching(/^open 127\.0\.0\.1:\d+ → 127\.0\.0\.1:\d+$/),
      'CONNECT "test-client5" 5.0',
      'CONNACK 0x87 Not authorized',
      'session 5.0 refused, keep-alive 60 s; default limits',
      expect.stringMatching(/^close by broker after \d+ ms, 1↑ 1↓ packets, last CONNACK 0x87$/),
    ]);

    await page.locator('#connections tr[data-conn="c1"]').click();
    const connack = page.locator('#ladder .arrow[data-type="CONNACK"]');
    expect(await connack.getAttribute('class')).toContain('error');
    expect(await page.locator('#connections tr[data-conn="c1"] td.last-reason').textContent()).toBe(
      'CONNACK 0x87 Not authorized',
    );
    await connack.click();
    expect(await page.locator('#detail .reason .description').textContent()).toBe(
      reasonInfo('5.0', 'CONNACK', 0x87).description,
    );
    await screenshot(page, 'report-wrong-password');
    await page.locator('#connections tr[data-conn="c2"]').click();
    await page.locator('#ladder .arrow[data-type="PUBACK"]').click();
    await page.locator('#detail h2', { hasText: 'PUBACK' }).waitFor();
    await screenshot(page, 'report-ladder');
  });
});
