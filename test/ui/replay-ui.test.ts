/**
 * replay --ui: the replayed capture served to a page (all its records in the page's first message),
 * nothing on stdout, stopped by SIGTERM; and the same hub's rows carry a close record's verdict.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqttPacket from 'mqtt-packet';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { fileHeader, type Segment, TcpConversation } from '../../src/observe/pcapng-writer.js';
import { UiHub } from '../../src/ui/hub.js';
import { BIN } from '../e2e/helpers/build-dist.js';
import { Cleanups } from '../e2e/helpers/tap-proxy.js';
import { freePort } from '../helpers/free-port.js';

const cleanups = new Cleanups();
afterEach(() => cleanups.run());

const g = (p: object): Buffer => mqttPacket.generate(p as mqttPacket.Packet, { protocolVersion: 4 });

/** A capture of one 3.1.1 connection refused with return code 5. */
function refusedCapture(file: string): void {
  const conv = new TcpConversation({ address: '10.0.0.1', port: 40000 }, { address: '10.0.0.2', port: 1883 });
  const t0 = Date.UTC(2025, 0, 2, 3, 4, 5) * 1000;
  const segs: Segment[] = [conv.syn(t0), ...conv.accept(t0 + 50)];
  const connect = g({
    cmd: 'connect',
    protocolId: 'MQTT',
    protocolVersion: 4,
    clientId: 'dev-1',
    clean: true,
    keepalive: 10,
  });
  segs.push(...conv.data('client', connect, t0 + 1050));
  segs.push(...conv.data('broker', g({ cmd: 'connack', returnCode: 5, sessionPresent: false }), t0 + 3550));
  segs.push(...conv.finish('broker', t0 + 4550));
  const parts = [fileHeader()];
  for (const s of segs) {
    const b = Buffer.alloc(conv.path.blockLength(s));
    conv.path.writeBlock(b, 0, s);
    parts.push(b);
  }
  writeFileSync(file, Buffer.concat(parts));
}

describe('replay --ui', () => {
  it('serves the whole capture to a page that opens after the replay; stdout stays empty; SIGTERM stops it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mqtt-tap-replay-ui-'));
    cleanups.add(() => rmSync(dir, { recursive: true, force: true }));
    const cap = join(dir, 'cap.pcapng');
    refusedCapture(cap);
    const port = await freePort();
    const proc = spawn(process.execPath, [BIN, 'replay', cap, '--ui', `127.0.0.1:${port}`], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
    cleanups.add(async () => {
      if (proc.exitCode === null) proc.kill('SIGKILL');
      await exited;
    });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    proc.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const deadline = Date.now() + 10_000;
    while (!/web view at (\S+)/.test(stderr)) {
      if (Date.now() > deadline) throw new Error(`no URL: ${stderr}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
    cleanups.add(() => ws.terminate());
    const hello = await new Promise<{
      t: string;
      rows: { conn: string; clientId?: string; state: string }[];
      records: { event: string; type?: string; msg: string }[];
    }>((resolve, reject) => {
      ws.once('message', (d) => resolve(JSON.parse(String(d))));
      ws.once('error', reject);
    });
    expect(hello.t).toBe('hello');
    expect(hello.rows).toMatchObject([{ conn: 'c1', clientId: 'dev-1', state: 'closed' }]);
    expect(hello.records.map((r) => r.type ?? r.event)).toEqual([
      'open',
      'CONNECT',
      'CONNACK',
      'session',
      'close',
    ]);
    expect(hello.records[2]!.msg).toMatch(/^CONNACK 0x05 Connection Refused, not authorized/);
    proc.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(stdout).toBe('');
  });

  it("a close record's verdict goes into the connection's row", () => {
    const hub = new UiHub();
    hub.write('info', { event: 'open', conn: 'c1', client: '127.0.0.1:1', transport: 'tcp' }, 'open');
    const verdict = {
      cause: 'SESSION_TAKEN_OVER',
      detail: 'c2 from 127.0.0.1:40001 connected with client id "dev-1" 3.2 s after this connection opened',
      rule: 'MQTT-3.1.4-3',
      evidence: [{ conn: 'c2', from: 'client', type: 'CONNECT', time: 1 }],
    };
    hub.write('info', { event: 'close', conn: 'c1', closedBy: 'broker', durationMs: 5, verdict }, 'close');
    expect(hub.rows.get('c1')).toMatchObject({ state: 'closed', closedBy: 'broker', verdict });
  });
});
