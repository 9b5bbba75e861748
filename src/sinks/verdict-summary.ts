/**
 * `--summary` totals, live (at shutdown) and in replay (at the end): the `close` records counted
 * by their verdict's cause, with the client ids each cause hit most, and the takeover and
 * flapping records counted. Records are read as they are written; packet records are not looked at.
 */
import type { Level, LogRecord, RecordSink } from './sink.js';

/** The cause counted for a close record that carries no verdict. */
export const NO_VERDICT = 'no verdict';
/** Distinct client ids counted per cause; more are counted together as other ids. */
export const SUMMARY_IDS_PER_CAUSE = 1000;
/** Client ids shown per cause. */
const TOP = 3;

interface Cause {
  count: number;
  ids: Map<string, number>;
  /** Connections of ids past SUMMARY_IDS_PER_CAUSE. */
  otherIds: number;
}

export class VerdictSummary {
  private readonly causes = new Map<string, Cause>();
  private closes = 0;
  private takeovers = 0;
  private readonly flapping = new Map<string, number>();
  private flappingOther = 0;

  /** Counts `record` if it is a close, takeover or flapping record. */
  add(record: LogRecord): void {
    switch (record.event) {
      case 'close':
        this.addClose(record);
        return;
      case 'takeover':
        this.takeovers++;
        return;
      case 'flapping':
        countId(this.flapping, String(record.clientId), () => this.flappingOther++);
        return;
    }
  }

  private addClose(record: LogRecord): void {
    this.closes++;
    const verdict = record.verdict as { cause?: unknown } | undefined;
    const name = typeof verdict?.cause === 'string' ? verdict.cause : NO_VERDICT;
    let cause = this.causes.get(name);
    if (cause === undefined) {
      cause = { count: 0, ids: new Map(), otherIds: 0 };
      this.causes.set(name, cause);
    }
    cause.count++;
    const id = typeof record.clientId === 'string' ? JSON.stringify(record.clientId) : '(no client id)';
    const c = cause;
    countId(cause.ids, id, () => c.otherIds++);
  }

  /** The totals, one line each: the causes by count, then takeovers and flapping ids. */
  lines(): string[] {
    const out = [`verdicts of ${this.closes} closed connection${this.closes === 1 ? '' : 's'}:`];
    const causes = [...this.causes.entries()].sort((a, b) => b[1].count - a[1].count || cmp(a[0], b[0]));
    const width = Math.max(0, ...causes.map(([name]) => name.length));
    const countWidth = Math.max(0, ...causes.map(([, c]) => String(c.count).length));
    for (const [name, c] of causes) {
      const top = topOf(c.ids)
        .map(([id, n]) => `${id} ${n}`)
        .join(', ');
      const other = c.otherIds > 0 ? `, other ids ${c.otherIds}` : '';
      out.push(`  ${name.padEnd(width)}  ${String(c.count).padStart(countWidth)}  ${top}${other}`);
    }
    const flaps = topOf(this.flapping, 10)
      .map(([id, n]) => `${JSON.stringify(id)}${n > 1 ? ` ×${n}` : ''}`)
      .join(', ');
    const more = this.flapping.size > 10 || this.flappingOther > 0 ? ', …' : '';
    out.push(
      `takeovers ${this.takeovers}; flapping client ids: ${flaps === '' ? 'none' : `${flaps}${more}`}`,
    );
    return out;
  }
}

function countId(ids: Map<string, number>, id: string, overflow: () => void): void {
  const n = ids.get(id);
  if (n !== undefined) ids.set(id, n + 1);
  else if (ids.size < SUMMARY_IDS_PER_CAUSE) ids.set(id, 1);
  else overflow();
}

function topOf(ids: Map<string, number>, n = TOP): [string, number][] {
  return [...ids.entries()].sort((a, b) => b[1] - a[1] || cmp(a[0], b[0])).slice(0, n);
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * `inner`, with every record that is not a packet's also handed to `summary`. The records the
 * summary counts (close and takeover at info, flapping at warn) are built whatever `inner`'s level.
 */
export function summarizing(inner: RecordSink, summary: VerdictSummary): RecordSink {
  return {
    isLevelEnabled: (level: Level) => level === 'info' || level === 'warn' || inner.isLevelEnabled(level),
    write(level: Level, record: LogRecord, msg: string): void {
      summary.add(record);
      if (inner.isLevelEnabled(level)) inner.write(level, record, msg);
    },
    writePacket(level, head, packet, corr, opts): void {
      if (inner.isLevelEnabled(level)) inner.writePacket(level, head, packet, corr, opts);
    },
    flush: () => inner.flush(),
  };
}
