/**
 * Open-loop load: one publisher sends 64-byte PUBLISHes on a fixed schedule (message i is due at
 * start + i / rate), never in reaction to an ack; one subscriber receives them. Latencies are taken
 * from the scheduled time, so a stall anywhere delays every message due during it (no coordinated
 * omission). The generator's own lateness (write time minus scheduled time) is reported beside
 * them: it is the floor this machine's timers let the harness resolve.
 */
import { performance } from 'node:perf_hooks';
import { RawClient } from './client.js';
import { percentile } from './stats.js';
import { payloadOffset, puback, publishHead, type Version } from './wire.js';

export interface OpenLoopOptions {
  host: string;
  port: number;
  version: Version;
  qos: 0 | 1;
  /** Messages per second. */
  rate: number;
  /** The measured window. */
  seconds: number;
  /** Sent at the same rate before the measured window, not counted. */
  warmupSeconds: number;
  /** Makes client ids and the topic unique to the run. */
  tag: string;
  /** Called when the first measured message is written and after the last one is. */
  onMeasureStart?: () => void;
  onMeasureEnd?: () => void;
}

export interface Percentiles {
  p50: number;
  p99: number;
  p999: number;
  max: number;
}

export interface OpenLoopResult {
  rate: number;
  qos: 0 | 1;
  /** Messages scheduled in the measured window, and how many of those arrived / were acked. */
  measured: number;
  delivered: number;
  acked: number;
  /** Publish to delivery at the subscriber, ms; a message that never arrived counts as infinite. */
  delivery: Percentiles;
  /** Publish to PUBACK at the publisher, ms (QoS 1 only). */
  puback?: Percentiles;
  /** Write time minus scheduled time, ms. */
  lateness: Percentiles;
  /** Lost, duplicated, reordered or refused messages: the run's latencies are not valid. */
  error?: string;
}

export const OPEN_LOOP_PACKET_BYTES = 64;
/** How long after the last scheduled send the run waits for the last delivery and ack. */
const DRAIN_MS = 3000;
/** Between the clients being ready and the first scheduled send. */
const LEAD_MS = 20;

const now = (): number => performance.now();

function percentiles(values: Float64Array): Percentiles {
  const sorted = Float64Array.from(values).sort();
  return {
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    p999: percentile(sorted, 99.9),
    max: sorted.length === 0 ? Number.NaN : sorted[sorted.length - 1]!,
  };
}

export async function openLoop(o: OpenLoopOptions): Promise<OpenLoopResult> {
  const v = o.version;
  const topic = `bench/l/${o.tag}`;
  const warm = Math.round(o.rate * o.warmupSeconds);
  const total = warm + Math.max(1, Math.round(o.rate * o.seconds));
  const period = 1000 / o.rate;

  // One packet template; each message patches its sequence number (and packet identifier).
  const headLength = publishHead(v, topic, 0, o.qos, 1).length;
  const payloadLength = OPEN_LOOP_PACKET_BYTES - headLength;
  if (payloadLength < 4) throw new Error(`open loop: topic ${topic} leaves no room for a payload`);
  const template = Buffer.alloc(OPEN_LOOP_PACKET_BYTES, 0x2e);
  publishHead(v, topic, payloadLength, o.qos, 1).copy(template);
  const idAt = headLength - (v === '5.0' ? 1 : 0) - 2;
  const seqAt = headLength;

  const delivery = new Float64Array(total).fill(Number.POSITIVE_INFINITY);
  const ackTime = new Float64Array(total).fill(Number.POSITIVE_INFINITY);
  const lateness = new Float64Array(total);
  const seen = new Uint8Array(total);
  const seqOfId = new Int32Array(65536).fill(-1);
  let delivered = 0;
  let acked = 0;
  let lastSeq = -1;
  let error: string | undefined;
  let start = 0;
  const due = (seq: number): number => start + seq * period;

  const sub = await RawClient.open(o.host, o.port, v, `bench-l-sub-${o.tag}`);
  const pub = await RawClient.open(o.host, o.port, v, `bench-l-pub-${o.tag}`);
  let finish: () => void = () => {};
  const finished = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const complete = (): boolean => delivered === total && (o.qos === 0 || acked === total);
  try {
    await sub.subscribe(topic, o.qos);
    sub.handlers.publish = (flags, body) => {
      const t = now();
      const topicEnd = 2 + body.readUInt16BE(0);
      if (((flags >> 1) & 3) > 0) sub.write(puback(body.readUInt16BE(topicEnd)));
      const seq = body.readUInt32BE(payloadOffset(v, flags, body));
      if (seq >= total || seen[seq] === 1) {
        error ??= `message ${seq} duplicated or unknown`;
        return;
      }
      if (seq < lastSeq) error ??= `message ${seq} arrived after ${lastSeq}`;
      lastSeq = seq;
      seen[seq] = 1;
      delivery[seq] = t - due(seq);
      delivered++;
      if (complete()) finish();
    };
    pub.handlers.puback = (id, body) => {
      const t = now();
      const seq = seqOfId[id]!;
      if (seq < 0) {
        error ??= `PUBACK for unknown packet identifier ${id}`;
        return;
      }
      if (body.length >= 3 && body[2]! >= 0x80) error ??= `PUBACK ${id} refused: 0x${body[2]!.toString(16)}`;
      seqOfId[id] = -1;
      ackTime[seq] = t - due(seq);
      acked++;
      if (complete()) finish();
    };

    let next = 0;
    await new Promise<void>((resolve) => {
      const tick = (): void => {
        const t = now();
        const upTo = Math.min(total, Math.floor((t - start) / period) + 1);
        if (upTo > next) {
          if (next <= warm && upTo > warm) o.onMeasureStart?.();
          const k = upTo - next;
          const batch = Buffer.allocUnsafe(k * OPEN_LOOP_PACKET_BYTES);
          for (let j = 0; j < k; j++) {
            const seq = next + j;
            const at = j * OPEN_LOOP_PACKET_BYTES;
            template.copy(batch, at);
            batch.writeUInt32BE(seq, at + seqAt);
            if (o.qos === 1) {
              const id = (seq % 65535) + 1;
              if (seqOfId[id]! >= 0) error ??= 'more than 65,535 messages in flight';
              seqOfId[id] = seq;
              batch.writeUInt16BE(id, at + idAt);
            }
            lateness[seq] = t - due(seq);
          }
          pub.write(batch);
          next = upTo;
        }
        if (next < total) setTimeout(tick, Math.max(0, due(next) - now()));
        else {
          o.onMeasureEnd?.();
          resolve();
        }
      };
      start = now() + LEAD_MS;
      setTimeout(tick, LEAD_MS);
    });
    if (!complete()) {
      const timer = setTimeout(finish, DRAIN_MS);
      await finished;
      clearTimeout(timer);
    }
    const measuredDelivered = countFrom(seen, warm);
    if (measuredDelivered < total - warm)
      error ??= `${total - warm - measuredDelivered} of ${total - warm} measured messages not delivered`;
    const measuredAcks = o.qos === 1 ? countFinite(ackTime, warm) : 0;
    if (o.qos === 1 && measuredAcks < total - warm)
      error ??= `${total - warm - measuredAcks} of ${total - warm} measured messages not acknowledged`;
    const result: OpenLoopResult = {
      rate: o.rate,
      qos: o.qos,
      measured: total - warm,
      delivered: measuredDelivered,
      acked: measuredAcks,
      delivery: percentiles(delivery.subarray(warm)),
      lateness: percentiles(lateness.subarray(warm)),
    };
    if (o.qos === 1) result.puback = percentiles(ackTime.subarray(warm));
    if (error !== undefined) result.error = error;
    return result;
  } finally {
    await Promise.all([pub.close(), sub.close()]);
  }
}

function countFrom(flags: Uint8Array, from: number): number {
  let n = 0;
  for (let i = from; i < flags.length; i++) n += flags[i]!;
  return n;
}

function countFinite(values: Float64Array, from: number): number {
  let n = 0;
  for (let i = from; i < values.length; i++) if (Number.isFinite(values[i]!)) n++;
  return n;
}
