import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import mqttPacket from 'mqtt-packet';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseSize } from '../../src/cli/parse-size.js';
import type { OpenInfo, ProxyObserver } from '../../src/observe/observer.js';
import {
  createPcapngRecorder,
  type PcapngRecorder,
  rotatedName,
  upstreamEndpoint,
} from '../../src/observe/pcapng-recorder.js';
import { readConnections } from './capture-helpers.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'mqtt-tap-rec-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

let connSeq = 0;
function openInfo(over: Partial<OpenInfo> = {}): OpenInfo {
  connSeq++;
  return {
    conn: `c${connSeq}`,
    client: { address: '127.0.0.1', port: 40_000 + connSeq },
    local: { address: '127.0.0.1', port: 1884 },
    upstream: '127.0.0.1:1883',
    transport: 'tcp',
    startedAt: Date.now(),
    ...over,
  };
}

const CONNECT = mqttPacket.generate(
  {
    cmd: 'connect',
    protocolId: 'MQTT',
    protocolVersion: 4,
    clientId: 'rec-1',
    clean: true,
    keepalive: 30,
    username: 'alice',
    password: Buffer.from('hunter2'),
  } as mqttPacket.Packet,
  { protocolVersion: 4 },
);
const CONNACK = Buffer.from('20020000', 'hex');
const close = { closedBy: 'client' as const, durationMs: 1, bytes: { fromClient: 0, fromBroker: 0 } };

/** A Writable that holds each write for `delayMs` (a slow disk), keeping the bytes. */
function slowDisk(delayMs: number, sink: Buffer[]): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, cb) {
      setTimeout(() => {
        sink.push(chunk);
        cb();
      }, delayMs);
    },
  });
}

describe('pcapng recorder', () => {
  it('is a ProxyObserver', async () => {
    const rec: PcapngRecorder = await createPcapngRecorder({ file: join(dir, 'x.pcapng') });
    const asObserver: ProxyObserver = rec;
    expect(typeof asObserver.open).toBe('function');
    await rec.close();
  });

  it('records both directions with the password masked, and the live details in packet comments', async () => {
    const file = join(dir, 'a.pcapng');
    const rec = await createPcapngRecorder({ file });
    const info = openInfo();
    const c = rec.open(info);
    c.upstreamConnected?.({ ...info, upstreamLocal: { address: '127.0.0.1', port: 3333 } });
    // The CONNECT in three chunks, cut inside the password.
    c.data('client', CONNECT.subarray(0, 10));
    c.data('client', CONNECT.subarray(10, CONNECT.length - 3));
    c.data('client', CONNECT.subarray(CONNECT.length - 3));
    c.data('broker', CONNACK);
    c.close(close);
    await rec.close();
    const { connections, warnings, events } = readConnections(file);
    expect(warnings).toEqual([]);
    expect(connections).toHaveLength(1);
    const [conn] = connections;
    const masked = Buffer.from(CONNECT);
    masked.fill(0x2a, CONNECT.length - 7);
    expect(conn!.bytes[0].equals(masked)).toBe(true);
    expect(conn!.bytes[1].equals(CONNACK)).toBe(true);
    expect(conn!.stream.initiator).toBe(0);
    expect(conn!.stream.end?.how).toBe('fin');
    expect(conn!.stream.endpoints).toEqual([info.client, { address: '127.0.0.1', port: 1883 }]);
    const comments = events.flatMap((e) => (e.kind === 'packet' ? (e.comments ?? []) : []));
    expect(comments[0]).toBe(`mqtt-tap open ${JSON.stringify({ ...info })}`);
    expect(comments[1]).toBe(`mqtt-tap close ${JSON.stringify({ conn: info.conn, ...close })}`);
    // The forwarded chunks were not touched.
    expect(CONNECT.subarray(-7).toString()).toBe('hunter2');
    expect(rec.stats()).toMatchObject({ files: [file], droppedBytes: 0, recordedBytes: CONNECT.length + 4 });
  });

  it('--show-secrets records the password as it was', async () => {
    const file = join(dir, 's.pcapng');
    const rec = await createPcapngRecorder({ file, showSecrets: true });
    const c = rec.open(openInfo());
    c.upstreamConnected?.(openInfo());
    c.data('client', CONNECT);
    c.close(close);
    await rec.close();
    expect(readConnections(file).connections[0]!.bytes[0].equals(CONNECT)).toBe(true);
  });

  it('an unreachable broker is a refused SYN; a socket error an RST from that side', async () => {
    const file = join(dir, 'r.pcapng');
    const rec = await createPcapngRecorder({ file });
    const a = rec.open(openInfo());
    a.upstreamError({
      upstream: '127.0.0.1:1883',
      code: 'ECONNREFUSED',
      message: 'connect ECONNREFUSED 127.0.0.1:1883',
    });
    a.close({ ...close, closedBy: 'broker', error: { side: 'broker', code: 'ECONNREFUSED', message: 'x' } });
    const b = rec.open(openInfo());
    b.upstreamConnected?.(openInfo());
    b.data('client', CONNECT);
    b.close({ ...close, error: { side: 'client', code: 'ECONNRESET', message: 'read ECONNRESET' } });
    await rec.close();
    const { connections, flags } = readConnections(file);
    expect(connections.map((c) => [c.stream.end?.how, c.stream.end?.by, c.stream.refused])).toEqual([
      ['rst', 1, true],
      ['rst', 0, false],
    ]);
    expect(flags.filter((f) => f & 0x04)).toHaveLength(2);
  });

  it('a disk slower than the traffic: chunks are dropped and counted, memory stays within the budget', async () => {
    const written: Buffer[] = [];
    const budget = 256 * 1024;
    const dropped: [string, number][] = [];
    const rec = await createPcapngRecorder({
      file: 'slow.pcapng',
      openFile: () => slowDisk(5, written),
      bufferBytes: budget,
      onDropped: (conn, bytes) => dropped.push([conn, bytes]),
    });
    const info = openInfo();
    const c = rec.open(info);
    c.upstreamConnected?.(info);
    c.data('client', CONNECT);
    const chunk = Buffer.alloc(64 * 1024, 0x41);
    // A PUBLISH of 6.4 MB arriving as fast as the event loop allows.
    const start = process.hrtime.bigint();
    let calls = 0;
    for (let round = 0; round < 10; round++) {
      for (let i = 0; i < 10; i++) {
        c.data('client', chunk);
        calls++;
      }
      await new Promise((r) => setImmediate(r));
    }
    const perCallUs = Number(process.hrtime.bigint() - start) / 1000 / calls;
    const lost = rec.droppedBytes(info.conn);
    expect(lost).toBeGreaterThan(0);
    expect(lost % chunk.length).toBe(0);
    expect(c.closeFields?.()).toEqual({ recordDroppedBytes: lost });
    c.close(close);
    expect(dropped).toEqual([[info.conn, lost]]);
    await rec.close();
    const stats = rec.stats();
    expect(stats.droppedBytes).toBe(lost);
    expect(stats.recordedBytes + stats.droppedBytes).toBe(CONNECT.length + 100 * chunk.length);
    expect(stats.peakBufferedBytes).toBeLessThanOrEqual(budget);
    const capture = readConnections(Buffer.concat(written));
    expect(capture.warnings).toEqual([]);
    const conn = capture.connections[0]!;
    // The holes are where the chunks went missing, and nothing else changed.
    expect(conn.gaps.reduce((n, g) => n + g.bytes, 0)).toBe(lost);
    expect(conn.bytes[0].length).toBe(CONNECT.length + 100 * chunk.length);
    console.log(
      `slow disk: ${calls} chunks of 64 KiB, ${(lost / 1024).toFixed(0)} KiB dropped, peak held ${(stats.peakBufferedBytes / 1024).toFixed(0)} KiB, ${perCallUs.toFixed(1)} µs per data() incl. loop turns`,
    );
  });

  it('a write error stops recording, not forwarding: later chunks count as dropped', async () => {
    let writes = 0;
    const errors: unknown[] = [];
    const rec = await createPcapngRecorder({
      file: 'err.pcapng',
      openFile: () =>
        new Writable({
          write(_chunk, _enc, cb) {
            writes++;
            cb(writes >= 2 ? Object.assign(new Error('no space left on device'), { code: 'ENOSPC' }) : null);
          },
        }),
      onError: (e) => errors.push(e),
    });
    const c = rec.open(openInfo());
    c.upstreamConnected?.(openInfo());
    c.data('client', CONNECT);
    await rec.flush();
    c.data('client', CONNECT);
    c.close(close);
    await rec.close();
    expect(errors).toHaveLength(1);
    expect(rec.stats()).toMatchObject({ error: 'no space left on device', droppedBytes: CONNECT.length });
  });

  it('cannot open the file: createPcapngRecorder rejects', async () => {
    await expect(createPcapngRecorder({ file: join(dir, 'missing', 'x.pcapng') })).rejects.toThrow(/ENOENT/);
  });

  it('rotation: name-0001.pcapng, name-0002.pcapng..., each a complete capture; together the whole stream', async () => {
    const file = join(dir, 'cap.pcapng');
    const rec = await createPcapngRecorder({ file, rotateBytes: 100_000 });
    const info = openInfo();
    const c = rec.open(info);
    c.upstreamConnected?.(info);
    c.data('client', CONNECT);
    const payload = Buffer.alloc(30_000);
    for (let i = 0; i < 20; i++) {
      payload.fill(i);
      c.data(i % 2 === 0 ? 'client' : 'broker', payload);
      if (i % 5 === 0) await new Promise((r) => setImmediate(r));
    }
    c.close(close);
    await rec.close();
    const files = readdirSync(dir).sort();
    expect(files.length).toBeGreaterThanOrEqual(5);
    expect(files).toEqual(files.map((_, i) => `cap-${String(i + 1).padStart(4, '0')}.pcapng`));
    expect(rec.stats().files).toEqual(files.map((f) => join(dir, f)));
    for (const f of files) {
      const bytes = readFileSync(join(dir, f));
      expect(bytes.readUInt32LE(0)).toBe(0x0a0d0d0a);
      expect(statSync(join(dir, f)).size).toBeLessThanOrEqual(100_000 + 30_200);
      expect(readConnections(bytes).warnings).toEqual([]);
    }
    const all = readConnections(files.map((f) => join(dir, f)));
    expect(all.connections).toHaveLength(1);
    expect(all.connections[0]!.bytes[0].length).toBe(CONNECT.length + 10 * 30_000);
    expect(all.connections[0]!.bytes[1].length).toBe(10 * 30_000);
  });

  it('creates every recording file readable by its owner only', async () => {
    const file = join(dir, 'cap.pcapng');
    const rec = await createPcapngRecorder({ file, rotateBytes: 100_000 });
    const c = rec.open(openInfo());
    for (let i = 0; i < 8; i++) {
      c.data('client', Buffer.alloc(30_000, i));
      await new Promise((r) => setImmediate(r));
    }
    c.close(close);
    await rec.close();
    const files = readdirSync(dir);
    expect(files.length).toBeGreaterThan(1);
    for (const f of files) expect((statSync(join(dir, f)).mode & 0o777).toString(8), f).toBe('600');
  });

  it('sizes and rotated names', () => {
    expect(parseSize('100MB')).toBe(100_000_000);
    expect(parseSize('1GiB')).toBe(1024 ** 3);
    expect(parseSize('512k')).toBe(512_000);
    expect(parseSize('64KiB')).toBe(65_536);
    expect(parseSize('1000')).toBe(1000);
    expect(() => parseSize('lots')).toThrow(/invalid size/);
    expect(rotatedName('/tmp/cap.pcapng', 1)).toBe('/tmp/cap-0001.pcapng');
    expect(rotatedName('cap', 12)).toBe('cap-0012.pcapng');
  });
});

describe('where the capture shows the broker', () => {
  it('reads host and port from host:port, [v6]:port and URL upstreams', () => {
    expect(upstreamEndpoint('10.0.0.5:1883')).toEqual({ address: '10.0.0.5', port: 1883 });
    expect(upstreamEndpoint('[::1]:8883')).toEqual({ address: '::1', port: 8883 });
    expect(upstreamEndpoint('wss://10.0.0.5:8081/mqtt')).toEqual({ address: '10.0.0.5', port: 8081 });
    expect(upstreamEndpoint('mqtts://[fd00::1]:8883')).toEqual({ address: 'fd00::1', port: 8883 });
  });

  it('uses the broker address it is given (a host name the CLI resolved at start)', async () => {
    const file = join(dir, 'b.pcapng');
    const rec = await createPcapngRecorder({ file, broker: { address: '192.0.2.7', port: 1883 } });
    const c = rec.open(openInfo({ upstream: 'broker.example:1883' }));
    c.data('client', CONNECT);
    c.close(close);
    await rec.close();
    const [conn] = readConnections(file).connections;
    expect(conn!.stream.endpoints.map((e) => `${e.address}:${e.port}`)).toContain('192.0.2.7:1883');
  });
});
