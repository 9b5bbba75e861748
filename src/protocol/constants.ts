// MQTT control packet types (MQTT 3.1.1 §2.2.1, MQTT 5.0 §2.1.2, Table 2-1).
export const PacketType = {
  CONNECT: 1,
  CONNACK: 2,
  PUBLISH: 3,
  PUBACK: 4,
  PUBREC: 5,
  PUBREL: 6,
  PUBCOMP: 7,
  SUBSCRIBE: 8,
  SUBACK: 9,
  UNSUBSCRIBE: 10,
  UNSUBACK: 11,
  PINGREQ: 12,
  PINGRESP: 13,
  DISCONNECT: 14,
  AUTH: 15,
} as const;

export type PacketTypeName = keyof typeof PacketType;
export type PacketTypeCode = (typeof PacketType)[PacketTypeName];

/** Index = packet type code; index 0 is the reserved type. */
export const PACKET_TYPE_NAMES: readonly (PacketTypeName | undefined)[] = [
  undefined,
  'CONNECT',
  'CONNACK',
  'PUBLISH',
  'PUBACK',
  'PUBREC',
  'PUBREL',
  'PUBCOMP',
  'SUBSCRIBE',
  'SUBACK',
  'UNSUBSCRIBE',
  'UNSUBACK',
  'PINGREQ',
  'PINGRESP',
  'DISCONNECT',
  'AUTH',
];

export type ProtocolVersion = '3.1' | '3.1.1' | '5.0';

export const PROTOCOL_VERSIONS = ['3.1', '3.1.1', '5.0'] as const satisfies readonly ProtocolVersion[];

/** Connect Flags bits (3.1.1 §3.1.2.3, 5.0 §3.1.2.3); Will QoS is bits 3-4. */
export const ConnectFlag = {
  RESERVED: 0x01,
  CLEAN: 0x02,
  WILL: 0x04,
  WILL_RETAIN: 0x20,
  PASSWORD: 0x40,
  USERNAME: 0x80,
} as const;

/** Protocol Level byte in CONNECT → version. 3.1 uses protocol name "MQIsdp". */
export const PROTOCOL_LEVELS: Readonly<Record<number, ProtocolVersion>> = { 3: '3.1', 4: '3.1.1', 5: '5.0' };

/**
 * Fixed header flag bits that are not PUBLISH's dup/qos/retain are reserved and must have these
 * values (3.1.1 Table 2.2, 5.0 Table 2-2); anything else is malformed [MQTT-2.2.2-1] [MQTT-2.2.2-2].
 */
export const REQUIRED_FLAGS: readonly (number | undefined)[] = [
  undefined,
  0,
  0,
  undefined,
  0,
  0,
  2,
  0,
  2,
  0,
  2,
  0,
  0,
  0,
  0,
  0,
];

/** Largest Remaining Length the four-byte Variable Byte Integer can carry (268,435,455). */
export const MAX_REMAINING_LENGTH = 268_435_455;

/** Default number of body bytes of one frame kept for decoding; the rest is counted, not held. */
export const DEFAULT_CAPTURE_CAP = 64 * 1024;
