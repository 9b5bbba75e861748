/**
 * The real proxy with the real tap writing into a collect sink, whatever the transports, plus the
 * few questions the transport tests ask of its records.
 */

import { createTap } from '../../../src/observe/tap.js';
import { DEFAULT_TAP_OPTIONS } from '../../../src/observe/tap-options.js';
import { type RunningProxy, type StartProxyOptions, startProxy } from '../../../src/proxy/server.js';
import type { LogRecord } from '../../../src/sinks/sink.js';
import { type CollectSink, createCollectSink } from '../../helpers/collect-sink.js';

export interface TapHarness {
  proxy: RunningProxy;
  sink: CollectSink;
  /** Port of the n-th listener. */
  port(n?: number): number;
  records(conn: string): LogRecord[];
  packets(conn: string): LogRecord[];
  /** The n-th open record (0-based), once written. */
  open(n: number): Promise<LogRecord>;
  closed(conn: string, timeoutMs?: number): Promise<LogRecord>;
  close(): Promise<void>;
}

export async function tapProxy(options: Omit<StartProxyOptions, 'observer'>): Promise<TapHarness> {
  const sink = createCollectSink('trace');
  const proxy = await startProxy({
    ...options,
    observer: createTap(sink, { ...DEFAULT_TAP_OPTIONS }),
    onError: (err, ctx) => {
      sink.write('error', { event: 'internal-error', ...ctx, error: String(err) }, String(err));
    },
  });
  const records = (conn: string): LogRecord[] =>
    sink.records.filter((r) => r.record.conn === conn).map((r) => r.record);
  return {
    proxy,
    sink,
    port: (n = 0) => proxy.addresses[n]!.port,
    records,
    packets: (conn) => records(conn).filter((r) => r.event === 'packet'),
    async open(n) {
      const deadline = Date.now() + 5000;
      for (;;) {
        const opens = sink.events('open');
        if (opens.length > n) return opens[n]!.record;
        if (Date.now() > deadline) throw new Error(`no open record #${n}: ${JSON.stringify(sink.records)}`);
        await new Promise((r) => setTimeout(r, 5));
      }
    },
    closed: async (conn, timeoutMs = 5000) =>
      (await sink.waitFor((r) => r.record.event === 'close' && r.record.conn === conn, timeoutMs)).record,
    close: () => proxy.close(0),
  };
}

/** `from:TYPE` of each packet record, sorted (acks and deliveries may interleave either way). */
export function packetKinds(packets: LogRecord[]): string[] {
  return packets.map((p) => `${String(p.from)}:${String(p.type)}`).sort();
}

/** Bytes the packet records account for in one direction: they must equal the close record's counts. */
export function packetBytes(packets: LogRecord[], from: 'client' | 'broker'): number {
  return packets.filter((p) => p.from === from).reduce((n, p) => n + Number(p.length), 0);
}
