/**
 * The verdict on a close: why the connection ended, in one cause, with the packets and records it
 * rests on. Pure: it reads what the session saw (SessionFacts) and what the tap knows of the close.
 */
import { reasonCode } from '../protocol/catalogue/lookup.js';
import type { ProtocolVersion } from '../protocol/constants.js';
import { type Direction, opposite } from '../protocol/direction.js';
import type { PacketMark, SessionFacts } from './connection-session.js';

/** Every cause. Metrics count them by these names: keep them stable. */
export const VERDICT_CAUSES = [
  'UPSTREAM_UNREACHABLE',
  'TLS_HANDSHAKE_FAILED',
  'PROXY_SHUTDOWN',
  'CONNECTION_REFUSED',
  'SESSION_TAKEN_OVER',
  'KEEP_ALIVE_TIMEOUT',
  'SERVER_DISCONNECT',
  'CLIENT_DISCONNECT',
  'PROTOCOL_ERROR',
  'IDLE_TIMEOUT_SUSPECTED',
  'CLIENT_GONE',
  'BROKER_GONE',
  'UNKNOWN',
] as const;

export type VerdictCause = (typeof VERDICT_CAUSES)[number];

/** A packet or record a verdict rests on: `type` is a packet type or a record's event. */
export interface Evidence {
  conn: string;
  from?: Direction;
  type: string;
  /** The packet's (or malformed input's) offset in its direction's stream. */
  offset?: number;
  /** When it came, in ms since the epoch. */
  time: number;
}

export interface Verdict {
  cause: VerdictCause;
  /** What happened, in words: the sentence after "closed by the broker: ". */
  detail: string;
  /** The spec's normative statement the close rests on, where there is one. */
  rule?: string;
  evidence: Evidence[];
}

/** The connection that took this one's client id, as the client-id registry tells the tap. */
export interface TakenOverBy {
  conn: string;
  address: string;
  port: number;
  username?: string;
  /** How long this connection had been open when the other's CONNECT came, in ms. */
  afterMs: number;
}

/** Input a side sent that did not decode (a `malformed` or `not-mqtt` record). */
export interface MalformedMark {
  event: 'malformed' | 'not-mqtt';
  offset: number;
  at: number;
  detail: string;
}

/** What the tap knows of the close besides the session. */
export interface CloseFacts {
  conn: string;
  closedBy: Direction | 'proxy';
  /** When both sockets had closed, in ms since the epoch. */
  closedAt: number;
  /** When the connection opened, in ms since the epoch. */
  openedAt: number;
  error?: { side: Direction; code?: string; message: string };
  /** The broker could not be reached (the `upstream-error` record). */
  upstreamError?: { upstream: string; code?: string; message: string; at: number };
  takenOverBy?: TakenOverBy;
  /** The last input from each side that did not decode. */
  malformed?: Partial<Record<Direction, MalformedMark>>;
}

/** A close this soon after a side's malformed packet or violation is put down to it. */
export const PROTOCOL_ERROR_WINDOW_MS = 2000;

/**
 * Idle timeouts of load balancers, NAT gateways and proxies (s): AWS ALB 60, NLB 350, Azure 240,
 * GCP 600, HAProxy and nginx samples 30 to 300 and more.
 */
export const ROUND_IDLE_SECONDS = [30, 60, 90, 120, 180, 240, 300, 350, 600, 900, 1800, 3600] as const;

/** How far from a round idle time a close may come and still be put down to one. */
function idleTolerance(seconds: number): number {
  return Math.max(2000, seconds * 20);
}

/** OpenSSL's and Node's codes of a TLS failure, as opposed to one of TCP or DNS. */
const TLS_CODE = /SSL|TLS|CERT|ALERT|SELF_SIGNED|UNABLE_TO_(?:VERIFY|GET)|HANDSHAKE/;

/** The verdict on a close. */
export function judge(s: Readonly<SessionFacts>, c: CloseFacts): Verdict {
  const close: Evidence = { conn: c.conn, type: 'close', time: c.closedAt };
  const mark = (from: Direction, m: PacketMark): Evidence => ({
    conn: c.conn,
    from,
    type: m.type,
    offset: m.offset,
    time: m.at,
  });
  const v = s.version;

  const up = c.upstreamError;
  if (up !== undefined) {
    const evidence: Evidence[] = [{ conn: c.conn, type: 'upstream-error', time: up.at }];
    const why = up.code ?? up.message;
    if (up.code !== undefined && TLS_CODE.test(up.code)) {
      return {
        cause: 'TLS_HANDSHAKE_FAILED',
        detail: `the TLS handshake with ${up.upstream} failed: ${why}`,
        evidence,
      };
    }
    return { cause: 'UPSTREAM_UNREACHABLE', detail: `cannot reach ${up.upstream}: ${why}`, evidence };
  }

  if (c.closedBy === 'proxy') {
    return {
      cause: 'PROXY_SHUTDOWN',
      detail: 'mqtt-tap shut down with the connection open',
      evidence: [close],
    };
  }

  const connack = s.connack;
  // A TLS alert before any CONNACK: a handshake the peer refused after it seemed done (TLS 1.3).
  const tlsError = c.error?.code;
  if (connack === undefined && tlsError !== undefined && TLS_CODE.test(tlsError)) {
    return {
      cause: 'TLS_HANDSHAKE_FAILED',
      detail: `the TLS session with the ${c.error!.side} failed: ${tlsError}`,
      evidence: [close],
    };
  }
  if (connack !== undefined && !connack.accepted) {
    const evidence = [mark('broker', connack), close];
    if (s.connect !== undefined) evidence.unshift(mark('client', s.connect));
    return {
      cause: 'CONNECTION_REFUSED',
      detail: `CONNACK ${codeText(v, 'CONNACK', connack.code)}`,
      evidence,
    };
  }

  const d = s.disconnect;
  if (d?.from === 'broker' && d.code === 0x8e) return takenOver(s, c, [mark('broker', d), close]);
  if (c.takenOverBy !== undefined && c.closedBy === 'broker' && d === undefined)
    return takenOver(s, c, [close]);

  if (d?.from === 'broker' && d.code === 0x8d) {
    const silent = clientSilence(s, c.closedAt, d.at);
    return {
      cause: 'KEEP_ALIVE_TIMEOUT',
      detail: `DISCONNECT ${codeText(v, 'DISCONNECT', d.code)}${silent === undefined ? '' : `: ${silent.text}`}`,
      ...ruleOf(v, 'broker-close'),
      evidence: lastClient(s, mark, [mark('broker', d), close]),
    };
  }
  if (d !== undefined) {
    const evidence = [mark(d.from, d), close];
    const detail = `DISCONNECT${v === '5.0' ? ` ${codeText(v, 'DISCONNECT', d.code)}` : ''}`;
    if (d.from === 'broker') {
      // A DISCONNECT right after a client's violation is most likely about it.
      const broke = s.broke.client;
      if (broke !== undefined && d.at - broke.at <= PROTOCOL_ERROR_WINDOW_MS && broke.at <= d.at) {
        const verdict: Verdict = {
          cause: 'SERVER_DISCONNECT',
          detail: `${detail}, after the client's ${broke.type} (${broke.violation.code}: ${broke.violation.detail})`,
          evidence: [mark('client', broke), ...evidence],
        };
        if (broke.violation.rule !== undefined) verdict.rule = broke.violation.rule;
        return verdict;
      }
      return { cause: 'SERVER_DISCONNECT', detail, evidence };
    }
    return { cause: 'CLIENT_DISCONNECT', detail, evidence };
  }

  const closer: Direction = c.closedBy;
  const closed = opposite(closer);
  const reset =
    c.error !== undefined && c.error.side === closer
      ? `a reset (${c.error.code ?? c.error.message})`
      : undefined;

  // The side that was closed broke the protocol just before.
  const bad = c.malformed?.[closed];
  if (bad !== undefined && c.closedAt - bad.at <= PROTOCOL_ERROR_WINDOW_MS) {
    return {
      cause: 'PROTOCOL_ERROR',
      detail: `${bad.event === 'not-mqtt' ? 'not MQTT' : 'a malformed packet'} from the ${closed} (${bad.detail}), ${ago(c.closedAt - bad.at)} before`,
      evidence: [{ conn: c.conn, from: closed, type: bad.event, offset: bad.offset, time: bad.at }, close],
    };
  }
  const broke = s.broke[closed];
  if (broke !== undefined && c.closedAt - broke.at <= PROTOCOL_ERROR_WINDOW_MS) {
    const verdict: Verdict = {
      cause: 'PROTOCOL_ERROR',
      detail: `the ${closed}'s ${broke.type} broke a rule (${broke.violation.code}: ${broke.violation.detail}), ${ago(c.closedAt - broke.at)} before`,
      evidence: [mark(closed, broke), close],
    };
    if (broke.violation.rule !== undefined) verdict.rule = broke.violation.rule;
    return verdict;
  }

  const keepAlive = s.keepAlive;
  if (keepAlive !== undefined && keepAlive > 0) {
    if (closer === 'broker') {
      const silent = clientSilence(s, c.closedAt);
      if (silent !== undefined && silent.ms >= keepAlive * 1000) {
        return {
          cause: 'KEEP_ALIVE_TIMEOUT',
          detail: silent.text,
          ...(silent.ms >= keepAlive * 1500 ? ruleOf(v, 'broker-close') : {}),
          evidence: lastClient(s, mark, [close]),
        };
      }
    } else if (s.pingPending !== undefined && c.closedAt - s.pingPending.at >= keepAlive * 250) {
      // A quarter of the keep-alive: mqtt.js gives up half a keep-alive after its PINGREQ, and a
      // threshold at exactly that wait would split its closes between two causes by timer jitter.
      const p = s.pingPending;
      return {
        cause: 'KEEP_ALIVE_TIMEOUT',
        detail: `keep-alive ${keepAlive} s, no PINGRESP from the broker for ${seconds(c.closedAt - p.at)} after the client's PINGREQ`,
        evidence: [mark('client', p), close],
      };
    }
  }

  if (s.connect !== undefined && (keepAlive ?? s.connect.keepAlive) !== undefined) {
    const ka = keepAlive ?? s.connect.keepAlive;
    const lastAt = Math.max(s.heardAt.client ?? c.openedAt, s.heardAt.broker ?? c.openedAt);
    const idle = c.closedAt - lastAt;
    const round = ROUND_IDLE_SECONDS.find((t) => Math.abs(idle - t * 1000) <= idleTolerance(t));
    if (round !== undefined && (ka === 0 || ka * 1000 > idle - idleTolerance(round))) {
      const evidence = [close];
      const lastFrom: Direction = (s.last.broker?.at ?? 0) > (s.last.client?.at ?? 0) ? 'broker' : 'client';
      const last = s.last[lastFrom];
      if (last !== undefined) evidence.unshift(mark(lastFrom, last));
      return {
        cause: 'IDLE_TIMEOUT_SUSPECTED',
        detail: `${reset === undefined ? '' : `${reset} after `}nothing either way for ${seconds(idle)}, close to ${round} s, an idle timeout of load balancers and NAT (keep-alive ${ka === 0 ? 'off' : `${ka} s`})`,
        evidence,
      };
    }
  }

  // The closer's packets stopped being decoded: a DISCONNECT may have gone unseen.
  const blindAt = s.blindAt[closer];
  if (blindAt !== undefined) {
    return {
      cause: 'UNKNOWN',
      detail: `${reset === undefined ? '' : `${reset}, `}no DISCONNECT mqtt-tap could see: the ${closer}'s packets were not decoded for the last ${seconds(c.closedAt - blindAt)}`,
      evidence: [close],
    };
  }

  const evidence = [close];
  const gone = `${reset === undefined ? '' : `${reset}, `}no DISCONNECT`;
  const last = s.last[closer];
  if (last !== undefined) evidence.unshift(mark(closer, last));
  if (closer === 'client') {
    const will = s.connect?.will === true && s.connack?.accepted === true;
    const before = s.connect === undefined ? ' before any CONNECT' : '';
    return {
      cause: 'CLIENT_GONE',
      detail: `${gone}${before}${s.connect === undefined ? '' : will ? '; its Will is due' : '; no Will'}`,
      evidence,
    };
  }
  return { cause: 'BROKER_GONE', detail: gone, evidence };
}

/** The verdict as one sentence: `closed by the broker: keep-alive 60 s, ... (MQTT-3.1.2-22)`. */
export function verdictSentence(
  verdict: Pick<Verdict, 'cause' | 'detail' | 'rule'>,
  closedBy: string,
): string {
  const rule = verdict.rule === undefined ? '' : ` (${verdict.rule})`;
  switch (verdict.cause) {
    case 'UPSTREAM_UNREACHABLE':
    case 'TLS_HANDSHAKE_FAILED':
      return `no broker connection: ${verdict.detail}${rule}`;
    default:
      return `closed by ${closedBy === 'proxy' ? 'mqtt-tap' : `the ${closedBy}`}: ${verdict.detail}${rule}`;
  }
}

function takenOver(s: Readonly<SessionFacts>, c: CloseFacts, evidence: Evidence[]): Verdict {
  const by = c.takenOverBy;
  const rule = ruleOf(s.version, 'takeover');
  const viaDisconnect =
    s.disconnect?.from === 'broker' ? `DISCONNECT ${codeText(s.version, 'DISCONNECT', 0x8e)}: ` : '';
  const id = s.clientId === undefined ? 'the same client id' : `client id ${JSON.stringify(s.clientId)}`;
  if (by === undefined) {
    return {
      cause: 'SESSION_TAKEN_OVER',
      detail: `${viaDisconnect}another connection with ${id}, not one mqtt-tap saw`,
      ...rule,
      evidence,
    };
  }
  const address = by.address.includes(':') ? `[${by.address}]:${by.port}` : `${by.address}:${by.port}`;
  const user = by.username === undefined ? '' : ` user ${JSON.stringify(by.username)}`;
  return {
    cause: 'SESSION_TAKEN_OVER',
    detail: `${viaDisconnect}${by.conn} from ${address}${user} connected with ${id} ${ago(by.afterMs)} after this connection opened`,
    ...rule,
    evidence: [
      { conn: by.conn, from: 'client', type: 'CONNECT', time: c.openedAt + by.afterMs },
      ...evidence,
    ],
  };
}

/** The client's silence until `at` (the close, or the broker's DISCONNECT), against the keep-alive. */
function clientSilence(
  s: Readonly<SessionFacts>,
  closedAt: number,
  at = closedAt,
): { ms: number; text: string } | undefined {
  const keepAlive = s.keepAlive;
  const heard = s.heardAt.client;
  if (keepAlive === undefined || keepAlive === 0 || heard === undefined) return undefined;
  const ms = at - heard;
  return { ms, text: `keep-alive ${keepAlive} s, nothing from the client for ${seconds(ms)}` };
}

function lastClient(
  s: Readonly<SessionFacts>,
  mark: (from: Direction, m: PacketMark) => Evidence,
  rest: Evidence[],
): Evidence[] {
  const last = s.last.client;
  return last === undefined ? rest : [mark('client', last), ...rest];
}

/** The statement behind a close: the broker's keep-alive duty, or its takeover duty. */
function ruleOf(v: ProtocolVersion, what: 'broker-close' | 'takeover'): { rule?: string } {
  const v5 = v === '5.0';
  if (what === 'broker-close') return { rule: v5 ? 'MQTT-3.1.2-22' : 'MQTT-3.1.2-24' };
  return { rule: v5 ? 'MQTT-3.1.4-3' : 'MQTT-3.1.4-2' };
}

/** Seconds, to a tenth below 10 s: `91 s`, `3.4 s`. */
function seconds(ms: number): string {
  const s = ms / 1000;
  return s < 10 ? `${Number(s.toFixed(1))} s` : `${Math.round(s)} s`;
}

function ago(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : seconds(ms);
}

/** `0x87 Not authorized`: the spec's name for the code in that packet type. */
function codeText(v: ProtocolVersion, type: 'CONNACK' | 'DISCONNECT', code: number): string {
  const hex = `0x${code.toString(16).padStart(2, '0')}`;
  return `${hex} ${reasonCode(v, type, code)?.name ?? 'Unknown'}`;
}
