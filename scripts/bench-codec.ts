/**
 * Codec throughput: framing + decoding, the work the tap does per direction.
 *
 *   npm run bench:codec [-- --runs 15 --warmup 5]
 *
 * (a) a stream of 64-byte QoS 0 PUBLISH packets delivered in ~64 KiB chunks (chunk boundaries
 *     fall inside packets, as on TCP): packets/s;
 * (b) 1 MiB PUBLISH packets in 64 KiB and in 1 MiB chunks, default 64 KiB capture cap: GB/s of
 *     stream. The payload is never read or copied past the cap; a frame spanning chunks copies
 *     its first `captureCap` bytes (no chunk is referenced after push() returns), so this case
 *     mostly measures that copy and the allocation behind it.
 * Each case runs `--warmup` times, then `--runs` times; the table gives the median and min-max of
 * the wall-clock rate, and the median rate per CPU second of this process (what one core does when
 * other processes share the machine).
 * Targets (one core): 1,500,000 small packets/s, 2 GB/s large.
 */
import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import type { ProtocolVersion } from '../src/protocol/constants.js';
import { decodeFrame } from '../src/protocol/decode/index.js';
import { Framer } from '../src/protocol/framer.js';
import { varint } from './bench/wire.js';

interface Options {
  runs: number;
  warmup: number;
}

function parseArgs(argv: string[]): Options {
  const opts: Options = { runs: 11, warmup: 3 };
  for (let i = 0; i < argv.length; i++) {
    const value = Number(argv[i + 1]);
    if (argv[i] === '--runs' && value > 0) opts.runs = value;
    else if (argv[i] === '--warmup' && value >= 0) opts.warmup = value;
    else continue;
    i++;
  }
  return opts;
}

/** A QoS 0 PUBLISH of exactly `total` bytes on the wire (total < 130). */
function smallPublish(version: ProtocolVersion, topic: string, total: number): Buffer {
  const t = Buffer.from(topic);
  const props = version === '5.0' ? [0] : [];
  const payloadLength = total - 2 - 2 - t.length - props.length;
  const body = Buffer.concat([
    Buffer.from([t.length >> 8, t.length & 0xff]),
    t,
    Buffer.from(props),
    Buffer.alloc(payloadLength, 0x41),
  ]);
  const out = Buffer.concat([Buffer.from([0x30, ...varint(body.length)]), body]);
  if (out.length !== total) throw new Error(`built ${out.length} bytes, wanted ${total}`);
  return out;
}

/** A QoS 1 PUBLISH with a `size`-byte payload. */
function largePublish(version: ProtocolVersion, size: number): Buffer {
  const t = Buffer.from('camera/frames');
  const props = version === '5.0' ? [0] : [];
  const head = Buffer.concat([Buffer.from([0, t.length]), t, Buffer.from([0x12, 0x34, ...props])]);
  const remaining = head.length + size;
  return Buffer.concat([Buffer.from([0x32, ...varint(remaining)]), head, Buffer.alloc(size, 0x5a)]);
}

function chunk(stream: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < stream.length; i += size) out.push(stream.subarray(i, i + size));
  return out;
}

interface Case {
  name: string;
  version: ProtocolVersion;
  chunks: Buffer[];
  /** The chunks are pushed this many times per run (one stream of whole packets, repeated). */
  repeat: number;
  /** Per repetition. */
  bytes: number;
  packets: number;
  unit: 'packets/s' | 'GB/s';
}

/**
 * Frames and decodes `c` once; returns wall-clock seconds and CPU seconds of this process (the
 * figure that stays meaningful when other processes share the cores). Fails loudly if anything
 * was lost.
 */
function once(c: Case): { wall: number; cpu: number } {
  let packets = 0;
  let payload = 0;
  const framer = new Framer({
    frame(f) {
      const p = decodeFrame(f, c.version);
      packets++;
      if (p.type === 'PUBLISH') payload += p.payload.length;
    },
    error(e) {
      throw new Error(`${c.name}: ${e.code} ${e.detail}`);
    },
  });
  const cpuStart = process.cpuUsage();
  const start = performance.now();
  for (let r = 0; r < c.repeat; r++) for (const ch of c.chunks) framer.push(ch);
  framer.end();
  const wall = (performance.now() - start) / 1000;
  const used = process.cpuUsage(cpuStart);
  const cpu = (used.user + used.system) / 1e6;
  if (packets !== c.packets * c.repeat || payload <= 0) {
    throw new Error(`${c.name}: decoded ${packets} of ${c.packets * c.repeat}`);
  }
  return { wall, cpu };
}

function rate(c: Case, seconds: number): number {
  return c.unit === 'GB/s' ? (c.bytes * c.repeat) / seconds / 1e9 : (c.packets * c.repeat) / seconds;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function fmt(x: number, unit: Case['unit']): string {
  return unit === 'GB/s' ? x.toFixed(2) : Math.round(x).toLocaleString('en-US');
}

function main(): void {
  const opts = parseArgs(process.argv.slice(2));
  const cases: Case[] = [];
  const SMALL = 262_144; // 16 MiB of 64-byte packets
  for (const version of ['3.1.1', '5.0'] as const) {
    const one = smallPublish(version, 'sensors/room-1/temp', 64);
    const stream = Buffer.concat(Array.from({ length: SMALL }, () => one));
    cases.push({
      name: `64-byte QoS 0 PUBLISH, ${version}, 64,000-byte chunks`,
      version,
      chunks: chunk(stream, 64_000),
      repeat: 1,
      bytes: stream.length,
      packets: SMALL,
      unit: 'packets/s',
    });
  }
  const LARGE = 64; // 64 MiB of 1 MiB packets
  const big = largePublish('5.0', 1 << 20);
  const bigStream = Buffer.concat(Array.from({ length: LARGE }, () => big));
  for (const size of [65_536, 1 << 20]) {
    cases.push({
      name: `1 MiB QoS 1 PUBLISH, 5.0, ${size === 65_536 ? '64 KiB' : '1 MiB'} chunks`,
      version: '5.0',
      chunks: chunk(bigStream, size),
      repeat: 16, // 1 GiB per run: long enough for the clock
      bytes: bigStream.length,
      packets: LARGE,
      unit: 'GB/s',
    });
  }

  const load = loadavg()[0]!.toFixed(2);
  console.log(
    `node ${process.version}, ${cpus().length} CPUs, load ${load}; ${opts.warmup} warm-up + ${opts.runs} measured runs per case`,
  );
  console.log("median/min/max: wall clock; per CPU s: median over this process's CPU time\n");
  const rows: string[][] = [['case', 'unit', 'median', 'min', 'max', 'per CPU s', 'target', '']];
  for (const c of cases) {
    for (let i = 0; i < opts.warmup; i++) once(c);
    const rates: number[] = [];
    const cpuRates: number[] = [];
    for (let i = 0; i < opts.runs; i++) {
      const t = once(c);
      rates.push(rate(c, t.wall));
      cpuRates.push(rate(c, Math.max(t.cpu, 1e-6)));
    }
    const med = median(rates);
    const cpuMed = median(cpuRates);
    const target = c.unit === 'GB/s' ? 2 : 1_500_000;
    rows.push([
      c.name,
      c.unit,
      fmt(med, c.unit),
      fmt(Math.min(...rates), c.unit),
      fmt(Math.max(...rates), c.unit),
      fmt(cpuMed, c.unit),
      fmt(target, c.unit),
      med >= target ? 'ok' : cpuMed >= target ? 'ok per CPU s (cores shared?)' : 'BELOW TARGET',
    ]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const [i, r] of rows.entries()) {
    console.log(
      r
        .map((cell, j) => (j === 0 || j === 1 ? cell.padEnd(widths[j]!) : cell.padStart(widths[j]!)))
        .join('  '),
    );
    if (i === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  }
}

main();
