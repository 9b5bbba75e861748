/**
 * Spec vectors for every control packet in MQTT 3.1 (protocol name "MQIsdp", level 3), 3.1.1 and
 * 5.0, written out in hex as the spec lays the bytes out, then checked field by field. Each vector
 * is also rebuilt with the builders in test/helpers/packets.ts, so a slip in either shows.
 */
import { describe, expect, it } from 'vitest';
import type { ProtocolVersion } from '../../src/protocol/constants.js';
import type { Packet } from '../../src/protocol/types.js';
import { hex } from '../helpers/hex.js';
import {
  ack,
  auth,
  cat,
  connack,
  connect,
  decodeStream,
  disconnect,
  P,
  pingreq,
  pingresp,
  prop,
  publish,
  suback,
  subscribe,
  unsuback,
  unsubscribe,
} from '../helpers/packets.js';

interface Vector {
  name: string;
  version: ProtocolVersion;
  bytes: Buffer;
  /** The same packet from the builders. */
  built?: Buffer;
  expected: Record<string, unknown>;
}

const B = (s: string): Buffer => Buffer.from(s, 'utf8');

function decodeOne(bytes: Buffer, version: ProtocolVersion): Packet {
  const { packets, errors } = decodeStream(bytes, version);
  expect(errors).toEqual([]);
  expect(packets).toHaveLength(1);
  return packets[0]!;
}

function run(vectors: Vector[]): void {
  it.each(vectors.map((v) => [v.name, v] as const))('%s', (_name, v) => {
    if (v.built !== undefined) expect(v.built.toString('hex')).toBe(v.bytes.toString('hex'));
    const p = decodeOne(v.bytes, v.version);
    // `key: undefined` in a vector means "absent"; toMatchObject would demand the key.
    const present = Object.entries(v.expected).filter(([, value]) => value !== undefined);
    expect(p).toMatchObject(Object.fromEntries(present));
    for (const [key, value] of Object.entries(v.expected)) {
      if (value === undefined) expect((p as unknown as Record<string, unknown>)[key], key).toBeUndefined();
    }
    expect(p.violations).toEqual([]);
    expect(p.length).toBe(v.bytes.length);
    expect(p.offset).toBe(0);
    expect(p.truncated).toBeUndefined();
  });
}

// Will + user name + password, clean session, Will QoS 1, Will Retain: Connect Flags 0xEE.
const CONNECT_31 = hex`
  10 21
  00 06 4d 51 49 73 64 70   # "MQIsdp"
  03 ee 00 3c               # level 3, flags, keep alive 60
  00 02 63 31               # client id "c1"
  00 03 77 2f 74            # will topic "w/t"
  00 03 62 79 65            # will message "bye"
  00 01 75 00 02 70 77      # user name "u", password "pw"`;

const CONNECT_311 = hex`
  10 1f
  00 04 4d 51 54 54 04 ee 00 3c   # "MQTT" level 4
  00 02 63 31 00 03 77 2f 74 00 03 62 79 65 00 01 75 00 02 70 77`;

const CONNECT_5 = hex`
  10 3e
  00 04 4d 51 54 54 05 ee 00 3c
  0f                          # Property Length 15
  11 00 00 00 78              # Session Expiry Interval 120
  21 00 14                    # Receive Maximum 20
  26 00 01 6b 00 01 76        # User Property k=v
  00 02 63 31                 # client id
  0e                          # Will Properties, length 14
  18 00 00 00 05              # Will Delay Interval 5
  01 01                       # Payload Format Indicator 1
  03 00 04 74 65 78 74        # Content Type "text"
  00 03 77 2f 74 00 03 62 79 65 00 01 75 00 02 70 77`;

const will = (properties?: Buffer[]) => ({
  topic: 'w/t',
  payload: B('bye'),
  qos: 1,
  retain: true,
  ...(properties ? { properties } : {}),
});

const connectFields = (version: ProtocolVersion, protocolName: string, protocolLevel: number) => ({
  type: 'CONNECT',
  protocol: version,
  protocolName,
  protocolLevel,
  clean: true,
  keepAlive: 60,
  clientId: 'c1',
  will: { qos: 1, retain: true, topic: 'w/t', payload: { length: 3, data: B('bye') } },
  username: 'u',
  password: B('pw'),
});

describe('CONNECT (§3.1)', () => {
  run([
    {
      name: '3.1: "MQIsdp" level 3 with will, user name and password',
      version: '5.0', // the CONNECT's own level decides (§3.1.2.2)
      bytes: CONNECT_31,
      built: connect({ version: '3.1', clientId: 'c1', will: will(), username: 'u', password: B('pw') }),
      expected: { ...connectFields('3.1', 'MQIsdp', 3), properties: undefined },
    },
    {
      name: '3.1.1: "MQTT" level 4 with will, user name and password (§3.1.2.10 layout)',
      version: '5.0',
      bytes: CONNECT_311,
      built: connect({ version: '3.1.1', clientId: 'c1', will: will(), username: 'u', password: B('pw') }),
      expected: { ...connectFields('3.1.1', 'MQTT', 4), properties: undefined },
    },
    {
      name: '5.0: properties, Will Properties, user name and password (§3.1.2.11, §3.1.3.2)',
      version: '3.1.1',
      bytes: CONNECT_5,
      built: connect({
        version: '5.0',
        clientId: 'c1',
        will: will([
          prop(P.willDelayInterval, 5),
          prop(P.payloadFormatIndicator, 1),
          prop(P.contentType, 'text'),
        ]),
        username: 'u',
        password: B('pw'),
        properties: [
          prop(P.sessionExpiryInterval, 120),
          prop(P.receiveMaximum, 20),
          prop(P.userProperty, ['k', 'v']),
        ],
      }),
      expected: {
        ...connectFields('5.0', 'MQTT', 5),
        properties: { sessionExpiryInterval: 120, receiveMaximum: 20, userProperties: [['k', 'v']] },
        will: {
          qos: 1,
          retain: true,
          topic: 'w/t',
          payload: { length: 3, data: B('bye') },
          properties: { willDelayInterval: 5, payloadFormatIndicator: 1, contentType: 'text' },
        },
      },
    },
    {
      name: '3.1.1: minimal, zero-length client id, Clean Session 0, no will (§3.1.3.1)',
      version: '3.1.1',
      bytes: hex`10 0c 00 04 4d 51 54 54 04 00 00 00 00 00`,
      built: connect({ version: '3.1.1', clean: false, keepAlive: 0 }),
      expected: { clean: false, keepAlive: 0, clientId: '', will: undefined, username: undefined },
    },
    {
      name: '5.0: Property Length 0 means no properties (§2.2.2.1)',
      version: '5.0',
      bytes: hex`10 0f 00 04 4d 51 54 54 05 02 00 1e 00 00 02 69 64`,
      built: connect({ version: '5.0', clientId: 'id', keepAlive: 30 }),
      expected: { protocol: '5.0', clientId: 'id', keepAlive: 30, properties: undefined },
    },
    {
      name: '5.0: password without user name is allowed (§3.1.2.9)',
      version: '5.0',
      bytes: connect({ version: '5.0', clientId: 'x', password: B('secret') }),
      expected: { username: undefined, password: B('secret') },
    },
    {
      name: '5.0: authentication method and data (§3.1.2.11.9-10)',
      version: '5.0',
      bytes: connect({
        version: '5.0',
        clientId: 'x',
        properties: [prop(P.authenticationMethod, 'SCRAM-SHA-1'), prop(P.authenticationData, hex`01 02 03`)],
      }),
      expected: { properties: { authenticationMethod: 'SCRAM-SHA-1', authenticationData: hex`01 02 03` } },
    },
  ]);
});

describe('CONNACK (§3.2)', () => {
  run([
    {
      name: '3.1: accepted',
      version: '3.1',
      bytes: hex`20 02 00 00`,
      built: connack({ version: '3.1' }),
      expected: { type: 'CONNACK', protocol: '3.1', sessionPresent: false, code: 0 },
    },
    {
      name: '3.1.1: Session Present 1 (§3.2.2.2)',
      version: '3.1.1',
      bytes: hex`20 02 01 00`,
      built: connack({ version: '3.1.1', sessionPresent: true }),
      expected: { sessionPresent: true, code: 0, properties: undefined },
    },
    {
      name: '3.1.1: return code 4, bad user name or password (Table 3.1)',
      version: '3.1.1',
      bytes: hex`20 02 00 04`,
      expected: { sessionPresent: false, code: 4 },
    },
    {
      name: '5.0: 0x86 Bad User Name or Password, Property Length 0 (Table 3-1)',
      version: '5.0',
      bytes: hex`20 03 00 86 00`,
      built: connack({ version: '5.0', code: 0x86 }),
      expected: { sessionPresent: false, code: 0x86, properties: undefined },
    },
    {
      name: '5.0: with CONNACK properties (§3.2.2.3)',
      version: '5.0',
      bytes: hex`
        20 15 00 00 12
        12 00 03 61 62 63     # Assigned Client Identifier "abc"
        22 00 0a              # Topic Alias Maximum 10
        24 01                 # Maximum QoS 1
        25 00                 # Retain Available 0
        1f 00 02 6f 6b        # Reason String "ok"`,
      built: connack({
        version: '5.0',
        properties: [
          prop(P.assignedClientIdentifier, 'abc'),
          prop(P.topicAliasMaximum, 10),
          prop(P.maximumQoS, 1),
          prop(P.retainAvailable, 0),
          prop(P.reasonString, 'ok'),
        ],
      }),
      expected: {
        code: 0,
        properties: {
          assignedClientIdentifier: 'abc',
          topicAliasMaximum: 10,
          maximumQoS: 1,
          retainAvailable: 0,
          reasonString: 'ok',
        },
      },
    },
  ]);
});

describe('PUBLISH (§3.3)', () => {
  const versions: ProtocolVersion[] = ['3.1', '3.1.1'];
  for (const version of versions) {
    run([
      {
        name: `${version}: QoS 0 (§3.3.1.2: no Packet Identifier)`,
        version,
        bytes: hex`30 0a 00 03 61 2f 62 68 65 6c 6c 6f`,
        built: publish({ version, topic: 'a/b', payload: B('hello') }),
        expected: {
          type: 'PUBLISH',
          protocol: version,
          flags: 0,
          dup: false,
          qos: 0,
          retain: false,
          topic: 'a/b',
          packetId: undefined,
          payload: { length: 5, data: B('hello') },
        },
      },
      {
        name: `${version}: QoS 1 with Packet Identifier 10 (§3.3.2.2)`,
        version,
        bytes: hex`32 0c 00 03 61 2f 62 00 0a 68 65 6c 6c 6f`,
        built: publish({ version, topic: 'a/b', qos: 1, packetId: 10, payload: B('hello') }),
        expected: { qos: 1, packetId: 10, payload: { length: 5 } },
      },
      {
        name: `${version}: QoS 2, DUP and RETAIN (§3.3.1.1-3)`,
        version,
        bytes: hex`3d 0c 00 03 61 2f 62 ff ff 68 65 6c 6c 6f`,
        built: publish({
          version,
          topic: 'a/b',
          qos: 2,
          dup: true,
          retain: true,
          packetId: 65535,
          payload: B('hello'),
        }),
        expected: { flags: 0x0d, dup: true, qos: 2, retain: true, packetId: 65535 },
      },
      {
        name: `${version}: empty payload (§3.3.3)`,
        version,
        bytes: hex`31 03 00 01 74`,
        expected: { retain: true, topic: 't', payload: { length: 0, data: Buffer.alloc(0) } },
      },
    ]);
  }
  run([
    {
      name: '5.0: QoS 0, Property Length 0 (§3.3.2.3.1)',
      version: '5.0',
      bytes: hex`30 08 00 03 61 2f 62 00 68 69`,
      built: publish({ version: '5.0', topic: 'a/b', payload: B('hi') }),
      expected: { qos: 0, properties: undefined, payload: { length: 2, data: B('hi') } },
    },
    {
      name: '5.0: QoS 1 with every PUBLISH property (§3.3.2.3)',
      version: '5.0',
      bytes: hex`
        32 29 00 03 61 2f 62 01 02
        1c                        # Property Length 28
        01 01                     # Payload Format Indicator
        02 00 00 00 3c            # Message Expiry Interval 60
        23 00 05                  # Topic Alias 5
        08 00 01 72               # Response Topic "r"
        09 00 02 de ad            # Correlation Data
        26 00 01 61 00 01 62      # User Property a=b
        0b 07                     # Subscription Identifier 7
        68 65 6c 6c 6f`,
      built: publish({
        version: '5.0',
        topic: 'a/b',
        qos: 1,
        packetId: 0x0102,
        payload: B('hello'),
        properties: [
          prop(P.payloadFormatIndicator, 1),
          prop(P.messageExpiryInterval, 60),
          prop(P.topicAlias, 5),
          prop(P.responseTopic, 'r'),
          prop(P.correlationData, hex`de ad`),
          prop(P.userProperty, ['a', 'b']),
          prop(P.subscriptionIdentifier, 7),
        ],
      }),
      expected: {
        qos: 1,
        packetId: 0x0102,
        properties: {
          payloadFormatIndicator: 1,
          messageExpiryInterval: 60,
          topicAlias: 5,
          responseTopic: 'r',
          correlationData: hex`de ad`,
          userProperties: [['a', 'b']],
          subscriptionIdentifier: [7],
        },
        payload: { length: 5, data: B('hello') },
      },
    },
    {
      name: '5.0: QoS 2, Content Type, several Subscription Identifiers and User Properties in wire order (§3.3.2.3.8)',
      version: '5.0',
      bytes: publish({
        version: '5.0',
        topic: 'x',
        qos: 2,
        packetId: 3,
        properties: [
          prop(P.userProperty, ['z', '1']),
          prop(P.subscriptionIdentifier, 1),
          prop(P.contentType, 'application/json'),
          prop(P.subscriptionIdentifier, 268435455),
          prop(P.userProperty, ['a', '2']),
          prop(P.userProperty, ['z', '3']),
        ],
        payload: B('{}'),
      }),
      expected: {
        qos: 2,
        packetId: 3,
        properties: {
          contentType: 'application/json',
          subscriptionIdentifier: [1, 268435455],
          userProperties: [
            ['z', '1'],
            ['a', '2'],
            ['z', '3'],
          ],
        },
      },
    },
    {
      name: '5.0: empty Topic Name with a Topic Alias (§3.3.2.3.4)',
      version: '5.0',
      bytes: publish({ version: '5.0', topic: '', properties: [prop(P.topicAlias, 1)], payload: B('x') }),
      expected: { topic: '', properties: { topicAlias: 1 }, payload: { length: 1 } },
    },
    {
      name: '5.0: UTF-8 topic beyond ASCII (§1.5.4)',
      version: '5.0',
      bytes: publish({ version: '5.0', topic: 'capteur/température/°C/🌡', payload: B('') }),
      expected: { topic: 'capteur/température/°C/🌡' },
    },
  ]);
});

describe('PUBACK, PUBREC, PUBREL, PUBCOMP (§3.4-§3.7)', () => {
  const acks = [
    ['PUBACK', 0x40, '§3.4'],
    ['PUBREC', 0x50, '§3.5'],
    ['PUBREL', 0x62, '§3.6'],
    ['PUBCOMP', 0x70, '§3.7'],
  ] as const;
  for (const [type, first, section] of acks) {
    const codeFor = type === 'PUBREL' || type === 'PUBCOMP' ? 0x92 : 0x10;
    const failFor = type === 'PUBREL' || type === 'PUBCOMP' ? 0x92 : 0x99;
    run([
      ...(['3.1', '3.1.1'] as const).map((version) => ({
        name: `${type} ${version}: Packet Identifier only (${section})`,
        version,
        bytes: Buffer.from([first, 0x02, 0x00, 0x0a]),
        built: ack(type, { version, packetId: 10 }),
        expected: { type, protocol: version, packetId: 10, code: 0, properties: undefined },
      })),
      {
        name: `${type} 5.0: Remaining Length 2 means Reason Code 0x00 and no properties (${section}.2.1)`,
        version: '5.0',
        bytes: Buffer.from([first, 0x02, 0x00, 0x0a]),
        built: ack(type, { version: '5.0', packetId: 10 }),
        expected: { type, packetId: 10, code: 0, properties: undefined },
      },
      {
        name: `${type} 5.0: Remaining Length 3 is a Reason Code without properties (${section}.2.2.1)`,
        version: '5.0',
        bytes: Buffer.from([first, 0x03, 0x00, 0x0a, codeFor]),
        built: ack(type, { version: '5.0', packetId: 10, code: codeFor }),
        expected: { packetId: 10, code: codeFor, properties: undefined },
      },
      {
        name: `${type} 5.0: Remaining Length 4 with Property Length 0 (${section}.2.2)`,
        version: '5.0',
        bytes: Buffer.from([first, 0x04, 0x00, 0x0a, 0x00, 0x00]),
        built: ack(type, { version: '5.0', packetId: 10, code: 0, properties: [] }),
        expected: { code: 0, properties: undefined },
      },
      {
        name: `${type} 5.0: Reason Code with Reason String and User Property (${section}.2.2.2-3)`,
        version: '5.0',
        bytes: cat([first, 0x11, 0x00, 0x0a, failFor, 0x0d], hex`1f 00 03 62 61 64 26 00 01 6b 00 01 76`),
        built: ack(type, {
          version: '5.0',
          packetId: 10,
          code: failFor,
          properties: [prop(P.reasonString, 'bad'), prop(P.userProperty, ['k', 'v'])],
        }),
        expected: { code: failFor, properties: { reasonString: 'bad', userProperties: [['k', 'v']] } },
      },
    ]);
  }
});

describe('SUBSCRIBE (§3.8)', () => {
  for (const version of ['3.1', '3.1.1'] as const) {
    run([
      {
        name: `${version}: two filters with requested QoS (§3.8.3)`,
        version,
        bytes: hex`82 0e 00 01 00 03 61 2f 62 01 00 03 63 2f 23 02`,
        built: subscribe({
          version,
          packetId: 1,
          subscriptions: [
            { filter: 'a/b', qos: 1 },
            { filter: 'c/#', qos: 2 },
          ],
        }),
        expected: {
          type: 'SUBSCRIBE',
          flags: 2,
          packetId: 1,
          subscriptions: [
            { filter: 'a/b', qos: 1 },
            { filter: 'c/#', qos: 2 },
          ],
        },
      },
    ]);
  }
  run([
    {
      name: '5.0: every subscription option: QoS, No Local, Retain As Published, Retain Handling (§3.8.3.1)',
      version: '5.0',
      bytes: hex`
        82 18 00 01
        09 0b 05 26 00 01 6b 00 01 76     # Subscription Identifier 5, User Property
        00 03 61 2f 62 2e                 # "a/b": QoS 2, NL, RAP, RH 2
        00 03 63 2f 2b 11                 # "c/+": QoS 1, RH 1`,
      built: subscribe({
        version: '5.0',
        packetId: 1,
        properties: [prop(P.subscriptionIdentifier, 5), prop(P.userProperty, ['k', 'v'])],
        subscriptions: [
          { filter: 'a/b', qos: 2, noLocal: true, retainAsPublished: true, retainHandling: 2 },
          { filter: 'c/+', qos: 1, retainHandling: 1 },
        ],
      }),
      expected: {
        packetId: 1,
        properties: { subscriptionIdentifier: 5, userProperties: [['k', 'v']] },
        subscriptions: [
          { filter: 'a/b', qos: 2, noLocal: true, retainAsPublished: true, retainHandling: 2 },
          { filter: 'c/+', qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 1 },
        ],
      },
    },
    {
      name: '5.0: shared subscription without No Local (§4.8.2)',
      version: '5.0',
      bytes: subscribe({ version: '5.0', packetId: 9, subscriptions: [{ filter: '$share/g/+/x', qos: 0 }] }),
      expected: { subscriptions: [{ filter: '$share/g/+/x', qos: 0, noLocal: false }] },
    },
  ]);
});

describe('SUBACK (§3.9)', () => {
  run([
    {
      name: '3.1.1: 0x80 Failure stays 0x80, never masked into a QoS (§3.9.3)',
      version: '3.1.1',
      bytes: hex`90 06 00 01 00 01 02 80`,
      built: suback({ version: '3.1.1', packetId: 1, codes: [0, 1, 2, 0x80] }),
      expected: { type: 'SUBACK', packetId: 1, codes: [0, 1, 2, 0x80], properties: undefined },
    },
    {
      name: '3.1: granted QoS',
      version: '3.1',
      bytes: hex`90 03 00 07 01`,
      expected: { packetId: 7, codes: [1] },
    },
    {
      name: '5.0: Reason String and reason codes (§3.9.2.1, Table 3-8)',
      version: '5.0',
      bytes: hex`90 0d 00 01 05 1f 00 02 6e 6f 00 01 02 87 a2`,
      built: suback({
        version: '5.0',
        packetId: 1,
        properties: [prop(P.reasonString, 'no')],
        codes: [0, 1, 2, 0x87, 0xa2],
      }),
      expected: { codes: [0, 1, 2, 0x87, 0xa2], properties: { reasonString: 'no' } },
    },
  ]);
});

describe('UNSUBSCRIBE (§3.10)', () => {
  run([
    {
      name: '3.1.1: two Topic Filters (§3.10.3)',
      version: '3.1.1',
      bytes: hex`a2 0a 00 02 00 03 61 2f 62 00 01 23`,
      built: unsubscribe({ version: '3.1.1', packetId: 2, filters: ['a/b', '#'] }),
      expected: { type: 'UNSUBSCRIBE', flags: 2, packetId: 2, filters: ['a/b', '#'] },
    },
    {
      name: '3.1: one Topic Filter',
      version: '3.1',
      bytes: unsubscribe({ version: '3.1', packetId: 3, filters: ['x'] }),
      expected: { packetId: 3, filters: ['x'] },
    },
    {
      name: '5.0: User Property (§3.10.2.1.2)',
      version: '5.0',
      bytes: hex`a2 0f 00 02 07 26 00 01 6b 00 01 76 00 03 61 2f 62`,
      built: unsubscribe({
        version: '5.0',
        packetId: 2,
        properties: [prop(P.userProperty, ['k', 'v'])],
        filters: ['a/b'],
      }),
      expected: { packetId: 2, properties: { userProperties: [['k', 'v']] }, filters: ['a/b'] },
    },
  ]);
});

describe('UNSUBACK (§3.11)', () => {
  run([
    ...(['3.1', '3.1.1'] as const).map((version) => ({
      name: `${version}: Packet Identifier only, no codes (§3.11.3)`,
      version,
      bytes: hex`b0 02 00 02`,
      built: unsuback({ version, packetId: 2 }),
      expected: { type: 'UNSUBACK', packetId: 2, codes: [], properties: undefined },
    })),
    {
      name: '5.0: a reason code per filter (§3.11.3, Table 3-9)',
      version: '5.0',
      bytes: hex`b0 06 00 02 00 00 11 87`,
      built: unsuback({ version: '5.0', packetId: 2, codes: [0x00, 0x11, 0x87] }),
      expected: { packetId: 2, codes: [0x00, 0x11, 0x87], properties: undefined },
    },
    {
      name: '5.0: Reason String (§3.11.2.1.2)',
      version: '5.0',
      bytes: unsuback({
        version: '5.0',
        packetId: 4,
        codes: [0x8f],
        properties: [prop(P.reasonString, 'bad')],
      }),
      expected: { codes: [0x8f], properties: { reasonString: 'bad' } },
    },
  ]);
});

describe('PINGREQ, PINGRESP (§3.12, §3.13)', () => {
  for (const version of ['3.1', '3.1.1', '5.0'] as const) {
    run([
      {
        name: `${version}: PINGREQ`,
        version,
        bytes: hex`c0 00`,
        built: pingreq(),
        expected: { type: 'PINGREQ', protocol: version, flags: 0, length: 2 },
      },
      {
        name: `${version}: PINGRESP`,
        version,
        bytes: hex`d0 00`,
        built: pingresp(),
        expected: { type: 'PINGRESP', protocol: version },
      },
    ]);
  }
});

describe('DISCONNECT (§3.14)', () => {
  run([
    ...(['3.1', '3.1.1'] as const).map((version) => ({
      name: `${version}: empty (§3.14)`,
      version,
      bytes: hex`e0 00`,
      expected: { type: 'DISCONNECT', protocol: version, code: 0, properties: undefined },
    })),
    {
      name: '5.0: Remaining Length 0 means 0x00 Normal disconnection (§3.14.2.1)',
      version: '5.0',
      bytes: hex`e0 00`,
      built: disconnect(),
      expected: { code: 0, properties: undefined },
    },
    {
      name: '5.0: Remaining Length 1, Reason Code without Property Length (§3.14.2.2.1)',
      version: '5.0',
      bytes: hex`e0 01 04`,
      built: disconnect({ code: 0x04 }),
      expected: { code: 0x04, properties: undefined },
    },
    {
      name: '5.0: Reason Code 0x9C with Reason String and Server Reference (§3.14.2.2)',
      version: '5.0',
      bytes: hex`e0 0b 9c 09 1f 00 02 68 69 1c 00 01 73`,
      built: disconnect({
        code: 0x9c,
        properties: [prop(P.reasonString, 'hi'), prop(P.serverReference, 's')],
      }),
      expected: { code: 0x9c, properties: { reasonString: 'hi', serverReference: 's' } },
    },
    {
      name: '5.0: Session Expiry Interval from the client (§3.14.2.2.2)',
      version: '5.0',
      bytes: disconnect({ code: 0, properties: [prop(P.sessionExpiryInterval, 0xffffffff)] }),
      expected: { code: 0, properties: { sessionExpiryInterval: 0xffffffff } },
    },
  ]);
});

describe('AUTH (§3.15)', () => {
  run([
    {
      name: '5.0: Remaining Length 0 means 0x00 Success (§3.15.2.1)',
      version: '5.0',
      bytes: hex`f0 00`,
      built: auth(),
      expected: { type: 'AUTH', code: 0, properties: undefined },
    },
    {
      name: '5.0: 0x19 Re-authenticate without properties',
      version: '5.0',
      bytes: hex`f0 01 19`,
      built: auth({ code: 0x19 }),
      expected: { code: 0x19, properties: undefined },
    },
    {
      name: '5.0: 0x18 Continue authentication with method and data (§3.15.2.2)',
      version: '5.0',
      bytes: hex`f0 0f 18 0d 15 00 05 53 43 52 41 4d 16 00 02 01 02`,
      built: auth({
        code: 0x18,
        properties: [prop(P.authenticationMethod, 'SCRAM'), prop(P.authenticationData, hex`01 02`)],
      }),
      expected: { code: 0x18, properties: { authenticationMethod: 'SCRAM', authenticationData: hex`01 02` } },
    },
  ]);
});

describe('stream of packets', () => {
  it('a CONNECT sets the version for the packets after it (§3.1.2.2)', () => {
    const stream = Buffer.concat([
      connect({ version: '3.1.1', clientId: 'a' }),
      hex`b0 02 00 02`, // 3.1.1 UNSUBACK
      hex`e0 00`,
    ]);
    const { packets } = decodeStream(stream, '5.0');
    expect(packets.map((p) => [p.type, p.protocol, p.offset, p.length, p.violations.length])).toEqual([
      ['CONNECT', '3.1.1', 0, 15, 0],
      ['UNSUBACK', '3.1.1', 15, 4, 0],
      ['DISCONNECT', '3.1.1', 19, 2, 0],
    ]);
  });

  it('offsets and lengths count the fixed header (§2.1.1)', () => {
    const big = publish({ version: '3.1.1', topic: 't', payload: Buffer.alloc(200) }); // 2-byte length
    const { packets } = decodeStream(Buffer.concat([hex`c0 00`, big, hex`d0 00`]), '3.1.1');
    expect(packets.map((p) => [p.type, p.offset, p.length])).toEqual([
      ['PINGREQ', 0, 2],
      ['PUBLISH', 2, big.length],
      ['PINGRESP', 2 + big.length, 2],
    ]);
    expect(big.length).toBe(1 + 2 + 3 + 200);
  });

  it('decodeFrame leaves the payload a view of the frame body: no copy', () => {
    const bytes = publish({ version: '3.1.1', topic: 't', payload: B('abc') });
    const { packets, frames } = decodeStream(bytes, '3.1.1');
    const p = packets[0] as Extract<Packet, { type: 'PUBLISH' }>;
    expect(frames[0]!.body.length).toBe(6);
    expect(p.payload.data.buffer).toBe(bytes.buffer);
  });

  it('reads each topic from its own bytes, alike or not (the last ASCII string is reused only for the same bytes)', () => {
    const topics = ['a/b', 'a/b', 'a/c', 'a/c', 'x', 'a/c', 'é/b', 'a/b', 'a/'.repeat(40), 'a/'.repeat(40)];
    const bytes = Buffer.concat(topics.map((topic) => publish({ version: '3.1.1', topic, payload: B('p') })));
    const { packets } = decodeStream(bytes, '3.1.1');
    expect(packets.map((p) => (p as Extract<Packet, { type: 'PUBLISH' }>).topic)).toEqual(topics);
  });
});
