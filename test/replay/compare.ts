/** Record collection and comparison for replay tests (live tap vs replayed capture). */
import { packetEntry } from '../../src/record/object-form.js';
import type { Level, LogRecord, RecordSink } from '../../src/sinks/sink.js';
import { LEVELS } from '../../src/sinks/sink.js';

export interface Collected {
  level: Level;
  msg: string;
  /** As the NDJSON log would show it (a JSON round trip). */
  record: LogRecord;
}

export interface Collector extends RecordSink {
  readonly records: Collected[];
  events(event: string): Collected[];
}

export function collector(level: Level = 'trace'): Collector {
  const threshold = LEVELS.indexOf(level);
  const records: Collected[] = [];
  return {
    records,
    isLevelEnabled: (l) => LEVELS.indexOf(l) >= threshold,
    write(l, record, msg) {
      if (LEVELS.indexOf(l) >= threshold)
        records.push({ level: l, msg, record: JSON.parse(JSON.stringify(record)) });
    },
    writePacket(l, head, packet, corr, opts) {
      const { record, msg } = packetEntry(head, packet, corr, opts);
      this.write(l, record, msg);
    },
    flush: () => Promise.resolve(),
    events: (event) => records.filter((r) => r.record.event === event),
  };
}

/** Records of the kinds both write, without what legitimately differs between live and replay. */
export function comparable(records: readonly Collected[]): unknown[] {
  return records
    .filter((r) =>
      ['open', 'packet', 'close', 'malformed', 'upstream-error'].includes(String(r.record.event)),
    )
    .map((r) => {
      const rec = JSON.parse(JSON.stringify(r.record)) as Record<string, unknown>;
      // The HMAC tag of a redacted password is keyed per process (and the recording holds `*`s).
      const pw = rec.password as Record<string, unknown> | undefined;
      if (pw?.hmac !== undefined) pw.hmac = '…';
      // Timings: the live clock is Date.now(), replay's the capture's (same instants, other rounding).
      if (typeof rec.ms === 'number') rec.ms = '…';
      const req = rec.request as Record<string, unknown> | undefined;
      if (req !== undefined) req.ms = '…';
      const verdict = rec.verdict as { detail: string; evidence: { time: unknown }[] } | undefined;
      if (verdict !== undefined) {
        verdict.detail = verdict.detail.replace(/\d+(\.\d+)? m?s\b/g, '… s');
        for (const e of verdict.evidence) e.time = '…';
      }
      return { level: r.level, msg: r.msg.replace(/\d+(\.\d+)? ms/g, '… ms'), ...rec };
    });
}
