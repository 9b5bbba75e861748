/**
 * The one-line human summary of a packet (the line's `msg`), e.g. `CONNACK 0x04 Connection
 * Refused, bad user name or password` or `SUBACK a/# → 0x87 Not authorized`: one definition for
 * the summary string and the NDJSON bytes.
 */
import type {
  AckPacket,
  ConnectPacket,
  Packet,
  Payload,
  PublishPacket,
  SubackPacket,
  SubscribePacket,
  UnsubackPacket,
  Violation,
} from '../protocol/types.js';
import type { Correlation } from '../session/connection-session.js';
import { SUMMARY_LIST_MAX, SUMMARY_PREVIEW_CHARS } from './defaults.js';
import { publishTopic } from './fields.js';
import type { PreviewShape } from './payload-preview.js';
import { type ReasonInfo, reasonInfo } from './reason.js';

export interface SummaryWriter {
  /** Text as it reads. */
  text(text: string): void;
  decimal(n: number): void;
  /** A string as JSON.stringify shows it, quotes included. */
  quoted(text: string): void;
  /** `0x87 Not authorized` */
  code(info: ReasonInfo): void;
  /** excerpt() of the payload's preview, quoted as by `quoted` when `quoted`. */
  excerpt(payload: Payload, shape: PreviewShape, quoted: boolean): void;
}

/** The start of a preview the summary repeats: its first characters, and `…` when there are more. */
export function excerpt(preview: string): string {
  return preview.length > SUMMARY_PREVIEW_CHARS ? `${preview.slice(0, SUMMARY_PREVIEW_CHARS)}…` : preview;
}

/** `preview` is packetPreview's shape, as given to packetFields. */
export function packetSummary(
  t: SummaryWriter,
  packet: Packet,
  corr: Correlation | undefined,
  preview: PreviewShape | undefined,
): void {
  t.text(packet.type);
  switch (packet.type) {
    case 'PUBLISH':
      publishSummary(t, packet, corr, preview);
      break;
    case 'PUBACK':
    case 'PUBREC':
    case 'PUBREL':
    case 'PUBCOMP':
      ackSummary(t, packet, corr);
      break;
    case 'CONNECT':
      connectSummary(t, packet);
      break;
    case 'SUBSCRIBE':
      subscribeSummary(t, packet);
      break;
    case 'UNSUBSCRIBE':
      t.text(' id=');
      t.decimal(packet.packetId);
      t.text(' ');
      list(t, packet.filters);
      break;
    case 'SUBACK':
    case 'UNSUBACK':
      subackSummary(t, packet, corr);
      break;
    case 'CONNACK':
      t.text(' ');
      t.code(reasonInfo(packet.protocol, packet.type, packet.code));
      break;
    case 'DISCONNECT':
    case 'AUTH':
      if (packet.protocol === '5.0') {
        t.text(' ');
        t.code(reasonInfo('5.0', packet.type, packet.code));
      }
      break;
    case 'PINGREQ':
    case 'PINGRESP':
      break;
  }
  if (corr?.ms !== undefined && packet.type !== 'SUBSCRIBE') {
    t.text(' (');
    t.decimal(corr.ms);
    t.text(' ms)');
  }
  if (packet.violations.length > 0) violationsSummary(t, packet.violations);
}

function connectSummary(t: SummaryWriter, packet: ConnectPacket): void {
  t.text(' ');
  t.quoted(packet.clientId);
  t.text(' MQTT ');
  t.text(packet.protocol);
  if (packet.username !== undefined) {
    t.text(' user=');
    t.quoted(packet.username);
  }
  if (packet.password !== undefined) t.text(' password=…');
  t.text(' keepAlive=');
  t.decimal(packet.keepAlive);
  if (packet.clean) t.text(' clean');
  if (packet.will !== undefined) {
    t.text(' will=');
    t.text(packet.will.topic);
  }
}

/** `PUBLISH topic[ (alias N)] qos=Q[ id=N][ retain][ dup] N B[ "preview…"]` */
function publishSummary(
  t: SummaryWriter,
  packet: PublishPacket,
  corr: Correlation | undefined,
  preview: PreviewShape | undefined,
): void {
  t.text(' ');
  t.text(publishTopic(packet, corr));
  const alias = packet.properties?.topicAlias;
  if (typeof alias === 'number') {
    t.text(' (alias ');
    t.decimal(alias);
    t.text(')');
  }
  t.text(' qos=');
  t.decimal(packet.qos);
  if (packet.packetId !== undefined) {
    t.text(' id=');
    t.decimal(packet.packetId);
  }
  if (packet.retain) t.text(' retain');
  if (packet.dup) t.text(' dup');
  t.text(' ');
  t.decimal(packet.payload.length);
  t.text(' B');
  const encoding = preview?.encoding;
  if (encoding === 'utf8') {
    t.text(' ');
    t.excerpt(packet.payload, preview!, true);
  } else if (encoding !== undefined) {
    t.text(' ');
    t.text(encoding);
    t.text(':');
    t.excerpt(packet.payload, preview!, false);
  }
}

/** `TYPE id=N[ 0xXX Name][ (topic, N ms)]` */
function ackSummary(t: SummaryWriter, packet: AckPacket, corr: Correlation | undefined): void {
  t.text(' id=');
  t.decimal(packet.packetId);
  if (packet.protocol === '5.0') {
    t.text(' ');
    t.code(reasonInfo('5.0', packet.type, packet.code));
  }
  if (corr?.request !== undefined) {
    t.text(' (');
    t.text(corr.request.topic);
    t.text(', ');
    t.decimal(corr.request.ms);
    t.text(' ms)');
  }
}

function subscribeSummary(t: SummaryWriter, packet: SubscribePacket): void {
  t.text(' id=');
  t.decimal(packet.packetId);
  t.text(' ');
  listed(t, packet.subscriptions.length, (i) => {
    const s = packet.subscriptions[i]!;
    t.text(s.filter);
    t.text(' qos');
    t.decimal(s.qos);
  });
}

/** Each code with the filter it answers (`a/# → 0x87 Not authorized`); a 3.x UNSUBACK has none. */
function subackSummary(
  t: SummaryWriter,
  packet: SubackPacket | UnsubackPacket,
  corr: Correlation | undefined,
): void {
  const v = packet.protocol;
  if (packet.type === 'SUBACK' || v === '5.0') {
    t.text(' ');
    listed(t, packet.codes.length, (i) => {
      const filter = corr?.filters?.[i];
      if (filter !== undefined) {
        t.text(filter);
        t.text(' → ');
      }
      t.code(reasonInfo(v, packet.type, packet.codes[i]!));
    });
  } else {
    t.text(' id=');
    t.decimal(packet.packetId);
    if (corr?.filters !== undefined) {
      t.text(' ');
      list(t, corr.filters);
    }
  }
}

/** ` [N violations: CODE, CODE]` */
function violationsSummary(t: SummaryWriter, violations: readonly Violation[]): void {
  t.text(' [');
  t.decimal(violations.length);
  t.text(violations.length === 1 ? ' violation: ' : ' violations: ');
  listed(t, violations.length, (i) => t.text(violations[i]!.code));
  t.text(']');
}

function list(t: SummaryWriter, items: readonly string[]): void {
  listed(t, items.length, (i) => t.text(items[i]!));
}

/** Entries 0..count-1 written by `entry`, comma-separated, cut at SUMMARY_LIST_MAX with `, … N more`. */
function listed(t: SummaryWriter, count: number, entry: (i: number) => void): void {
  const shown = Math.min(count, SUMMARY_LIST_MAX);
  for (let i = 0; i < shown; i++) {
    if (i > 0) t.text(', ');
    entry(i);
  }
  if (count <= shown) return;
  t.text(', … ');
  t.decimal(count - shown);
  t.text(' more');
}
