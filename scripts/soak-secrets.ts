/**
 * The soak's secret search without sockets: the client streams of the soak's inputs phase (the same
 * seed gives the same streams), through the recorder's mask and through the tap into an NDJSON log,
 * in process, in several chunkings. Seconds instead of minutes, and each leak comes with its
 * connection, chunking and the frames around it as hex, ready to become a test vector.
 *
 *   npm run build && node dist/scripts/soak-secrets.js [--scale 1] [--seed S] [--chunking all]
 *
 * It does not replace `npm run soak`: TCP, TLS and WebSocket cut the live streams in other places,
 * and mosquitto's answers are not played here (the scripted broker's are).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fanOut, type OpenInfo } from '../src/observe/observer.js';
import { createTap } from '../src/observe/tap.js';
import { DEFAULT_TAP_OPTIONS } from '../src/observe/tap-options.js';
import type { Direction } from '../src/protocol/direction.js';
import { maskRanges, secretLocators } from '../src/protocol/secret-mask.js';
import { createLogSink } from '../src/sinks/log-sink.js';
import { Rng } from './soak/rng.js';
import { Markers, ndjsonWhere, SecretScanner } from './soak/secrets.js';
import { connectionsFor, hostileSpec, mosquittoSpec } from './soak/specs.js';
import { chunkSize, frameWalk, type Stream } from './soak/streams.js';

const CHUNKINGS = ['write', 'whole', 'small'] as const;
type Chunking = (typeof CHUNKINGS)[number];

const USAGE = `usage: node dist/scripts/soak-secrets.js [options]
  --scale X        as npm run soak (default 1: the client streams of 10^6 inputs)
  --seed S         as npm run soak (default: random, printed)
  --chunking LIST  subset of write,whole,small (default all): the soak's writes, one chunk, 1-7 bytes
  --examples N     leaks shown with their frames (default 10)`;

function parseArgs(argv: string[]): { scale: number; seed: string; chunkings: Chunking[]; examples: number } {
  const o = {
    scale: 1,
    seed: Math.floor(Math.random() * 0xffffffff)
      .toString(16)
      .padStart(8, '0'),
    chunkings: [...CHUNKINGS] as Chunking[],
    examples: 10,
  };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i]!.split('=', 2) as [string, string | undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value\n${USAGE}`);
      return v;
    };
    if (flag === '--scale') o.scale = Number(value());
    else if (flag === '--seed') o.seed = value();
    else if (flag === '--examples') o.examples = Number(value());
    else if (flag === '--chunking') {
      o.chunkings = value().split(',') as Chunking[];
      for (const c of o.chunkings)
        if (!CHUNKINGS.includes(c)) throw new Error(`unknown chunking ${c}\n${USAGE}`);
    } else if (flag === '-h' || flag === '--help') {
      console.log(USAGE);
      process.exit(0);
    } else throw new Error(`unknown option ${flag}\n${USAGE}`);
  }
  if (!(o.scale > 0)) throw new Error(`--scale must be a positive number\n${USAGE}`);
  return o;
}

function cut(data: Buffer, chunking: Chunking, rng: Rng): Buffer[] {
  if (chunking === 'whole') return [data];
  const out: Buffer[] = [];
  for (let at = 0; at < data.length; ) {
    const n =
      chunking === 'write' ? chunkSize(rng, data.length - at) : Math.min(rng.range(1, 7), data.length - at);
    out.push(data.subarray(at, at + n));
    at += n;
  }
  return out;
}

interface Connection {
  id: string;
  client: Stream;
  /** The scripted broker's stream (none for the mosquitto path: mosquitto's answers are not played). */
  broker: Stream | undefined;
  clientRng: Rng;
  brokerRng: Rng | undefined;
}

/** The frames of `data` around `offset` (the one holding it and the one before), as hex. */
function framesAround(data: Buffer, side: Direction, offset: number): string {
  const { starts } = frameWalk(data, side);
  let k = starts.length - 1;
  while (k > 0 && starts[k]! > offset) k--;
  const from = starts[Math.max(0, k - 1)] ?? 0;
  const to = Math.min(data.length, (starts[k + 1] ?? data.length) + 0, from + 512);
  return `bytes ${from}-${to} of ${data.length} (leak ends at ${offset}): ${data.toString('hex', from, to)}`;
}

async function main(): Promise<number> {
  const opts = parseArgs(process.argv.slice(2));
  console.log(`soak-secrets: seed ${opts.seed}, scale ${opts.scale}, chunkings ${opts.chunkings.join(',')}`);
  const markers = new Markers(opts.seed);
  const planned = Math.round(1e6 * opts.scale) * 1.08;
  const hCount = connectionsFor(opts.seed, 'h', planned * 0.8, 2);
  const mCount = connectionsFor(opts.seed, 'm', planned * 0.2, 1);
  const dir = mkdtempSync(join(tmpdir(), 'soak-secrets-'));
  const ndjson = join(dir, 'log.ndjson');
  const sink = createLogSink({ level: 'info', destination: ndjson, pretty: false, bufferBytes: 1 << 30 });
  const tap = fanOut([createTap(sink, DEFAULT_TAP_OPTIONS)], (err) => {
    throw err;
  });
  const connections = function* (): Generator<Connection> {
    for (let i = 0; i < hCount; i++) {
      const s = hostileSpec(opts.seed, 'h', i, markers);
      yield { id: s.id, client: s.client, broker: s.broker, clientRng: s.clientRng, brokerRng: s.brokerRng };
    }
    for (let i = 0; i < mCount; i++) {
      const s = mosquittoSpec(opts.seed, i, markers);
      yield { id: s.id, client: s.stream, broker: undefined, clientRng: s.rng, brokerRng: undefined };
    }
  };
  let recordingLeaks = 0;
  let shown = 0;
  let streams = 0;
  let secretsSent = 0;
  const t0 = performance.now();
  for (const c of connections()) {
    streams++;
    secretsSent += c.client.secrets;
    for (const chunking of opts.chunkings) {
      const rng = chunking === 'write' ? c.clientRng : Rng.derive(opts.seed, c.id, chunking);
      const clientChunks = cut(c.client.data, chunking, rng);
      const brokerChunks = c.broker === undefined ? [] : cut(c.broker.data, chunking, c.brokerRng ?? rng);
      const loc = secretLocators();
      const scanner = new SecretScanner(markers.grams, `${c.id} recording (${chunking})`);
      // The log of one chunking is enough: the tap sees whole frames, whatever the chunking.
      const info: OpenInfo = {
        conn: c.id,
        client: { address: '127.0.0.1', port: 40000 },
        local: { address: '127.0.0.1', port: 1884 },
        upstream: '127.0.0.1:1883',
        transport: 'tcp',
        startedAt: Date.now(),
      };
      const conn = chunking === opts.chunkings[0] ? tap.open(info) : undefined;
      conn?.upstreamConnected?.(info);
      for (let k = 0; k < Math.max(clientChunks.length, brokerChunks.length); k++) {
        for (const [side, chunks] of [
          ['client', clientChunks],
          ['broker', brokerChunks],
        ] as const) {
          const chunk = chunks[k];
          if (chunk === undefined) continue;
          conn?.data(side, chunk);
          const ranges = loc[side].done ? undefined : loc[side].scan(chunk);
          if (side === 'client') scanner.feed(ranges === undefined ? chunk : maskRanges(chunk, ranges));
        }
      }
      conn?.close({
        closedBy: 'client',
        durationMs: 1,
        bytes: { fromClient: c.client.data.length, fromBroker: c.broker?.data.length ?? 0 },
      });
      recordingLeaks += scanner.hits;
      for (const e of scanner.examples) {
        if (shown++ >= opts.examples) break;
        console.log(
          `recording leak: ${c.id} (${chunking}, ${e.form}) ${framesAround(c.client.data, 'client', e.offset)}`,
        );
      }
    }
  }
  await sink.close();
  const log = new SecretScanner(markers.grams, 'log', ndjsonWhere, opts.examples);
  const text = readFileSync(ndjson);
  log.feed(text);
  for (const e of log.examples) {
    const start = text.lastIndexOf(0x0a, e.offset) + 1;
    const end = text.indexOf(0x0a, e.offset);
    console.log(`log leak: ${e.where}: ${text.toString('utf8', start, end < 0 ? undefined : end)}`);
  }
  rmSync(dir, { recursive: true, force: true });
  const seconds = ((performance.now() - t0) / 1000).toFixed(1);
  console.log(
    `${streams} client streams, ${secretsSent} marker passwords, ${opts.chunkings.length} chunkings, ${seconds} s: ` +
      `${recordingLeaks} leaks in recordings, ${log.hits} in the log`,
  );
  return recordingLeaks + log.hits === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
    process.exit(2);
  },
);
