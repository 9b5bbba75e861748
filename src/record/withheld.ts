import type { ConnectPacket, Packet, Violation } from '../protocol/types.js';
import type { Correlation } from '../session/connection-session.js';
import type { RecordOptions } from './defaults.js';
import type { LogRecord, PacketHead } from './log-record.js';
import { packetEntry } from './object-form.js';

/**
 * What a record says in place of client bytes that may be credentials: the rest of a password
 * whose length or packet lied, read as more packets (see protocol/secret-mask.ts).
 */
export const WITHHELD = 'withheld: may contain credentials';

/** The record of a client packet that may be made of credential bytes: its shape, not its content. */
export interface WithheldRecord {
  type: Packet['type'];
  protocol: Packet['protocol'];
  flags: number;
  length: number;
  offset: number;
  content: typeof WITHHELD;
  truncated?: true;
  violations?: Violation[];
}

/** The withheld record of `packet` (on a copy of the head), with its summary. */
export function withheldEntry(
  head: Readonly<PacketHead>,
  packet: Packet,
): { record: PacketHead & WithheldRecord; msg: string } {
  const record = withheldRecord(packet, { ...head });
  return { record, msg: withheldSummary(record) };
}

/**
 * The record of a CONNECT or AUTH whose properties may be made of its Authentication Data
 * (mayShiftSecret): the packet's record with its properties withheld, and the details of its
 * violations (they may quote a property).
 */
export function shiftedEntry(
  head: Readonly<PacketHead>,
  packet: Packet,
  corr: Correlation | undefined,
  opts: RecordOptions,
): { record: LogRecord; msg: string } {
  const withheld =
    packet.violations.length === 0
      ? packet
      : { ...packet, violations: packet.violations.map((v) => ({ ...v, detail: WITHHELD })) };
  const { record, msg } = packetEntry(head, withheld, corr, opts);
  (record as LogRecord).properties = WITHHELD;
  return { record, msg };
}

/** Adds the withheld record of `packet` to `head`. */
function withheldRecord<H extends object>(packet: Packet, head: H): H & WithheldRecord {
  const rec = head as H & WithheldRecord;
  rec.type = packet.type;
  rec.protocol = packet.protocol;
  rec.flags = packet.flags;
  rec.length = packet.length;
  rec.offset = packet.offset;
  rec.content = WITHHELD;
  if (packet.truncated) rec.truncated = true;
  if (packet.violations.length > 0) {
    // Details quote what was read (a topic filter, a protocol name): keep the codes only.
    rec.violations = packet.violations.map((v) => ({ ...v, detail: WITHHELD }));
  }
  return rec;
}

/** `PUBREL withheld: may contain credentials [1 violation: MQTT_RESERVED_FLAGS]`. */
function withheldSummary(rec: WithheldRecord): string {
  const v = rec.violations;
  const violations =
    v === undefined
      ? ''
      : ` [${v.length} violation${v.length === 1 ? '' : 's'}: ${v.map((x) => x.code).join(', ')}]`;
  return `${rec.type} ${WITHHELD}${violations}`;
}

/**
 * Whether a CONNECT's or AUTH's properties may be made of its Authentication Data: those read after
 * it when the packet did not decode cleanly (its length may have been short), or a property the
 * packet does not allow (an Authentication Data whose identifier was damaged reads as another).
 */
export function mayShiftSecret(packet: Packet): boolean {
  if (packet.type !== 'CONNECT' && packet.type !== 'AUTH') return false;
  const v = packet.violations;
  if (v.length === 0) return false;
  return (
    packet.properties?.authenticationData !== undefined ||
    v.some((x) => x.code === 'MQTT_PROPERTY_NOT_ALLOWED')
  );
}

/** Codes by which a CONNECT shows that its own lengths do not add up. */
const SHIFTED_FIELDS = new Set([
  'MQTT_TRUNCATED',
  'MQTT_TRAILING_BYTES',
  'MQTT_PROTOCOL_NAME',
  'MQTT_INVALID_UTF8',
  'MQTT_NULL_CHARACTER',
]);

/**
 * Whether a CONNECT's fields may be made of its password: one length that lies shifts every field
 * after it, so the client id, user name or will may hold password bytes.
 */
export function connectMayHoldSecret(packet: Packet): packet is ConnectPacket {
  return packet.type === 'CONNECT' && packet.violations.some((v) => SHIFTED_FIELDS.has(v.code));
}

/**
 * What the session may learn from such a CONNECT: its version, flags (a Will's QoS and retain) and
 * Keep Alive, none of its strings nor properties (a broker's records would quote them: an Authentication Method in a
 * violation's detail, a limit read from password bytes).
 */
export function withoutCredentials(packet: ConnectPacket): ConnectPacket {
  const { username: _username, password: _password, will, properties: _properties, ...rest } = packet;
  const out: ConnectPacket = { ...rest, clientId: WITHHELD };
  // That there is a Will, its QoS and retain are the Connect Flags'; its topic and payload are not kept.
  if (will !== undefined)
    out.will = {
      qos: will.qos,
      retain: will.retain,
      topic: WITHHELD,
      payload: { length: 0, data: Buffer.alloc(0) },
    };
  return out;
}
