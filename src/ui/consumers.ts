/**
 * The hub's consumers: a page's bounded queue (live view) and the keeper of a capture's records
 * (the --html report, replay --ui). Both hold serialized records only.
 */
import type { ConnectionRow, RecordConsumer, UiHub } from './hub.js';

/** Most records a page's queue holds between sends; beyond, records are missed and counted. */
export const PAGE_QUEUE_RECORDS = 20_000;
/** Most bytes of records a page's queue holds. */
export const PAGE_QUEUE_BYTES = 8 * 1024 * 1024;

/**
 * One page's queue: records wait here until the next send. A page that does not keep up (its
 * socket still holds a send) misses what overflows, and is told how many.
 */
export class PageQueue implements RecordConsumer {
  private queue: string[] = [];
  private bytes = 0;
  private readonly dirty = new Set<string>();
  /** Records this page never got. */
  missed = 0;

  constructor(
    private readonly maxRecords = PAGE_QUEUE_RECORDS,
    private readonly maxBytes = PAGE_QUEUE_BYTES,
  ) {}

  wants(): boolean {
    return this.queue.length < this.maxRecords && this.bytes < this.maxBytes;
  }

  miss(): void {
    this.missed++;
  }

  record(_conn: string | undefined, json: string): void {
    if (this.queue.length >= this.maxRecords || this.bytes + json.length > this.maxBytes) {
      this.missed++;
      return;
    }
    this.queue.push(json);
    this.bytes += json.length;
  }

  rowChanged(conn: string): void {
    this.dirty.add(conn);
  }

  get pending(): number {
    return this.queue.length;
  }

  /** What waits, as one message, or undefined when nothing changed; the queue is empty after. */
  take(hub: UiHub): string | undefined {
    if (this.queue.length === 0 && this.dirty.size === 0) return undefined;
    const rows: ConnectionRow[] = [];
    for (const conn of this.dirty) {
      const row = hub.rows.get(conn);
      if (row !== undefined) rows.push(row);
    }
    this.dirty.clear();
    const message = `{"t":"batch","missed":${this.missed},"rows":${JSON.stringify(rows)},"records":[${this.queue.join(',')}]}`;
    this.queue = [];
    this.bytes = 0;
    return message;
  }
}

export interface KeeperLimits {
  /** Records kept from the start of each connection. */
  headPerConnection: number;
  /** Records kept from the end of each connection. */
  tailPerConnection: number;
  /** Records kept in all (beyond, whole records are left out and counted). */
  total: number;
}

export const DEFAULT_KEEPER_LIMITS: KeeperLimits = {
  headPerConnection: 2_000,
  tailPerConnection: 3_000,
  total: 200_000,
};

interface Kept {
  head: string[];
  tail: string[];
  /** Where the oldest of `tail` is once it is full (a ring). */
  tailStart: number;
  /** Records between head and tail that were left out. */
  leftOut: number;
}

/**
 * Keeps a capture's records for a report: of each connection its first and last records, and the
 * records of no connection; what is left out is counted per connection.
 */
export class RecordKeeper implements RecordConsumer {
  private readonly byConn = new Map<string, Kept>();
  private readonly global: string[] = [];
  private kept = 0;
  /** Records seen and records left out, in all. */
  seen = 0;
  leftOut = 0;

  constructor(readonly limits: KeeperLimits = DEFAULT_KEEPER_LIMITS) {}

  wants(): boolean {
    return true;
  }

  miss(): void {}

  record(conn: string | undefined, json: string): void {
    this.seen++;
    if (conn === undefined) {
      if (this.global.length < 1000) this.global.push(json);
      else this.leftOut++;
      return;
    }
    let k = this.byConn.get(conn);
    if (k === undefined) {
      k = { head: [], tail: [], tailStart: 0, leftOut: 0 };
      this.byConn.set(conn, k);
    }
    if (k.head.length < this.limits.headPerConnection && this.kept < this.limits.total) {
      k.head.push(json);
      this.kept++;
      return;
    }
    if (k.tail.length < this.limits.tailPerConnection && this.kept < this.limits.total) {
      k.tail.push(json);
      this.kept++;
      return;
    }
    // The tail is full (or the total reached): the oldest of the tail gives way.
    if (k.tail.length === 0) {
      k.leftOut++;
      this.leftOut++;
      return;
    }
    k.tail[k.tailStart] = json;
    k.tailStart = (k.tailStart + 1) % k.tail.length;
    k.leftOut++;
    this.leftOut++;
  }

  rowChanged(): void {}

  /** Every kept record as JSON texts, in order, with a gap marker where records were left out. */
  records(): string[] {
    const out = [...this.global];
    for (const [conn, k] of this.byConn) {
      out.push(...k.head);
      if (k.leftOut > 0) out.push(JSON.stringify({ event: 'left-out', conn, records: k.leftOut }));
      out.push(...k.tail.slice(k.tailStart), ...k.tail.slice(0, k.tailStart));
    }
    return out;
  }
}
