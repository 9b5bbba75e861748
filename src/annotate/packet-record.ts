import type { Packet, Properties, Violation } from '../protocol/types.js';
import type { Correlation } from '../session/connection-session.js';
import { type PayloadMode, type PayloadPreview, previewPayload } from './payload-preview.js';
import { type ReasonInfo, reasonInfo } from './reason.js';
import { type SecretRecord, secretRecord } from './secrets.js';

export interface AnnotateOptions {
  payload: PayloadMode;
  payloadMax: number;
  showSecrets: boolean;
}

export const DEFAULT_ANNOTATE_OPTIONS: AnnotateOptions = {
  payload: 'auto',
  payloadMax: 256,
  showSecrets: false,
};

/** A reason paired with the filter it answers (SUBACK/UNSUBACK). */
export type ReasonWithFilter = ReasonInfo | (ReasonInfo & { filter: string });

/** The JSON-ready view of a packet: what the logger prints and `mqtt-tap decode` shows. */
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

/**
 * Builds the record of `packet`, with what the session correlated (`corr`) when known. The fields
 * go into `head` when given (the tap's event/conn/from), so a logged packet costs one object.
 */
export function packetRecord<H extends object = object>(
  packet: Packet,
  opts: AnnotateOptions,
  corr?: Correlation,
  head?: H,
): H & PacketRecord {
  const rec = (head ?? {}) as PacketRecord;
  rec.type = packet.type;
  rec.protocol = packet.protocol;
  rec.flags = packet.flags;
  rec.length = packet.length;
  rec.offset = packet.offset;
  const v = packet.protocol;
  switch (packet.type) {
    case 'CONNECT': {
      rec.protocolName = packet.protocolName;
      rec.protocolLevel = packet.protocolLevel;
      rec.clientId = packet.clientId;
      rec.clean = packet.clean;
      rec.keepAlive = packet.keepAlive;
      if (packet.username !== undefined) rec.username = packet.username;
      if (packet.password !== undefined) rec.password = secretRecord(packet.password, opts.showSecrets);
      setProperties(rec, packet.properties, opts);
      if (packet.will !== undefined) {
        const w = packet.will;
        const will: Record<string, unknown> = {
          topic: w.topic,
          qos: w.qos,
          retain: w.retain,
          payload: previewPayload(
            w.payload.data,
            w.payload.length,
            opts.payload,
            opts.payloadMax,
            w.properties?.payloadFormatIndicator,
          ),
        };
        if (w.properties !== undefined) will.properties = jsonProperties(w.properties, opts);
        rec.will = will;
      }
      break;
    }
    case 'CONNACK':
      rec.sessionPresent = packet.sessionPresent;
      rec.reason = reasonInfo(v, 'CONNACK', packet.code);
      setProperties(rec, packet.properties, opts);
      break;
    case 'PUBLISH': {
      const alias = packet.properties?.topicAlias;
      rec.topic = corr?.topic ?? packet.topic;
      if (typeof alias === 'number') rec.topicAlias = alias;
      rec.qos = packet.qos;
      rec.retain = packet.retain;
      rec.dup = packet.dup;
      if (packet.packetId !== undefined) rec.packetId = packet.packetId;
      setProperties(rec, packet.properties, opts);
      rec.payload = previewPayload(
        packet.payload.data,
        packet.payload.length,
        opts.payload,
        opts.payloadMax,
        packet.properties?.payloadFormatIndicator,
      );
      break;
    }
    case 'PUBACK':
    case 'PUBREC':
    case 'PUBREL':
    case 'PUBCOMP':
      rec.packetId = packet.packetId;
      if (v === '5.0') rec.reason = reasonInfo(v, packet.type, packet.code);
      setProperties(rec, packet.properties, opts);
      break;
    case 'SUBSCRIBE':
      rec.packetId = packet.packetId;
      setProperties(rec, packet.properties, opts);
      rec.subscriptions = packet.subscriptions;
      break;
    case 'SUBACK':
    case 'UNSUBACK':
      rec.packetId = packet.packetId;
      setProperties(rec, packet.properties, opts);
      if (packet.type === 'SUBACK' || v === '5.0') {
        rec.reasons = packet.codes.map((code, i) => {
          const info = reasonInfo(v, packet.type, code);
          const filter = corr?.filters?.[i];
          return filter === undefined ? info : { filter, ...info };
        });
      } else if (corr?.filters !== undefined) {
        rec.filters = corr.filters;
      }
      break;
    case 'UNSUBSCRIBE':
      rec.packetId = packet.packetId;
      setProperties(rec, packet.properties, opts);
      rec.filters = packet.filters;
      break;
    case 'DISCONNECT':
    case 'AUTH':
      if (v === '5.0') rec.reason = reasonInfo(v, packet.type, packet.code);
      setProperties(rec, packet.properties, opts);
      break;
    case 'PINGREQ':
    case 'PINGRESP':
      break;
  }
  if (corr?.request !== undefined) rec.request = corr.request;
  if (corr?.ms !== undefined) rec.ms = corr.ms;
  if (packet.truncated) rec.truncated = true;
  if (packet.violations.length > 0) rec.violations = packet.violations;
  return rec as H & PacketRecord;
}

function setProperties(rec: PacketRecord, props: Properties | undefined, opts: AnnotateOptions): void {
  if (props !== undefined) rec.properties = jsonProperties(props, opts);
}

/** Binary values become `{base64, length}`; Authentication Data is a secret. */
function jsonProperties(props: Properties, opts: AnnotateOptions): Record<string, unknown> {
  let out: Record<string, unknown> | undefined;
  for (const key in props) {
    const value = props[key];
    if (!Buffer.isBuffer(value)) continue;
    out ??= { ...props };
    out[key] =
      key === 'authenticationData'
        ? secretRecord(value, opts.showSecrets)
        : { base64: value.toString('base64'), length: value.length };
  }
  return out ?? props;
}

export type { SecretRecord };
