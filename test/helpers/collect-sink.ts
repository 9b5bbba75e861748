/** A RecordSink that keeps records in memory, for asserting exact records. */
import { packetEntry } from '../../src/record/object-form.js';
import type { Level, LogRecord, RecordSink } from '../../src/sinks/sink.js';
import { LEVELS } from '../../src/sinks/sink.js';

export interface CollectedRecord {
  level: Level;
  msg: string;
  /** The record as it would appear in the NDJSON log (a JSON round trip: undefined keys dropped). */
  record: LogRecord;
  /** The object the writer passed, by reference. */
  raw: LogRecord;
}

export interface CollectSink extends RecordSink {
  readonly records: CollectedRecord[];
  /** Records of one event kind, in order. */
  events(event: string): CollectedRecord[];
  /** Resolves with the first record matching `predicate` (already written or yet to come). */
  waitFor(predicate: (r: CollectedRecord) => boolean, timeoutMs?: number): Promise<CollectedRecord>;
  clear(): void;
}

export function createCollectSink(level: Level = 'trace'): CollectSink {
  const threshold = LEVELS.indexOf(level);
  const records: CollectedRecord[] = [];
  const waiters = new Set<{
    predicate: (r: CollectedRecord) => boolean;
    resolve: (r: CollectedRecord) => void;
  }>();
  const write = (l: Level, record: LogRecord, msg: string): void => {
    if (LEVELS.indexOf(l) < threshold) return;
    // A copy taken now: later mutation by the writer must not change what the test asserts.
    const entry: CollectedRecord = {
      level: l,
      msg,
      record: JSON.parse(JSON.stringify(record)),
      raw: record,
    };
    records.push(entry);
    for (const w of waiters) {
      if (w.predicate(entry)) {
        waiters.delete(w);
        w.resolve(entry);
      }
    }
  };
  return {
    records,
    isLevelEnabled: (l) => LEVELS.indexOf(l) >= threshold,
    write,
    writePacket(l, head, packet, corr, opts) {
      if (LEVELS.indexOf(l) < threshold) return;
      const { record, msg } = packetEntry(head, packet, corr, opts);
      write(l, record, msg);
    },
    flush: () => Promise.resolve(),
    events: (event) => records.filter((r) => r.record.event === event),
    waitFor(predicate, timeoutMs = 5000) {
      const found = records.find(predicate);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const waiter = {
          predicate,
          resolve: (r: CollectedRecord) => {
            clearTimeout(timer);
            resolve(r);
          },
        };
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(new Error(`no matching record within ${timeoutMs} ms; got: ${JSON.stringify(records)}`));
        }, timeoutMs);
        waiters.add(waiter);
      });
    },
    clear() {
      records.length = 0;
    },
  };
}
