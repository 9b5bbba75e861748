/**
 * Every violation code in violations.ts, produced by a packet that breaks its rule, with the rule
 * id the spec gives that statement in each version (the stateful checks' codes by a sequence of
 * packets: test/helpers/stateful-cases.ts). The decoded packet still comes back: a
 * debugger shows what was sent and what is wrong with it.
 */
import { describe, expect, it } from 'vitest';
import type { ProtocolVersion } from '../../src/protocol/constants.js';
import { decodeFrame } from '../../src/protocol/decode/index.js';
import type { Direction } from '../../src/protocol/direction.js';
import type { Frame, Packet, Violation } from '../../src/protocol/types.js';
import { ruleOf, VIOLATIONS, type ViolationCode } from '../../src/protocol/violations.js';
import { hex } from '../helpers/hex.js';
import {
  ack,
  cat,
  connack,
  connect,
  decodeStream,
  disconnect,
  frame,
  P,
  prop,
  props,
  publish,
  str,
  suback,
  subscribe,
  u16,
  unsubscribe,
  vbi,
} from '../helpers/packets.js';
import { STATEFUL_CASES } from '../helpers/stateful-cases.js';

interface Case {
  name: string;
  version: ProtocolVersion;
  bytes: Buffer;
  /** The sender, where the rule depends on it. */
  from?: Direction;
  code: ViolationCode;
  /** The id expected on the violation (undefined: none). */
  rule: string | undefined;
  /** Checks on the packet decoded beside the violation. */
  packet?: Record<string, unknown>;
  detail?: RegExp;
}

const B = (s: string): Buffer => Buffer.from(s, 'utf8');
const V3: ProtocolVersion = '3.1.1';
const V5: ProtocolVersion = '5.0';

const CASES: Case[] = [
  // Fixed header
  {
    name: 'PUBACK with flags 0x1: reserved flags must be as listed [MQTT-2.2.2-1]',
    version: V3,
    bytes: hex`41 02 00 01`,
    code: 'MQTT_RESERVED_FLAGS',
    rule: 'MQTT-2.2.2-1',
    packet: { type: 'PUBACK', packetId: 1, flags: 1 },
  },
  {
    name: 'PUBREL with flags 0x0 instead of 0x2: its own statement [MQTT-3.6.1-1] (5.0)',
    version: V5,
    bytes: hex`60 02 00 01`,
    code: 'MQTT_RESERVED_FLAGS',
    rule: 'MQTT-3.6.1-1',
  },
  {
    name: 'PUBACK with flags 0x2 [MQTT-2.1.3-1] (5.0: no statement of its own)',
    version: V5,
    bytes: hex`42 02 00 01`,
    code: 'MQTT_RESERVED_FLAGS',
    rule: 'MQTT-2.1.3-1',
  },
  {
    name: 'PUBREL with flags 0x0 [MQTT-3.6.1-1] (3.1.1)',
    version: V3,
    bytes: hex`60 02 00 01`,
    code: 'MQTT_RESERVED_FLAGS',
    rule: 'MQTT-3.6.1-1',
  },
  {
    name: 'SUBSCRIBE with flags 0x0 [MQTT-3.8.1-1] (5.0)',
    version: V5,
    bytes: hex`80 07 00 01 00 00 01 61 00`,
    code: 'MQTT_RESERVED_FLAGS',
    rule: 'MQTT-3.8.1-1',
  },
  {
    name: 'UNSUBSCRIBE with flags 0x0 [MQTT-3.10.1-1] (3.1.1)',
    version: V3,
    bytes: hex`a0 05 00 01 00 01 61`,
    code: 'MQTT_RESERVED_FLAGS',
    rule: 'MQTT-3.10.1-1',
  },
  {
    name: 'UNSUBSCRIBE with flags 0x0 [MQTT-3.10.1-1] (5.0)',
    version: V5,
    bytes: hex`a0 06 00 01 00 00 01 61`,
    code: 'MQTT_RESERVED_FLAGS',
    rule: 'MQTT-3.10.1-1',
  },
  {
    name: 'DISCONNECT with flags 0x1 [MQTT-3.14.1-1] (3.1.1)',
    version: V3,
    bytes: hex`e1 00`,
    code: 'MQTT_RESERVED_FLAGS',
    rule: 'MQTT-3.14.1-1',
  },
  {
    name: 'DISCONNECT with flags 0x8 [MQTT-3.14.1-1] (5.0)',
    version: V5,
    bytes: hex`e8 00`,
    code: 'MQTT_RESERVED_FLAGS',
    rule: 'MQTT-3.14.1-1',
  },
  {
    name: 'AUTH with flags 0x2 [MQTT-3.15.1-1]',
    version: V5,
    bytes: hex`f2 00`,
    code: 'MQTT_RESERVED_FLAGS',
    rule: 'MQTT-3.15.1-1',
  },
  {
    name: 'SUBSCRIBE with flags 0x0 instead of 0x2 in 3.1 (3.1.1 rule [MQTT-3.8.1-1])',
    version: '3.1',
    bytes: hex`80 06 00 01 00 01 61 00`,
    code: 'MQTT_RESERVED_FLAGS',
    rule: 'MQTT-3.8.1-1',
    packet: { type: 'SUBSCRIBE', subscriptions: [{ filter: 'a', qos: 0 }] },
  },
  {
    name: 'a Remaining Length in more bytes than needed [MQTT-1.5.5-1]',
    version: V5,
    bytes: hex`c0 80 00`,
    code: 'MQTT_NON_MINIMAL_VARINT',
    rule: 'MQTT-1.5.5-1',
    packet: { type: 'PINGREQ', length: 3 },
  },
  {
    name: 'a Remaining Length in more bytes than needed in 3.1.1 (§2.2.3, no id)',
    version: V3,
    bytes: hex`d0 80 80 00`,
    code: 'MQTT_NON_MINIMAL_VARINT',
    rule: undefined,
  },
  // PUBLISH fixed header
  {
    name: 'PUBLISH with both QoS bits set [MQTT-3.3.1-4] (3.1.1)',
    version: V3,
    bytes: hex`36 05 00 01 74 00 01`,
    code: 'MQTT_INVALID_QOS',
    rule: 'MQTT-3.3.1-4',
    packet: { qos: 3, topic: 't', packetId: 1 },
  },
  {
    name: 'PUBLISH with both QoS bits set [MQTT-3.3.1-4] (5.0)',
    version: V5,
    bytes: hex`36 06 00 01 74 00 01 00`,
    code: 'MQTT_INVALID_QOS',
    rule: 'MQTT-3.3.1-4',
  },
  {
    name: 'DUP on a QoS 0 PUBLISH [MQTT-3.3.1-2]',
    version: V3,
    bytes: hex`38 03 00 01 74`,
    code: 'MQTT_DUP_ON_QOS0',
    rule: 'MQTT-3.3.1-2',
    packet: { dup: true, qos: 0 },
  },
  {
    name: 'DUP on a QoS 0 PUBLISH [MQTT-3.3.1-2] (5.0)',
    version: V5,
    bytes: hex`38 04 00 01 74 00`,
    code: 'MQTT_DUP_ON_QOS0',
    rule: 'MQTT-3.3.1-2',
  },
  // Strings
  {
    name: 'ill-formed UTF-8 in a Topic Name [MQTT-1.5.3-1]',
    version: V3,
    bytes: publish({ version: V3, topic: 'x' }).fill(0xc3, 4, 5),
    code: 'MQTT_INVALID_UTF8',
    rule: 'MQTT-1.5.3-1',
  },
  {
    name: 'UTF-16 surrogate U+D800 encoded in a Client Identifier [MQTT-1.5.4-1]',
    version: V5,
    bytes: frame(0x10, str('MQTT'), [5, 2], u16(0), [0], str(hex`ed a0 80`)),
    code: 'MQTT_INVALID_UTF8',
    rule: 'MQTT-1.5.4-1',
  },
  {
    name: 'overlong encoding of U+0000 (C0 80) is ill-formed [MQTT-1.5.4-1]',
    version: V5,
    bytes: frame(0x30, str(hex`61 c0 80`), [0]),
    code: 'MQTT_INVALID_UTF8',
    rule: 'MQTT-1.5.4-1',
  },
  {
    name: 'U+0000 in a Topic Filter [MQTT-1.5.3-2]',
    version: V3,
    bytes: frame(0xa2, u16(1), str(hex`61 00 62`)),
    code: 'MQTT_NULL_CHARACTER',
    rule: 'MQTT-1.5.3-2',
    packet: { filters: ['a\u0000b'] },
  },
  {
    name: 'U+0000 in a User Property [MQTT-1.5.4-2]',
    version: V5,
    bytes: ack('PUBACK', {
      version: V5,
      packetId: 1,
      code: 0,
      properties: [prop(P.userProperty, ['k\0', 'v'])],
    }),
    code: 'MQTT_NULL_CHARACTER',
    rule: 'MQTT-1.5.4-2',
  },
  // Lengths
  {
    name: 'CONNACK whose body ends before the return code (§3.2)',
    version: V3,
    bytes: hex`20 01 00`,
    code: 'MQTT_TRUNCATED',
    rule: undefined,
    detail: /Connect Return code needs 1 byte/,
  },
  {
    name: 'Topic Name length past the end of the packet (§1.5.4)',
    version: V5,
    bytes: hex`30 04 00 09 61 62`,
    code: 'MQTT_TRUNCATED',
    rule: undefined,
  },
  {
    name: 'PUBACK with a byte after the Packet Identifier in 3.1.1 (§3.4)',
    version: V3,
    bytes: hex`40 03 00 01 00`,
    code: 'MQTT_TRAILING_BYTES',
    rule: undefined,
    packet: { packetId: 1 },
  },
  {
    name: 'DISCONNECT with a body in 3.1.1 (§3.14: no variable header)',
    version: V3,
    bytes: hex`e0 01 00`,
    code: 'MQTT_TRAILING_BYTES',
    rule: undefined,
  },
  {
    name: 'CONNECT with bytes after the Password (§3.1.3)',
    version: V3,
    bytes: cat(frame(0x10, str('MQTT'), [4, 0xc2], u16(0), str('c'), str('u'), str('p'), [0xff])),
    code: 'MQTT_TRAILING_BYTES',
    rule: undefined,
    packet: { username: 'u', password: B('p') },
  },
  {
    name: 'PINGREQ with a body (§3.12)',
    version: V5,
    bytes: hex`c0 01 00`,
    code: 'MQTT_TRAILING_BYTES',
    rule: undefined,
  },
  {
    name: 'Subscription Identifier whose fourth byte has the continuation bit set (§1.5.5: at most four bytes)',
    version: V5,
    bytes: frame(0x82, u16(1), [6, 0x0b, 0xff, 0xff, 0xff, 0xff, 0x01], str('a'), [0]),
    code: 'MQTT_MALFORMED_VARINT',
    rule: undefined,
    detail: /Subscription Identifier at offset 6: its fourth byte 0xff has the continuation bit set/,
    packet: { subscriptions: [{ filter: 'a', qos: 0 }] },
  },
  {
    name: 'Property Length 0 written in two bytes [MQTT-1.5.5-1]',
    version: V5,
    bytes: frame(0x30, str('t'), [0x80, 0x00], B('x')),
    code: 'MQTT_NON_MINIMAL_VARINT',
    rule: 'MQTT-1.5.5-1',
    packet: { topic: 't', payload: { length: 1 } },
  },
  // Packet Identifier
  {
    name: 'QoS 1 PUBLISH with Packet Identifier 0 [MQTT-2.3.1-1]',
    version: V3,
    bytes: publish({ version: V3, topic: 't', qos: 1, packetId: 0 }),
    code: 'MQTT_PACKET_ID_ZERO',
    rule: 'MQTT-2.3.1-1',
  },
  {
    name: "a Client's QoS 1 PUBLISH with Packet Identifier 0 [MQTT-2.2.1-3]",
    version: V5,
    from: 'client',
    bytes: publish({ version: V5, topic: 't', qos: 1, packetId: 0 }),
    code: 'MQTT_PACKET_ID_ZERO',
    rule: 'MQTT-2.2.1-3',
  },
  {
    name: "a Server's QoS 2 PUBLISH with Packet Identifier 0 [MQTT-2.2.1-4]",
    version: V5,
    from: 'broker',
    bytes: publish({ version: V5, topic: 't', qos: 2, packetId: 0 }),
    code: 'MQTT_PACKET_ID_ZERO',
    rule: 'MQTT-2.2.1-4',
  },
  {
    name: 'QoS 1 PUBLISH with Packet Identifier 0 from an unknown sender in 5.0: reported, no rule',
    version: V5,
    bytes: publish({ version: V5, topic: 't', qos: 1, packetId: 0 }),
    code: 'MQTT_PACKET_ID_ZERO',
    rule: undefined,
  },
  {
    name: "a Server's QoS 1 PUBLISH with Packet Identifier 0 in 3.1.1 [MQTT-2.3.1-1]",
    version: V3,
    from: 'broker',
    bytes: publish({ version: V3, topic: 't', qos: 1, packetId: 0 }),
    code: 'MQTT_PACKET_ID_ZERO',
    rule: 'MQTT-2.3.1-1',
  },
  {
    name: 'SUBSCRIBE with Packet Identifier 0 [MQTT-2.2.1-3]',
    version: V5,
    bytes: subscribe({ version: V5, packetId: 0, subscriptions: [{ filter: 'a' }] }),
    code: 'MQTT_PACKET_ID_ZERO',
    rule: 'MQTT-2.2.1-3',
  },
  {
    name: 'UNSUBSCRIBE with Packet Identifier 0 [MQTT-2.3.1-1]',
    version: V3,
    bytes: unsubscribe({ version: V3, packetId: 0, filters: ['a'] }),
    code: 'MQTT_PACKET_ID_ZERO',
    rule: 'MQTT-2.3.1-1',
  },
  {
    name: 'PUBACK with Packet Identifier 0: reported, no rule (an ack echoes the id, [MQTT-2.2.1-5])',
    version: V5,
    bytes: hex`40 02 00 00`,
    code: 'MQTT_PACKET_ID_ZERO',
    rule: undefined,
  },
  {
    name: 'SUBACK with Packet Identifier 0 in 3.1.1: reported, no rule',
    version: V3,
    bytes: hex`90 03 00 00 00`,
    code: 'MQTT_PACKET_ID_ZERO',
    rule: undefined,
  },
  {
    name: 'AUTH in MQTT 3.1.1, where packet type 15 is reserved (§2.2.1)',
    version: V3,
    bytes: hex`f0 00`,
    code: 'MQTT_PACKET_NOT_IN_VERSION',
    rule: undefined,
    packet: { type: 'AUTH' },
  },
  // CONNECT
  {
    name: 'Protocol Name "MQTT" with level 3 (3.1 uses "MQIsdp") [MQTT-3.1.2-1]',
    version: V3,
    bytes: connect({ version: '3.1', protocolName: 'MQTT', clientId: 'c' }),
    code: 'MQTT_PROTOCOL_NAME',
    rule: 'MQTT-3.1.2-1',
    packet: { protocol: '3.1', protocolName: 'MQTT', clientId: 'c' },
  },
  {
    name: 'Protocol Name "mqtt" with level 5: it MUST be "MQTT" [MQTT-3.1.2-1]',
    version: V5,
    bytes: connect({ version: V5, protocolName: 'mqtt', clientId: 'c' }),
    code: 'MQTT_PROTOCOL_NAME',
    rule: 'MQTT-3.1.2-1',
    packet: { protocol: '5.0' },
  },
  {
    name: 'Protocol Level 6 in 3.1.1 [MQTT-3.1.2-2]',
    version: V3,
    bytes: connect({ version: V3, protocolLevel: 6, clientId: 'c' }),
    code: 'MQTT_PROTOCOL_LEVEL',
    rule: 'MQTT-3.1.2-2',
    packet: { protocolLevel: 6, protocol: '3.1.1', clientId: 'c' },
  },
  {
    name: 'Protocol Level 6 decoded as 5.0 [MQTT-3.1.2-2]',
    version: V5,
    bytes: connect({ version: V5, protocolLevel: 6, clientId: 'c' }),
    code: 'MQTT_PROTOCOL_LEVEL',
    rule: 'MQTT-3.1.2-2',
  },
  {
    name: 'Connect Flags reserved bit 0 set [MQTT-3.1.2-3] (3.1.1)',
    version: V3,
    bytes: connect({ version: V3, flags: 0x03, clientId: 'c' }),
    code: 'MQTT_CONNECT_RESERVED_FLAG',
    rule: 'MQTT-3.1.2-3',
    packet: { clean: true, clientId: 'c' },
  },
  {
    name: 'Connect Flags reserved bit 0 set [MQTT-3.1.2-3] (5.0)',
    version: V5,
    bytes: connect({ version: V5, flags: 0x01, clientId: 'c' }),
    code: 'MQTT_CONNECT_RESERVED_FLAG',
    rule: 'MQTT-3.1.2-3',
  },
  {
    name: 'Will QoS 1 with Will Flag 0 [MQTT-3.1.2-13]',
    version: V3,
    bytes: connect({ version: V3, flags: 0x0a, clientId: 'c' }),
    code: 'MQTT_WILL_QOS_WITHOUT_WILL',
    rule: 'MQTT-3.1.2-13',
    packet: { will: undefined },
  },
  {
    name: 'Will QoS 2 with Will Flag 0 [MQTT-3.1.2-11]',
    version: V5,
    bytes: connect({ version: V5, flags: 0x12, clientId: 'c' }),
    code: 'MQTT_WILL_QOS_WITHOUT_WILL',
    rule: 'MQTT-3.1.2-11',
  },
  {
    name: 'Will QoS 3 with Will Flag 1 [MQTT-3.1.2-14]',
    version: V3,
    bytes: frame(0x10, str('MQTT'), [4, 0x1e], u16(0), str('c'), str('w'), str('m')),
    code: 'MQTT_WILL_INVALID_QOS',
    rule: 'MQTT-3.1.2-14',
    packet: { will: { qos: 3, topic: 'w' } },
  },
  {
    name: 'Will QoS 3 with Will Flag 1 [MQTT-3.1.2-12]',
    version: V5,
    bytes: frame(0x10, str('MQTT'), [5, 0x1e], u16(0), [0], str('c'), [0], str('w'), str('m')),
    code: 'MQTT_WILL_INVALID_QOS',
    rule: 'MQTT-3.1.2-12',
  },
  {
    name: 'Will Retain with Will Flag 0 [MQTT-3.1.2-15]',
    version: V3,
    bytes: connect({ version: V3, flags: 0x22, clientId: 'c' }),
    code: 'MQTT_WILL_RETAIN_WITHOUT_WILL',
    rule: 'MQTT-3.1.2-15',
  },
  {
    name: 'Will Retain with Will Flag 0 [MQTT-3.1.2-13]',
    version: V5,
    bytes: connect({ version: V5, flags: 0x22, clientId: 'c' }),
    code: 'MQTT_WILL_RETAIN_WITHOUT_WILL',
    rule: 'MQTT-3.1.2-13',
  },
  {
    name: 'Password Flag without User Name Flag in 3.1.1 [MQTT-3.1.2-22]',
    version: V3,
    bytes: connect({ version: V3, clientId: 'c', password: B('p') }),
    code: 'MQTT_PASSWORD_WITHOUT_USERNAME',
    rule: 'MQTT-3.1.2-22',
    packet: { password: B('p'), username: undefined },
  },
  {
    name: 'Password Flag without User Name Flag in 3.1 (3.1.1 rule)',
    version: '3.1',
    bytes: connect({ version: '3.1', clientId: 'c', password: B('p') }),
    code: 'MQTT_PASSWORD_WITHOUT_USERNAME',
    rule: 'MQTT-3.1.2-22',
  },
  // CONNACK
  {
    name: 'CONNACK with reserved Acknowledge Flags bits in 3.1.1 (§3.2.2.1, no id)',
    version: V3,
    bytes: hex`20 02 02 00`,
    code: 'MQTT_CONNACK_RESERVED_FLAGS',
    rule: undefined,
  },
  {
    name: 'CONNACK with reserved Acknowledge Flags bits [MQTT-3.2.2-1]',
    version: V5,
    bytes: hex`20 03 80 00 00`,
    code: 'MQTT_CONNACK_RESERVED_FLAGS',
    rule: 'MQTT-3.2.2-1',
  },
  {
    name: 'Session Present 1 with return code 5 [MQTT-3.2.2-4]',
    version: V3,
    bytes: hex`20 02 01 05`,
    code: 'MQTT_SESSION_PRESENT_ON_REFUSAL',
    rule: 'MQTT-3.2.2-4',
    packet: { sessionPresent: true, code: 5 },
  },
  {
    name: 'Session Present 1 with reason code 0x87 [MQTT-3.2.2-6]',
    version: V5,
    bytes: hex`20 03 01 87 00`,
    code: 'MQTT_SESSION_PRESENT_ON_REFUSAL',
    rule: 'MQTT-3.2.2-6',
  },
  // Topics
  {
    name: 'wildcard in a Topic Name [MQTT-3.3.2-2] (3.1.1)',
    version: V3,
    bytes: publish({ version: V3, topic: 'a/+' }),
    code: 'MQTT_TOPIC_WILDCARD',
    rule: 'MQTT-3.3.2-2',
    packet: { topic: 'a/+' },
  },
  {
    name: 'wildcard in a Topic Name [MQTT-3.3.2-2] (5.0)',
    version: V5,
    bytes: publish({ version: V5, topic: '#' }),
    code: 'MQTT_TOPIC_WILDCARD',
    rule: 'MQTT-3.3.2-2',
  },
  {
    name: 'empty Topic Name in 3.1.1 [MQTT-4.7.3-1]',
    version: V3,
    bytes: publish({ version: V3, topic: '', payload: B('x') }),
    code: 'MQTT_EMPTY_TOPIC',
    rule: 'MQTT-4.7.3-1',
    packet: { topic: '', payload: { length: 1 } },
  },
  {
    name: 'empty Topic Name without a Topic Alias in 5.0 [MQTT-4.7.3-1]',
    version: V5,
    bytes: publish({ version: V5, topic: '' }),
    code: 'MQTT_EMPTY_TOPIC',
    rule: 'MQTT-4.7.3-1',
  },
  {
    name: 'empty Topic Filter in SUBSCRIBE [MQTT-4.7.3-1]',
    version: V5,
    bytes: subscribe({ version: V5, packetId: 1, subscriptions: [{ filter: '' }] }),
    code: 'MQTT_EMPTY_TOPIC',
    rule: 'MQTT-4.7.3-1',
  },
  {
    name: 'Topic Alias 0 [MQTT-3.3.2-8]',
    version: V5,
    bytes: publish({ version: V5, topic: 't', properties: [prop(P.topicAlias, 0)] }),
    code: 'MQTT_TOPIC_ALIAS_ZERO',
    rule: 'MQTT-3.3.2-8',
    packet: { properties: { topicAlias: 0 } },
  },
  // SUBSCRIBE / UNSUBSCRIBE
  {
    name: 'SUBSCRIBE with no Topic Filter [MQTT-3.8.3-3]',
    version: V3,
    bytes: hex`82 02 00 01`,
    code: 'MQTT_NO_TOPIC_FILTERS',
    rule: 'MQTT-3.8.3-3',
  },
  {
    name: 'SUBSCRIBE with no Topic Filter [MQTT-3.8.3-2]',
    version: V5,
    bytes: hex`82 03 00 01 00`,
    code: 'MQTT_NO_TOPIC_FILTERS',
    rule: 'MQTT-3.8.3-2',
  },
  {
    name: 'UNSUBSCRIBE with no Topic Filter [MQTT-3.10.3-2] (3.1.1)',
    version: V3,
    bytes: hex`a2 02 00 01`,
    code: 'MQTT_NO_UNSUBSCRIBE_FILTERS',
    rule: 'MQTT-3.10.3-2',
  },
  {
    name: 'UNSUBSCRIBE with no Topic Filter [MQTT-3.10.3-2] (5.0)',
    version: V5,
    bytes: hex`a2 03 00 01 00`,
    code: 'MQTT_NO_UNSUBSCRIBE_FILTERS',
    rule: 'MQTT-3.10.3-2',
  },
  {
    name: 'reserved bits of the requested QoS byte set [MQTT-3-8.3-4] (3.1.1 prints the id so)',
    version: V3,
    bytes: subscribe({ version: V3, packetId: 1, subscriptions: [{ filter: 'a', options: 0x05 }] }),
    code: 'MQTT_SUBSCRIPTION_OPTIONS_RESERVED',
    rule: 'MQTT-3-8.3-4',
    packet: { subscriptions: [{ filter: 'a', qos: 1 }] },
  },
  {
    name: 'reserved bits 6-7 of the Subscription Options set [MQTT-3.8.3-5]',
    version: V5,
    bytes: subscribe({ version: V5, packetId: 1, subscriptions: [{ filter: 'a', options: 0x81 }] }),
    code: 'MQTT_SUBSCRIPTION_OPTIONS_RESERVED',
    rule: 'MQTT-3.8.3-5',
  },
  {
    name: 'requested QoS 3 [MQTT-3-8.3-4]',
    version: V3,
    bytes: subscribe({ version: V3, packetId: 1, subscriptions: [{ filter: 'a', qos: 3 }] }),
    code: 'MQTT_INVALID_SUBSCRIBE_QOS',
    rule: 'MQTT-3-8.3-4',
  },
  {
    name: 'Maximum QoS 3 in 5.0 (§3.8.3.1, Protocol Error without an id)',
    version: V5,
    bytes: subscribe({ version: V5, packetId: 1, subscriptions: [{ filter: 'a', qos: 3 }] }),
    code: 'MQTT_INVALID_SUBSCRIBE_QOS',
    rule: undefined,
  },
  {
    name: 'Retain Handling 3 (§3.8.3.1, Protocol Error without an id)',
    version: V5,
    bytes: subscribe({ version: V5, packetId: 1, subscriptions: [{ filter: 'a', retainHandling: 3 }] }),
    code: 'MQTT_INVALID_RETAIN_HANDLING',
    rule: undefined,
    packet: { subscriptions: [{ filter: 'a', retainHandling: 3 }] },
  },
  {
    name: 'No Local on a Shared Subscription [MQTT-3.8.3-4]',
    version: V5,
    bytes: subscribe({ version: V5, packetId: 1, subscriptions: [{ filter: '$share/g/t', noLocal: true }] }),
    code: 'MQTT_NO_LOCAL_ON_SHARED',
    rule: 'MQTT-3.8.3-4',
  },
  {
    name: 'Shared Subscription whose ShareName holds "#": "$share/a#b/c" [MQTT-4.8.2-2]',
    version: V5,
    bytes: subscribe({ version: V5, packetId: 1, subscriptions: [{ filter: '$share/a#b/c' }] }),
    code: 'MQTT_INVALID_SHARED_SUBSCRIPTION',
    rule: 'MQTT-4.8.2-2',
    detail: /"\$share\/a#b\/c"/,
  },
  {
    name: 'Shared Subscription whose ShareName holds "+": "$share/+/a" [MQTT-4.8.2-2]',
    version: V5,
    bytes: subscribe({ version: V5, packetId: 1, subscriptions: [{ filter: '$share/+/a' }] }),
    code: 'MQTT_INVALID_SHARED_SUBSCRIPTION',
    rule: 'MQTT-4.8.2-2',
  },
  {
    name: 'Shared Subscription without a "/" after the ShareName: "$share/g" [MQTT-4.8.2-2]',
    version: V5,
    bytes: subscribe({ version: V5, packetId: 1, subscriptions: [{ filter: '$share/g' }] }),
    code: 'MQTT_INVALID_SHARED_SUBSCRIPTION',
    rule: 'MQTT-4.8.2-2',
  },
  {
    name: 'Shared Subscription without a Topic Filter after the ShareName: "$share/g/" [MQTT-4.8.2-2]',
    version: V5,
    bytes: unsubscribe({ version: V5, packetId: 1, filters: ['$share/g/'] }),
    code: 'MQTT_INVALID_SHARED_SUBSCRIPTION',
    rule: 'MQTT-4.8.2-2',
  },
  {
    name: 'Shared Subscription with an empty ShareName: "$share//a" [MQTT-4.8.2-1]',
    version: V5,
    bytes: subscribe({ version: V5, packetId: 1, subscriptions: [{ filter: '$share//a' }] }),
    code: 'MQTT_INVALID_SHARED_SUBSCRIPTION',
    rule: 'MQTT-4.8.2-1',
  },
  {
    name: "a Client's PUBLISH with a Subscription Identifier [MQTT-3.3.4-6]",
    version: V5,
    from: 'client',
    bytes: publish({ version: V5, topic: 't', properties: [prop(P.subscriptionIdentifier, 7)] }),
    code: 'MQTT_PROPERTY_NOT_ALLOWED',
    rule: 'MQTT-3.3.4-6',
    packet: { properties: { subscriptionIdentifier: [7] } },
  },
  {
    name: "a Server's DISCONNECT with a Session Expiry Interval [MQTT-3.14.2-2]",
    version: V5,
    from: 'broker',
    bytes: disconnect({ code: 0x8b, properties: [prop(P.sessionExpiryInterval, 60)] }),
    code: 'MQTT_PROPERTY_NOT_ALLOWED',
    rule: 'MQTT-3.14.2-2',
    packet: { code: 0x8b, properties: { sessionExpiryInterval: 60 } },
  },
  {
    name: '"#" not the last level: "a/#/b" [MQTT-4.7.1-2] (3.1.1)',
    version: V3,
    bytes: subscribe({ version: V3, packetId: 1, subscriptions: [{ filter: 'a/#/b' }] }),
    code: 'MQTT_INVALID_TOPIC_FILTER',
    rule: 'MQTT-4.7.1-2',
  },
  {
    name: '"#" not alone in its level: "a#" [MQTT-4.7.1-1] (5.0)',
    version: V5,
    bytes: subscribe({ version: V5, packetId: 1, subscriptions: [{ filter: 'a#' }] }),
    code: 'MQTT_INVALID_TOPIC_FILTER',
    rule: 'MQTT-4.7.1-1',
  },
  {
    name: '"+" not alone in its level: "a/b+" [MQTT-4.7.1-3] (3.1.1)',
    version: V3,
    bytes: unsubscribe({ version: V3, packetId: 1, filters: ['a/b+'] }),
    code: 'MQTT_INVALID_TOPIC_FILTER',
    rule: 'MQTT-4.7.1-3',
  },
  {
    name: '"+" not alone in its level: "+x/y" [MQTT-4.7.1-2] (5.0)',
    version: V5,
    bytes: subscribe({ version: V5, packetId: 1, subscriptions: [{ filter: '+x/y' }] }),
    code: 'MQTT_INVALID_TOPIC_FILTER',
    rule: 'MQTT-4.7.1-2',
  },
  // Reason codes
  {
    name: 'PUBACK 0x42: not a PUBACK reason code, still shown [MQTT-3.4.2-1]',
    version: V5,
    bytes: hex`40 03 00 01 42`,
    code: 'MQTT_UNKNOWN_REASON_CODE',
    rule: 'MQTT-3.4.2-1',
    packet: { code: 0x42 },
    detail: /0x42 is not a PUBACK reason code in MQTT 5\.0/,
  },
  {
    name: 'SUBACK 0x92: not a SUBACK reason code [MQTT-3.9.3-2] (Table 3-8)',
    version: V5,
    bytes: suback({ version: V5, packetId: 1, codes: [0x00, 0x92] }),
    code: 'MQTT_UNKNOWN_REASON_CODE',
    rule: 'MQTT-3.9.3-2',
    packet: { codes: [0x00, 0x92] },
  },
  {
    name: 'SUBACK return code 0x03 in 3.1.1 [MQTT-3.9.3-2]',
    version: V3,
    bytes: hex`90 03 00 01 03`,
    code: 'MQTT_UNKNOWN_REASON_CODE',
    rule: 'MQTT-3.9.3-2',
    packet: { codes: [3] },
  },
  {
    name: 'SUBACK 0x80 in 3.1, which has no failure code: reported without the 3.1.1 rule that allows it',
    version: '3.1',
    bytes: hex`90 04 00 01 00 80`,
    code: 'MQTT_UNKNOWN_REASON_CODE',
    rule: undefined,
    packet: { codes: [0, 0x80] },
    detail: /0x80 is not a SUBACK return code in MQTT 3\.1$/,
  },
  {
    name: 'CONNACK return code 6 in 3.1.1: reserved (Table 3.1, no id)',
    version: V3,
    bytes: hex`20 02 00 06`,
    code: 'MQTT_UNKNOWN_REASON_CODE',
    rule: undefined,
  },
  {
    name: 'CONNACK 0x05 is a 3.1.1 code, not a 5.0 one [MQTT-3.2.2-8]',
    version: V5,
    bytes: connack({ version: V5, code: 0x05 }),
    code: 'MQTT_UNKNOWN_REASON_CODE',
    rule: 'MQTT-3.2.2-8',
  },
  {
    name: 'PUBREC 0x92 is a PUBREL code [MQTT-3.5.2-1]',
    version: V5,
    bytes: hex`50 03 00 01 92`,
    code: 'MQTT_UNKNOWN_REASON_CODE',
    rule: 'MQTT-3.5.2-1',
  },
  {
    name: 'PUBREL 0x10 [MQTT-3.6.2-1]',
    version: V5,
    bytes: hex`62 03 00 01 10`,
    code: 'MQTT_UNKNOWN_REASON_CODE',
    rule: 'MQTT-3.6.2-1',
  },
  {
    name: 'PUBCOMP 0x80 [MQTT-3.7.2-1]',
    version: V5,
    bytes: hex`70 03 00 01 80`,
    code: 'MQTT_UNKNOWN_REASON_CODE',
    rule: 'MQTT-3.7.2-1',
  },
  {
    name: 'UNSUBACK 0x01 [MQTT-3.11.3-2]',
    version: V5,
    bytes: hex`b0 04 00 01 00 01`,
    code: 'MQTT_UNKNOWN_REASON_CODE',
    rule: 'MQTT-3.11.3-2',
  },
  {
    name: 'DISCONNECT 0x01 [MQTT-3.14.2-1]',
    version: V5,
    bytes: hex`e0 01 01`,
    code: 'MQTT_UNKNOWN_REASON_CODE',
    rule: 'MQTT-3.14.2-1',
  },
  {
    name: 'AUTH 0x87 [MQTT-3.15.2-1]',
    version: V5,
    bytes: hex`f0 01 87`,
    code: 'MQTT_UNKNOWN_REASON_CODE',
    rule: 'MQTT-3.15.2-1',
  },
  // Properties
  {
    name: 'property identifier 0x05 is not defined (Table 2-4)',
    version: V5,
    bytes: frame(0x30, str('t'), [3, 0x05, 0x00, 0x00], B('pay')),
    code: 'MQTT_UNKNOWN_PROPERTY',
    rule: undefined,
    // The Property Length still says where the payload starts.
    packet: { topic: 't', payload: { length: 3, data: B('pay') } },
  },
  {
    name: 'Topic Alias is not a CONNECT property (Table 2-4)',
    version: V5,
    bytes: connect({ version: V5, clientId: 'c', properties: [prop(P.topicAlias, 1)] }),
    code: 'MQTT_PROPERTY_NOT_ALLOWED',
    rule: undefined,
    packet: { clientId: 'c', properties: { topicAlias: 1 } },
  },
  {
    name: 'Session Expiry Interval is not a Will Property (§3.1.3.2)',
    version: V5,
    bytes: connect({
      version: V5,
      clientId: 'c',
      will: { topic: 'w', payload: B(''), properties: [prop(P.sessionExpiryInterval, 1)] },
    }),
    code: 'MQTT_PROPERTY_NOT_ALLOWED',
    rule: undefined,
    detail: /Will Properties/,
  },
  {
    name: 'Reason String twice in a PUBACK (§3.4.2.2.2)',
    version: V5,
    bytes: ack('PUBACK', {
      version: V5,
      packetId: 1,
      code: 0,
      properties: [prop(P.reasonString, 'a'), prop(P.reasonString, 'b')],
    }),
    code: 'MQTT_DUPLICATE_PROPERTY',
    rule: undefined,
    packet: { properties: { reasonString: 'a' } },
  },
  {
    name: 'Subscription Identifier twice in a SUBSCRIBE (§3.8.2.1.2)',
    version: V5,
    bytes: subscribe({
      version: V5,
      packetId: 1,
      properties: [prop(P.subscriptionIdentifier, 1), prop(P.subscriptionIdentifier, 2)],
      subscriptions: [{ filter: 'a' }],
    }),
    code: 'MQTT_DUPLICATE_PROPERTY',
    rule: undefined,
  },
  {
    name: 'Property Length past the end of the packet (§2.2.2.1)',
    version: V5,
    bytes: frame(0x40, u16(1), [0x00, 0x09, 0x1f, 0x00, 0x01, 0x61]),
    code: 'MQTT_PROPERTY_LENGTH',
    rule: undefined,
  },
  {
    name: 'a property running past its Property Length (§2.2.2.1)',
    version: V5,
    // Property Length 3 but Message Expiry Interval needs 1 + 4 bytes.
    bytes: frame(0x30, str('t'), [0x03, 0x02, 0x00, 0x00, 0x00, 0x3c], B('p')),
    code: 'MQTT_PROPERTY_LENGTH',
    rule: undefined,
    detail: /Message Expiry Interval/,
  },
  {
    name: 'Payload Format Indicator 2 (§3.3.2.3.2: 0 or 1)',
    version: V5,
    bytes: publish({ version: V5, topic: 't', properties: [prop(P.payloadFormatIndicator, 2)] }),
    code: 'MQTT_INVALID_PROPERTY_VALUE',
    rule: undefined,
  },
  {
    name: 'Receive Maximum 0 (§3.1.2.11.3: a Protocol Error)',
    version: V5,
    bytes: connect({ version: V5, clientId: 'c', properties: [prop(P.receiveMaximum, 0)] }),
    code: 'MQTT_INVALID_PROPERTY_VALUE',
    rule: undefined,
  },
  {
    name: 'Maximum QoS 2 in CONNACK (§3.2.2.3.4: 0 or 1)',
    version: V5,
    bytes: connack({ version: V5, properties: [prop(P.maximumQoS, 2)] }),
    code: 'MQTT_INVALID_PROPERTY_VALUE',
    rule: undefined,
  },
];

/** toMatchObject, except that `key: undefined` means the key is absent. */
function expectFields(p: Packet, expected: Record<string, unknown>): void {
  expect(p).toMatchObject(Object.fromEntries(Object.entries(expected).filter(([, v]) => v !== undefined)));
  for (const [key, value] of Object.entries(expected)) {
    if (value === undefined) expect((p as unknown as Record<string, unknown>)[key], key).toBeUndefined();
  }
}

function decodeOne(c: Case): Packet {
  const { packets, errors } = decodeStream(c.bytes, c.version, {}, c.from);
  expect(errors).toEqual([]);
  expect(packets).toHaveLength(1);
  return packets[0]!;
}

describe('violations: every code, with its rule per version', () => {
  it.each(CASES.map((c) => [c.code, c.name, c] as const))('%s: %s', (_code, _name, c) => {
    const p = decodeOne(c);
    const found = p.violations.filter((v) => v.code === c.code);
    expect(found, JSON.stringify(p.violations)).not.toHaveLength(0);
    const v = found[0]!;
    expect(v.rule).toBe(c.rule);
    expect('rule' in v).toBe(c.rule !== undefined); // no `rule: undefined` keys in records
    expect(v.detail.length).toBeGreaterThan(0);
    if (c.detail) expect(v.detail).toMatch(c.detail);
    if (c.packet) expectFields(p, c.packet);
  });

  it('the table covers every code in VIOLATIONS, in both 3.x and 5.0 where the code applies', () => {
    // The stateful checks' codes are shown by sequences of packets (test/session/session-checks.test.ts).
    const all: { code: ViolationCode; version: ProtocolVersion; rule: string | undefined }[] = [
      ...CASES,
      ...STATEFUL_CASES,
    ];
    const covered = new Set(all.map((c) => c.code));
    expect([...Object.keys(VIOLATIONS)].filter((code) => !covered.has(code as ViolationCode))).toEqual([]);
    // Every rule id in the table is exercised by some case.
    const cited = new Set(all.map((c) => `${c.code} ${c.version === '5.0' ? 'v5' : 'v3'} ${c.rule}`));
    for (const [code, rules] of Object.entries(VIOLATIONS)) {
      for (const side of ['v3', 'v5'] as const) {
        const rule = rules[side] as string | Record<string, string> | undefined;
        const ids = rule === undefined ? [] : typeof rule === 'string' ? [rule] : Object.values(rule);
        for (const id of ids) expect(cited, `${code} ${side} ${id}`).toContain(`${code} ${side} ${id}`);
      }
    }
  });

  it('rule ids are well formed: "MQTT-" section "-" number (3.1.1\'s own "MQTT-3-8.3-4" aside)', () => {
    for (const [code, rules] of Object.entries(VIOLATIONS)) {
      for (const rule of [rules.v3, rules.v5] as (string | Record<string, string> | undefined)[]) {
        const ids = rule === undefined ? [] : typeof rule === 'string' ? [rule] : Object.values(rule);
        for (const id of ids) expect(id, code).toMatch(/^MQTT-(\d+\.\d+\.\d+-\d+|3-8\.3-4)$/);
      }
    }
  });

  it('ruleOf: per-packet rules apply only to their packet', () => {
    expect(ruleOf('MQTT_PACKET_ID_ZERO', '5.0', 'PUBLISH from client')).toBe('MQTT-2.2.1-3');
    expect(ruleOf('MQTT_PACKET_ID_ZERO', '5.0', 'PUBLISH from broker')).toBe('MQTT-2.2.1-4');
    expect(ruleOf('MQTT_PACKET_ID_ZERO', '5.0', 'PUBLISH')).toBeUndefined();
    expect(ruleOf('MQTT_PACKET_ID_ZERO', '5.0', 'PUBACK')).toBeUndefined();
    expect(ruleOf('MQTT_PACKET_ID_ZERO', '5.0')).toBeUndefined();
    expect(ruleOf('MQTT_RESERVED_FLAGS', '3.1', 'anything')).toBe('MQTT-2.2.2-1');
    expect(ruleOf('MQTT_RESERVED_FLAGS', '5.0', 'PUBREL')).toBe('MQTT-3.6.1-1');
    expect(ruleOf('MQTT_RESERVED_FLAGS', '5.0')).toBe('MQTT-2.1.3-1');
  });

  it('a violation never hides the packet: several at once are all reported', () => {
    // QoS 3 + DUP... on a PUBLISH with a wildcard topic and Packet Identifier 0.
    const p = decodeOne({
      name: '',
      version: V3,
      bytes: hex`3e 07 00 03 61 2f 23 00 00`,
      code: 'MQTT_INVALID_QOS',
      rule: undefined,
    });
    expect(p.violations.map((v: Violation) => v.code).sort()).toEqual(
      ['MQTT_INVALID_QOS', 'MQTT_PACKET_ID_ZERO', 'MQTT_TOPIC_WILDCARD'].sort(),
    );
    expect(p).toMatchObject({ type: 'PUBLISH', qos: 3, dup: true, topic: 'a/#', packetId: 0 });
  });

  it('Will QoS 3 without a will is "Will QoS must be 0" only, not the Will Flag 1 rule', () => {
    const p = decodeOne({
      name: '',
      version: V3,
      bytes: connect({ version: V3, flags: 0x1a, clientId: 'c' }),
      code: 'MQTT_WILL_QOS_WITHOUT_WILL',
      rule: undefined,
    });
    expect(p.violations.map((v) => v.code)).toEqual(['MQTT_WILL_QOS_WITHOUT_WILL']);
  });
});

describe('what the rules allow is not reported', () => {
  const clean: {
    name: string;
    version: ProtocolVersion;
    bytes: Buffer;
    from?: Direction;
    packet?: Record<string, unknown>;
  }[] = [
    ...(
      [
        ['PUBREL', hex`6a 02 00 01`],
        ['SUBSCRIBE', hex`8a 06 00 01 00 01 61 00`],
        ['UNSUBSCRIBE', hex`aa 05 00 01 00 01 61`],
      ] as const
    ).map(([type, bytes]) => ({ name: `3.1: DUP set on a retried ${type}`, version: '3.1' as const, bytes })),
    {
      name: '3.1 CONNACK: byte 1 is reserved (no Session Present), whatever its value',
      version: '3.1',
      bytes: hex`20 02 01 05`,
      packet: { sessionPresent: false, code: 5 },
    },
    {
      name: "a Server's PUBLISH carries the Subscription Identifiers of the subscriptions it matched (§3.3.4)",
      version: V5,
      from: 'broker',
      bytes: publish({ version: V5, topic: 't', properties: [prop(P.subscriptionIdentifier, 7)] }),
    },
    {
      name: "a Client's DISCONNECT may set the Session Expiry Interval (§3.14.2.2.2)",
      version: V5,
      from: 'client',
      bytes: disconnect({ code: 0, properties: [prop(P.sessionExpiryInterval, 60)] }),
    },
    {
      name: 'Shared Subscriptions "$share/g//finance" and "$share/g/a/+" are well formed (§4.8.2)',
      version: V5,
      bytes: subscribe({
        version: V5,
        packetId: 1,
        subscriptions: [{ filter: '$share/g//finance' }, { filter: '$share/g/a/+' }],
      }),
    },
    {
      name: '3.1.1 has no Shared Subscriptions: "$share/+/a" is an ordinary Topic Filter',
      version: V3,
      bytes: subscribe({ version: V3, packetId: 1, subscriptions: [{ filter: '$share/+/a' }] }),
    },
    { name: '3.1.1 SUBACK 0x80 Failure', version: V3, bytes: hex`90 03 00 01 80` },
  ];
  it.each(clean.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const { packets, errors } = decodeStream(c.bytes, c.version, {}, c.from);
    expect(errors).toEqual([]);
    expect(packets).toHaveLength(1);
    expect(packets[0]!.violations).toEqual([]);
    if (c.packet) expectFields(packets[0]!, c.packet);
  });

  it("3.1.1 keeps DUP out of PUBREL's reserved flags [MQTT-3.6.1-1]", () => {
    const { packets } = decodeStream(hex`6a 02 00 01`, V3);
    expect(packets[0]!.violations).toMatchObject([{ code: 'MQTT_RESERVED_FLAGS', rule: 'MQTT-3.6.1-1' }]);
  });
});

describe('truncated frames (past the capture cap) are not violations', () => {
  it('a CONNECT cut inside its will payload reports nothing missing', () => {
    const bytes = connect({ version: V5, clientId: 'c', will: { topic: 'w', payload: Buffer.alloc(100) } });
    const { packets } = decodeStream(bytes, V5, { captureCap: 30 });
    const p = packets[0]!;
    expect(p).toMatchObject({ type: 'CONNECT', clientId: 'c', truncated: true });
    expect(p.violations).toEqual([]);
  });

  it('decodeFrame on a hand-made truncated frame stops quietly', () => {
    const body = cat(str('topic'), vbi(0), Buffer.alloc(10));
    const f: Frame = {
      offset: 0,
      type: 3,
      flags: 0,
      headerLength: 3,
      remainingLength: 1000,
      body: body.subarray(0, 4),
      truncated: true,
    };
    const p = decodeFrame(f, V5);
    expect(p.violations).toEqual([]);
    expect(p).toMatchObject({ type: 'PUBLISH', truncated: true, length: 1003 });
  });

  it('properties cut by the cap: what was captured is kept', () => {
    const bytes = publish({
      version: V5,
      topic: 't',
      properties: [prop(P.contentType, 'text/plain'), prop(P.correlationData, Buffer.alloc(40))],
      payload: Buffer.alloc(10),
    });
    const { packets } = decodeStream(bytes, V5, { captureCap: 25 });
    expect(packets[0]).toMatchObject({
      topic: 't',
      properties: { contentType: 'text/plain' },
      violations: [],
    });
    expect(props().length).toBe(1);
  });
});
