/**
 * The object form of a packet's record and its summary string: what `mqtt-tap decode` prints, the
 * pretty view and in-memory sinks show, and tests compare. Written from fields.ts and summary.ts.
 */
import type { Packet, Payload, Violation } from '../protocol/types.js';
import type { Correlation } from '../session/connection-session.js';
import type { RecordOptions } from './defaults.js';
import { type Choice, type FieldWriter, type Key, packetFields, packetPreview } from './fields.js';
import type { PacketHead } from './log-record.js';
import { type PayloadPreview, type PreviewShape, previewObject, previewText } from './payload-preview.js';
import type { ReasonInfo } from './reason.js';
import { excerpt, packetSummary, type SummaryWriter } from './summary.js';

/** A reason paired with the filter it answers (SUBACK/UNSUBACK). */
export type ReasonWithFilter = ReasonInfo | (ReasonInfo & { filter: string });

/** The object form of a packet's record. */
export interface PacketRecord {
  type: Packet['type'];
  protocol: Packet['protocol'];
  flags: number;
  length: number;
  offset: number;
  packetId?: number;
  topic?: string;
  topicAlias?: number;
  qos?: number;
  retain?: boolean;
  dup?: boolean;
  reason?: ReasonInfo;
  reasons?: ReasonWithFilter[];
  properties?: Record<string, unknown>;
  subscriptions?: unknown[];
  filters?: string[];
  payload?: PayloadPreview;
  request?: { topic: string; ms: number };
  ms?: number;
  truncated?: true;
  violations?: Violation[];
  [key: string]: unknown;
}

type Container = Record<string, unknown> | unknown[];

/** Builds objects: nested ones for `open`, shared reason infos, the preview's text. */
class ObjectWriter implements FieldWriter {
  private readonly outer: Container[] = [];

  constructor(private top: Container) {}

  private put(key: Key | undefined, value: unknown): void {
    if (key === undefined) (this.top as unknown[]).push(value);
    else (this.top as Record<string, unknown>)[key.name] = value;
  }

  string(key: Key, value: string): void {
    this.put(key, value);
  }
  choice(field: Choice): void {
    this.put(field.key, field.value);
  }
  number(key: Key, value: number): void {
    this.put(key, value);
  }
  boolean(key: Key, value: boolean): void {
    this.put(key, value);
  }
  reason(key: Key | undefined, info: ReasonInfo, filter?: string): void {
    this.put(key, filter === undefined ? info : { filter, ...info });
  }
  payload(key: Key, payload: Payload, shape: PreviewShape): void {
    this.put(key, previewObject(payload, shape));
  }
  json(key: Key, value: unknown): void {
    this.put(key, value);
  }
  open(key: Key, array?: boolean): void {
    const inner: Container = array ? [] : {};
    this.put(key, inner);
    this.outer.push(this.top);
    this.top = inner;
  }
  end(): void {
    this.top = this.outer.pop()!;
  }
}

class StringSummary implements SummaryWriter {
  s = '';
  text(text: string): void {
    this.s += text;
  }
  decimal(n: number): void {
    this.s += n;
  }
  quoted(text: string): void {
    this.s += JSON.stringify(text);
  }
  code(info: ReasonInfo): void {
    this.s += `${info.hex} ${info.name}`;
  }
  excerpt(payload: Payload, shape: PreviewShape, quoted: boolean): void {
    const text = excerpt(previewText(payload.data, shape));
    if (quoted) this.quoted(text);
    else this.text(text);
  }
}

/**
 * The record of `packet`, with what the session correlated (`corr`) when known. Its fields go
 * into `head` when given (a head of the caller's own, which it changes).
 */
export function packetRecord<H extends object = object>(
  packet: Packet,
  opts: RecordOptions,
  corr?: Correlation,
  head?: H,
): H & PacketRecord {
  return withFields(head ?? ({} as H), packet, corr, opts, packetPreview(packet, opts));
}

/** The summary of `packet` (the `msg` of its line). */
export function packetSummaryText(
  packet: Packet,
  corr: Correlation | undefined,
  opts: RecordOptions,
): string {
  const t = new StringSummary();
  packetSummary(t, packet, corr, packetPreview(packet, opts));
  return t.s;
}

/** A packet's record as an in-memory sink keeps it (on a copy of the head), with its summary. */
export function packetEntry(
  head: Readonly<PacketHead>,
  packet: Packet,
  corr: Correlation | undefined,
  opts: RecordOptions,
): { record: PacketHead & PacketRecord; msg: string } {
  const preview = packetPreview(packet, opts);
  const record = withFields({ ...head }, packet, corr, opts, preview);
  const t = new StringSummary();
  packetSummary(t, packet, corr, preview);
  return { record, msg: t.s };
}

function withFields<H extends object>(
  into: H,
  packet: Packet,
  corr: Correlation | undefined,
  opts: RecordOptions,
  preview: PreviewShape | undefined,
): H & PacketRecord {
  packetFields(new ObjectWriter(into as Record<string, unknown>), packet, corr, opts, preview);
  return into as H & PacketRecord;
}
