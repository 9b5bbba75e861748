/**
 * The records that link a client id's connections: `takeover` (a new connection claimed an id an
 * open one held), `flapping` (an id taken over again and again), `client-id-limit`, and the
 * session record's note when a session asked for was not there.
 */
import type { LogRecord } from './log-record.js';

/** How many takeovers of one client id within how long make it flapping. */
export interface FlappingRule {
  count: number;
  windowMs: number;
}

/** A connection named in a takeover or flapping record. */
export interface ConnRef {
  conn: string;
  address: string;
  port: number;
  username?: string;
}

export interface Takeover {
  clientId: string;
  at: number;
  /** The connection that claimed the id. */
  by: ConnRef;
  /** The connection that held it, still open when the new CONNECT came. */
  old: ConnRef;
  /** How long `old` had been open when the new CONNECT came, in ms. */
  afterMs: number;
}

export interface Flapping {
  clientId: string;
  /** The takeovers within the window, oldest first. */
  takeovers: Takeover[];
  rule: FlappingRule;
}

/** How the previous connection with a client id ended. */
export interface LastConnection {
  conn: string;
  closedAt: number;
  /** Clean Start (5.0) / Clean Session (3.x) of its CONNECT. */
  clean: boolean;
  /** Its Session Expiry Interval in seconds (5.0 only). */
  sessionExpiryInterval?: number;
}

export interface Entry {
  record: LogRecord;
  msg: string;
}

function address(r: ConnRef): string {
  return r.address.includes(':') ? `[${r.address}]:${r.port}` : `${r.address}:${r.port}`;
}

function who(r: ConnRef): string {
  return `${r.conn} (${address(r)}${r.username === undefined ? '' : ` user ${JSON.stringify(r.username)}`})`;
}

function refRecord(r: ConnRef): Record<string, unknown> {
  const out: Record<string, unknown> = { conn: r.conn, client: address(r) };
  if (r.username !== undefined) out.username = r.username;
  return out;
}

/** `1.5 s`, `250 ms`, `3 min` */
export function duration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 120_000) return `${Math.round(ms / 100) / 10} s`;
  return `${Math.round(ms / 60_000)} min`;
}

/** A new connection's CONNACK accepted a client id an open connection held: the broker drops the old one. */
export function takeoverEntry(t: Takeover): Entry {
  const record: LogRecord = {
    event: 'takeover',
    conn: t.by.conn,
    clientId: t.clientId,
    client: address(t.by),
  };
  if (t.by.username !== undefined) record.username = t.by.username;
  record.takenOver = { ...refRecord(t.old), afterMs: t.afterMs };
  return {
    record,
    msg: `client id ${JSON.stringify(t.clientId)} taken over from ${who(t.old)}, open ${duration(t.afterMs)}, by ${who(t.by)}`,
  };
}

/** One client id taken over `rule.count` times within `rule.windowMs`: who was involved. */
export function flappingEntry(f: Flapping): Entry {
  const conns: string[] = [];
  const clients = new Map<string, { address: string; username?: string; conns: string[] }>();
  for (const t of f.takeovers) {
    for (const r of [t.old, t.by]) {
      if (!conns.includes(r.conn)) conns.push(r.conn);
      const key = `${r.address}\u0000${r.username ?? ''}\u0000${r.username === undefined}`;
      let c = clients.get(key);
      if (c === undefined) {
        c =
          r.username === undefined
            ? { address: r.address, conns: [] }
            : { address: r.address, username: r.username, conns: [] };
        clients.set(key, c);
      }
      if (!c.conns.includes(r.conn)) c.conns.push(r.conn);
    }
  }
  const first = f.takeovers[0]!;
  const last = f.takeovers[f.takeovers.length - 1]!;
  const list = [...clients.values()];
  const hint =
    list.length > 1
      ? 'two or more clients use the same client id'
      : 'one client reconnects before the broker has dropped its previous connection';
  const record: LogRecord = {
    event: 'flapping',
    clientId: f.clientId,
    takeovers: f.takeovers.length,
    withinMs: Math.round(last.at - first.at),
    rule: { count: f.rule.count, windowMs: f.rule.windowMs },
    conns,
    clients: list,
    hint,
  };
  const named = list
    .map((c) => `${c.address}${c.username === undefined ? '' : ` user ${JSON.stringify(c.username)}`}`)
    .join(', ');
  return {
    record,
    msg: `client id ${JSON.stringify(f.clientId)} taken over ${f.takeovers.length} times in ${duration(last.at - first.at)} (${conns.join(', ')}; from ${named}): ${hint}`,
  };
}

/** Once per process: idle client ids are being forgotten to stay within the cap. */
export function clientIdLimitEntry(limit: number): Entry {
  return {
    record: { event: 'client-id-limit', limit },
    msg: `more than ${limit} client ids without an open connection: the least recently seen are forgotten (takeovers and flapping of those ids start afresh)`,
  };
}

/**
 * Fields and words added to the `session` record when the CONNECT asked to resume a session
 * (Clean Start / Clean Session 0) and the CONNACK said none was there (Session Present 0).
 */
export function sessionNotThere(
  version: string,
  at: number,
  last: LastConnection | undefined,
): { fields: Record<string, unknown>; msg: string } {
  const flag = version === '5.0' ? 'Clean Start 0' : 'Clean Session 0';
  const fields: Record<string, unknown> = { sessionNotThere: true };
  let why = 'expired, or on another broker';
  if (last !== undefined) {
    const elapsed = Math.max(0, Math.round(at - last.closedAt));
    const previous: Record<string, unknown> = { conn: last.conn, closedMsAgo: elapsed, clean: last.clean };
    const expiry = last.sessionExpiryInterval;
    if (expiry !== undefined) previous.sessionExpiryInterval = expiry;
    fields.previousConnection = previous;
    const closed = `${last.conn} closed ${duration(elapsed)} ago`;
    if (expiry === 0) why = `${closed} with Session Expiry Interval 0: its session ended with it`;
    else if (expiry !== undefined && expiry * 1000 < elapsed)
      why = `${closed}, past its Session Expiry Interval of ${expiry} s`;
    else if (expiry !== undefined)
      why = `${closed}, within its Session Expiry Interval of ${expiry} s: the broker lost it, or another broker answered`;
    else if (last.clean) why = `${closed} with Clean Session 1: its session ended with it`;
    else why = `${closed}; expired on the broker, or on another broker`;
  }
  return { fields, msg: `; ${flag} but no session to resume (${why})` };
}
