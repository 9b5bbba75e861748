/**
 * What each soak connection is, from the seed alone: its transport, level, streams and chunking.
 * Shared by the live soak and the offline secret check (soak-secrets.ts).
 */
import type { BrokerMode, ClientMode, HostileSpec } from './hostile.js';
import type { MosquittoSpec } from './mosquitto-path.js';
import type { Level } from './packets.js';
import { Rng } from './rng.js';
import type { Markers } from './secrets.js';
import { generateStream } from './streams.js';
import { isWebSocket, TRANSPORTS, type Transport } from './transports.js';

/** Inputs per direction of a connection; the concurrent phase's connections are about their large packet. */
/** The listeners connections pick from (--transports). */
let transports: readonly Transport[] = TRANSPORTS;

export function setTransports(list: readonly Transport[]): void {
  transports = list;
}

const INPUTS_PER_SIDE: [number, number] = [20, 380];
const CONCURRENT_INPUTS_PER_SIDE: [number, number] = [4, 40];

export function sizes(seed: string, kind: string, i: number): { client: number; broker: number } {
  const r = Rng.derive(seed, kind, i, 'size');
  const range = kind === 'c' ? CONCURRENT_INPUTS_PER_SIDE : INPUTS_PER_SIDE;
  return { client: r.range(...range), broker: r.range(...range) };
}

/** How many connections of `kind` carry `target` inputs (their sizes depend on the seed only). */
export function connectionsFor(seed: string, kind: string, target: number, sides: 1 | 2): number {
  let sum = 0;
  let i = 0;
  while (sum < target) {
    const s = sizes(seed, kind, i++);
    sum += sides === 2 ? s.client + s.broker : s.client;
  }
  return i;
}

export function pickLevel(r: Rng): Level {
  return r.weighted<Level>([
    [3, 20],
    [4, 35],
    [5, 45],
  ]);
}

export function pickBreaking(r: Rng): number {
  return r.weighted<number>([
    [0, 50],
    [0.005, 30],
    [0.03, 20],
  ]);
}

/** Paired connection `i` (`h`: the inputs phase; `c`: the concurrent phase, with large packets). */
export function hostileSpec(seed: string, kind: 'h' | 'c', i: number, markers: Markers): HostileSpec {
  const r = Rng.derive(seed, kind, i);
  const transport = r.pick(transports);
  const level = pickLevel(r);
  const size = sizes(seed, kind, i);
  const big = kind === 'c' ? r.range(80 * 1024, 160 * 1024) : undefined;
  const side = (name: 'client' | 'broker', inputs: number) =>
    generateStream(
      { side: name, level, inputs, breaking: pickBreaking(r), ...(big !== undefined ? { big } : {}) },
      Rng.derive(seed, kind, i, name),
      markers,
    );
  const client = side('client', size.client);
  const broker = side('broker', size.broker);
  const ws = isWebSocket(transport);
  const clientMode: ClientMode =
    kind === 'c'
      ? ws
        ? 'normal'
        : r.pick(['normal', 'half-close'] as const)
      : r.weighted<ClientMode>(
          ws
            ? [
                ['normal', 85],
                ['reset', 15],
              ]
            : [
                ['normal', 60],
                ['half-close', 25],
                ['reset', 15],
              ],
        );
  const brokerMode: BrokerMode =
    kind === 'c'
      ? 'normal'
      : r.weighted<BrokerMode>([
          ['normal', 75],
          ['early-fin', !ws && clientMode !== 'reset' ? 15 : 0],
          ['reset', 10],
        ]);
  return {
    id: `${kind}-${i}`,
    transport,
    level,
    client,
    broker,
    clientMode,
    brokerMode,
    clientCut: r.range(1, Math.max(1, client.data.length - 1)),
    brokerCut: r.range(1, Math.max(1, broker.data.length - 1)),
    clientRng: Rng.derive(seed, kind, i, 'client-chunks'),
    brokerRng: Rng.derive(seed, kind, i, 'broker-chunks'),
    maskRng: Rng.derive(seed, kind, i, 'masks'),
  };
}

export function mosquittoSpec(seed: string, i: number, markers: Markers): MosquittoSpec {
  const r = Rng.derive(seed, 'm', i);
  const transport = r.pick(transports);
  const level = pickLevel(r);
  const stream = generateStream(
    { side: 'client', level, inputs: sizes(seed, 'm', i).client, breaking: pickBreaking(r) },
    Rng.derive(seed, 'm', i, 'client'),
    markers,
  );
  return {
    id: `m-${i}`,
    transport,
    level,
    stream,
    reset: r.chance(0.1),
    cut: r.range(1, Math.max(1, stream.data.length - 1)),
    rng: Rng.derive(seed, 'm', i, 'chunks'),
  };
}
