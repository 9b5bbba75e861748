/**
 * Differential test against mqtt-packet, a dev-only oracle: packets produced by its generator for
 * all 15 types in 3.1.1 and 5.0 (with properties) must decode to the same fields as its own
 * parser reads from the same bytes. Its field names are mapped to ours (`cmd` → `type`,
 * `messageId` → `packetId`, `returnCode`/`reasonCode` → `code`, `granted` → `codes`, ...).
 */
import fc from 'fast-check';
import mqttPacket from 'mqtt-packet';
import { describe, expect, it } from 'vitest';
import type { ProtocolVersion } from '../../src/protocol/constants.js';
import type { Packet, Properties } from '../../src/protocol/types.js';
import { decodeStream, vbi } from '../helpers/packets.js';

type Obj = Record<string, unknown>;
type MqttVersion = 4 | 5;

const RUNS = Number(process.env.FC_RUNS ?? 200);
const versionOf = (v: MqttVersion): ProtocolVersion => (v === 5 ? '5.0' : '3.1.1');

/** What mqtt-packet's parser reads from `bytes` (one packet). */
function oracle(bytes: Buffer, protocolVersion: MqttVersion): Obj {
  const parser = mqttPacket.parser({ protocolVersion });
  const out: Obj[] = [];
  const errors: Error[] = [];
  parser.on('packet', (p) => out.push(p as unknown as Obj));
  parser.on('error', (e: Error) => errors.push(e));
  parser.parse(bytes);
  expect(errors).toEqual([]);
  expect(out).toHaveLength(1);
  return out[0]!;
}

/** mqtt-packet property names that differ from the spec's camelCase (ours). */
const PROPERTY_NAMES: Record<string, string> = {
  subscriptionIdentifiersAvailable: 'subscriptionIdentifierAvailable',
};

/** mqtt-packet properties → ours: booleans are the spec's bytes 0/1; user properties are pairs. */
function properties(theirs: unknown, cmd: string): Properties | undefined {
  if (theirs === undefined || theirs === null) return undefined;
  const out: Properties = {};
  for (const [k, v] of Object.entries(theirs as Obj)) {
    const key = PROPERTY_NAMES[k] ?? k;
    if (key === 'userProperties') {
      const pairs: [string, string][] = [];
      for (const [name, value] of Object.entries(v as Obj)) {
        for (const one of Array.isArray(value) ? value : [value]) pairs.push([name, String(one)]);
      }
      out.userProperties = pairs;
    } else if (key === 'subscriptionIdentifier' && cmd === 'publish') {
      out.subscriptionIdentifier = Array.isArray(v) ? v : [v as number];
    } else if (typeof v === 'boolean') {
      out[key] = v ? 1 : 0;
    } else {
      out[key] = v as never;
    }
  }
  return Object.keys(out).length === 0 ? undefined : out;
}

/** Our decoded packet's properties, user properties sorted (mqtt-packet groups them by name). */
function ours(p: { properties?: Properties }): Properties | undefined {
  if (p.properties === undefined) return undefined;
  const out: Properties = { ...p.properties };
  if (out.userProperties) out.userProperties = sortPairs(out.userProperties);
  return out;
}

const sortPairs = (pairs: [string, string][]): [string, string][] =>
  [...pairs].sort((a, b) => (a[0] === b[0] ? 0 : a[0] < b[0] ? -1 : 1));

function normalise(props: Properties | undefined): Properties | undefined {
  if (props?.userProperties) props.userProperties = sortPairs(props.userProperties);
  return props;
}

const buf = (v: unknown): Buffer => (Buffer.isBuffer(v) ? v : Buffer.from(String(v ?? '')));

/** Compares our packet with the oracle's object, field by field. */
function compare(p: Packet, o: Obj, v: MqttVersion): void {
  const cmd = o.cmd as string;
  expect(p.type).toBe(cmd.toUpperCase());
  expect(p.protocol).toBe(versionOf(v));
  // mqtt-packet's `length` is the Remaining Length; ours counts the fixed header too.
  expect(p.length).toBe(1 + vbi(o.length as number).length + (o.length as number));
  expect(p.violations).toEqual([]);
  const v5 = v === 5;
  const props = normalise(properties(o.properties, cmd));
  switch (p.type) {
    case 'CONNECT': {
      expect(p.protocolName).toBe(o.protocolId);
      expect(p.protocolLevel).toBe(o.protocolVersion);
      expect(p.clean).toBe(o.clean);
      expect(p.keepAlive).toBe(o.keepalive);
      expect(p.clientId).toBe(o.clientId);
      expect(p.username).toBe(o.username);
      expect(p.password).toEqual(o.password);
      expect(ours(p)).toEqual(props);
      const will = o.will as Obj | undefined;
      if (will === undefined) {
        expect(p.will).toBeUndefined();
      } else {
        expect(p.will).toMatchObject({ topic: will.topic, qos: will.qos, retain: will.retain });
        expect(p.will!.payload.data).toEqual(buf(will.payload));
        expect(p.will!.payload.length).toBe(buf(will.payload).length);
        expect(ours(p.will!)).toEqual(normalise(properties(will.properties, 'will')));
      }
      break;
    }
    case 'CONNACK':
      expect(p.sessionPresent).toBe(o.sessionPresent);
      expect(p.code).toBe(v5 ? o.reasonCode : o.returnCode);
      expect(ours(p)).toEqual(props);
      break;
    case 'PUBLISH':
      expect(p.topic).toBe(o.topic);
      expect(p.qos).toBe(o.qos);
      expect(p.dup).toBe(o.dup);
      expect(p.retain).toBe(o.retain);
      expect(p.packetId).toBe(p.qos > 0 ? o.messageId : undefined);
      expect(p.payload.data).toEqual(buf(o.payload));
      expect(p.payload.length).toBe(buf(o.payload).length);
      expect(ours(p)).toEqual(props);
      break;
    case 'PUBACK':
    case 'PUBREC':
    case 'PUBREL':
    case 'PUBCOMP':
      expect(p.packetId).toBe(o.messageId);
      expect(p.code).toBe(v5 ? (o.reasonCode ?? 0) : 0);
      expect(ours(p)).toEqual(props);
      break;
    case 'SUBSCRIBE':
      expect(p.packetId).toBe(o.messageId);
      expect(p.subscriptions).toEqual(
        (o.subscriptions as Obj[]).map((s) =>
          v5
            ? {
                filter: s.topic,
                qos: s.qos,
                noLocal: Boolean(s.nl),
                retainAsPublished: Boolean(s.rap),
                retainHandling: s.rh ?? 0,
              }
            : { filter: s.topic, qos: s.qos },
        ),
      );
      expect(ours(p)).toEqual(props);
      break;
    case 'SUBACK':
      expect(p.packetId).toBe(o.messageId);
      expect(p.codes).toEqual(o.granted);
      expect(ours(p)).toEqual(props);
      break;
    case 'UNSUBSCRIBE':
      expect(p.packetId).toBe(o.messageId);
      expect(p.filters).toEqual(o.unsubscriptions);
      expect(ours(p)).toEqual(props);
      break;
    case 'UNSUBACK':
      expect(p.packetId).toBe(o.messageId);
      expect(p.codes).toEqual(v5 ? o.granted : []);
      expect(ours(p)).toEqual(props);
      break;
    case 'PINGREQ':
    case 'PINGRESP':
      break;
    case 'DISCONNECT':
    case 'AUTH':
      expect(p.code).toBe(v5 ? (o.reasonCode ?? 0) : 0);
      expect(ours(p)).toEqual(props);
      break;
  }
}

function roundTrip(object: Obj, v: MqttVersion): void {
  const bytes = mqttPacket.generate(object as unknown as mqttPacket.Packet, { protocolVersion: v });
  const o = oracle(bytes, v);
  const { packets, errors } = decodeStream(bytes, versionOf(v));
  expect(errors).toEqual([]);
  expect(packets).toHaveLength(1);
  expect(packets[0]!.length).toBe(bytes.length);
  compare(packets[0]!, o, v);
}

const userProperties = { trace: 'abc', multi: ['1', '2'], 'ü n i': 'c✓de' };

/** One packet of every type per version, with every property the type can carry. */
function fixtures(v: MqttVersion): [string, Obj][] {
  const v5 = v === 5;
  const p = <T extends Obj>(props: T): { properties?: T } => (v5 ? { properties: props } : {});
  return [
    [
      'CONNECT with will, user name, password',
      {
        cmd: 'connect',
        protocolId: 'MQTT',
        protocolVersion: v,
        clean: false,
        keepalive: 30,
        clientId: 'client-✓',
        username: 'user',
        password: Buffer.from('secret'),
        will: {
          topic: 'last/will',
          payload: Buffer.from('gone'),
          qos: 2,
          retain: true,
          ...p({
            willDelayInterval: 10,
            payloadFormatIndicator: true,
            messageExpiryInterval: 60,
            contentType: 'text/plain',
            responseTopic: 'reply/here',
            correlationData: Buffer.from([1, 2, 3]),
            userProperties,
          }),
        },
        ...p({
          sessionExpiryInterval: 3600,
          receiveMaximum: 100,
          maximumPacketSize: 65_536,
          topicAliasMaximum: 10,
          requestResponseInformation: true,
          requestProblemInformation: false,
          userProperties,
          authenticationMethod: 'SCRAM-SHA-256',
          authenticationData: Buffer.from([9, 8, 7]),
        }),
      },
    ],
    [
      'CONNACK',
      {
        cmd: 'connack',
        sessionPresent: true,
        ...(v5 ? { reasonCode: 0 } : { returnCode: 0 }),
        ...p({
          sessionExpiryInterval: 10,
          receiveMaximum: 20,
          maximumQoS: 1,
          retainAvailable: true,
          maximumPacketSize: 1_000_000,
          assignedClientIdentifier: 'auto-1',
          topicAliasMaximum: 5,
          reasonString: 'welcome',
          userProperties,
          wildcardSubscriptionAvailable: true,
          subscriptionIdentifiersAvailable: false,
          sharedSubscriptionAvailable: true,
          serverKeepAlive: 45,
          responseInformation: 'resp/',
          serverReference: 'other:1883',
          authenticationMethod: 'SCRAM-SHA-256',
          authenticationData: Buffer.from([4]),
        }),
      },
    ],
    [
      'CONNACK refused',
      { cmd: 'connack', sessionPresent: false, ...(v5 ? { reasonCode: 0x87 } : { returnCode: 5 }) },
    ],
    [
      'PUBLISH QoS 0',
      { cmd: 'publish', topic: 'a/b', payload: Buffer.from('hello'), qos: 0, dup: false, retain: true },
    ],
    [
      'PUBLISH QoS 1 with properties',
      {
        cmd: 'publish',
        topic: 'sensors/ü/temp',
        payload: Buffer.from('{"t":21.5}'),
        qos: 1,
        dup: true,
        retain: false,
        messageId: 42,
        ...p({
          payloadFormatIndicator: true,
          messageExpiryInterval: 120,
          topicAlias: 3,
          responseTopic: 'reply',
          correlationData: Buffer.from('corr'),
          userProperties,
          subscriptionIdentifier: [1, 2000, 268_435_455],
          contentType: 'application/json',
        }),
      },
    ],
    [
      'PUBLISH QoS 2, empty payload',
      {
        cmd: 'publish',
        topic: 't',
        payload: Buffer.alloc(0),
        qos: 2,
        dup: false,
        retain: false,
        messageId: 65_535,
      },
    ],
    ...(['puback', 'pubrec', 'pubrel', 'pubcomp'] as const).flatMap((cmd): [string, Obj][] => [
      [`${cmd.toUpperCase()} plain`, { cmd, messageId: 7 }],
      [
        `${cmd.toUpperCase()} with reason and properties`,
        {
          cmd,
          messageId: 8,
          ...(v5 ? { reasonCode: cmd === 'pubrel' || cmd === 'pubcomp' ? 0x92 : 0x10 } : {}),
          ...p({ reasonString: 'why', userProperties }),
        },
      ],
    ]),
    [
      'SUBSCRIBE with every subscription option',
      {
        cmd: 'subscribe',
        messageId: 9,
        subscriptions: [
          { topic: 'a/+', qos: 0, ...(v5 ? { nl: true, rap: true, rh: 2 } : {}) },
          { topic: 'b/#', qos: 1, ...(v5 ? { nl: false, rap: false, rh: 1 } : {}) },
          { topic: 'c', qos: 2 },
        ],
        ...p({ subscriptionIdentifier: 77, userProperties }),
      },
    ],
    [
      'SUBACK with a failure',
      {
        cmd: 'suback',
        messageId: 9,
        granted: v5 ? [0, 1, 2, 0x80, 0x87, 0xa2] : [0, 1, 2, 0x80],
        ...p({ reasonString: 'some', userProperties }),
      },
    ],
    [
      'UNSUBSCRIBE',
      { cmd: 'unsubscribe', messageId: 10, unsubscriptions: ['a/+', 'b/#'], ...p({ userProperties }) },
    ],
    [
      'UNSUBACK',
      {
        cmd: 'unsuback',
        messageId: 10,
        ...(v5 ? { granted: [0, 0x11, 0x8f] } : {}),
        ...p({ reasonString: 'done', userProperties }),
      },
    ],
    ['PINGREQ', { cmd: 'pingreq' }],
    ['PINGRESP', { cmd: 'pingresp' }],
    ['DISCONNECT', { cmd: 'disconnect' }],
    ...(v5
      ? ([
          [
            'DISCONNECT with reason and properties',
            {
              cmd: 'disconnect',
              reasonCode: 0x8e,
              properties: {
                sessionExpiryInterval: 0,
                reasonString: 'taken over',
                userProperties,
                serverReference: 'x',
              },
            },
          ],
          [
            'AUTH',
            {
              cmd: 'auth',
              reasonCode: 0x18,
              properties: { authenticationMethod: 'm', authenticationData: Buffer.from([1]) },
            },
          ],
          [
            'AUTH re-authenticate',
            {
              cmd: 'auth',
              reasonCode: 0x19,
              properties: { authenticationMethod: 'm', reasonString: 'again', userProperties },
            },
          ],
        ] as [string, Obj][])
      : []),
  ];
}

describe('differential: mqtt-packet generate → our decoder vs its parser', () => {
  for (const v of [4, 5] as const) {
    describe(`MQTT ${versionOf(v)}`, () => {
      it.each(fixtures(v))('%s', (_name, object) => roundTrip(object, v));

      it('covers all packet types of the version', () => {
        const types = new Set(fixtures(v).map(([, o]) => o.cmd));
        expect(types.size).toBe(v === 5 ? 15 : 14);
      });
    });
  }

  it('3.1 (MQIsdp, level 3) CONNECT', () => {
    const bytes = mqttPacket.generate(
      {
        cmd: 'connect',
        protocolId: 'MQIsdp',
        protocolVersion: 3,
        clean: true,
        keepalive: 10,
        clientId: 'old',
      },
      { protocolVersion: 3 },
    );
    const { packets } = decodeStream(bytes, '5.0');
    expect(packets[0]).toMatchObject({
      type: 'CONNECT',
      protocol: '3.1',
      protocolName: 'MQIsdp',
      clientId: 'old',
    });
    expect(packets[0]!.violations).toEqual([]);
  });
});

// Random packets from mqtt-packet's generator.

const str = fc.string({ unit: 'binary', maxLength: 10 }).map((s) => s.replace(/[\0+#]/g, '_'));
const topic = str.map((s) => s || 't');
const id = fc.integer({ min: 1, max: 65_535 });
const qos = fc.constantFrom(0, 1, 2);
// Non-empty values: mqtt-packet's parser drops a repeated User Property whose value is "" (the wire
// has both; we keep both, as §3.3.2.3.7 allows).
const value = str.map((s) => s || 'v');
const userProps = fc.dictionary(str, fc.oneof(value, fc.array(value, { minLength: 1, maxLength: 3 })), {
  minKeys: 1,
  maxKeys: 3,
});
const opt = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });

function randomPacket(v: MqttVersion): fc.Arbitrary<Obj> {
  const v5 = v === 5;
  const p = (props: fc.Arbitrary<Obj>) =>
    v5 ? props.map((properties) => ({ properties })) : fc.constant({});
  const strip = (o: Obj): Obj => Object.fromEntries(Object.entries(o).filter(([, x]) => x !== undefined));
  const publish = fc
    .tuple(
      fc.record({
        topic,
        payload: fc.uint8Array({ maxLength: 100 }).map((a) => Buffer.from(a)),
        qos,
        retain: fc.boolean(),
        messageId: id,
      }),
      p(
        fc.record(
          {
            payloadFormatIndicator: fc.boolean(),
            messageExpiryInterval: fc.nat(),
            topicAlias: fc.integer({ min: 1, max: 65_535 }),
            responseTopic: topic,
            correlationData: fc.uint8Array({ maxLength: 10 }).map((a) => Buffer.from(a)),
            userProperties: userProps,
            subscriptionIdentifier: fc.integer({ min: 1, max: 268_435_455 }),
            contentType: str,
          },
          { requiredKeys: [] },
        ),
      ),
    )
    .map(([f, props]) => strip({ cmd: 'publish', dup: false, ...f, ...props }));
  const acks = fc
    .tuple(
      fc.constantFrom('puback', 'pubrec', 'pubrel', 'pubcomp'),
      id,
      p(fc.record({ reasonString: str, userProperties: userProps }, { requiredKeys: [] })),
    )
    .map(([cmd, messageId, props]) => ({
      cmd,
      messageId,
      ...(v5 ? { reasonCode: cmd === 'pubrel' || cmd === 'pubcomp' ? 0 : 0x10 } : {}),
      ...props,
    }));
  const subscribe = fc
    .tuple(
      id,
      fc.array(
        fc.record({
          topic,
          qos,
          ...(v5 ? { nl: fc.boolean(), rap: fc.boolean(), rh: fc.constantFrom(0, 1, 2) } : {}),
        }),
        { minLength: 1, maxLength: 4 },
      ),
      p(
        fc.record(
          { subscriptionIdentifier: fc.integer({ min: 1, max: 268_435_455 }), userProperties: userProps },
          { requiredKeys: [] },
        ),
      ),
    )
    .map(([messageId, subscriptions, props]) => ({ cmd: 'subscribe', messageId, subscriptions, ...props }));
  const connect = fc
    .tuple(
      fc.record({
        clientId: str,
        clean: fc.boolean(),
        keepalive: fc.integer({ min: 0, max: 65_535 }),
        username: opt(str),
        password: opt(fc.uint8Array({ maxLength: 10 }).map((a) => Buffer.from(a))),
      }),
      p(
        fc.record(
          {
            sessionExpiryInterval: fc.nat(),
            receiveMaximum: fc.integer({ min: 1, max: 65_535 }),
            maximumPacketSize: fc.integer({ min: 1, max: 1e9 }),
            topicAliasMaximum: fc.integer({ min: 0, max: 65_535 }),
            requestResponseInformation: fc.boolean(),
            requestProblemInformation: fc.boolean(),
            userProperties: userProps,
          },
          { requiredKeys: [] },
        ),
      ),
    )
    .map(([f, props]) =>
      strip({
        cmd: 'connect',
        protocolId: 'MQTT',
        protocolVersion: v,
        ...f,
        // mqtt-packet's parser refuses an empty client id with Clean Session 0 (3.1.1 [MQTT-3.1.3-7]).
        clientId: f.clientId || (f.clean ? '' : 'c'),
        // 3.1.1 needs a user name with a password [MQTT-3.1.2-22]; mqtt-packet asks for one in 5.0 too.
        username: f.username ?? (f.password !== undefined ? 'u' : undefined),
        ...props,
      }),
    );
  return fc.oneof(publish, acks, subscribe, connect);
}

describe('differential over random packets from mqtt-packet', () => {
  for (const v of [4, 5] as const) {
    it(`MQTT ${versionOf(v)}`, () => {
      fc.assert(
        fc.property(randomPacket(v), (object) => roundTrip(object, v)),
        { numRuns: RUNS },
      );
    });
  }
});
