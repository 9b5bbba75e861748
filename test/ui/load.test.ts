/**
 * Issue 15: 20,000 messages/s for 10 s through a live mqtt-tap with the page open. The page shows a
 * clicked record in the next frame within 200 ms and no task holds its main thread longer, the proxy's memory stays bounded, and what the page could not be sent is
 * counted and shown (--ui-queue 1000: 100 ms of 20,000/s is 2,000 records, so about half are missed).
 */
import { type Socket, connect as tcpConnect } from 'node:net';
import type { Browser } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { memoryOf } from '../e2e/helpers/cli.js';
import { Cleanups } from '../e2e/helpers/tap-proxy.js';
import { requireMosquitto, startMosquitto } from '../helpers/mosquitto.js';
import { connect, publish } from '../helpers/packets.js';
import { launchBrowser, newPage, requireChromium, screenshot, startTapWithUi } from './helpers.js';

const RATE = 20_000;
const SECONDS = 10;

const cleanups = new Cleanups();
afterEach(() => cleanups.run());

/** A raw MQTT 5.0 client that sends QoS 0 PUBLISHes at `rate` per second for `seconds`. */
async function load(url: string, rate: number, seconds: number): Promise<number> {
  const { hostname, port } = new URL(url);
  const socket: Socket = tcpConnect({ host: hostname, port: Number(port) });
  cleanups.add(() => socket.destroy());
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  socket.on('data', () => {});
  socket.write(connect({ version: '5.0', clientId: 'load-client' }));
  const packets = Array.from({ length: 16 }, (_, i) =>
    publish({ version: '5.0', topic: `load/sensor${i}`, payload: Buffer.from(`{"t":${20 + i}.5}`) }),
  );
  const started = performance.now();
  let sent = 0;
  while (performance.now() - started < seconds * 1000) {
    const due = Math.floor(((performance.now() - started) / 1000) * rate);
    if (due > sent) {
      const batch: Buffer[] = [];
      for (; sent < due; sent++) batch.push(packets[sent % packets.length]!);
      socket.write(Buffer.concat(batch));
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  socket.end();
  return sent;
}

describe.skipIf(!requireMosquitto() || !requireChromium())('web view under load', () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchBrowser();
  });
  afterAll(() => browser?.close());

  it(`${RATE} messages/s for ${SECONDS} s: clicks answered within 200 ms, RSS bounded, missed records shown`, async () => {
    const broker = await startMosquitto();
    cleanups.add(() => broker.stop());
    const tap = await startTapWithUi(cleanups, broker.port, ['--ui-queue', '1000']);
    const page = await newPage(browser, cleanups);
    await page.goto(tap.ui);
    await page.locator('#status', { hasText: 'live' }).waitFor();
    const rssBefore = memoryOf(tap.cli.pid).rss;
    // The page's own view of its main thread: every task longer than 50 ms, as Chrome reports them.
    await page.evaluate(() => {
      const g = globalThis as unknown as {
        longest: number;
        PerformanceObserver: new (
          cb: (list: { getEntries(): { duration: number }[] }) => void,
        ) => { observe(o: object): void };
      };
      g.longest = 0;
      new g.PerformanceObserver((list) => {
        for (const e of list.getEntries()) g.longest = Math.max(g.longest, e.duration);
      }).observe({ type: 'longtask', buffered: true });
    });

    const rss: number[] = [];
    /** From the test: queued behind the page's work and the machine's, then one frame. */
    const clicks: number[] = [];
    /** In the page: from the click to the frame that shows the record. */
    const frames: number[] = [];
    const sending = load(tap.mqtt, RATE, SECONDS);
    await page.locator('#ladder .arrow[data-type="PUBLISH"]').first().waitFor();
    for (let s = 1; s <= SECONDS; s++) {
      await new Promise((r) => setTimeout(r, 700));
      rss.push(memoryOf(tap.cli.pid).rss);
      if (s % 3 === 0) {
        const t0 = performance.now();
        const inPage = await page.evaluate(
          () =>
            new Promise<number>((resolve) => {
              const g = globalThis as unknown as {
                document: { querySelector(s: string): unknown };
                performance: { now(): number };
                requestAnimationFrame(f: () => void): void;
              };
              const start = g.performance.now();
              (g.document.querySelector('#ladder .arrow[data-type="PUBLISH"]') as { click(): void }).click();
              const check = (): void => {
                if (g.document.querySelector('#detail') !== null) resolve(g.performance.now() - start);
                else g.requestAnimationFrame(check);
              };
              g.requestAnimationFrame(check);
            }),
        );
        frames.push(inPage);
        clicks.push(performance.now() - t0);
        await page.locator('#detail .close').click();
      }
    }
    const sent = await sending;
    await page.locator('#missed').waitFor();
    const missed = Number(/^(\d+)/.exec((await page.locator('#missed').textContent()) ?? '')?.[1]);
    await screenshot(page, 'live-load');
    const row = page.locator('#connections tr[data-conn="c1"]');
    await row.locator('td', { hasText: `${sent + 1}/` }).waitFor({ timeout: 15_000 });

    const longest = await page.evaluate(() => (globalThis as unknown as { longest: number }).longest);
    console.log(
      `sent ${sent} in ${SECONDS} s; page missed ${missed}; click to frame in the page ${frames.map((c) => c.toFixed(0)).join(', ')} ms, ` +
        `from the test ${clicks.map((c) => c.toFixed(0)).join(', ')} ms; longest task ${longest.toFixed(0)} ms; ` +
        `RSS before ${(rssBefore / 2 ** 20).toFixed(1)} MiB, during ${rss.map((r) => (r / 2 ** 20).toFixed(0)).join(' ')} MiB`,
    );
    expect(sent).toBeGreaterThanOrEqual(RATE * SECONDS * 0.95);
    expect(missed).toBeGreaterThan(0);
    expect(frames).toHaveLength(3);
    for (const f of frames) expect(f).toBeLessThan(200);
    expect(longest).toBeLessThan(200);
    // From the test's side the machine's load adds to it (2 cores, broker, proxy, browser, load).
    for (const c of clicks) expect(c).toBeLessThan(1000);
    // Bounded: the page queue holds 1,000 records and the log 32 MiB at most.
    expect(Math.max(...rss)).toBeLessThan(rssBefore + 150 * 2 ** 20);
  }, 60_000);
});
