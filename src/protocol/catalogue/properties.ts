// MQTT 5.0 property catalogue: DATA only, from Table 2-4 - Properties (MQTT Version 5.0, OASIS
// Standard, 07 March 2019, §2.2.2.2). Names are the "Name (usage)" column word for word; `packets` is
// the "Packet / Will Properties" column in the spec's order ("Will Properties" → 'WILL').
// `repeatable` comes from the per-packet property sections: User Property "is allowed to appear
// multiple times" everywhere it is allowed, and a PUBLISH carries one Subscription Identifier per
// matching subscription (§3.3.2.3.8); for every other property it is a Protocol Error to include it
// more than once.

export type PropertyWireType =
  | 'byte'
  | 'twoByteInteger'
  | 'fourByteInteger'
  | 'varint'
  | 'utf8'
  | 'binary'
  | 'utf8Pair';

/** 'WILL' = Will Properties in the CONNECT payload. */
export type PropertyPacket =
  | 'CONNECT'
  | 'CONNACK'
  | 'PUBLISH'
  | 'WILL'
  | 'PUBACK'
  | 'PUBREC'
  | 'PUBREL'
  | 'PUBCOMP'
  | 'SUBSCRIBE'
  | 'SUBACK'
  | 'UNSUBSCRIBE'
  | 'UNSUBACK'
  | 'DISCONNECT'
  | 'AUTH';

export interface PropertyDef {
  /** Identifier, e.g. 0x01. */
  readonly id: number;
  /** The spec's name, e.g. "Payload Format Indicator". */
  readonly name: string;
  /** camelCase of the name, e.g. "payloadFormatIndicator"; User Property is "userProperties". */
  readonly key: string;
  readonly type: PropertyWireType;
  /** Table 2-4 "Packet / Will Properties" column. */
  readonly packets: readonly PropertyPacket[];
  /** Packets in which the spec allows it more than once; empty otherwise. */
  readonly repeatable: readonly PropertyPacket[];
}

/** User Property may appear, any number of times, in every packet that has properties and in the Will. */
const EVERY_PACKET: readonly PropertyPacket[] = [
  'CONNECT',
  'CONNACK',
  'PUBLISH',
  'WILL',
  'PUBACK',
  'PUBREC',
  'PUBREL',
  'PUBCOMP',
  'SUBSCRIBE',
  'SUBACK',
  'UNSUBSCRIBE',
  'UNSUBACK',
  'DISCONNECT',
  'AUTH',
];

/** All 27 properties of Table 2-4, in id order. */
export const PROPERTIES: readonly PropertyDef[] = [
  {
    id: 0x01,
    name: 'Payload Format Indicator',
    key: 'payloadFormatIndicator',
    type: 'byte',
    packets: ['PUBLISH', 'WILL'],
    repeatable: [],
  },
  {
    id: 0x02,
    name: 'Message Expiry Interval',
    key: 'messageExpiryInterval',
    type: 'fourByteInteger',
    packets: ['PUBLISH', 'WILL'],
    repeatable: [],
  },
  {
    id: 0x03,
    name: 'Content Type',
    key: 'contentType',
    type: 'utf8',
    packets: ['PUBLISH', 'WILL'],
    repeatable: [],
  },
  {
    id: 0x08,
    name: 'Response Topic',
    key: 'responseTopic',
    type: 'utf8',
    packets: ['PUBLISH', 'WILL'],
    repeatable: [],
  },
  {
    id: 0x09,
    name: 'Correlation Data',
    key: 'correlationData',
    type: 'binary',
    packets: ['PUBLISH', 'WILL'],
    repeatable: [],
  },
  {
    id: 0x0b,
    name: 'Subscription Identifier',
    key: 'subscriptionIdentifier',
    type: 'varint',
    packets: ['PUBLISH', 'SUBSCRIBE'],
    repeatable: ['PUBLISH'],
  },
  {
    id: 0x11,
    name: 'Session Expiry Interval',
    key: 'sessionExpiryInterval',
    type: 'fourByteInteger',
    packets: ['CONNECT', 'CONNACK', 'DISCONNECT'],
    repeatable: [],
  },
  {
    id: 0x12,
    name: 'Assigned Client Identifier',
    key: 'assignedClientIdentifier',
    type: 'utf8',
    packets: ['CONNACK'],
    repeatable: [],
  },
  {
    id: 0x13,
    name: 'Server Keep Alive',
    key: 'serverKeepAlive',
    type: 'twoByteInteger',
    packets: ['CONNACK'],
    repeatable: [],
  },
  {
    id: 0x15,
    name: 'Authentication Method',
    key: 'authenticationMethod',
    type: 'utf8',
    packets: ['CONNECT', 'CONNACK', 'AUTH'],
    repeatable: [],
  },
  {
    id: 0x16,
    name: 'Authentication Data',
    key: 'authenticationData',
    type: 'binary',
    packets: ['CONNECT', 'CONNACK', 'AUTH'],
    repeatable: [],
  },
  {
    id: 0x17,
    name: 'Request Problem Information',
    key: 'requestProblemInformation',
    type: 'byte',
    packets: ['CONNECT'],
    repeatable: [],
  },
  {
    id: 0x18,
    name: 'Will Delay Interval',
    key: 'willDelayInterval',
    type: 'fourByteInteger',
    packets: ['WILL'],
    repeatable: [],
  },
  {
    id: 0x19,
    name: 'Request Response Information',
    key: 'requestResponseInformation',
    type: 'byte',
    packets: ['CONNECT'],
    repeatable: [],
  },
  {
    id: 0x1a,
    name: 'Response Information',
    key: 'responseInformation',
    type: 'utf8',
    packets: ['CONNACK'],
    repeatable: [],
  },
  {
    id: 0x1c,
    name: 'Server Reference',
    key: 'serverReference',
    type: 'utf8',
    packets: ['CONNACK', 'DISCONNECT'],
    repeatable: [],
  },
  {
    id: 0x1f,
    name: 'Reason String',
    key: 'reasonString',
    type: 'utf8',
    packets: ['CONNACK', 'PUBACK', 'PUBREC', 'PUBREL', 'PUBCOMP', 'SUBACK', 'UNSUBACK', 'DISCONNECT', 'AUTH'],
    repeatable: [],
  },
  {
    id: 0x21,
    name: 'Receive Maximum',
    key: 'receiveMaximum',
    type: 'twoByteInteger',
    packets: ['CONNECT', 'CONNACK'],
    repeatable: [],
  },
  {
    id: 0x22,
    name: 'Topic Alias Maximum',
    key: 'topicAliasMaximum',
    type: 'twoByteInteger',
    packets: ['CONNECT', 'CONNACK'],
    repeatable: [],
  },
  {
    id: 0x23,
    name: 'Topic Alias',
    key: 'topicAlias',
    type: 'twoByteInteger',
    packets: ['PUBLISH'],
    repeatable: [],
  },
  {
    id: 0x24,
    name: 'Maximum QoS',
    key: 'maximumQoS',
    type: 'byte',
    packets: ['CONNACK'],
    repeatable: [],
  },
  {
    id: 0x25,
    name: 'Retain Available',
    key: 'retainAvailable',
    type: 'byte',
    packets: ['CONNACK'],
    repeatable: [],
  },
  {
    id: 0x26,
    name: 'User Property',
    key: 'userProperties',
    type: 'utf8Pair',
    packets: EVERY_PACKET,
    repeatable: EVERY_PACKET,
  },
  {
    id: 0x27,
    name: 'Maximum Packet Size',
    key: 'maximumPacketSize',
    type: 'fourByteInteger',
    packets: ['CONNECT', 'CONNACK'],
    repeatable: [],
  },
  {
    id: 0x28,
    name: 'Wildcard Subscription Available',
    key: 'wildcardSubscriptionAvailable',
    type: 'byte',
    packets: ['CONNACK'],
    repeatable: [],
  },
  {
    id: 0x29,
    name: 'Subscription Identifier Available',
    key: 'subscriptionIdentifierAvailable',
    type: 'byte',
    packets: ['CONNACK'],
    repeatable: [],
  },
  {
    id: 0x2a,
    name: 'Shared Subscription Available',
    key: 'sharedSubscriptionAvailable',
    type: 'byte',
    packets: ['CONNACK'],
    repeatable: [],
  },
];
