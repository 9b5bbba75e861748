/**
 * Issue 15: the live web view (--ui) in Debian's chromium, against the built CLI and Debian's
 * mosquitto: refusals in red with their names and descriptions, SUBACK codes per filter, acks with
 * their latency, several connections of one client id. Screenshots go to test-artifacts/ui/.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { reasonInfo } from '../../src/record/reason.js';
import { Cleanups, mqttConnect, mqttRefusal } from '../e2e/helpers/tap-proxy.js';
import { denyTopicDynsec, requireMosquitto, startMosquitto } from '../helpers/mosquitto.js';
import { launchBrowser, newPage, requireChromium, screenshot, startTapWithUi } from './helpers.js';

const cleanups = new Cleanups();
afterEach(() => cleanups.run());

/** The page's view of the proxy: open and connected to its WebSocket. */
async function openLive(page: Page, url: string): Promise<void> {
  await page.goto(url);
  await page.locator('#status', { hasText: 'live' }).waitFor();
}

describe.skipIf(!requireMosquitto() || !requireChromium())('live web view (--ui) in chromium', () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchBrowser();
  });
  afterAll(() => browser?.close());

  it('a 5.0 wrong password: the row shows the refusal, the ladder a red CONNACK 0x87 Not authorized; a click shows its description', async () => {
    const broker = await startMosquitto({ users: [{ username: 'user1', password: 'right_pass' }] });
    cleanups.add(() => broker.stop());
    const tap = await startTapWithUi(cleanups, broker.port);
    const page = await newPage(browser, cleanups);
    await openLive(page, tap.ui);

    const refusal = (await mqttRefusal(tap.mqtt, 5, {
      clientId: 'test-client5',
      username: 'user1',
      password: 'wrong_pass',
    })) as { code?: number };
    expect(refusal.code).toBe(0x87);

    const row = page.locator('#connections tr[data-conn]', { hasText: 'test-client5' });
    await row.locator('td.state', { hasText: 'closed' }).waitFor();
    expect(await row.locator('td.last-reason').textContent()).toBe('CONNACK 0x87 Not authorized');
    expect(
      await row
        .locator('td.last-reason')
        .evaluate((e) => e.ownerDocument.defaultView.getComputedStyle(e).color),
    ).toBe('rgb(204, 0, 0)');

    const connack = page.locator('#ladder .arrow[data-type="CONNACK"]');
    await connack.waitFor();
    expect(await connack.getAttribute('class')).toContain('error');
    expect(await connack.locator('.label').textContent()).toContain('CONNACK 0x87 Not authorized');
    expect(
      await connack.locator('.label').evaluate((e) => e.ownerDocument.defaultView.getComputedStyle(e).color),
    ).toBe('rgb(204, 0, 0)');
    expect(await page.locator('#ladder .arrow[data-type="CONNECT"]').getAttribute('data-from')).toBe(
      'client',
    );
    expect(await connack.getAttribute('data-from')).toBe('broker');

    await connack.click();
    const detail = page.locator('#detail');
    await detail.waitFor();
    const description = reasonInfo('5.0', 'CONNACK', 0x87).description;
    expect(await detail.locator('.reason .description').textContent()).toBe(description);
    await screenshot(page, 'live-wrong-password');

    // Secrets as in the log: the password is nowhere in the page, the CONNECT's record shows none.
    await page.locator('#ladder .arrow[data-type="CONNECT"]').click();
    await page.locator('#detail h2', { hasText: 'CONNECT' }).waitFor();
    expect(await page.content()).not.toContain('wrong_pass');
  });

  it('a SUBSCRIBE with an allowed and a refused filter: both codes on the SUBACK arrow, each with its filter', async () => {
    const broker = await startMosquitto({ dynsec: denyTopicDynsec('a/#') });
    cleanups.add(() => broker.stop());
    const tap = await startTapWithUi(cleanups, broker.port);
    const page = await newPage(browser, cleanups);
    await openLive(page, tap.ui);

    const client = await mqttConnect(cleanups, tap.mqtt, 5, {
      clientId: 'sub-client',
      username: 'alice',
      password: 'alice-pw',
    });
    await client.subscribeAsync(['a/#', 'b/#'], { qos: 1 }).catch(() => undefined);

    const suback = page.locator('#ladder .arrow[data-type="SUBACK"]');
    await suback.waitFor();
    const refused = reasonInfo('5.0', 'SUBACK', 0x87);
    const granted = reasonInfo('5.0', 'SUBACK', 1);
    const label = await suback.locator('.label').textContent();
    expect(label).toContain(`a/#: ${refused.hex} ${refused.name}`);
    expect(label).toContain(`b/#: ${granted.hex} ${granted.name}`);
    expect(await suback.getAttribute('class')).toContain('error');
    expect(await page.locator('#ladder .arrow[data-type="SUBSCRIBE"] .label').textContent()).toMatch(
      /^SUBSCRIBE id=\d+ a\/#, b\/#$/,
    );
    // An open connection's age: from its start to now, never negative.
    const age = page.locator('#connections tr[data-conn="c1"] td').nth(7);
    expect(await age.textContent()).toMatch(/^\d+(\.\d)? (ms|s)$/);
    // Its keep-alive countdown: time since the client's last packet against the keep-alive in force.
    expect(await page.locator('#connections tr[data-conn="c1"] td.keepalive').textContent()).toMatch(
      /^\d+ s of 60 s$/,
    );

    await suback.click();
    const reasons = page.locator('#detail .reason');
    await reasons.first().waitFor();
    expect(await reasons.allTextContents()).toEqual([
      `a/#: ${refused.hex} ${refused.name}${refused.description}`,
      `b/#: ${granted.hex} ${granted.name}${granted.description}`,
    ]);
    await screenshot(page, 'live-suback');
  });

  it('QoS 1 and QoS 2 flows: each acknowledgement carries its latency; the topic tree counts the messages', async () => {
    const broker = await startMosquitto();
    cleanups.add(() => broker.stop());
    const tap = await startTapWithUi(cleanups, broker.port);
    const page = await newPage(browser, cleanups);
    await openLive(page, tap.ui);

    // A subscriber straight at the broker: the acks say Success, not "No matching subscribers".
    const sub = await mqttConnect(cleanups, broker.url, 5, { clientId: 'direct-sub' });
    await sub.subscribeAsync('plant/#', { qos: 2 });
    const client = await mqttConnect(cleanups, tap.mqtt, 5, { clientId: 'qos-client' });
    await client.publishAsync('plant/line1/temp', '21.5', { qos: 1 });
    await client.publishAsync('plant/line1/temp', '21.7', { qos: 2, retain: true });
    await client.publishAsync('plant/line2/state', 'running', { qos: 1 });

    for (const type of ['PUBACK', 'PUBREC', 'PUBREL', 'PUBCOMP']) {
      const arrow = page.locator(`#ladder .arrow[data-type="${type}"]`).first();
      await arrow.waitFor();
      expect(await arrow.locator('.label').textContent()).toMatch(
        new RegExp(`^${type} id=\\d+ plant/line\\d/\\w+ 0x00 Success \\(\\d+ ms\\)$`),
      );
    }
    // The QoS 1 PUBACK answers the first PUBLISH: same packet id.
    const publishId = await page
      .locator('#ladder .arrow[data-type="PUBLISH"]')
      .first()
      .locator('.label')
      .textContent();
    const pubackId = await page
      .locator('#ladder .arrow[data-type="PUBACK"]')
      .first()
      .locator('.label')
      .textContent();
    expect(/id=(\d+)/.exec(pubackId ?? '')?.[1]).toBe(/id=(\d+)/.exec(publishId ?? '')?.[1]);
    // Δt between packets, in milliseconds.
    expect(await page.locator('#ladder .line .dt').nth(2).textContent()).toMatch(/^\+\d+ ms$/);
    await screenshot(page, 'live-ladder-qos');

    await page.locator('#tab-topics').click();
    const temp = page.locator('#topics tr[data-topic="plant/line1/temp"]');
    await temp.waitFor();
    expect(await temp.locator('td').allTextContents()).toEqual(['temp', '2', '2', 'retained', '21.7']);
    expect(await page.locator('#topics tr[data-topic="plant"] td').nth(1).textContent()).toBe('3');
    await screenshot(page, 'live-topics');
  });

  it('two connections of one client id: both ladders one after the other, the first closed with SESSION_TAKEN_OVER (takeover)', async () => {
    const broker = await startMosquitto();
    cleanups.add(() => broker.stop());
    const tap = await startTapWithUi(cleanups, broker.port);
    const page = await newPage(browser, cleanups);
    await openLive(page, tap.ui);

    await mqttConnect(cleanups, tap.mqtt, 5, { clientId: 'twin' });
    await mqttConnect(cleanups, tap.mqtt, 5, { clientId: 'twin' });

    const rows = page.locator('#connections tr[data-conn]', { hasText: 'twin' });
    await rows.nth(1).waitFor();
    await page.locator('#connections tr[data-conn] td.state', { hasText: 'closed' }).waitFor();
    await rows.first().locator('button.client-id').click();
    await page.locator('#ladder .conn-head').nth(1).waitFor();
    // mosquitto 2.0.11 closes the first connection without a DISCONNECT: the ladder shows its close.
    const heads = await page.locator('#ladder .conn-head').allTextContents();
    expect(heads[0]).toMatch(/^c1 .* closed/);
    expect(heads[1]).toMatch(/^c2 .* open/);
    expect(await page.locator('#ladder .arrow[data-type="close"] .label').textContent()).toMatch(
      /^close by broker after/,
    );
    expect(await page.locator('#ladder .arrow[data-type="CONNECT"]').count()).toBe(2);
    // The first connection's row carries its close verdict, naming the connection that took over.
    await expect
      .poll(() => rows.first().locator('td.verdict').textContent())
      .toMatch(/^SESSION_TAKEN_OVER: c2 from 127\.0\.0\.1:\d+ connected with client id "twin"/);
    // Δt is within a connection: the second one's first record has none.
    const dts = await page.locator('#ladder .line .dt').allTextContents();
    expect(dts.every((t) => t === '' || /^\+\d+ ms$/.test(t))).toBe(true);
    await screenshot(page, 'live-takeover');
  });
});
