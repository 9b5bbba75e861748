import type { PacketTypeName, ProtocolVersion } from './constants.js';

/** A breach of the spec found while decoding: reported beside the packet, never thrown. */
export interface Violation {
  /** Stable machine code, e.g. `MQTT_RESERVED_FLAGS`. */
  code: string;
  /** The spec's normative statement id where there is one, e.g. `MQTT-2.2.2-1`. */
  rule?: string;
  detail: string;
}

/** One MQTT control packet cut from the byte stream by the framer. */
export interface Frame {
  /** Stream offset of the first byte of the fixed header. */
  offset: number;
  /** Packet type 1..15 (the framer never emits the reserved type 0). */
  type: number;
  /** Low nibble of the first byte. */
  flags: number;
  /** Bytes of fixed header: 1 + the Remaining Length's 1..4 bytes. */
  headerLength: number;
  remainingLength: number;
  /** The first `min(remainingLength, captureCap)` bytes of the body. May be a view of a chunk. */
  body: Buffer;
  /** True when `body` holds less than the whole body (the rest was counted, not kept). */
  truncated: boolean;
  /**
   * A PUBLISH kept only up to the payload bytes its record shows (FramerOptions.payloadKeep), short
   * of the capture cap: `truncated`, yet every field is whole and the packet is not shown as cut.
   */
  payloadCut?: true;
}

/** Unrecoverable framing problem: the direction is no longer decoded; its bytes still flow. */
export interface FramingError {
  /**
   * `malformed`: the stream cannot be framed any more; `not-mqtt`: it never was MQTT;
   * `truncated`: the stream ended inside a packet.
   */
  kind: 'malformed' | 'not-mqtt' | 'truncated';
  code: string;
  offset: number;
  detail: string;
  /** Hex excerpt of the bytes around `offset`. */
  hex: string;
  /** For `not-mqtt`: what the bytes look like (`tls`, `http`, `proxy-v1`, `proxy-v2`, `unknown`). */
  looksLike?: string;
  hint?: string;
}

/** MQTT 5 properties, keyed by the camelCase of the spec's name (Table 2-4). */
export interface Properties {
  userProperties?: [string, string][];
  [key: string]: number | string | Buffer | number[] | [string, string][] | undefined;
}

/** A payload as far as it was captured; `length` is the size on the wire. */
export interface Payload {
  length: number;
  /** The captured prefix of the payload (all of it unless the frame was truncated). */
  data: Buffer;
}

export interface PacketHeader {
  protocol: ProtocolVersion;
  flags: number;
  /** Bytes on the wire: fixed header + Remaining Length. */
  length: number;
  /** Stream offset of the packet. */
  offset: number;
  /** Set when the body was longer than the capture cap. */
  truncated?: true;
  violations: Violation[];
}

export interface Will {
  qos: number;
  retain: boolean;
  topic: string;
  payload: Payload;
  properties?: Properties;
}

export interface ConnectPacket extends PacketHeader {
  type: 'CONNECT';
  protocolName: string;
  protocolLevel: number;
  /** Clean Session (3.x) / Clean Start (5.0). */
  clean: boolean;
  keepAlive: number;
  clientId: string;
  will?: Will;
  username?: string;
  password?: Buffer;
  properties?: Properties;
}

export interface ConnackPacket extends PacketHeader {
  type: 'CONNACK';
  sessionPresent: boolean;
  /** Return code (3.x) or reason code (5.0). */
  code: number;
  properties?: Properties;
}

export interface PublishPacket extends PacketHeader {
  type: 'PUBLISH';
  dup: boolean;
  qos: number;
  retain: boolean;
  topic: string;
  packetId?: number;
  properties?: Properties;
  payload: Payload;
}

export interface AckPacket extends PacketHeader {
  type: 'PUBACK' | 'PUBREC' | 'PUBREL' | 'PUBCOMP';
  packetId: number;
  /** 0x00 in 3.x and for the MQTT 5 short form. */
  code: number;
  properties?: Properties;
}

export interface Subscription {
  filter: string;
  qos: number;
  noLocal?: boolean;
  retainAsPublished?: boolean;
  retainHandling?: number;
}

export interface SubscribePacket extends PacketHeader {
  type: 'SUBSCRIBE';
  packetId: number;
  properties?: Properties;
  subscriptions: Subscription[];
}

export interface SubackPacket extends PacketHeader {
  type: 'SUBACK';
  packetId: number;
  properties?: Properties;
  codes: number[];
}

export interface UnsubscribePacket extends PacketHeader {
  type: 'UNSUBSCRIBE';
  packetId: number;
  properties?: Properties;
  filters: string[];
}

export interface UnsubackPacket extends PacketHeader {
  type: 'UNSUBACK';
  packetId: number;
  properties?: Properties;
  /** MQTT 5 only; empty in 3.x, where UNSUBACK carries no codes. */
  codes: number[];
}

export interface PingPacket extends PacketHeader {
  type: 'PINGREQ' | 'PINGRESP';
}

export interface DisconnectPacket extends PacketHeader {
  type: 'DISCONNECT';
  code: number;
  properties?: Properties;
}

export interface AuthPacket extends PacketHeader {
  type: 'AUTH';
  code: number;
  properties?: Properties;
}

export type Packet =
  | ConnectPacket
  | ConnackPacket
  | PublishPacket
  | AckPacket
  | SubscribePacket
  | SubackPacket
  | UnsubscribePacket
  | UnsubackPacket
  | PingPacket
  | DisconnectPacket
  | AuthPacket;

export type { PacketTypeName, ProtocolVersion };
