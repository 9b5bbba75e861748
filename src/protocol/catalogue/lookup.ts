// Derived lookups over the catalogue, built once at module load. Every lookup is an array index:
// nothing is allocated per call.
import { PacketType, type PacketTypeName, type ProtocolVersion } from '../constants.js';
import { PROPERTIES, type PropertyDef, type PropertyPacket } from './properties.js';
import {
  type ReasonCodeEntry,
  type ReasonPacket,
  V3_CONNACK_RETURN_CODES,
  V3_SUBACK_RETURN_CODES,
  V5_REASON_CODE_OVERVIEW,
  V5_REASON_CODES,
} from './reason-codes.js';

/** code (0..255) → entry. */
type CodeTable = readonly (ReasonCodeEntry | undefined)[];
/** packet type code (0..15) → that packet's code table, undefined when it carries no reason code. */
type PacketTables = readonly (CodeTable | undefined)[];

function codeTable(entries: readonly ReasonCodeEntry[]): CodeTable {
  const table: (ReasonCodeEntry | undefined)[] = new Array(256).fill(undefined);
  for (const entry of entries) table[entry.code] = entry;
  return Object.freeze(table);
}

function packetTables(byPacket: Partial<Record<PacketTypeName, readonly ReasonCodeEntry[]>>): PacketTables {
  const tables: (CodeTable | undefined)[] = new Array(16).fill(undefined);
  for (const [packet, entries] of Object.entries(byPacket) as [
    PacketTypeName,
    readonly ReasonCodeEntry[],
  ][]) {
    tables[PacketType[packet]] = codeTable(entries);
  }
  return Object.freeze(tables);
}

const V3_TABLES = packetTables({ CONNACK: V3_CONNACK_RETURN_CODES, SUBACK: V3_SUBACK_RETURN_CODES });
/** 3.1's SUBACK only grants a QoS per filter: 0x80 Failure came with 3.1.1. */
const V31_TABLES = packetTables({
  CONNACK: V3_CONNACK_RETURN_CODES,
  SUBACK: V3_SUBACK_RETURN_CODES.filter((entry) => entry.code !== 0x80),
});
const V5_TABLES = packetTables(withOverviewOnlyCodes(V5_REASON_CODES));

/**
 * Table 2-6 lists a few codes for a packet whose own table omits them (0x8C Bad authentication
 * method for DISCONNECT). They are valid for that packet, so name them, and say where the text is.
 */
function withOverviewOnlyCodes(
  tables: Readonly<Record<ReasonPacket, readonly ReasonCodeEntry[]>>,
): Record<ReasonPacket, readonly ReasonCodeEntry[]> {
  const out = { ...tables };
  for (const row of V5_REASON_CODE_OVERVIEW) {
    for (const packet of row.packets) {
      if (out[packet].some((e) => e.code === row.code)) continue;
      out[packet] = [
        ...out[packet],
        {
          code: row.code,
          name: row.name,
          description: `Listed for ${packet} in Table 2-6 of the MQTT 5.0 specification, which gives no ${packet}-specific description`,
        },
      ];
    }
  }
  return out;
}

/** 3.1 has the 3.1.1 tables less SUBACK's 0x80. */
const TABLES: Readonly<Record<ProtocolVersion, PacketTables>> = Object.freeze({
  '3.1': V31_TABLES,
  '3.1.1': V3_TABLES,
  '5.0': V5_TABLES,
});

/** The entry of `packet`'s own table for `version` (3.x: CONNACK and SUBACK only), or undefined when the code is not defined there. */
export function reasonCode(
  version: ProtocolVersion,
  packet: PacketTypeName,
  code: number,
): ReasonCodeEntry | undefined {
  return TABLES[version][PacketType[packet]]?.[code];
}

/** Whether `packet` carries a return/reason code at all in `version` (3.x: CONNACK, SUBACK; 5.0: the nine ReasonPackets). */
export function hasReasonCodes(version: ProtocolVersion, packet: PacketTypeName): boolean {
  return TABLES[version][PacketType[packet]] !== undefined;
}

/** Indexed by property id (0..42), undefined for unassigned ids. */
export const PROPERTY_BY_ID: readonly (PropertyDef | undefined)[] = (() => {
  const byId: (PropertyDef | undefined)[] = new Array(43).fill(undefined);
  for (const def of PROPERTIES) byId[def.id] = def;
  return Object.freeze(byId);
})();

const PACKET_BIT: Readonly<Record<PropertyPacket, number>> = Object.freeze({
  CONNECT: 1 << 0,
  CONNACK: 1 << 1,
  PUBLISH: 1 << 2,
  WILL: 1 << 3,
  PUBACK: 1 << 4,
  PUBREC: 1 << 5,
  PUBREL: 1 << 6,
  PUBCOMP: 1 << 7,
  SUBSCRIBE: 1 << 8,
  SUBACK: 1 << 9,
  UNSUBSCRIBE: 1 << 10,
  UNSUBACK: 1 << 11,
  DISCONNECT: 1 << 12,
  AUTH: 1 << 13,
});

function mask(packets: readonly PropertyPacket[]): number {
  let bits = 0;
  for (const packet of packets) bits |= PACKET_BIT[packet];
  return bits;
}

/** Indexed by property id: bit set of the packets it may appear in / more than once in. */
const ALLOWED_MASK: readonly number[] = PROPERTY_BY_ID.map((def) => (def ? mask(def.packets) : 0));
const REPEATABLE_MASK: readonly number[] = PROPERTY_BY_ID.map((def) => (def ? mask(def.repeatable) : 0));

/** Whether property `def` may appear in `packet`. */
export function propertyAllowed(def: PropertyDef, packet: PropertyPacket): boolean {
  if (PROPERTY_BY_ID[def.id] !== def) return def.packets.includes(packet);
  return (ALLOWED_MASK[def.id]! & PACKET_BIT[packet]) !== 0;
}

/** Whether property `def` may appear more than once in `packet`. */
export function propertyRepeatable(def: PropertyDef, packet: PropertyPacket): boolean {
  if (PROPERTY_BY_ID[def.id] !== def) return def.repeatable.includes(packet);
  return (REPEATABLE_MASK[def.id]! & PACKET_BIT[packet]) !== 0;
}
