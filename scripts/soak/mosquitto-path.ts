/**
 * Hostile client streams through mqtt-tap to a real mosquitto. mosquitto closes the connection at
 * the first thing it does not like, so what it received cannot be compared byte for byte; what comes
 * back through mqtt-tap can be checked: mosquitto writes whole packets, so the client must receive a
 * byte stream that frames cleanly to its end.
 */
import { writeChunks, yieldIo } from './hostile.js';
import type { Level } from './packets.js';
import type { Rng } from './rng.js';
import { frameWalk, inputsWithin, type Stream } from './streams.js';
import type { TapProcess } from './tap-process.js';
import { openPipe, type Transport } from './transports.js';

export interface MosquittoSpec {
  id: string;
  transport: Transport;
  level: Level;
  stream: Stream;
  reset: boolean;
  cut: number;
  rng: Rng;
}

export interface MosquittoResult {
  id: string;
  transport: Transport;
  level: Level;
  outcome: 'ok' | 'unclean' | 'no-connection' | 'cut-by-restart';
  inputs: number;
  secrets: number;
  received: number;
  detail?: string;
}

const CLOSE_WAIT_MS = 5000;

export async function runMosquittoInput(spec: MosquittoSpec, tap: TapProcess): Promise<MosquittoResult> {
  const generation = tap.generation;
  const result: MosquittoResult = {
    id: spec.id,
    transport: spec.transport,
    level: spec.level,
    outcome: 'ok',
    inputs: 0,
    secrets: spec.stream.secrets,
    received: 0,
  };
  let pipe: Awaited<ReturnType<typeof openPipe>>;
  try {
    pipe = await openPipe(spec.transport, tap.endpoints, () => spec.rng.bytes(4), spec.reset);
  } catch (err) {
    result.outcome = tap.generation !== generation ? 'cut-by-restart' : 'no-connection';
    result.detail = err instanceof Error ? err.message : String(err);
    return result;
  }
  const got: Buffer[] = [];
  pipe.onData = (c) => got.push(Buffer.from(c));
  const data = spec.stream.data;
  const to = spec.reset ? spec.cut : data.length;
  const at = await writeChunks(
    spec.rng,
    data,
    0,
    to,
    (c) => pipe.write(c),
    () => pipe.drained(),
    () => !pipe.isClosed,
    () => {},
  );
  result.inputs = inputsWithin(spec.stream, at);
  if (spec.reset) {
    await yieldIo();
    pipe.reset();
  } else pipe.end();
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    pipe.closed,
    new Promise<void>((r) => {
      timer = setTimeout(r, CLOSE_WAIT_MS);
    }),
  ]);
  clearTimeout(timer);
  if (!pipe.isClosed) pipe.destroy();
  const received = Buffer.concat(got);
  result.received = received.length;
  if (tap.generation !== generation) {
    result.outcome = 'cut-by-restart';
    return result;
  }
  if (!spec.reset) {
    const walk = frameWalk(received, 'broker');
    if (walk.end !== received.length) {
      result.outcome = 'unclean';
      result.detail = `mosquitto's ${received.length} bytes stop framing at ${walk.end} (${received
        .subarray(walk.end, walk.end + 16)
        .toString('hex')})`;
    }
  }
  return result;
}
