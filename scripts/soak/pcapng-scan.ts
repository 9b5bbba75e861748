/**
 * The secret search over a pcapng recording: the TCP payload of every Enhanced Packet Block, as one
 * byte stream per direction of each connection (a marker may span segments), and the options of every
 * block (comments are text). Synthesised Ethernet/IP/TCP headers are skipped: they are not output
 * of the traffic, and their checksums would only add noise.
 */
import { createReadStream } from 'node:fs';
import { SecretScanner } from './secrets.js';

const BLOCK_SHB = 0x0a0d0d0a;
const BLOCK_EPB = 6;

export interface PcapngScan {
  file: string;
  blocks: number;
  payloadBytes: number;
  hits: number;
  windows: number;
  byWhere: Map<string, number>;
  examples: SecretScanner['examples'];
}

/** The TCP payload inside an Ethernet frame, or undefined. */
function tcpPayload(frame: Buffer): { key: string; payload: Buffer } | undefined {
  if (frame.length < 14) return undefined;
  const ethertype = frame.readUInt16BE(12);
  const ip = 14;
  let tcp: number;
  let addrs: string;
  if (ethertype === 0x0800) {
    if (frame.length < ip + 20 || frame[ip + 9] !== 6) return undefined;
    tcp = ip + (frame[ip]! & 0x0f) * 4;
    addrs = frame.toString('hex', ip + 12, ip + 20);
  } else if (ethertype === 0x86dd) {
    if (frame.length < ip + 40 || frame[ip + 6] !== 6) return undefined;
    tcp = ip + 40;
    addrs = frame.toString('hex', ip + 8, ip + 40);
  } else return undefined;
  if (frame.length < tcp + 20) return undefined;
  const data = tcp + (frame[tcp + 12]! >> 4) * 4;
  const key = `${addrs}:${frame.toString('hex', tcp, tcp + 4)}`;
  return { key, payload: frame.subarray(data) };
}

/** `brokerPort`: the upstream's port, which tells the two directions apart. */
export async function scanPcapng(
  file: string,
  grams: ReadonlySet<number>,
  brokerPort: number,
): Promise<PcapngScan> {
  // The flow key ends with the destination port (hex).
  const dirOf = (key: string): string =>
    Number.parseInt(key.slice(-4), 16) === brokerPort ? 'client→broker' : 'broker→client';
  const flows = new Map<string, SecretScanner>();
  const options = new SecretScanner(grams, `${file} (block options)`, () => 'pcapng options');
  const result: PcapngScan = {
    file,
    blocks: 0,
    payloadBytes: 0,
    hits: 0,
    windows: 0,
    byWhere: new Map(),
    examples: [],
  };
  let pending: Buffer = Buffer.alloc(0);
  const onBlock = (block: Buffer): void => {
    result.blocks++;
    const type = block.readUInt32LE(0);
    if (type === BLOCK_EPB && block.length >= 32) {
      const captured = block.readUInt32LE(20);
      const frame = block.subarray(28, 28 + captured);
      const tcp = tcpPayload(frame);
      if (tcp !== undefined && tcp.payload.length > 0) {
        let s = flows.get(tcp.key);
        if (s === undefined) {
          s = new SecretScanner(grams, `${file} (TCP payload)`, () => `pcapng ${dirOf(tcp.key)} payload`);
          flows.set(tcp.key, s);
        }
        s.feed(tcp.payload);
        result.payloadBytes += tcp.payload.length;
      }
      const optionsAt = 28 + ((captured + 3) & ~3);
      if (optionsAt < block.length - 4) options.feed(block.subarray(optionsAt, block.length - 4));
    } else if (block.length > 12) {
      options.feed(block.subarray(8, block.length - 4));
    }
  };
  for await (const chunk of createReadStream(file)) {
    pending = pending.length === 0 ? (chunk as Buffer) : Buffer.concat([pending, chunk as Buffer]);
    let at = 0;
    while (pending.length - at >= 12) {
      const type = pending.readUInt32LE(at);
      const len = pending.readUInt32LE(at + 4);
      if (len < 12 || (type === BLOCK_SHB && len > 1 << 20)) throw new Error(`${file}: bad block at ${at}`);
      if (pending.length - at < len) break;
      onBlock(pending.subarray(at, at + len));
      at += len;
    }
    pending = Buffer.from(pending.subarray(at));
  }
  for (const s of [options, ...flows.values()]) {
    result.hits += s.hits;
    result.windows += s.windows;
    for (const [k, v] of s.byWhere) result.byWhere.set(k, (result.byWhere.get(k) ?? 0) + v);
    for (const e of s.examples) if (result.examples.length < 5) result.examples.push(e);
  }
  return result;
}
