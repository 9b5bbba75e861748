import type { PacketRecord } from './packet-record.js';
import type { ReasonInfo } from './reason.js';

/**
 * The one-line human summary (pino's `msg`), e.g. `CONNACK 0x04 Connection Refused, bad user name
 * or password` or `SUBACK a/# → 0x87 Not authorized`.
 */
export function summarize(rec: PacketRecord): string {
  let s: string = rec.type;
  switch (rec.type) {
    case 'CONNECT': {
      s += ` ${JSON.stringify(rec.clientId)} MQTT ${rec.protocol}`;
      if (rec.username !== undefined) s += ` user=${JSON.stringify(rec.username)}`;
      if (rec.password !== undefined) s += ' password=…';
      s += ` keepAlive=${rec.keepAlive}${rec.clean ? ' clean' : ''}`;
      if (rec.will !== undefined) s += ` will=${(rec.will as { topic: string }).topic}`;
      break;
    }
    case 'PUBLISH': {
      s += ` ${rec.topic}`;
      if (rec.topicAlias !== undefined) s += ` (alias ${rec.topicAlias})`;
      s += ` qos=${rec.qos}`;
      if (rec.packetId !== undefined) s += ` id=${rec.packetId}`;
      if (rec.retain) s += ' retain';
      if (rec.dup) s += ' dup';
      const p = rec.payload;
      if (p !== undefined) {
        s += ` ${p.length} B`;
        if (p.preview !== undefined) {
          const text = p.preview.length > 60 ? `${p.preview.slice(0, 60)}…` : p.preview;
          s += p.encoding === 'utf8' ? ` ${JSON.stringify(text)}` : ` ${p.encoding}:${text}`;
        }
      }
      break;
    }
    case 'SUBSCRIBE':
      s += ` id=${rec.packetId} ${(rec.subscriptions as { filter: string; qos: number }[]).map((x) => `${x.filter} qos${x.qos}`).join(', ')}`;
      break;
    case 'UNSUBSCRIBE':
      s += ` id=${rec.packetId} ${rec.filters?.join(', ')}`;
      break;
    case 'SUBACK':
    case 'UNSUBACK':
      if (rec.reasons !== undefined) {
        s += ` ${rec.reasons.map((r) => `${'filter' in r ? `${r.filter} → ` : ''}${reasonText(r)}`).join(', ')}`;
      } else {
        s += ` id=${rec.packetId}${rec.filters !== undefined ? ` ${rec.filters.join(', ')}` : ''}`;
      }
      break;
    case 'PUBACK':
    case 'PUBREC':
    case 'PUBREL':
    case 'PUBCOMP':
      s += ` id=${rec.packetId}`;
      if (rec.reason !== undefined) s += ` ${reasonText(rec.reason)}`;
      if (rec.request !== undefined) s += ` (${rec.request.topic}, ${rec.request.ms} ms)`;
      break;
    default:
      if (rec.reason !== undefined) s += ` ${reasonText(rec.reason)}`;
  }
  if (rec.ms !== undefined && rec.type !== 'SUBSCRIBE') s += ` (${rec.ms} ms)`;
  if (rec.violations !== undefined) {
    s += ` [${rec.violations.length} violation${rec.violations.length === 1 ? '' : 's'}: ${rec.violations.map((v) => v.code).join(', ')}]`;
  }
  return s;
}

function reasonText(r: ReasonInfo): string {
  return `${r.hex} ${r.name}`;
}
