/**
 * The real thing: sessions through the proxy against Debian's mosquitto, recorded by the pcapng
 * recorder beside the tap and by dumpcap on loopback, then checked three ways:
 * (a) replaying our recording gives the live records; (b) tshark decodes the same MQTT packets,
 * with no malformed packet and no TCP analysis warning; (c) a recording cut mid-block replays up to
 * the cut with a warning; (d) dumpcap's own capture of the broker leg replays to the same packet
 * records. A rotating recorder runs alongside: each of its files opens in tshark.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import {
  accessSync,
  constants as fsConstants,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectAsync, type IClientOptions, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fanOut } from '../../src/observe/observer.js';
import { createPcapngRecorder, type PcapngRecorder } from '../../src/observe/pcapng-recorder.js';
import { createTap } from '../../src/observe/tap.js';
import { DEFAULT_TAP_OPTIONS } from '../../src/observe/tap-options.js';
import { PACKET_TYPE_NAMES } from '../../src/protocol/constants.js';
import { type RunningProxy, startProxy } from '../../src/proxy/server.js';
import { parseCapture } from '../../src/replay/pcap-reader.js';
import { replayCapture } from '../../src/replay/replay.js';
import { denyTopicDynsec, type Mosquitto, requireMosquitto, startMosquitto } from '../helpers/mosquitto.js';
import { type Collected, type Collector, collector, comparable } from '../replay/compare.js';

const TSHARK = '/usr/bin/tshark';
const DUMPCAP = '/usr/bin/dumpcap';

/** Like requireMosquitto: CI fails without the tool, a developer machine skips with the reason. */
function requireTool(path: string, pkg: string): boolean {
  try {
    accessSync(path, fsConstants.X_OK);
    return true;
  } catch {
    const reason = `missing ${path} (apt-get install ${pkg})`;
    if (process.env.CI === 'true' || process.env.CI === '1') throw new Error(`required in CI: ${reason}`);
    console.warn(`[skip] recording tests skipped: ${reason}`);
    return false;
  }
}

const available =
  requireMosquitto() && requireTool(TSHARK, 'tshark') && requireTool(DUMPCAP, 'tshark (dumpcap)');

/** tshark's mqtt.msgtype numbers are the spec's packet type codes. */
const MQTT_TYPES = PACKET_TYPE_NAMES.map((name) => name ?? '');

/** dumpcap on loopback, resolved once it says it is capturing. */
async function startDumpcap(port: number, file: string): Promise<ChildProcess> {
  const child = spawn(DUMPCAP, ['-i', 'lo', '-f', `tcp port ${port}`, '-w', file], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`dumpcap did not start: ${err}`)), 10_000);
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      if (/Capturing on/.test(err)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`dumpcap exited (${code}): ${err}`));
    });
  });
  return child;
}

async function stopDumpcap(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  // Let the last packets reach the capture buffer before asking dumpcap to write and stop.
  await new Promise((r) => setTimeout(r, 300));
  child.kill('SIGINT');
  await exited;
}

const options = (o: IClientOptions): IClientOptions => ({ reconnectPeriod: 0, connectTimeout: 5000, ...o });

async function settle(client: MqttClient): Promise<void> {
  if (client.connected) await client.endAsync();
  else client.end(true);
}

/** Wrong passwords, QoS 1 and 2 both ways, ACL refusals, a 200 KB PUBLISH, a session takeover. */
async function scenario(url: string): Promise<void> {
  for (const protocolVersion of [4, 5] as const) {
    await expect(
      connectAsync(
        url,
        options({
          protocolVersion,
          clientId: `bad-${protocolVersion}`,
          username: 'alice',
          password: 'wrong',
        }),
      ),
    ).rejects.toThrow();
  }
  const auth = { username: 'alice', password: 'alice-pw' };
  const sub = await connectAsync(
    url,
    options({ protocolVersion: 5, clientId: 'sub-1', clean: false, ...auth }),
  );
  const received: string[] = [];
  const got3 = new Promise<void>((resolve) => {
    sub.on('message', (topic) => {
      received.push(topic);
      if (received.length === 3) resolve();
    });
  });
  await sub.subscribeAsync('ok/#', { qos: 2 });
  const pub = await connectAsync(url, options({ protocolVersion: 5, clientId: 'pub-1', ...auth }));
  await pub.publishAsync('ok/1', 'one', { qos: 1 });
  await pub.publishAsync('ok/2', 'two', { qos: 2 });
  await pub.publishAsync('ok/big', Buffer.alloc(200_000, 0x61), { qos: 1 });
  await got3;
  // dynsec refuses these: SUBACK 0x87, PUBACK 0x87.
  await expect(pub.subscribeAsync('denied/#', { qos: 1 })).rejects.toThrow(/Not authorized/);
  await pub.publishAsync('denied/x', 'no', { qos: 1 }).catch(() => undefined);
  // 3.1.1 QoS 2.
  const old = await connectAsync(url, options({ protocolVersion: 4, clientId: 'old-1', ...auth }));
  await old.publishAsync('ok/3', 'three', { qos: 2 });
  // Session takeover: a second client with sub-1's id; mosquitto 2.0.11 closes the first one's
  // connection (without a DISCONNECT 0x8E).
  const kicked = new Promise<void>((resolve) => sub.once('close', () => resolve()));
  const sub2 = await connectAsync(
    url,
    options({ protocolVersion: 5, clientId: 'sub-1', clean: false, ...auth }),
  );
  await kicked;
  for (const c of [old, pub, sub2]) await settle(c);
  sub.end(true);
}

async function waitIdle(proxy: RunningProxy): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (proxy.connections().length > 0) {
    if (Date.now() > deadline)
      throw new Error(`connections still open: ${JSON.stringify(proxy.connections())}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

interface TsharkPacket {
  frame: number;
  type: string;
  reasons: string[];
}

/** Every MQTT PDU tshark finds, with its type and the reason/return codes it shows. */
function tsharkMqtt(file: string, port: number): { packets: TsharkPacket[]; problems: string } {
  // --no-duplicate-keys: several MQTT PDUs in one frame become an array instead of repeated keys.
  const json = execFileSync(
    TSHARK,
    ['-r', file, '-d', `tcp.port==${port},mqtt`, '-T', 'json', '--no-duplicate-keys'],
    {
      maxBuffer: 512 * 1024 * 1024,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    },
  );
  const frames = JSON.parse(json) as { _source: { layers: Record<string, unknown> } }[];
  const packets: TsharkPacket[] = [];
  for (const f of frames) {
    const layers = f._source.layers;
    const mqtt = layers.mqtt;
    if (mqtt === undefined) continue;
    const frame = Number((layers.frame as Record<string, string>)['frame.number']);
    for (const pdu of Array.isArray(mqtt) ? mqtt : [mqtt]) {
      const p = pdu as Record<string, unknown>;
      const flags = p['mqtt.hdrflags_tree'] as Record<string, string>;
      const type = MQTT_TYPES[Number(flags['mqtt.msgtype'])]!;
      const reasons: string[] = [];
      collectReasons(p, reasons);
      packets.push({ frame, type, reasons });
    }
  }
  // Malformed MQTT, any TCP analysis flag, any bad checksum.
  const problems = execFileSync(
    TSHARK,
    [
      '-r',
      file,
      '-d',
      `tcp.port==${port},mqtt`,
      '-o',
      'tcp.check_checksum:TRUE',
      '-o',
      'ip.check_checksum:TRUE',
      '-Y',
      '_ws.malformed || tcp.analysis.flags || tcp.checksum.status == 0 || ip.checksum.status == 0 || _ws.expert.severity >= warning',
    ],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
  );
  return { packets, problems: problems.trim() };
}

/**
 * Reason and return codes wherever tshark 4.0 puts them: `mqtt.conack.val` (3.1.1 CONNACK),
 * `mqtt.<packet>.reason_code` (5.0; absent when the packet omits it, e.g. a 2-byte PUBACK).
 */
function collectReasons(node: unknown, out: string[]): void {
  if (typeof node !== 'object' || node === null) return;
  for (const [k, v] of Object.entries(node)) {
    if (/^mqtt\.(conack\.val|[a-z]+\.reason_code)$/.test(k)) {
      for (const x of Array.isArray(v) ? v : [v]) out.push(String(Number(x)));
    } else if (typeof v === 'object') {
      collectReasons(v, out);
    }
  }
}

/** Our records' reason codes as they are on the wire (a 5.0 ack may leave its 0x00 implicit). */
function recordReasons(r: Collected): string[] {
  const rec = r.record as unknown as {
    type: string;
    length: number;
    reason?: { code: number };
    reasons?: { code: number }[];
  };
  if (rec.reasons !== undefined) return rec.reasons.map((x) => String(x.code));
  if (rec.reason === undefined) return [];
  const implicit =
    (['PUBACK', 'PUBREC', 'PUBREL', 'PUBCOMP'].includes(rec.type) && rec.length === 4) ||
    (['DISCONNECT', 'AUTH'].includes(rec.type) && rec.length === 2);
  return implicit ? [] : [String(rec.reason.code)];
}

/** Packet records per connection (in order of appearance), each as direction + comparable record. */
function perConnection(records: readonly Collected[]): unknown[][][] {
  const order: string[] = [];
  const by = new Map<string, Collected[]>();
  for (const r of records) {
    if (r.record.event !== 'packet') continue;
    const conn = String(r.record.conn);
    if (!by.has(conn)) {
      by.set(conn, []);
      order.push(conn);
    }
    by.get(conn)!.push(r);
  }
  return order.map((c) => {
    const list = by.get(c)!;
    // Per direction, in order: crossing packets may interleave differently on the two legs.
    const client = comparable(list.filter((r) => r.record.from === 'client'));
    const broker = comparable(list.filter((r) => r.record.from === 'broker'));
    return [client, broker].map((l) => l.map((x) => ({ ...(x as object), conn: '…' })));
  });
}

describe.skipIf(!available)('recording a live session against mosquitto', () => {
  let dir: string;
  let broker: Mosquitto;
  let proxy: RunningProxy;
  let recorder: PcapngRecorder;
  let rotating: PcapngRecorder;
  let live: Collector;
  let dumpFile: string;
  let recordFile: string;
  let dumpcapError: string | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mqtt-tap-live-'));
    broker = await startMosquitto({ dynsec: denyTopicDynsec() });
    recordFile = join(dir, 'session.pcapng');
    dumpFile = join(dir, 'dumpcap.pcapng');
    // Capturing needs root or CAP_NET_RAW on dumpcap: without it only (d) is affected.
    const dumpcap = await startDumpcap(broker.port, dumpFile).catch((err: Error) => {
      dumpcapError = err.message;
      return undefined;
    });
    live = collector('trace');
    recorder = await createPcapngRecorder({ file: recordFile });
    mkdirSync(join(dir, 'rot'));
    rotating = await createPcapngRecorder({ file: join(dir, 'rot', 'part.pcapng'), rotateBytes: 150_000 });
    const errors: unknown[] = [];
    proxy = await startProxy({
      listen: [{ host: '127.0.0.1', port: 0 }],
      upstream: { host: '127.0.0.1', port: broker.port },
      observer: fanOut([createTap(live, DEFAULT_TAP_OPTIONS), recorder, rotating], (e) => errors.push(e)),
      onError: (e) => errors.push(e),
    });
    try {
      await scenario(`mqtt://127.0.0.1:${proxy.addresses[0]!.port}`);
      await waitIdle(proxy);
    } finally {
      await proxy.close(1000);
      await recorder.close();
      await rotating.close();
      if (dumpcap !== undefined) await stopDumpcap(dumpcap);
    }
    expect(errors).toEqual([]);
  }, 60_000);

  afterAll(async () => {
    await proxy?.close(0);
    await broker?.stop();
    if (dir !== undefined && process.env.KEEP_CAPTURES === undefined)
      rmSync(dir, { recursive: true, force: true });
    else if (dir !== undefined) console.log(`captures kept in ${dir} (broker port ${broker.port})`);
  });

  async function replay(file: string, ports?: number[]) {
    const sink = collector('trace');
    const result = await replayCapture({
      files: [file],
      sink,
      tap: DEFAULT_TAP_OPTIONS,
      clock: { ms: 0 },
      ...(ports === undefined ? {} : { ports }),
    });
    return { sink, result };
  }

  it('(a) replaying the recording yields the live records', async () => {
    const { sink, result } = await replay(recordFile);
    expect(result).toMatchObject({ warnings: 0, gaps: 0, skippedConnections: 0 });
    expect(live.events('packet').length).toBeGreaterThan(30);
    expect(comparable(sink.records)).toEqual(comparable(live.records));
    const types = new Set(live.events('packet').map((r) => `${r.record.type} ${recordReasons(r).join(',')}`));
    // The cases are there: refused CONNACKs (3.1.1 and 5.0), refused SUBACK and PUBACK, QoS 2.
    expect(types).toContain('CONNACK 5');
    expect(types).toContain('CONNACK 135');
    expect(types).toContain('SUBACK 135');
    expect(types).toContain('PUBACK 135');
    expect(types).toContain('PUBCOMP 0');
    // Passwords are masked in the file.
    expect(readFileSync(recordFile).includes(Buffer.from('alice-pw'))).toBe(false);
    expect(readFileSync(recordFile).includes(Buffer.from('********'))).toBe(true);
  });

  it('(b) tshark decodes the same MQTT packets, types and reason codes, with no malformed packet or TCP warning', () => {
    const upstreamPort = broker.port;
    const { packets, problems } = tsharkMqtt(recordFile, upstreamPort);
    expect(problems).toBe('');
    const ours = live.events('packet');
    expect(packets.map((p) => p.type)).toEqual(ours.map((r) => r.record.type));
    expect(packets.map((p) => p.reasons)).toEqual(ours.map(recordReasons));
    console.log(
      `tshark: ${packets.length} MQTT packets in ${new Set(packets.map((p) => p.frame)).size} frames, no problems`,
    );
  });

  it('(c) the recording cut mid-block replays up to the cut with a warning', async () => {
    const whole = readFileSync(recordFile);
    const cutAt = Math.floor(whole.length * 0.6) | 1;
    const cut = join(dir, 'cut.pcapng');
    writeFileSync(cut, whole.subarray(0, cutAt));
    const { sink, result } = await replay(cut);
    expect(result.warnings).toBe(1);
    expect(sink.events('capture-warning')[0]!.record).toMatchObject({ code: 'CAPTURE_TRUNCATED' });
    const got = comparable(sink.events('packet'));
    const all = comparable(live.events('packet'));
    expect(got.length).toBeGreaterThan(0);
    expect(got.length).toBeLessThan(all.length);
    // A prefix of each connection's packets (connections interleave in the log).
    const full = perConnection(live.records);
    const partial = perConnection(sink.records);
    partial.forEach((dirs, i) => {
      for (const [d, list] of dirs.entries()) expect(list).toEqual(full[i]![d]!.slice(0, list.length));
    });
  });

  it('(d) dumpcap on loopback captured the same traffic: it replays to the same packet records', async (ctx) => {
    if (dumpcapError !== undefined) {
      const reason = `dumpcap cannot capture on lo (run as root, or setcap cap_net_raw,cap_net_admin+eip ${DUMPCAP}): ${dumpcapError}`;
      if (process.env.CI === 'true' || process.env.CI === '1') throw new Error(reason);
      console.warn(`[skip] ${reason}`);
      ctx.skip();
    }
    const { sink, result } = await replay(dumpFile, [broker.port]);
    expect(result.warnings).toBe(0);
    expect(result.gaps).toBe(0);
    const fromDump = perConnection(sink.records).filter((c) => c[0]!.length + c[1]!.length > 0);
    expect(fromDump).toEqual(perConnection(live.records));
    // (Not asked of tshark here: loopback captures carry unfinished checksums (offload) and real
    // TCP's window updates, which tshark rightly flags.)
  });

  it('rotation: every file is a complete pcapng that tshark opens', () => {
    const files = readdirSync(join(dir, 'rot')).sort();
    expect(files.length).toBeGreaterThan(2);
    expect(rotating.stats().files.map((f) => f.slice(f.lastIndexOf('/') + 1))).toEqual(files);
    for (const f of files) {
      const path = join(dir, 'rot', f);
      // execFileSync throws on a non-zero exit (tshark: "appears to have been cut short" and the like).
      const out = execFileSync(TSHARK, ['-r', path, '-T', 'fields', '-e', 'frame.number'], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const ours = parseCapture(readFileSync(path));
      expect(ours.every((e) => e.kind === 'packet')).toBe(true);
      expect(out.trim().split('\n')).toHaveLength(ours.length);
    }
  });
});
