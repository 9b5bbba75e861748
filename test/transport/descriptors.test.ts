/**
 * The built CLI under a real descriptor limit (ulimit -n): more clients than it has descriptors
 * for. It stays up, refuses or reports what it cannot serve, keeps its rotating recording, and
 * serves the next client once descriptors free up.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import type * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startCli, stopCli } from '../e2e/helpers/cli.js';
import { Cleanups } from '../e2e/helpers/tap-proxy.js';
import { connectClient, plainServer, sleep, waitUntil } from '../proxy/harness.js';

const cleanups = new Cleanups();
afterEach(() => cleanups.run());

describe('out of file descriptors', () => {
  it('clients beyond the descriptors are not served; once they leave, the next one is, and the recording goes on', async () => {
    let received = 0;
    const brokerSockets = new Set<net.Socket>();
    const broker = await plainServer((s) => {
      brokerSockets.add(s);
      s.on('data', (c: Buffer) => (received += c.length));
    });
    cleanups.add(() => broker.close());
    const dir = mkdtempSync(join(tmpdir(), 'mqtt-tap-fds-'));
    cleanups.add(() => rmSync(dir, { recursive: true, force: true }));
    const cli = await startCli(
      cleanups,
      [
        ...['-l', '127.0.0.1:0', '-u', `127.0.0.1:${broker.port}`],
        ...['--record', join(dir, 'cap.pcapng'), '--record-rotate', '4KiB'],
      ],
      { fdLimit: 80 },
    );
    const port = Number(
      String((cli.log().find((r) => r.event === 'listening')!.addresses as string[])[0]).split(':')[1],
    );

    const clients: net.Socket[] = [];
    for (let i = 0; i < 60; i++) {
      const c = await connectClient(port).catch(() => undefined);
      if (c === undefined) continue;
      c.on('error', () => {});
      c.write(Buffer.alloc(200, 0x30));
      clients.push(c);
      await sleep(5);
    }
    await sleep(500);
    const served = brokerSockets.size;
    // Each forwarded client holds two descriptors: 60 cannot all fit in 80 with Node's own.
    expect(served).toBeGreaterThan(0);
    expect(served).toBeLessThan(60);
    expect(cli.proc.exitCode).toBeNull();

    for (const c of clients) c.destroy();
    await waitUntil(
      () => brokerSockets.size === 0 || [...brokerSockets].every((s) => s.destroyed),
      10_000,
      'upstreams closed',
    );
    await sleep(300);
    const before = received;
    const next = await connectClient(port);
    next.write(Buffer.alloc(5000, 0x31));
    await waitUntil(() => received >= before + 5000, 10_000, 'the next client forwarded');
    next.end();
    await sleep(200);
    expect(await stopCli(cli)).toBe(0);

    const log = cli.log();
    expect(log.filter((r) => r.event === 'internal-error' || r.event === 'record-failed')).toEqual([]);
    for (const e of log.filter((r) => r.event === 'upstream-error' && r.code === 'EMFILE')) {
      expect(e.hint).toContain('ulimit -n');
    }
    const recording = log.find((r) => r.event === 'recording')!;
    expect(recording.error).toBeUndefined();
    expect((recording.files as string[]).length).toBeGreaterThan(1);
  });
});
