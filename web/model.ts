/** The page's store: connection rows, the latest records of each connection, topics. */

import type { ConnectionRow as Row } from '../src/ui/connection-row.js';

export interface Reason {
  code: number;
  hex: string;
  name: string;
  description: string;
  error: boolean;
  filter?: string;
}

/** A record as the log writes it (level, time, msg, event and its fields). */
export interface Rec {
  level: number;
  time: number;
  msg: string;
  event: string;
  conn?: string;
  from?: 'client' | 'broker';
  type?: string;
  packetId?: number;
  topic?: string;
  qos?: number;
  retain?: boolean;
  reason?: Reason;
  reasons?: Reason[];
  ms?: number;
  request?: { topic: string; ms: number };
  violations?: { code: string; rule?: string; detail: string }[];
  payload?: { length: number; encoding?: string; preview?: string; truncated?: boolean };
  clientId?: string;
  records?: number;
  [key: string]: unknown;
}

/** One connection's row, as the server's hub keeps it. */
export type { Row };

export interface TopicStats {
  count: number;
  last?: string;
  retain: boolean;
  qos: number;
  time: number;
}

/** Latest records kept per connection in the live view; older ones are counted. */
export const KEEP_PER_CONNECTION = 5000;

export class Store {
  readonly rows = new Map<string, Row>();
  readonly records = new Map<string, { list: Rec[]; dropped: number }>();
  readonly topics = new Map<string, TopicStats>();
  /** Records with no connection (listening, refused...). */
  readonly global: Rec[] = [];
  received = 0;
  /** Records the server could not send this page (its queue overflowed). */
  missed = 0;
  version = 0;

  constructor(private readonly keep: number) {}

  setRows(rows: Row[]): void {
    for (const r of rows) this.rows.set(r.conn, r);
    this.version++;
  }

  add(recs: Rec[]): void {
    for (const r of recs) this.addOne(r);
    this.version++;
  }

  private addOne(r: Rec): void {
    this.received++;
    if (r.conn === undefined) {
      this.global.push(r);
      if (this.global.length > 1000) this.global.shift();
      return;
    }
    let k = this.records.get(r.conn);
    if (k === undefined) {
      k = { list: [], dropped: 0 };
      this.records.set(r.conn, k);
    }
    if (r.event === 'left-out') {
      k.dropped += r.records ?? 0;
      k.list.push(r);
      return;
    }
    k.list.push(r);
    if (k.list.length > this.keep * 1.25) {
      const cut = k.list.length - this.keep;
      k.list.splice(0, cut);
      k.dropped += cut;
    }
    if (r.event === 'packet' && r.type === 'PUBLISH' && r.topic !== undefined) {
      let t = this.topics.get(r.topic);
      if (t === undefined) {
        if (this.topics.size >= 10_000) return;
        t = { count: 0, retain: false, qos: 0, time: 0 };
        this.topics.set(r.topic, t);
      }
      t.count++;
      t.retain = r.retain === true;
      t.qos = r.qos ?? 0;
      t.time = r.time;
      if (r.payload?.preview !== undefined) t.last = r.payload.preview;
      else if (r.payload !== undefined) t.last = `${r.payload.length} B`;
    }
  }
}

/** A failure: the level the log gives failure codes, violations and malformed input. */
export function isError(r: Rec): boolean {
  return r.level >= 40;
}

/** `*` any run, `?` one character, as --client-id. */
export function globRegExp(glob: string): RegExp {
  const body = glob
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${body}$`);
}

/** Whether `topic` matches the MQTT filter (`+` one level, `#` the rest). */
export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

export interface Filters {
  clientId: string;
  topic: string;
  type: string;
  errorsOnly: boolean;
}

export function recordPasses(r: Rec, f: Filters): boolean {
  if (f.errorsOnly && !isError(r) && r.event !== 'left-out') return false;
  if (f.type !== '' && r.type !== f.type) return false;
  if (f.topic !== '') {
    const topic = r.topic ?? r.request?.topic;
    if (topic !== undefined && !topicMatches(f.topic, topic)) return false;
  }
  return true;
}

export function rowPasses(row: Row, f: Filters, glob: RegExp | undefined): boolean {
  if (glob !== undefined && !glob.test(row.clientId ?? '')) return false;
  if (f.errorsOnly && row.errors === 0 && !(row.lastReason?.error ?? false)) return false;
  return true;
}

/** Local time with milliseconds. */
export function clock(ms: number): string {
  const d = new Date(ms);
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

export function duration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

/** The arrow's label: type, id, topic and the code(s), as short as the log's summary. */
export function arrowLabel(r: Rec): string {
  const parts: string[] = [r.type ?? r.event];
  if (r.type === 'CONNECT') parts.push(JSON.stringify(r.clientId ?? ''), String(r.protocol ?? ''));
  if (r.packetId !== undefined) parts.push(`id=${r.packetId}`);
  const topic = r.topic ?? r.request?.topic;
  if (topic !== undefined) parts.push(topic);
  if (r.type === 'PUBLISH' && r.qos !== undefined) parts.push(`qos=${r.qos}`);
  const subscriptions = r.subscriptions as { filter: string; qos?: number }[] | undefined;
  if (subscriptions !== undefined) parts.push(subscriptions.map((x) => x.filter).join(', '));
  const filters = r.filters as string[] | undefined;
  if (r.type === 'UNSUBSCRIBE' && filters !== undefined) parts.push(filters.join(', '));
  if (r.reason !== undefined) parts.push(`${r.reason.hex} ${r.reason.name}`);
  if (r.reasons !== undefined)
    parts.push(
      r.reasons.map((x) => `${x.filter !== undefined ? `${x.filter}: ` : ''}${x.hex} ${x.name}`).join(', '),
    );
  return parts.join(' ');
}

/** A failure code in the record (red), as opposed to a violation (amber). */
export function hasFailureCode(r: Rec): boolean {
  return (r.reason?.error ?? false) || (r.reasons?.some((x) => x.error) ?? false);
}
