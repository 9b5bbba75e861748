/**
 * Expected log records, written out field by field. Only what a run cannot know in advance is left
 * open: times (`ms`, `durationMs`), the client's ephemeral port and the per-process password HMAC.
 */
import { expect } from 'vitest';
import type { LogRecord } from '../../../src/sinks/sink.js';

/** Any elapsed time in milliseconds (a non-negative number). */
export const anyMs = (): unknown => expect.toSatisfy((v: unknown) => typeof v === 'number' && v >= 0);

/** The redacted form of a password of `length` bytes: the length and a 16-hex-digit keyed hash. */
export function redacted(length: number): unknown {
  return { length, redacted: true, hmac: expect.stringMatching(/^[0-9a-f]{16}$/) };
}

/** Where the proxy listens and what it forwards to: a TapProxy, or a CLI's listening record. */
export interface ProxyAddress {
  port: number;
  upstream: string;
}

export function openRecord(tp: ProxyAddress, conn: string): LogRecord {
  return {
    event: 'open',
    conn,
    client: expect.stringMatching(/^127\.0\.0\.1:\d+$/),
    listener: `127.0.0.1:${tp.port}`,
    upstream: tp.upstream,
    transport: 'tcp',
  };
}

export interface ReasonFields {
  code: number;
  hex: string;
  name: string;
  description: string;
  error: boolean;
}

export interface CloseFields {
  clientId?: string;
  closedBy: 'client' | 'broker' | 'proxy';
  error?: unknown;
  bytes: { fromClient: number; fromBroker: number };
  packets: { fromClient: number; fromBroker: number };
  types: Record<string, number>;
  lastReason?: Record<string, unknown>;
  malformed?: number;
  clean: boolean;
  /** The verdict; any well-formed one when not given (test/e2e/verdicts.test.ts pins them). */
  verdict?: unknown;
}

/** The close record of `conn`; `client` is taken from its open record. */
export function closeRecord(open: LogRecord, fields: CloseFields): LogRecord {
  const record: LogRecord = { event: 'close', conn: open.conn, client: open.client };
  if (fields.clientId !== undefined) record.clientId = fields.clientId;
  record.closedBy = fields.closedBy;
  if (fields.error !== undefined) record.error = fields.error;
  record.durationMs = anyMs();
  record.bytes = fields.bytes;
  record.packets = fields.packets;
  record.types = fields.types;
  if (fields.lastReason !== undefined) record.lastReason = fields.lastReason;
  if (fields.malformed !== undefined) record.malformed = fields.malformed;
  record.clean = fields.clean;
  record.verdict =
    fields.verdict ??
    expect.objectContaining({
      cause: expect.any(String),
      detail: expect.any(String),
      evidence: expect.any(Array),
    });
  return record;
}

/** `msg` with timings replaced by `N`, so summaries can be compared exactly. */
export function untimed(msg: string): string {
  return msg.replace(/\d+(?:\.\d+)? ms\b/g, 'N ms');
}

/** Bytes of an MQTT Remaining Length varint for `n`. */
export function varintLength(n: number): number {
  return n < 128 ? 1 : n < 16_384 ? 2 : n < 2_097_152 ? 3 : 4;
}

/** Wire length of a packet with a body of `body` bytes (fixed header included). */
export function wireLength(body: number): number {
  return 1 + varintLength(body) + body;
}

const utf8 = (s: string): number => 2 + Buffer.byteLength(s);

/**
 * Wire length of a CONNECT (MQTT 3.1.1 §3.1, 5.0 §3.1): protocol name, level, flags, keep alive,
 * properties (5.0: `propertyBytes` plus their length varint), client id, will (5.0: with an empty
 * will property length), user name, password.
 */
export function connectLength(c: {
  protocol: '3.1' | '3.1.1' | '5.0';
  clientId: string;
  will?: { topic: string; payload: string };
  username?: string;
  password?: string;
  propertyBytes?: number;
}): number {
  const v5 = c.protocol === '5.0';
  let body = utf8(c.protocol === '3.1' ? 'MQIsdp' : 'MQTT') + 1 + 1 + 2;
  if (v5) body += varintLength(c.propertyBytes ?? 0) + (c.propertyBytes ?? 0);
  body += utf8(c.clientId);
  if (c.will !== undefined) body += (v5 ? 1 : 0) + utf8(c.will.topic) + utf8(c.will.payload);
  if (c.username !== undefined) body += utf8(c.username);
  if (c.password !== undefined) body += utf8(c.password);
  return wireLength(body);
}
