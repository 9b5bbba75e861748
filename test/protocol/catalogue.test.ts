import { describe, expect, it } from 'vitest';
import {
  hasReasonCodes,
  PROPERTY_BY_ID,
  propertyAllowed,
  propertyRepeatable,
  reasonCode,
} from '../../src/protocol/catalogue/lookup.js';
import { PROPERTIES, type PropertyPacket } from '../../src/protocol/catalogue/properties.js';
import {
  type ReasonPacket,
  V3_CONNACK_RETURN_CODES,
  V3_SUBACK_RETURN_CODES,
  V5_REASON_CODE_OVERVIEW,
  V5_REASON_CODES,
} from '../../src/protocol/catalogue/reason-codes.js';
import {
  PACKET_TYPE_NAMES,
  type PacketTypeName,
  type ProtocolVersion,
} from '../../src/protocol/constants.js';

const REASON_PACKETS = Object.keys(V5_REASON_CODES) as ReasonPacket[];
const ALL_PACKETS = PACKET_TYPE_NAMES.filter((p): p is PacketTypeName => p !== undefined);

describe('MQTT 5.0 reason codes: completeness against the spec', () => {
  // Rows counted in the spec text of each packet's own table.
  it.each([
    ['CONNACK', 22], // Table 3-1
    ['PUBACK', 9], // Table 3-4
    ['PUBREC', 9], // Table 3-5
    ['PUBREL', 2], // Table 3-6
    ['PUBCOMP', 2], // Table 3-7
    ['SUBACK', 12], // Table 3-8
    ['UNSUBACK', 7], // Table 3-9
    ['DISCONNECT', 29], // Table 3-10
    ['AUTH', 3], // Table 3-11
  ] as const)('%s has %i codes', (packet, count) => {
    expect(V5_REASON_CODES[packet]).toHaveLength(count);
  });

  it('covers exactly the nine packets that carry a reason code', () => {
    expect(REASON_PACKETS.sort()).toEqual(
      ['AUTH', 'CONNACK', 'DISCONNECT', 'PUBACK', 'PUBCOMP', 'PUBREC', 'PUBREL', 'SUBACK', 'UNSUBACK'].sort(),
    );
  });

  it('Table 2-6 has 45 rows, 96 (code, packet) pairs', () => {
    expect(V5_REASON_CODE_OVERVIEW).toHaveLength(45);
    expect(V5_REASON_CODE_OVERVIEW.reduce((n, row) => n + row.packets.length, 0)).toBe(96);
  });

  it('every table is in ascending code order, codes unique, bytes only', () => {
    for (const packet of REASON_PACKETS) {
      const codes = V5_REASON_CODES[packet].map((e) => e.code);
      expect(codes, packet).toEqual([...codes].sort((a, b) => a - b));
      expect(new Set(codes).size, packet).toBe(codes.length);
      for (const code of codes) expect(Number.isInteger(code) && code >= 0 && code <= 0xff).toBe(true);
    }
    const overviewCodes = V5_REASON_CODE_OVERVIEW.map((row) => row.code);
    expect(overviewCodes).toEqual([...overviewCodes].sort((a, b) => a - b));
  });

  it('has no markdown artefacts or doubled spaces', () => {
    const texts = [
      ...REASON_PACKETS.flatMap((p) => V5_REASON_CODES[p].flatMap((e) => [e.name, e.description])),
      ...V5_REASON_CODE_OVERVIEW.map((row) => row.name),
      ...V3_CONNACK_RETURN_CODES.flatMap((e) => [e.name, e.description]),
      ...V3_SUBACK_RETURN_CODES.flatMap((e) => [e.name, e.description]),
      ...PROPERTIES.map((p) => p.name),
    ];
    for (const text of texts) {
      expect(text).not.toMatch(/\*\*|\\|\s{2}|^\s|\s$|\|/);
      expect(text.length).toBeGreaterThan(0);
    }
  });
});

describe('MQTT 5.0 reason codes: exact wording', () => {
  it.each([
    ['CONNACK', 'Success', 'The Connection is accepted.'],
    ['PUBACK', 'Success', 'The message is accepted. Publication of the QoS 1 message proceeds.'],
    ['PUBREC', 'Success', 'The message is accepted. Publication of the QoS 2 message proceeds.'],
    ['PUBREL', 'Success', 'Message released.'],
    ['PUBCOMP', 'Success', 'Packet Identifier released. Publication of QoS 2 message is complete.'],
    [
      'SUBACK',
      'Granted QoS 0',
      'The subscription is accepted and the maximum QoS sent will be QoS 0. This might be a lower QoS than was requested.',
    ],
    ['UNSUBACK', 'Success', 'The subscription is deleted.'],
    ['DISCONNECT', 'Normal disconnection', 'Close the connection normally. Do not send the Will Message.'],
    ['AUTH', 'Success', 'Authentication is successful'],
  ] as const)('0x00 in %s is "%s"', (packet, name, description) => {
    expect(reasonCode('5.0', packet, 0x00)).toEqual({ code: 0, name, description });
  });

  it('keeps each packet its own description for the same code', () => {
    expect(reasonCode('5.0', 'CONNACK', 0x80)?.description).toBe(
      'The Server does not wish to reveal the reason for the failure, or none of the other Reason Codes apply.',
    );
    expect(reasonCode('5.0', 'PUBACK', 0x80)?.description).toBe(
      'The receiver does not accept the publish but either does not want to reveal the reason, or it does not match one of the other values.',
    );
    expect(reasonCode('5.0', 'PUBACK', 0x99)?.description).toBe(
      'The payload format does not match the specified Payload Format Indicator.',
    );
    expect(reasonCode('5.0', 'PUBREC', 0x99)?.description).toBe(
      'The payload format does not match the one specified in the Payload Format Indicator.',
    );
  });

  it('spot checks', () => {
    expect(reasonCode('5.0', 'CONNACK', 0x86)).toEqual({
      code: 0x86,
      name: 'Bad User Name or Password',
      description: 'The Server does not accept the User Name or Password specified by the Client',
    });
    expect(reasonCode('5.0', 'CONNACK', 0x87)).toEqual({
      code: 0x87,
      name: 'Not authorized',
      description: 'The Client is not authorized to connect.',
    });
    expect(reasonCode('5.0', 'DISCONNECT', 0x8e)).toEqual({
      code: 0x8e,
      name: 'Session taken over',
      description:
        'Another Connection using the same ClientID has connected causing this Connection to be closed.',
    });
    expect(reasonCode('5.0', 'DISCONNECT', 0x93)?.description).toBe(
      'The Client or Server has received more than Receive Maximum publication for which it has not sent PUBACK or PUBCOMP.',
    );
    expect(reasonCode('5.0', 'AUTH', 0x19)?.name).toBe('Re-authenticate');
    expect(reasonCode('5.0', 'SUBACK', 0xa2)?.name).toBe('Wildcard Subscriptions not supported');
  });

  it('keeps the spec typos in descriptions', () => {
    expect(reasonCode('5.0', 'DISCONNECT', 0x8f)?.description).toBe(
      'The Topic Filter is correctly formed, but is not accepted by this Sever.',
    );
    expect(reasonCode('5.0', 'DISCONNECT', 0x9a)?.description).toBe(
      'The Server has does not support retained messages.',
    );
  });
});

describe('MQTT 5.0 reason codes: consistency with Table 2-6', () => {
  const overviewKey = (code: number, packet: ReasonPacket) => `${packet}:${code}`;
  const overviewByPair = new Map<string, string>();
  for (const row of V5_REASON_CODE_OVERVIEW) {
    for (const packet of row.packets) {
      expect(overviewByPair.has(overviewKey(row.code, packet))).toBe(false);
      overviewByPair.set(overviewKey(row.code, packet), row.name);
    }
  }

  it('every per-packet entry is in Table 2-6 with the same name and that packet listed', () => {
    for (const packet of REASON_PACKETS) {
      for (const entry of V5_REASON_CODES[packet]) {
        expect(
          overviewByPair.get(overviewKey(entry.code, packet)),
          `${packet} 0x${entry.code.toString(16)}`,
        ).toBe(entry.name);
      }
    }
  });

  it('every Table 2-6 (code, packet) pair is in that packet table, except DISCONNECT 0x8C', () => {
    const missing: string[] = [];
    for (const row of V5_REASON_CODE_OVERVIEW) {
      for (const packet of row.packets) {
        const entry = V5_REASON_CODES[packet].find((e) => e.code === row.code);
        if (entry === undefined) missing.push(overviewKey(row.code, packet));
        else expect(entry.name).toBe(row.name);
      }
    }
    // Table 2-6 lists "Bad authentication method" for CONNACK and DISCONNECT; Table 3-10 has no such row.
    expect(missing).toEqual([overviewKey(0x8c, 'DISCONNECT')]);
  });

  it('per-packet entries total 95 = 96 Table 2-6 pairs minus the one discrepancy', () => {
    expect(REASON_PACKETS.reduce((n, p) => n + V5_REASON_CODES[p].length, 0)).toBe(95);
  });

  it('a (code, name) pair appears once in Table 2-6', () => {
    const pairs = V5_REASON_CODE_OVERVIEW.map((row) => `${row.code}:${row.name}`);
    expect(new Set(pairs).size).toBe(pairs.length);
  });
});

describe('MQTT 3.1.1 return codes', () => {
  it('Table 3.1 has return codes 0..5 with the spec wording', () => {
    expect(V3_CONNACK_RETURN_CODES.map((e) => e.code)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(V3_CONNACK_RETURN_CODES[0]).toEqual({
      code: 0,
      name: 'Connection Accepted',
      description: 'Connection accepted',
    });
    expect(V3_CONNACK_RETURN_CODES[4]).toEqual({
      code: 4,
      name: 'Connection Refused, bad user name or password',
      description: 'The data in the user name or password is malformed',
    });
  });

  it('SUBACK has 0x00, 0x01, 0x02, 0x80', () => {
    expect(V3_SUBACK_RETURN_CODES.map((e) => [e.code, e.name])).toEqual([
      [0x00, 'Success - Maximum QoS 0'],
      [0x01, 'Success - Maximum QoS 1'],
      [0x02, 'Success - Maximum QoS 2'],
      [0x80, 'Failure'],
    ]);
  });
});

describe('properties (Table 2-4)', () => {
  const camel = (name: string) =>
    name
      .split(' ')
      .map((word, i) => (i === 0 ? word.toLowerCase() : word[0]!.toUpperCase() + word.slice(1)))
      .join('');

  it('has all 27 properties in id order with unique ids and keys', () => {
    expect(PROPERTIES).toHaveLength(27);
    const ids = PROPERTIES.map((p) => p.id);
    expect(ids).toEqual([
      0x01, 0x02, 0x03, 0x08, 0x09, 0x0b, 0x11, 0x12, 0x13, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1c, 0x1f,
      0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a,
    ]);
    expect(new Set(PROPERTIES.map((p) => p.key)).size).toBe(27);
    expect(new Set(PROPERTIES.map((p) => p.name)).size).toBe(27);
  });

  it('keys are the camelCase of the names (User Property is userProperties)', () => {
    for (const def of PROPERTIES) {
      expect(def.key, def.name).toBe(def.id === 0x26 ? 'userProperties' : camel(def.name));
    }
    expect(PROPERTY_BY_ID[0x24]?.key).toBe('maximumQoS');
  });

  it('repeatable ⊆ packets; only User Property and Subscription Identifier repeat', () => {
    for (const def of PROPERTIES) {
      for (const packet of def.repeatable) expect(def.packets, def.name).toContain(packet);
      expect(new Set(def.packets).size).toBe(def.packets.length);
    }
    expect(PROPERTIES.filter((p) => p.repeatable.length > 0).map((p) => p.name)).toEqual([
      'Subscription Identifier',
      'User Property',
    ]);
    const userProperty = PROPERTY_BY_ID[0x26]!;
    expect(userProperty.repeatable).toEqual(userProperty.packets);
    expect(userProperty.packets).toHaveLength(14);
    expect(PROPERTY_BY_ID[0x0b]!.repeatable).toEqual(['PUBLISH']);
  });

  it('spot checks of type and packets', () => {
    expect(PROPERTY_BY_ID[0x01]).toMatchObject({ name: 'Payload Format Indicator', type: 'byte' });
    expect(PROPERTY_BY_ID[0x0b]).toMatchObject({ type: 'varint', packets: ['PUBLISH', 'SUBSCRIBE'] });
    expect(PROPERTY_BY_ID[0x18]).toMatchObject({ name: 'Will Delay Interval', packets: ['WILL'] });
    expect(PROPERTY_BY_ID[0x1f]?.packets).toHaveLength(9);
    expect(PROPERTY_BY_ID[0x26]?.type).toBe('utf8Pair');
    expect(PROPERTY_BY_ID[0x27]?.type).toBe('fourByteInteger');
    expect(PROPERTY_BY_ID[0x09]?.type).toBe('binary');
  });
});

describe('lookup', () => {
  it('reasonCode resolves per packet table, undefined elsewhere', () => {
    expect(reasonCode('5.0', 'PUBACK', 0x42)).toBeUndefined();
    expect(reasonCode('5.0', 'PUBACK', 0x8c)).toBeUndefined();
    // Table 2-6 lists 0x8C for DISCONNECT though Table 3-10 omits it: named from Table 2-6.
    expect(reasonCode('5.0', 'DISCONNECT', 0x8c)).toMatchObject({
      name: 'Bad authentication method',
      description: expect.stringContaining('Table 2-6'),
    });
    expect(reasonCode('5.0', 'CONNACK', 0x8c)?.name).toBe('Bad authentication method');
    expect(reasonCode('5.0', 'PUBLISH', 0x00)).toBeUndefined();
    expect(reasonCode('5.0', 'PUBACK', -1)).toBeUndefined();
    expect(reasonCode('5.0', 'PUBACK', 256)).toBeUndefined();
    expect(reasonCode('5.0', 'PUBACK', 1.5)).toBeUndefined();
  });

  it('reasonCode returns the catalogue entry itself', () => {
    for (const packet of REASON_PACKETS) {
      for (const entry of V5_REASON_CODES[packet]) expect(reasonCode('5.0', packet, entry.code)).toBe(entry);
    }
  });

  it('3.1 and 3.1.1 share the 3.1.1 tables', () => {
    expect(reasonCode('3.1.1', 'SUBACK', 0x80)?.name).toBe('Failure');
    expect(reasonCode('3.1', 'CONNACK', 4)?.name).toBe('Connection Refused, bad user name or password');
    expect(reasonCode('3.1', 'CONNACK', 4)).toBe(reasonCode('3.1.1', 'CONNACK', 4));
    expect(reasonCode('3.1.1', 'CONNACK', 6)).toBeUndefined();
    expect(reasonCode('3.1.1', 'SUBACK', 0x03)).toBeUndefined();
    expect(reasonCode('3.1.1', 'PUBACK', 0x00)).toBeUndefined();
  });

  it('hasReasonCodes', () => {
    expect(hasReasonCodes('3.1.1', 'PUBACK')).toBe(false);
    const expected: Record<ProtocolVersion, PacketTypeName[]> = {
      '3.1': ['CONNACK', 'SUBACK'],
      '3.1.1': ['CONNACK', 'SUBACK'],
      '5.0': REASON_PACKETS,
    };
    for (const [version, packets] of Object.entries(expected) as [ProtocolVersion, PacketTypeName[]][]) {
      expect(ALL_PACKETS.filter((p) => hasReasonCodes(version, p)).sort(), version).toEqual(
        [...packets].sort(),
      );
    }
  });

  it('PROPERTY_BY_ID indexes 0..42', () => {
    expect(PROPERTY_BY_ID).toHaveLength(43);
    expect(PROPERTY_BY_ID.filter((d) => d !== undefined)).toHaveLength(27);
    for (const def of PROPERTIES) expect(PROPERTY_BY_ID[def.id]).toBe(def);
    expect(PROPERTY_BY_ID[0]).toBeUndefined();
    expect(PROPERTY_BY_ID[4]).toBeUndefined();
  });

  it('propertyAllowed / propertyRepeatable agree with the data', () => {
    const packets: PropertyPacket[] = [
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
    for (const def of PROPERTIES) {
      for (const packet of packets) {
        expect(propertyAllowed(def, packet)).toBe(def.packets.includes(packet));
        expect(propertyRepeatable(def, packet)).toBe(def.repeatable.includes(packet));
      }
    }
    const topicAlias = PROPERTY_BY_ID[0x23]!;
    expect(propertyAllowed(topicAlias, 'PUBLISH')).toBe(true);
    expect(propertyAllowed(topicAlias, 'WILL')).toBe(false);
    expect(propertyRepeatable(PROPERTY_BY_ID[0x0b]!, 'PUBLISH')).toBe(true);
    expect(propertyRepeatable(PROPERTY_BY_ID[0x0b]!, 'SUBSCRIBE')).toBe(false);
    // A definition that is not the catalogue's own object is answered from its own fields.
    const copy = { ...topicAlias, packets: ['AUTH'] as const, repeatable: [] };
    expect(propertyAllowed(copy, 'AUTH')).toBe(true);
    expect(propertyAllowed(copy, 'PUBLISH')).toBe(false);
  });
});
