/**
 * What mqtt-tap's NDJSON log says, read as it streams: lines, records per event, and the records
 * the soak reports on (log-dropped, stopped, internal-error). Only those few lines are parsed.
 */

export interface DroppedReport {
  /** Lines dropped as the `log-dropped` records count them (summed). */
  fromRecords: number;
  /** The count the `stopped` record gives, if it gives one. */
  atStop: number | undefined;
  records: number;
}

const EVENT = Buffer.from('"event":"');
const NL = 0x0a;

/**
 * Numbers under keys that mention dropping, anywhere in a record; with `plain`, also a top-level
 * `lines`, `count` or `records` (a log-dropped record may name its count so).
 */
function droppedCount(value: unknown, plain = false): number | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  let found: number | undefined;
  for (const [k, v] of Object.entries(value)) {
    if (typeof v === 'number' && /drop/i.test(k)) found = (found ?? 0) + v;
    else if (typeof v === 'object' && v !== null && /drop|log/i.test(k)) {
      const inner = droppedCount(v);
      if (inner !== undefined) found = (found ?? 0) + inner;
    } else if (plain && typeof v === 'number' && /^(lines|count|records)$/.test(k)) found = (found ?? 0) + v;
  }
  return found;
}

export class LogStats {
  lines = 0;
  bytes = 0;
  readonly events = new Map<string, number>();
  readonly internalErrors: string[] = [];
  readonly dropped: DroppedReport = { fromRecords: 0, atStop: undefined, records: 0 };
  private carry: Buffer | undefined;

  feed(chunk: Buffer): void {
    this.bytes += chunk.length;
    const last = chunk.lastIndexOf(NL);
    if (last < 0) {
      this.carry = this.carry === undefined ? Buffer.from(chunk) : Buffer.concat([this.carry, chunk]);
      return;
    }
    const whole =
      this.carry === undefined
        ? chunk.subarray(0, last + 1)
        : Buffer.concat([this.carry, chunk.subarray(0, last + 1)]);
    this.carry = last + 1 < chunk.length ? Buffer.from(chunk.subarray(last + 1)) : undefined;
    this.scan(whole);
  }

  end(): void {
    if (this.carry !== undefined && this.carry.length > 0)
      this.scan(Buffer.concat([this.carry, Buffer.from('\n')]));
    this.carry = undefined;
  }

  count(event: string): number {
    return this.events.get(event) ?? 0;
  }

  private scan(buf: Buffer): void {
    let start = 0;
    while (start < buf.length) {
      let nl = buf.indexOf(NL, start);
      if (nl < 0) nl = buf.length;
      this.lines++;
      const e = buf.indexOf(EVENT, start);
      if (e >= 0 && e < nl) {
        const from = e + EVENT.length;
        const to = buf.indexOf(0x22, from);
        if (to > from && to < nl) {
          const name = buf.toString('latin1', from, to);
          this.events.set(name, (this.events.get(name) ?? 0) + 1);
          if (name === 'log-dropped' || name === 'stopped' || name === 'internal-error') {
            this.record(name, buf.toString('utf8', start, nl));
          }
        }
      }
      start = nl + 1;
    }
  }

  private record(name: string, line: string): void {
    let rec: unknown;
    try {
      rec = JSON.parse(line);
    } catch {
      return;
    }
    if (name === 'internal-error') {
      if (this.internalErrors.length < 10) this.internalErrors.push(line.slice(0, 2000));
      return;
    }
    const n = droppedCount(rec, name === 'log-dropped');
    if (name === 'log-dropped') {
      this.dropped.records++;
      this.dropped.fromRecords += n ?? 0;
    } else if (n !== undefined) this.dropped.atStop = n;
  }
}
