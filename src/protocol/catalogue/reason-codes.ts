// MQTT reason / return code catalogue: DATA only, copied word for word from the OASIS specifications.
//
// Sources:
// - MQTT Version 5.0, OASIS Standard, 07 March 2019: Table 2-6 and the per-packet tables
//   3-1 (CONNACK), 3-4 (PUBACK), 3-5 (PUBREC), 3-6 (PUBREL), 3-7 (PUBCOMP), 3-8 (SUBACK),
//   3-9 (UNSUBACK), 3-10 (DISCONNECT) and 3-11 (AUTH).
// - MQTT Version 3.1.1, OASIS Standard, 29 October 2014: Table 3.1 and section 3.9.3.
//
// Descriptions are the "Description" column of the packet's OWN table, including the spec's own
// typos and missing full stops (marked [sic] below), so that they can be compared with the spec.
// Names are the "Reason Code name" column; where a packet table misspells a name that Table 2-6
// spells otherwise, the Table 2-6 spelling is used and the table's literal text is noted.

export interface ReasonCodeEntry {
  readonly code: number;
  readonly name: string;
  readonly description: string;
}

export type ReasonPacket =
  | 'CONNACK'
  | 'PUBACK'
  | 'PUBREC'
  | 'PUBREL'
  | 'PUBCOMP'
  | 'SUBACK'
  | 'UNSUBACK'
  | 'DISCONNECT'
  | 'AUTH';

/** MQTT 5.0: each packet's OWN table (sections 3.2.2.2, 3.4.2.1, 3.5.2.1, 3.6.2.1, 3.7.2.1, 3.9.3, 3.11.3, 3.14.2.1, 3.15.2.1), in spec order. */
export const V5_REASON_CODES: Readonly<Record<ReasonPacket, readonly ReasonCodeEntry[]>> = {
  // §3.2.2.2, Table 3-1 - Connect Reason Code values
  CONNACK: [
    { code: 0x00, name: 'Success', description: 'The Connection is accepted.' },
    {
      code: 0x80,
      name: 'Unspecified error',
      description:
        'The Server does not wish to reveal the reason for the failure, or none of the other Reason Codes apply.',
    },
    {
      code: 0x81,
      name: 'Malformed Packet',
      description: 'Data within the CONNECT packet could not be correctly parsed.',
    },
    {
      code: 0x82,
      name: 'Protocol Error',
      description: 'Data in the CONNECT packet does not conform to this specification.',
    },
    {
      code: 0x83,
      name: 'Implementation specific error',
      description: 'The CONNECT is valid but is not accepted by this Server.',
    },
    {
      code: 0x84,
      name: 'Unsupported Protocol Version',
      description: 'The Server does not support the version of the MQTT protocol requested by the Client.',
    },
    {
      code: 0x85,
      name: 'Client Identifier not valid',
      description: 'The Client Identifier is a valid string but is not allowed by the Server.',
    },
    {
      code: 0x86,
      name: 'Bad User Name or Password',
      // [sic] no full stop in the spec
      description: 'The Server does not accept the User Name or Password specified by the Client',
    },
    { code: 0x87, name: 'Not authorized', description: 'The Client is not authorized to connect.' },
    { code: 0x88, name: 'Server unavailable', description: 'The MQTT Server is not available.' },
    { code: 0x89, name: 'Server busy', description: 'The Server is busy. Try again later.' },
    {
      code: 0x8a,
      name: 'Banned',
      description: 'This Client has been banned by administrative action. Contact the server administrator.',
    },
    {
      code: 0x8c,
      name: 'Bad authentication method',
      description:
        'The authentication method is not supported or does not match the authentication method currently in use.',
    },
    {
      code: 0x90,
      name: 'Topic Name invalid',
      description: 'The Will Topic Name is not malformed, but is not accepted by this Server.',
    },
    {
      code: 0x95,
      name: 'Packet too large',
      description: 'The CONNECT packet exceeded the maximum permissible size.',
    },
    {
      code: 0x97,
      name: 'Quota exceeded',
      description: 'An implementation or administrative imposed limit has been exceeded.',
    },
    {
      code: 0x99,
      name: 'Payload format invalid',
      description: 'The Will Payload does not match the specified Payload Format Indicator.',
    },
    {
      code: 0x9a,
      name: 'Retain not supported',
      description: 'The Server does not support retained messages, and Will Retain was set to 1.',
    },
    {
      code: 0x9b,
      name: 'QoS not supported',
      description: 'The Server does not support the QoS set in Will QoS.',
    },
    {
      code: 0x9c,
      name: 'Use another server',
      description: 'The Client should temporarily use another server.',
    },
    { code: 0x9d, name: 'Server moved', description: 'The Client should permanently use another server.' },
    {
      code: 0x9f,
      name: 'Connection rate exceeded',
      description: 'The connection rate limit has been exceeded.',
    },
  ],

  // §3.4.2.1, Table 3-4 - PUBACK Reason Codes
  PUBACK: [
    {
      code: 0x00,
      name: 'Success',
      description: 'The message is accepted. Publication of the QoS 1 message proceeds.',
    },
    {
      code: 0x10,
      name: 'No matching subscribers',
      description:
        'The message is accepted but there are no subscribers. This is sent only by the Server. If the Server knows that there are no matching subscribers, it MAY use this Reason Code instead of 0x00 (Success).',
    },
    {
      code: 0x80,
      name: 'Unspecified error',
      description:
        'The receiver does not accept the publish but either does not want to reveal the reason, or it does not match one of the other values.',
    },
    {
      code: 0x83,
      name: 'Implementation specific error',
      description: 'The PUBLISH is valid but the receiver is not willing to accept it.',
    },
    { code: 0x87, name: 'Not authorized', description: 'The PUBLISH is not authorized.' },
    {
      code: 0x90,
      name: 'Topic Name invalid',
      description: 'The Topic Name is not malformed, but is not accepted by this Client or Server.',
    },
    {
      code: 0x91,
      // Table 3-4 spells it "Packet identifier in use"; Table 2-6 and every other table: "Packet Identifier in use".
      name: 'Packet Identifier in use',
      description:
        'The Packet Identifier is already in use. This might indicate a mismatch in the Session State between the Client and Server.',
    },
    {
      code: 0x97,
      name: 'Quota exceeded',
      description: 'An implementation or administrative imposed limit has been exceeded.',
    },
    {
      code: 0x99,
      name: 'Payload format invalid',
      description: 'The payload format does not match the specified Payload Format Indicator.',
    },
  ],

  // §3.5.2.1, Table 3-5 - PUBREC Reason Codes
  PUBREC: [
    {
      code: 0x00,
      name: 'Success',
      description: 'The message is accepted. Publication of the QoS 2 message proceeds.',
    },
    {
      code: 0x10,
      // Table 3-5 prints the name with a stray full stop ("No matching subscribers."); Table 2-6 has none.
      name: 'No matching subscribers',
      description:
        'The message is accepted but there are no subscribers. This is sent only by the Server. If the Server knows that there are no matching subscribers, it MAY use this Reason Code instead of 0x00 (Success).',
    },
    {
      code: 0x80,
      name: 'Unspecified error',
      description:
        'The receiver does not accept the publish but either does not want to reveal the reason, or it does not match one of the other values.',
    },
    {
      code: 0x83,
      name: 'Implementation specific error',
      description: 'The PUBLISH is valid but the receiver is not willing to accept it.',
    },
    { code: 0x87, name: 'Not authorized', description: 'The PUBLISH is not authorized.' },
    {
      code: 0x90,
      name: 'Topic Name invalid',
      description: 'The Topic Name is not malformed, but is not accepted by this Client or Server.',
    },
    {
      code: 0x91,
      name: 'Packet Identifier in use',
      description:
        'The Packet Identifier is already in use. This might indicate a mismatch in the Session State between the Client and Server.',
    },
    {
      code: 0x97,
      name: 'Quota exceeded',
      description: 'An implementation or administrative imposed limit has been exceeded.',
    },
    {
      code: 0x99,
      name: 'Payload format invalid',
      description: 'The payload format does not match the one specified in the Payload Format Indicator.',
    },
  ],

  // §3.6.2.1, Table 3-6 - PUBREL Reason Codes
  PUBREL: [
    { code: 0x00, name: 'Success', description: 'Message released.' },
    {
      code: 0x92,
      name: 'Packet Identifier not found',
      description:
        'The Packet Identifier is not known. This is not an error during recovery, but at other times indicates a mismatch between the Session State on the Client and Server.',
    },
  ],

  // §3.7.2.1, Table 3-7 - PUBCOMP Reason Codes
  PUBCOMP: [
    {
      code: 0x00,
      name: 'Success',
      description: 'Packet Identifier released. Publication of QoS 2 message is complete.',
    },
    {
      code: 0x92,
      name: 'Packet Identifier not found',
      description:
        'The Packet Identifier is not known. This is not an error during recovery, but at other times indicates a mismatch between the Session State on the Client and Server.',
    },
  ],

  // §3.9.3, Table 3-8 - Subscribe Reason Codes
  SUBACK: [
    {
      code: 0x00,
      name: 'Granted QoS 0',
      description:
        'The subscription is accepted and the maximum QoS sent will be QoS 0. This might be a lower QoS than was requested.',
    },
    {
      code: 0x01,
      name: 'Granted QoS 1',
      description:
        'The subscription is accepted and the maximum QoS sent will be QoS 1. This might be a lower QoS than was requested.',
    },
    {
      code: 0x02,
      name: 'Granted QoS 2',
      description: 'The subscription is accepted and any received QoS will be sent to this subscription.',
    },
    {
      code: 0x80,
      name: 'Unspecified error',
      description:
        'The subscription is not accepted and the Server either does not wish to reveal the reason or none of the other Reason Codes apply.',
    },
    {
      code: 0x83,
      name: 'Implementation specific error',
      description: 'The SUBSCRIBE is valid but the Server does not accept it.',
    },
    {
      code: 0x87,
      name: 'Not authorized',
      description: 'The Client is not authorized to make this subscription.',
    },
    {
      code: 0x8f,
      name: 'Topic Filter invalid',
      description: 'The Topic Filter is correctly formed but is not allowed for this Client.',
    },
    {
      code: 0x91,
      name: 'Packet Identifier in use',
      description: 'The specified Packet Identifier is already in use.',
    },
    {
      code: 0x97,
      name: 'Quota exceeded',
      description: 'An implementation or administrative imposed limit has been exceeded.',
    },
    {
      code: 0x9e,
      name: 'Shared Subscriptions not supported',
      description: 'The Server does not support Shared Subscriptions for this Client.',
    },
    {
      code: 0xa1,
      name: 'Subscription Identifiers not supported',
      description: 'The Server does not support Subscription Identifiers; the subscription is not accepted.',
    },
    {
      code: 0xa2,
      name: 'Wildcard Subscriptions not supported',
      description: 'The Server does not support Wildcard Subscriptions; the subscription is not accepted.',
    },
  ],

  // §3.11.3, Table 3-9 - Unsubscribe Reason Codes
  UNSUBACK: [
    { code: 0x00, name: 'Success', description: 'The subscription is deleted.' },
    {
      code: 0x11,
      name: 'No subscription existed',
      description: 'No matching Topic Filter is being used by the Client.',
    },
    {
      code: 0x80,
      name: 'Unspecified error',
      description:
        'The unsubscribe could not be completed and the Server either does not wish to reveal the reason or none of the other Reason Codes apply.',
    },
    {
      code: 0x83,
      name: 'Implementation specific error',
      description: 'The UNSUBSCRIBE is valid but the Server does not accept it.',
    },
    { code: 0x87, name: 'Not authorized', description: 'The Client is not authorized to unsubscribe.' },
    {
      code: 0x8f,
      name: 'Topic Filter invalid',
      description: 'The Topic Filter is correctly formed but is not allowed for this Client.',
    },
    {
      code: 0x91,
      name: 'Packet Identifier in use',
      description: 'The specified Packet Identifier is already in use.',
    },
  ],

  // §3.14.2.1, Table 3-10 - Disconnect Reason Code values (its "Sent by" column is not carried).
  // Table 2-6 also lists 0x8C (Bad authentication method) for DISCONNECT; Table 3-10 does not.
  DISCONNECT: [
    {
      code: 0x00,
      name: 'Normal disconnection',
      description: 'Close the connection normally. Do not send the Will Message.',
    },
    {
      code: 0x04,
      name: 'Disconnect with Will Message',
      description:
        'The Client wishes to disconnect but requires that the Server also publishes its Will Message.',
    },
    {
      code: 0x80,
      name: 'Unspecified error',
      description:
        'The Connection is closed but the sender either does not wish to reveal the reason, or none of the other Reason Codes apply.',
    },
    {
      code: 0x81,
      name: 'Malformed Packet',
      description: 'The received packet does not conform to this specification.',
    },
    { code: 0x82, name: 'Protocol Error', description: 'An unexpected or out of order packet was received.' },
    {
      code: 0x83,
      name: 'Implementation specific error',
      description: 'The packet received is valid but cannot be processed by this implementation.',
    },
    { code: 0x87, name: 'Not authorized', description: 'The request is not authorized.' },
    {
      code: 0x89,
      name: 'Server busy',
      description: 'The Server is busy and cannot continue processing requests from this Client.',
    },
    { code: 0x8b, name: 'Server shutting down', description: 'The Server is shutting down.' },
    {
      code: 0x8d,
      name: 'Keep Alive timeout',
      description:
        'The Connection is closed because no packet has been received for 1.5 times the Keepalive time.',
    },
    {
      code: 0x8e,
      name: 'Session taken over',
      description:
        'Another Connection using the same ClientID has connected causing this Connection to be closed.',
    },
    {
      code: 0x8f,
      name: 'Topic Filter invalid',
      // [sic] "Sever"
      description: 'The Topic Filter is correctly formed, but is not accepted by this Sever.',
    },
    {
      code: 0x90,
      name: 'Topic Name invalid',
      description: 'The Topic Name is correctly formed, but is not accepted by this Client or Server.',
    },
    {
      code: 0x93,
      name: 'Receive Maximum exceeded',
      description:
        'The Client or Server has received more than Receive Maximum publication for which it has not sent PUBACK or PUBCOMP.',
    },
    {
      code: 0x94,
      name: 'Topic Alias invalid',
      description:
        'The Client or Server has received a PUBLISH packet containing a Topic Alias which is greater than the Maximum Topic Alias it sent in the CONNECT or CONNACK packet.',
    },
    {
      code: 0x95,
      name: 'Packet too large',
      description: 'The packet size is greater than Maximum Packet Size for this Client or Server.',
    },
    { code: 0x96, name: 'Message rate too high', description: 'The received data rate is too high.' },
    {
      code: 0x97,
      name: 'Quota exceeded',
      description: 'An implementation or administrative imposed limit has been exceeded.',
    },
    {
      code: 0x98,
      name: 'Administrative action',
      description: 'The Connection is closed due to an administrative action.',
    },
    {
      code: 0x99,
      name: 'Payload format invalid',
      description: 'The payload format does not match the one specified by the Payload Format Indicator.',
    },
    {
      code: 0x9a,
      name: 'Retain not supported',
      // [sic] "has does not"
      description: 'The Server has does not support retained messages.',
    },
    {
      code: 0x9b,
      name: 'QoS not supported',
      description:
        'The Client specified a QoS greater than the QoS specified in a Maximum QoS in the CONNACK.',
    },
    {
      code: 0x9c,
      name: 'Use another server',
      description: 'The Client should temporarily change its Server.',
    },
    {
      code: 0x9d,
      name: 'Server moved',
      description: 'The Server is moved and the Client should permanently change its server location.',
    },
    {
      code: 0x9e,
      name: 'Shared Subscriptions not supported',
      description: 'The Server does not support Shared Subscriptions.',
    },
    {
      code: 0x9f,
      name: 'Connection rate exceeded',
      description: 'This connection is closed because the connection rate is too high.',
    },
    {
      code: 0xa0,
      name: 'Maximum connect time',
      description: 'The maximum connection time authorized for this connection has been exceeded.',
    },
    {
      code: 0xa1,
      name: 'Subscription Identifiers not supported',
      description: 'The Server does not support Subscription Identifiers; the subscription is not accepted.',
    },
    {
      code: 0xa2,
      name: 'Wildcard Subscriptions not supported',
      description: 'The Server does not support Wildcard Subscriptions; the subscription is not accepted.',
    },
  ],

  // §3.15.2.1, Table 3-11 - Authenticate Reason Codes (its "Sent by" column is not carried).
  // [sic] none of the three descriptions ends with a full stop in the spec.
  AUTH: [
    { code: 0x00, name: 'Success', description: 'Authentication is successful' },
    {
      code: 0x18,
      name: 'Continue authentication',
      description: 'Continue the authentication with another step',
    },
    { code: 0x19, name: 'Re-authenticate', description: 'Initiate a re-authentication' },
  ],
};

/**
 * MQTT 3.1.1 Table 3.1 Connect Return code values (also used by 3.1): name = the "Response" column, description = the "Description" column.
 * The Response column prefixes each name with its hex value ("0x01 Connection Refused, ..."); the prefix is not kept.
 * Values 6-255 are "Reserved for future use" and have no entry.
 */
export const V3_CONNACK_RETURN_CODES: readonly ReasonCodeEntry[] = [
  { code: 0, name: 'Connection Accepted', description: 'Connection accepted' },
  {
    code: 1,
    name: 'Connection Refused, unacceptable protocol version',
    description: 'The Server does not support the level of the MQTT protocol requested by the Client',
  },
  {
    code: 2,
    name: 'Connection Refused, identifier rejected',
    description: 'The Client identifier is correct UTF-8 but not allowed by the Server',
  },
  {
    code: 3,
    name: 'Connection Refused, Server unavailable',
    description: 'The Network Connection has been made but the MQTT service is unavailable',
  },
  {
    code: 4,
    name: 'Connection Refused, bad user name or password',
    description: 'The data in the user name or password is malformed',
  },
  {
    code: 5,
    name: 'Connection Refused, not authorized',
    description: 'The Client is not authorized to connect',
  },
];

/**
 * MQTT 3.1.1 §3.9.3 SUBACK return codes 0x00, 0x01, 0x02, 0x80 with the spec's wording ("Success - Maximum QoS 0" ... "Failure").
 * §3.9.3 only lists "Allowed return codes" with no description column and no per-code sentence, so each
 * description repeats the name.
 */
export const V3_SUBACK_RETURN_CODES: readonly ReasonCodeEntry[] = [
  { code: 0x00, name: 'Success - Maximum QoS 0', description: 'Success - Maximum QoS 0' },
  { code: 0x01, name: 'Success - Maximum QoS 1', description: 'Success - Maximum QoS 1' },
  { code: 0x02, name: 'Success - Maximum QoS 2', description: 'Success - Maximum QoS 2' },
  { code: 0x80, name: 'Failure', description: 'Failure' },
];

/** MQTT 5.0 Table 2-6 (overview): one row per (code, name) with the packets the spec lists for it. */
export const V5_REASON_CODE_OVERVIEW: readonly {
  readonly code: number;
  readonly name: string;
  readonly packets: readonly ReasonPacket[];
}[] = [
  {
    code: 0x00,
    name: 'Success',
    packets: ['CONNACK', 'PUBACK', 'PUBREC', 'PUBREL', 'PUBCOMP', 'UNSUBACK', 'AUTH'],
  },
  { code: 0x00, name: 'Normal disconnection', packets: ['DISCONNECT'] },
  { code: 0x00, name: 'Granted QoS 0', packets: ['SUBACK'] },
  { code: 0x01, name: 'Granted QoS 1', packets: ['SUBACK'] },
  { code: 0x02, name: 'Granted QoS 2', packets: ['SUBACK'] },
  { code: 0x04, name: 'Disconnect with Will Message', packets: ['DISCONNECT'] },
  { code: 0x10, name: 'No matching subscribers', packets: ['PUBACK', 'PUBREC'] },
  { code: 0x11, name: 'No subscription existed', packets: ['UNSUBACK'] },
  { code: 0x18, name: 'Continue authentication', packets: ['AUTH'] },
  { code: 0x19, name: 'Re-authenticate', packets: ['AUTH'] },
  {
    code: 0x80,
    name: 'Unspecified error',
    packets: ['CONNACK', 'PUBACK', 'PUBREC', 'SUBACK', 'UNSUBACK', 'DISCONNECT'],
  },
  { code: 0x81, name: 'Malformed Packet', packets: ['CONNACK', 'DISCONNECT'] },
  { code: 0x82, name: 'Protocol Error', packets: ['CONNACK', 'DISCONNECT'] },
  {
    code: 0x83,
    name: 'Implementation specific error',
    packets: ['CONNACK', 'PUBACK', 'PUBREC', 'SUBACK', 'UNSUBACK', 'DISCONNECT'],
  },
  { code: 0x84, name: 'Unsupported Protocol Version', packets: ['CONNACK'] },
  { code: 0x85, name: 'Client Identifier not valid', packets: ['CONNACK'] },
  { code: 0x86, name: 'Bad User Name or Password', packets: ['CONNACK'] },
  {
    code: 0x87,
    name: 'Not authorized',
    packets: ['CONNACK', 'PUBACK', 'PUBREC', 'SUBACK', 'UNSUBACK', 'DISCONNECT'],
  },
  { code: 0x88, name: 'Server unavailable', packets: ['CONNACK'] },
  { code: 0x89, name: 'Server busy', packets: ['CONNACK', 'DISCONNECT'] },
  { code: 0x8a, name: 'Banned', packets: ['CONNACK'] },
  { code: 0x8b, name: 'Server shutting down', packets: ['DISCONNECT'] },
  // Table 3-10 (DISCONNECT's own table) has no 0x8C row.
  { code: 0x8c, name: 'Bad authentication method', packets: ['CONNACK', 'DISCONNECT'] },
  { code: 0x8d, name: 'Keep Alive timeout', packets: ['DISCONNECT'] },
  { code: 0x8e, name: 'Session taken over', packets: ['DISCONNECT'] },
  { code: 0x8f, name: 'Topic Filter invalid', packets: ['SUBACK', 'UNSUBACK', 'DISCONNECT'] },
  { code: 0x90, name: 'Topic Name invalid', packets: ['CONNACK', 'PUBACK', 'PUBREC', 'DISCONNECT'] },
  { code: 0x91, name: 'Packet Identifier in use', packets: ['PUBACK', 'PUBREC', 'SUBACK', 'UNSUBACK'] },
  { code: 0x92, name: 'Packet Identifier not found', packets: ['PUBREL', 'PUBCOMP'] },
  { code: 0x93, name: 'Receive Maximum exceeded', packets: ['DISCONNECT'] },
  { code: 0x94, name: 'Topic Alias invalid', packets: ['DISCONNECT'] },
  { code: 0x95, name: 'Packet too large', packets: ['CONNACK', 'DISCONNECT'] },
  { code: 0x96, name: 'Message rate too high', packets: ['DISCONNECT'] },
  { code: 0x97, name: 'Quota exceeded', packets: ['CONNACK', 'PUBACK', 'PUBREC', 'SUBACK', 'DISCONNECT'] },
  { code: 0x98, name: 'Administrative action', packets: ['DISCONNECT'] },
  { code: 0x99, name: 'Payload format invalid', packets: ['CONNACK', 'PUBACK', 'PUBREC', 'DISCONNECT'] },
  { code: 0x9a, name: 'Retain not supported', packets: ['CONNACK', 'DISCONNECT'] },
  { code: 0x9b, name: 'QoS not supported', packets: ['CONNACK', 'DISCONNECT'] },
  { code: 0x9c, name: 'Use another server', packets: ['CONNACK', 'DISCONNECT'] },
  { code: 0x9d, name: 'Server moved', packets: ['CONNACK', 'DISCONNECT'] },
  { code: 0x9e, name: 'Shared Subscriptions not supported', packets: ['SUBACK', 'DISCONNECT'] },
  { code: 0x9f, name: 'Connection rate exceeded', packets: ['CONNACK', 'DISCONNECT'] },
  { code: 0xa0, name: 'Maximum connect time', packets: ['DISCONNECT'] },
  { code: 0xa1, name: 'Subscription Identifiers not supported', packets: ['SUBACK', 'DISCONNECT'] },
  { code: 0xa2, name: 'Wildcard Subscriptions not supported', packets: ['SUBACK', 'DISCONNECT'] },
];
