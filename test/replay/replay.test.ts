import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqttPacket from 'mqtt-packet';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fanOut, type OpenInfo } from '../../src/observe/observer.js';
import { createPcapngRecorder } from '../../src/observe/pcapng-recorder.js';
import { fileHeader, TcpConversation } from '../../src/observe/pcapng-writer.js';
import { createTap } from '../../src/observe/tap.js';
import { DEFAULT_TAP_OPTIONS } from '../../src/observe/tap-options.js';
import { createSummarySink, type ReplayClock, replayCapture } from '../../src/replay/replay.js';
import { type Collected, collector, comparable } from './compare.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'mqtt-tap-replay-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const g = (p: object, v: 4 | 5 = 5): Buffer =>
  mqttPacket.generate(p as mqttPacket.Packet, { protocolVersion: v });

/** One v5 session: CONNECT (with password), CONNACK, QoS 1 and 2 both ways, SUBSCRIBE, DISCONNECT. */
function session(): { from: 'client' | 'broker'; bytes: Buffer }[] {
  return [
    {
      from: 'client',
      bytes: g({
        cmd: 'connect',
        protocolId: 'MQTT',
        protocolVersion: 5,
        clientId: 'replay-1',
        clean: true,
        keepalive: 30,
        username: 'alice',
        password: Buffer.from('pw'),
      }),
    },
    { from: 'broker', bytes: g({ cmd: 'connack', sessionPresent: false, reasonCode: 0 }) },
    {
      from: 'client',
      bytes: g({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'a/#', qos: 2 }] }),
    },
    { from: 'broker', bytes: g({ cmd: 'suback', messageId: 1, granted: [2] }) },
    {
      from: 'client',
      bytes: Buffer.concat([
        g({ cmd: 'publish', topic: 'a/1', payload: Buffer.from('one'), qos: 1, messageId: 2 }),
        g({ cmd: 'publish', topic: 'a/2', payload: Buffer.from('two'), qos: 2, messageId: 3 }),
      ]),
    },
    { from: 'broker', bytes: g({ cmd: 'puback', messageId: 2, reasonCode: 0 }) },
    { from: 'broker', bytes: g({ cmd: 'pubrec', messageId: 3, reasonCode: 0 }) },
    { from: 'client', bytes: g({ cmd: 'pubrel', messageId: 3, reasonCode: 0 }) },
    { from: 'broker', bytes: g({ cmd: 'pubcomp', messageId: 3, reasonCode: 0 }) },
    {
      from: 'broker',
      bytes: g({ cmd: 'publish', topic: 'a/x', payload: Buffer.from('in'), qos: 1, messageId: 7 }),
    },
    { from: 'client', bytes: g({ cmd: 'puback', messageId: 7, reasonCode: 0x10 }) },
    { from: 'client', bytes: g({ cmd: 'disconnect', reasonCode: 0 }) },
  ];
}

async function liveAndRecorded(file: string, chunks = session(), info?: Partial<OpenInfo>) {
  const live = collector('trace');
  const tap = createTap(live, DEFAULT_TAP_OPTIONS);
  const recorder = await createPcapngRecorder({ file });
  const obs = fanOut([tap, recorder], (e) => {
    throw e;
  });
  const open: OpenInfo = {
    conn: 'c7',
    client: { address: '127.0.0.1', port: 45_678 },
    local: { address: '127.0.0.1', port: 18_840 },
    upstream: '127.0.0.1:18830',
    transport: 'tcp',
    startedAt: Date.now(),
    ...info,
  };
  const c = obs.open(open);
  c.upstreamConnected?.({ ...open, upstreamLocal: { address: '127.0.0.1', port: 5555 } });
  let fromClient = 0;
  let fromBroker = 0;
  for (const { from, bytes } of chunks) {
    if (from === 'client') fromClient += bytes.length;
    else fromBroker += bytes.length;
    c.data(from, bytes);
    await new Promise((r) => setTimeout(r, 2));
  }
  c.close({ closedBy: 'client', durationMs: 42.5, bytes: { fromClient, fromBroker } });
  await recorder.close();
  return live;
}

async function replay(files: string[], ports?: number[]) {
  const sink = collector('trace');
  const clock: ReplayClock = { ms: 0 };
  const times: number[] = [];
  const timed = {
    ...sink,
    write: (
      level: Parameters<typeof sink.write>[0],
      record: Parameters<typeof sink.write>[1],
      msg: string,
    ) => {
      times.push(clock.ms);
      sink.write(level, record, msg);
    },
  };
  const result = await replayCapture({
    files,
    sink: timed,
    tap: DEFAULT_TAP_OPTIONS,
    clock,
    ...(ports === undefined ? {} : { ports }),
  });
  return { sink, result, times };
}

describe('replay of our recordings', () => {
  it('yields the live records: same connection id, open/close details, packets and correlation', async () => {
    const file = join(dir, 'live.pcapng');
    const live = await liveAndRecorded(file);
    const { sink, result, times } = await replay([file]);
    expect(result).toMatchObject({ tcpConnections: 1, mqttConnections: 1, warnings: 0, gaps: 0 });
    expect(comparable(sink.records)).toEqual(comparable(live.records));
    expect(sink.events('packet')).toHaveLength(13);
    expect(sink.events('packet')[0]!.record.password).toMatchObject({ length: 2, redacted: true });
    // Correlation timings come from the capture's clock: the PUBACK answers a PUBLISH sent before it.
    const puback = sink.events('packet').find((r) => r.record.type === 'PUBACK')!;
    expect(puback.record.request).toMatchObject({ topic: 'a/1' });
    expect((puback.record.request as { ms: number }).ms).toBeGreaterThanOrEqual(1);
    // Record times are capture times: non-decreasing, within the session.
    for (let i = 1; i < times.length; i++) expect(times[i]!).toBeGreaterThanOrEqual(times[i - 1]!);
    expect(Math.abs(times[0]! - Date.now())).toBeLessThan(10_000);
  });

  it('the same capture with the recording comments stripped (a foreign capture) decodes the same packets', async () => {
    const file = join(dir, 'live.pcapng');
    const live = await liveAndRecorded(file);
    const { sink } = await replay([file], [18_830]);
    const packets = (rs: Collected[]) =>
      comparable(rs)
        .filter((r) => (r as { event: string }).event === 'packet')
        .map((r) => ({ ...(r as object), conn: '…' }));
    // Our comments present: conn ids kept. Without --port the broker side is still known from them.
    expect(packets(sink.records)).toEqual(packets(live.records));
  });

  it('a file truncated mid-block replays up to the cut, with a clear warning', async () => {
    const file = join(dir, 'live.pcapng');
    const live = await liveAndRecorded(file);
    const whole = readFileSync(file);
    // Cut inside the block of the client's second PUBLISH chunk: find it by its payload.
    const at = whole.indexOf(Buffer.from('two')) - 5;
    const cut = join(dir, 'cut.pcapng');
    writeFileSync(cut, whole.subarray(0, at));
    const { sink, result } = await replay([cut]);
    expect(result.warnings).toBe(1);
    const warning = sink.events('capture-warning')[0]!;
    expect(warning.level).toBe('warn');
    expect(warning.record).toMatchObject({ code: 'CAPTURE_TRUNCATED', file: cut });
    expect(warning.msg).toMatch(/ends \d+ bytes into a block at offset \d+ \(cut short\?\)/);
    const types = sink.events('packet').map((r) => r.record.type);
    expect(types).toEqual(['CONNECT', 'CONNACK', 'SUBSCRIBE', 'SUBACK']);
    expect(comparable(sink.events('packet'))).toEqual(comparable(live.events('packet').slice(0, 4)));
    // The connection still gets its close record, saying the capture ended.
    expect(sink.events('close')[0]!.record).toMatchObject({
      conn: 'c7',
      error: { code: 'CAPTURE_ENDED' },
    });
  });

  it('--summary: one line per connection', async () => {
    const file = join(dir, 'live.pcapng');
    await liveAndRecorded(file);
    const lines: string[] = [];
    await replayCapture({
      files: [file],
      sink: createSummarySink((l) => lines.push(l)),
      tap: DEFAULT_TAP_OPTIONS,
      clock: { ms: 0 },
    });
    expect(lines).toEqual([
      'c7  127.0.0.1:45678  "replay-1"  42.5 ms  ↑7 ↓6  last DISCONNECT 0x00 Normal disconnection  errors 0  verdict CLIENT_DISCONNECT',
    ]);
  });

  it('a gap in a recording (dropped chunks) is reported; that direction stops being decoded', async () => {
    const conv = new TcpConversation(
      { address: '10.1.1.1', port: 41_000 },
      { address: '10.1.1.2', port: 1883 },
    );
    const s = session();
    const segs = [conv.syn(1_000_000), ...conv.accept(1_000_100)];
    let t = 1_000_200;
    s.forEach((c, i) => {
      t += 100;
      segs.push(...conv.data(c.from, c.bytes, t, !(c.from === 'client' && i === 2)));
    });
    segs.push(...conv.finish('client', t + 100));
    const file = join(dir, 'gap.pcapng');
    writeFileSync(
      file,
      Buffer.concat([
        fileHeader(),
        ...segs.map((seg) => {
          const b = Buffer.alloc(conv.path.blockLength(seg));
          conv.path.writeBlock(b, 0, seg);
          return b;
        }),
      ]),
    );
    const { sink, result } = await replay([file]);
    expect(result.gaps).toBe(1);
    expect(sink.events('capture-gap')[0]!.record).toMatchObject({
      conn: 'c1',
      from: 'client',
      offset: s[0]!.bytes.length,
    });
    const fromClient = sink.events('packet').filter((r) => r.record.from === 'client');
    expect(fromClient.map((r) => r.record.type)).toEqual(['CONNECT']);
    const fromBroker = sink.events('packet').filter((r) => r.record.from === 'broker');
    expect(fromBroker).toHaveLength(6);
    // Its answers to what the gap took are not answers to nothing: the tap lacks that state.
    expect(fromBroker.flatMap((r) => (r.record.violations as unknown[] | undefined) ?? [])).toEqual([]);
    // A foreign-looking capture: the open record shows the broker as listener and upstream.
    expect(sink.events('open')[0]!.record).toMatchObject({
      conn: 'c1',
      client: '10.1.1.1:41000',
      listener: '10.1.1.2:1883',
      upstream: '10.1.1.2:1883',
    });
    expect(sink.events('close')[0]!.record).toMatchObject({ closedBy: 'client', clientId: 'replay-1' });
  });

  it('without a known port, a connection is MQTT when its first bytes are a CONNECT; others are skipped', async () => {
    const mk = (port: number, first: Buffer) => {
      const conv = new TcpConversation(
        { address: '10.0.0.9', port: 33_000 + port },
        { address: '10.0.0.8', port },
      );
      return [
        conv,
        [conv.syn(1), ...conv.accept(2), ...conv.data('client', first, 3), ...conv.finish('client', 4)],
      ] as const;
    };
    const mqtt = mk(9999, session()[0]!.bytes);
    const http = mk(8080, Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    const parts = [fileHeader()];
    for (const [conv, segs] of [mqtt, http]) {
      for (const seg of segs) {
        const b = Buffer.alloc(conv.path.blockLength(seg));
        conv.path.writeBlock(b, 0, seg);
        parts.push(b);
      }
    }
    const file = join(dir, 'mixed.pcapng');
    writeFileSync(file, Buffer.concat(parts));
    const { sink, result } = await replay([file]);
    expect(result).toMatchObject({ tcpConnections: 2, mqttConnections: 1, skippedConnections: 1 });
    expect(sink.events('packet').map((r) => r.record.type)).toEqual(['CONNECT']);
    expect(sink.events('open')[0]!.record).toMatchObject({ upstream: '10.0.0.8:9999' });
  });
});
