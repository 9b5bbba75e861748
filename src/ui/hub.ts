/**
 * The web view's side of the records: a RecordSink that sits beside the log (teeSink) and keeps one
 * row per connection. A packet's record is built, once, only while a page is attached (or for a
 * report, which keeps them): with no page a packet costs a few counter updates.
 */
import type { Packet } from '../protocol/types.js';
import type { RecordOptions } from '../record/defaults.js';
import { LEVEL_VALUES } from '../record/log-record.js';
import { packetEntry } from '../record/object-form.js';
import { reasonInfo } from '../record/reason.js';
import type { Correlation } from '../session/connection-session.js';
import type { Level, LogRecord, PacketHead, RecordSink } from '../sinks/sink.js';
import type { ConnectionRow } from './connection-row.js';

export type { ConnectionRow };

/** Something that takes serialized records and rows (a page's queue, a report's collector). */
export interface RecordConsumer {
  /** Whether it would keep a record now (a full page queue would not). */
  wants(): boolean;
  /** A record it did not get because nobody wanted one: counted as missed. */
  miss(): void;
  /** A record as JSON (the log's record model: `level`, `time`, `msg`, fields). */
  record(conn: string | undefined, json: string): void;
  /** A connection's row changed. */
  rowChanged(conn: string): void;
}

export interface HubOptions {
  /** Milliseconds since the epoch for records (replay passes the capture's clock). Default Date.now. */
  clock?: () => number;
  /** Closed connections kept as rows beyond which the oldest go (default 1000). */
  closedRows?: number;
}

export class UiHub implements RecordSink {
  readonly rows = new Map<string, ConnectionRow>();
  private readonly closedOrder: string[] = [];
  private readonly consumers = new Set<RecordConsumer>();
  /** Whether any consumer is attached: records are built only then. */
  private live = false;
  private readonly clock: () => number;
  private readonly closedRows: number;

  constructor(opts: HubOptions = {}) {
    this.clock = opts.clock ?? Date.now;
    this.closedRows = opts.closedRows ?? 1000;
  }

  attach(consumer: RecordConsumer): () => void {
    this.consumers.add(consumer);
    this.live = true;
    return () => {
      this.consumers.delete(consumer);
      this.live = this.consumers.size > 0;
    };
  }

  isLevelEnabled(): boolean {
    return true;
  }

  write(level: Level, record: LogRecord, msg: string): void {
    const conn = typeof record.conn === 'string' ? record.conn : undefined;
    if (conn !== undefined) this.onRecord(conn, level, record);
    if (!this.live) return;
    let json: string;
    try {
      json = this.line(level, record, msg);
    } catch {
      return;
    }
    for (const c of this.consumers) c.record(conn, json);
    if (conn !== undefined) for (const c of this.consumers) c.rowChanged(conn);
  }

  writePacket(
    level: Level,
    head: Readonly<PacketHead>,
    packet: Packet,
    corr: Correlation | undefined,
    opts: RecordOptions,
  ): void {
    const row = this.rows.get(head.conn);
    if (row !== undefined) this.count(row, head.from, packet, level);
    if (!this.live) return;
    // Pages whose queues are full would drop it: no record is built for nobody.
    if (!this.wanted()) {
      for (const c of this.consumers) {
        c.miss();
        c.rowChanged(head.conn);
      }
      return;
    }
    const { record, msg } = packetEntry(head, packet, corr, opts);
    const json = this.line(level, record, msg);
    for (const c of this.consumers) {
      c.record(head.conn, json);
      c.rowChanged(head.conn);
    }
  }

  flush(): Promise<void> {
    return Promise.resolve();
  }

  /** The record as the log's JSON line holds it (envelope first, `msg` last), without the newline. */
  private line(level: Level, record: LogRecord, msg: string): string {
    return JSON.stringify({ level: LEVEL_VALUES[level], time: this.clock(), ...record, msg });
  }

  private wanted(): boolean {
    for (const c of this.consumers) if (c.wants()) return true;
    return false;
  }

  private count(row: ConnectionRow, from: 'client' | 'broker', packet: Packet, level: Level): void {
    if (from === 'client') {
      row.packets.fromClient++;
      row.bytes.fromClient += packet.length;
      row.clientLastAt = this.clock();
    } else {
      row.packets.fromBroker++;
      row.bytes.fromBroker += packet.length;
    }
    if (level === 'warn' || level === 'error') row.errors++;
    switch (packet.type) {
      case 'CONNECT':
        row.clientId = packet.clientId;
        if (packet.username !== undefined) row.username = packet.username;
        row.protocol = packet.protocol;
        row.keepAlive = packet.keepAlive;
        break;
      case 'CONNACK':
      case 'DISCONNECT':
        if (packet.type === 'CONNACK' || packet.protocol === '5.0') {
          const r = reasonInfo(packet.protocol, packet.type, packet.code);
          row.lastReason = { type: packet.type, code: r.code, hex: r.hex, name: r.name, error: r.error };
        }
        break;
    }
  }

  /** Rows follow the open, session and close records, and packets the tap shows by shape only. */
  private onRecord(conn: string, level: Level, record: LogRecord): void {
    switch (record.event) {
      case 'open': {
        const row: ConnectionRow = {
          conn,
          state: 'open',
          startedAt: this.clock(),
          packets: { fromClient: 0, fromBroker: 0 },
          bytes: { fromClient: 0, fromBroker: 0 },
          errors: 0,
        };
        if (typeof record.transport === 'string') row.transport = record.transport;
        if (typeof record.client === 'string') row.client = record.client;
        this.rows.set(conn, row);
        return;
      }
      case 'session': {
        const row = this.rows.get(conn);
        if (row !== undefined && typeof record.keepAlive === 'number') row.keepAlive = record.keepAlive;
        return;
      }
      case 'close': {
        const row = this.rows.get(conn);
        if (row === undefined) return;
        row.state = 'closed';
        if (typeof record.durationMs === 'number') row.durationMs = record.durationMs;
        const bytes = record.bytes as { fromClient?: number; fromBroker?: number } | undefined;
        if (typeof bytes?.fromClient === 'number' && typeof bytes.fromBroker === 'number')
          row.bytes = { fromClient: bytes.fromClient, fromBroker: bytes.fromBroker };
        if (typeof record.closedBy === 'string') row.closedBy = record.closedBy;
        if (typeof record.clean === 'boolean') row.clean = record.clean;
        if (record.verdict !== undefined) row.verdict = record.verdict;
        this.closedOrder.push(conn);
        while (this.closedOrder.length > this.closedRows) this.rows.delete(this.closedOrder.shift()!);
        return;
      }
      case 'packet': {
        // A packet shown by its shape only (credentials may be in it): counted like the others.
        const row = this.rows.get(conn);
        if (row === undefined) return;
        if (record.from === 'client') {
          row.packets.fromClient++;
          row.clientLastAt = this.clock();
        } else row.packets.fromBroker++;
        if (level === 'warn' || level === 'error') row.errors++;
        return;
      }
      default:
        if (level === 'warn' || level === 'error') {
          const row = this.rows.get(conn);
          if (row !== undefined) row.errors++;
        }
    }
  }
}

/** Records to both sinks; asks for every level, so that the page sees what the log leaves out. */
export function teeSink(log: RecordSink, hub: UiHub): RecordSink {
  return {
    isLevelEnabled: () => true,
    write(level, record, msg) {
      if (log.isLevelEnabled(level)) log.write(level, record, msg);
      hub.write(level, record, msg);
    },
    writePacket(level, head, packet, corr, opts) {
      log.writePacket(level, head, packet, corr, opts);
      hub.writePacket(level, head, packet, corr, opts);
    },
    flush: () => log.flush(),
  };
}
