/**
 * Vectors of the stateful checks (src/session/session-checks.ts): a connection's packets both
 * ways, and the one violation it must produce, on which packet, with which rule. Shared by the
 * session tests, the violations table's coverage test and the spec coverage table's test.
 */
import type { ProtocolVersion } from '../../src/protocol/constants.js';
import type { ViolationCode } from '../../src/protocol/violations.js';
import {
  type AckType,
  ack,
  auth,
  connack,
  connect,
  disconnect,
  P,
  pingreq,
  prop,
  publish,
  suback,
  subscribe,
  unsuback,
  unsubscribe,
} from './packets.js';
import type { Step } from './session-run.js';

export interface StatefulCase {
  name: string;
  version: ProtocolVersion;
  steps: Step[];
  /** The step whose packet carries the violation, or the close (at `closeAt`). */
  on: number | 'close';
  closeAt?: number;
  code: ViolationCode;
  rule: string | undefined;
}

const V5: ProtocolVersion = '5.0';
const V3: ProtocolVersion = '3.1.1';

const c = (bytes: Buffer, at?: number): Step =>
  at === undefined ? { from: 'client', bytes } : { from: 'client', bytes, at };
const b = (bytes: Buffer, at?: number): Step =>
  at === undefined ? { from: 'broker', bytes } : { from: 'broker', bytes, at };

type Props = Buffer[];
const connect5 = (properties?: Props, more: Partial<Parameters<typeof connect>[0]> = {}): Step =>
  c(connect({ version: V5, clientId: 'c', ...(properties ? { properties } : {}), ...more }), 0);
const connack5 = (properties?: Props, more: Partial<Parameters<typeof connack>[0]> = {}): Step =>
  b(connack({ version: V5, ...(properties ? { properties } : {}), ...more }));
const connect3 = (more: Partial<Parameters<typeof connect>[0]> = {}): Step =>
  c(connect({ version: V3, clientId: 'c', ...more }), 0);
const connack3 = (more: Partial<Parameters<typeof connack>[0]> = {}): Step =>
  b(connack({ version: V3, ...more }));
const open5 = (client?: Props, broker?: Props): Step[] => [connect5(client), connack5(broker)];
const open3 = (): Step[] => [connect3(), connack3()];

const pub = (
  version: ProtocolVersion,
  qos: number,
  packetId: number,
  more: Partial<Parameters<typeof publish>[0]> = {},
): Buffer => publish({ version, topic: 't', qos, packetId, ...more });
const acked = (
  type: AckType,
  version: ProtocolVersion,
  packetId: number,
  code?: number,
  properties?: Props,
): Buffer =>
  ack(type, {
    version,
    packetId,
    ...(code === undefined ? {} : { code }),
    ...(properties ? { properties } : {}),
  });

const REASON = prop(P.reasonString, 'a reason long enough');
const USER = prop(P.userProperty, ['key', 'a value long enough']);
/** A client that takes packets of at most 12 bytes: an acknowledgement with a property is more. */
const SMALL = prop(P.maximumPacketSize, 12);

/** Each acknowledgement with a statement for its Reason String and User Property past the Maximum Packet Size. */
function sizedCases(): StatefulCase[] {
  const rules: Record<string, [string, string]> = {
    CONNACK: ['MQTT-3.2.2-19', 'MQTT-3.2.2-20'],
    PUBACK: ['MQTT-3.4.2-2', 'MQTT-3.4.2-3'],
    PUBREC: ['MQTT-3.5.2-2', 'MQTT-3.5.2-3'],
    PUBREL: ['MQTT-3.6.2-2', 'MQTT-3.6.2-3'],
    PUBCOMP: ['MQTT-3.7.2-2', 'MQTT-3.7.2-3'],
    SUBACK: ['MQTT-3.9.2-1', 'MQTT-3.9.2-2'],
    UNSUBACK: ['MQTT-3.11.2-1', 'MQTT-3.11.2-2'],
    DISCONNECT: ['MQTT-3.14.2-3', 'MQTT-3.14.2-4'],
    AUTH: ['MQTT-3.15.2-2', 'MQTT-3.15.2-3'],
  };
  const out: StatefulCase[] = [];
  for (const [type, [reasonRule, userRule]] of Object.entries(rules)) {
    for (const [name, property, rule] of [
      ['Reason String', REASON, reasonRule],
      ['User Property', USER, userRule],
    ] as const) {
      // The broker sends each of them to a client that takes 12 bytes at most.
      const steps: Step[] = (() => {
        switch (type) {
          case 'CONNACK':
            return [connect5([SMALL]), connack5([property])];
          case 'PUBACK':
          case 'PUBREC':
            return [
              ...open5([SMALL]),
              c(pub(V5, type === 'PUBACK' ? 1 : 2, 1)),
              b(acked(type, V5, 1, 0, [property])),
            ];
          case 'PUBREL':
            return [
              ...open5([SMALL]),
              b(pub(V5, 2, 1)),
              c(acked('PUBREC', V5, 1)),
              b(acked('PUBREL', V5, 1, 0, [property])),
            ];
          case 'PUBCOMP':
            return [
              ...open5([SMALL]),
              c(pub(V5, 2, 1)),
              b(acked('PUBREC', V5, 1)),
              c(acked('PUBREL', V5, 1)),
              b(acked('PUBCOMP', V5, 1, 0, [property])),
            ];
          case 'SUBACK':
            return [
              ...open5([SMALL]),
              c(subscribe({ version: V5, packetId: 1, subscriptions: [{ filter: 'a' }] })),
              b(suback({ version: V5, packetId: 1, codes: [0], properties: [property] })),
            ];
          case 'UNSUBACK':
            return [
              ...open5([SMALL]),
              c(unsubscribe({ version: V5, packetId: 1, filters: ['a'] })),
              b(unsuback({ version: V5, packetId: 1, codes: [0], properties: [property] })),
            ];
          case 'DISCONNECT':
            return [...open5([SMALL]), b(disconnect({ code: 0x8b, properties: [property] }))];
          default:
            // AUTH during extended authentication, with the CONNECT's method.
            return [
              connect5([SMALL, prop(P.authenticationMethod, 'A')]),
              b(auth({ code: 0x18, properties: [prop(P.authenticationMethod, 'A'), property] })),
            ];
        }
      })();
      out.push({
        name: `a ${type} with a ${name} past the client's Maximum Packet Size`,
        version: V5,
        steps,
        on: steps.length - 1,
        code: 'MQTT_PACKET_TOO_LARGE',
        rule,
      });
    }
  }
  return out;
}

function notInFlight(version: ProtocolVersion, rules: Record<string, string>): StatefulCase[] {
  const open = version === V5 ? open5() : open3();
  const cases: [string, Step, string][] = [
    ['PUBACK', b(acked('PUBACK', version, 9)), rules.PUBACK!],
    ['PUBREC', b(acked('PUBREC', version, 9)), rules.PUBREC!],
    ['PUBREL', c(acked('PUBREL', version, 9)), rules.PUBREL!],
    ['PUBCOMP', b(acked('PUBCOMP', version, 9)), rules.PUBCOMP!],
    ['SUBACK', b(suback({ version, packetId: 9, codes: [0] })), rules.SUBACK!],
    ['UNSUBACK', b(unsuback({ version, packetId: 9, codes: [0] })), rules.UNSUBACK!],
  ];
  return cases.map(([type, step, rule]) => ({
    name: `${type} for a packet id not in flight`,
    version,
    steps: [...open, step],
    on: 2,
    code: 'MQTT_PACKET_ID_NOT_IN_FLIGHT',
    rule,
  }));
}

function inUse(version: ProtocolVersion, sub: string): StatefulCase[] {
  const open = version === V5 ? open5() : open3();
  return [
    {
      name: 'a QoS 1 PUBLISH on the id of an unacknowledged one',
      version,
      steps: [...open, c(pub(version, 1, 5)), c(pub(version, 1, 5))],
      on: 3,
      code: 'MQTT_PACKET_ID_IN_USE',
      rule: 'MQTT-4.3.2-1',
    },
    {
      name: 'a QoS 2 PUBLISH from the broker on the id of an uncompleted one',
      version,
      steps: [
        ...open,
        b(pub(version, 2, 5)),
        c(acked('PUBREC', version, 5)),
        b(acked('PUBREL', version, 5)),
        b(pub(version, 2, 5)),
      ],
      on: 5,
      code: 'MQTT_PACKET_ID_IN_USE',
      rule: 'MQTT-4.3.3-1',
    },
    {
      name: 'a SUBSCRIBE on the id of an unanswered UNSUBSCRIBE',
      version,
      steps: [
        ...open,
        c(unsubscribe({ version, packetId: 5, filters: ['a'] })),
        c(subscribe({ version, packetId: 5, subscriptions: [{ filter: 'b' }] })),
      ],
      on: 3,
      code: 'MQTT_PACKET_ID_IN_USE',
      rule: sub,
    },
  ];
}

export const STATEFUL_CASES: StatefulCase[] = [
  // Who sends what, and in which order
  {
    name: 'a DISCONNECT from a 3.1.1 broker',
    version: V3,
    steps: [...open3(), b(disconnect())],
    on: 2,
    code: 'MQTT_WRONG_DIRECTION',
    rule: undefined,
  },
  {
    name: 'a SUBACK from a 5.0 client',
    version: V5,
    steps: [...open5(), c(suback({ version: V5, packetId: 1, codes: [0] }))],
    on: 2,
    code: 'MQTT_WRONG_DIRECTION',
    rule: undefined,
  },
  {
    name: 'a PINGREQ before any CONNECT',
    version: V5,
    steps: [c(pingreq())],
    on: 0,
    code: 'MQTT_CONNECT_NOT_FIRST',
    rule: 'MQTT-3.1.0-1',
  },
  {
    name: 'a PINGREQ before any CONNECT',
    version: V3,
    steps: [c(pingreq())],
    on: 0,
    code: 'MQTT_CONNECT_NOT_FIRST',
    rule: 'MQTT-3.1.0-1',
  },
  {
    name: 'a second CONNECT',
    version: V5,
    steps: [...open5(), connect5()],
    on: 2,
    code: 'MQTT_SECOND_CONNECT',
    rule: 'MQTT-3.1.0-2',
  },
  {
    name: 'a second CONNECT',
    version: V3,
    steps: [...open3(), connect3()],
    on: 2,
    code: 'MQTT_SECOND_CONNECT',
    rule: 'MQTT-3.1.0-2',
  },
  {
    name: 'a second CONNACK',
    version: V5,
    steps: [...open5(), connack5()],
    on: 2,
    code: 'MQTT_SECOND_CONNACK',
    rule: 'MQTT-3.2.0-2',
  },
  {
    name: 'a second CONNACK',
    version: V3,
    steps: [...open3(), connack3()],
    on: 2,
    code: 'MQTT_SECOND_CONNACK',
    rule: undefined,
  },
  {
    name: 'a client PUBLISH before the CONNACK with extended authentication under way',
    version: V5,
    steps: [connect5([prop(P.authenticationMethod, 'A')]), c(pub(V5, 0, 0))],
    on: 1,
    code: 'MQTT_BEFORE_CONNACK',
    rule: 'MQTT-3.1.2-30',
  },
  {
    name: 'a broker PUBLISH before its CONNACK',
    version: V5,
    steps: [connect5(), b(pub(V5, 0, 0))],
    on: 1,
    code: 'MQTT_BEFORE_CONNACK',
    rule: 'MQTT-3.2.0-1',
  },
  {
    name: 'a broker PUBLISH before its CONNACK',
    version: V3,
    steps: [connect3(), b(pub(V3, 0, 0))],
    on: 1,
    code: 'MQTT_BEFORE_CONNACK',
    rule: 'MQTT-3.2.0-1',
  },
  {
    name: 'a broker DISCONNECT before its CONNACK',
    version: V5,
    steps: [connect5(), b(disconnect({ code: 0x80 }))],
    on: 1,
    code: 'MQTT_BEFORE_CONNACK',
    rule: 'MQTT-3.14.0-1',
  },
  {
    name: 'a broker PUBLISH after a refusing CONNACK',
    version: V5,
    steps: [connect5(), connack5(undefined, { code: 0x87 }), b(pub(V5, 0, 0))],
    on: 2,
    code: 'MQTT_AFTER_REFUSAL',
    rule: 'MQTT-3.2.2-7',
  },
  {
    name: 'a broker DISCONNECT after a refusing CONNACK',
    version: V5,
    steps: [connect5(), connack5(undefined, { code: 0x87 }), b(disconnect({ code: 0x87 }))],
    on: 2,
    code: 'MQTT_AFTER_REFUSAL',
    rule: 'MQTT-3.14.0-1',
  },
  {
    name: 'a broker PUBLISH after a refusing CONNACK',
    version: V3,
    steps: [connect3(), connack3({ code: 5 }), b(pub(V3, 0, 0))],
    on: 2,
    code: 'MQTT_AFTER_REFUSAL',
    rule: 'MQTT-3.2.2-5',
  },
  {
    name: "a PINGREQ after the client's DISCONNECT",
    version: V5,
    steps: [...open5(), c(disconnect()), c(pingreq())],
    on: 3,
    code: 'MQTT_AFTER_DISCONNECT',
    rule: 'MQTT-3.14.4-1',
  },
  {
    name: "a PUBLISH after the broker's DISCONNECT",
    version: V5,
    steps: [...open5(), b(disconnect({ code: 0x8b })), b(pub(V5, 0, 0))],
    on: 3,
    code: 'MQTT_AFTER_DISCONNECT',
    rule: 'MQTT-3.14.4-1',
  },
  {
    name: "a PINGREQ after the client's DISCONNECT",
    version: V3,
    steps: [...open3(), c(disconnect()), c(pingreq())],
    on: 3,
    code: 'MQTT_AFTER_DISCONNECT',
    rule: 'MQTT-3.14.4-2',
  },

  // Keep-alive
  {
    name: 'the client silent past 1.5 times its keep-alive of 10 s, then a PINGREQ',
    version: V5,
    steps: [c(connect({ version: V5, clientId: 'c', keepAlive: 10 }), 0), connack5(), c(pingreq(), 15_011)],
    on: 2,
    code: 'MQTT_KEEP_ALIVE_EXCEEDED',
    rule: 'MQTT-3.1.2-20',
  },
  {
    name: "the client silent past 1.5 times the broker's Server Keep Alive of 10 s (it asked 60 s)",
    version: V5,
    steps: [
      c(connect({ version: V5, clientId: 'c', keepAlive: 60 }), 0),
      connack5([prop(P.serverKeepAlive, 10)]),
      c(pingreq(), 16_000),
    ],
    on: 2,
    code: 'MQTT_KEEP_ALIVE_EXCEEDED',
    rule: 'MQTT-3.1.2-20',
  },
  {
    name: 'the client silent past 1.5 times its keep-alive of 10 s, then a PINGREQ',
    version: V3,
    steps: [c(connect({ version: V3, clientId: 'c', keepAlive: 10 }), 0), connack3(), c(pingreq(), 15_011)],
    on: 2,
    code: 'MQTT_KEEP_ALIVE_EXCEEDED',
    rule: 'MQTT-3.1.2-23',
  },
  {
    name: 'the client silent past 1.5 times its keep-alive of 10 s until the close',
    version: V3,
    steps: [c(connect({ version: V3, clientId: 'c', keepAlive: 10 }), 0), connack3(), c(pingreq(), 5_000)],
    on: 'close',
    closeAt: 20_001,
    code: 'MQTT_KEEP_ALIVE_EXCEEDED',
    rule: 'MQTT-3.1.2-23',
  },
  {
    name: 'the broker still sends 25 s into the silence of a client with a keep-alive of 10 s (1.5 times it and 10 s of slack)',
    version: V5,
    steps: [
      c(connect({ version: V5, clientId: 'c', keepAlive: 10 }), 0),
      connack5(),
      b(publish({ version: V5, topic: 't', qos: 0 }), 25_011),
    ],
    on: 2,
    code: 'MQTT_KEEP_ALIVE_NOT_ENFORCED',
    rule: 'MQTT-3.1.2-22',
  },
  {
    name: 'the broker still sends 25 s into the silence of a client with a keep-alive of 10 s',
    version: V3,
    steps: [
      c(connect({ version: V3, clientId: 'c', keepAlive: 10 }), 0),
      connack3(),
      b(publish({ version: V3, topic: 't', qos: 0 }), 25_011),
    ],
    on: 2,
    code: 'MQTT_KEEP_ALIVE_NOT_ENFORCED',
    rule: 'MQTT-3.1.2-24',
  },

  // CONNACK against the CONNECT
  {
    name: 'Session Present 1 for a clean start',
    version: V5,
    steps: [connect5(), connack5(undefined, { sessionPresent: true })],
    on: 1,
    code: 'MQTT_SESSION_PRESENT_ON_CLEAN_START',
    rule: 'MQTT-3.2.2-2',
  },
  {
    name: 'Session Present 1 for a clean session',
    version: V3,
    steps: [connect3(), connack3({ sessionPresent: true })],
    on: 1,
    code: 'MQTT_SESSION_PRESENT_ON_CLEAN_START',
    rule: 'MQTT-3.2.2-1',
  },
  {
    name: 'no Assigned Client Identifier for an empty Client Identifier',
    version: V5,
    steps: [connect5(undefined, { clientId: '' }), connack5()],
    on: 1,
    code: 'MQTT_ASSIGNED_CLIENT_ID_MISSING',
    rule: 'MQTT-3.2.2-16',
  },
  {
    name: 'Response Information the client did not request',
    version: V5,
    steps: [connect5(), connack5([prop(P.responseInformation, 'r/')])],
    on: 1,
    code: 'MQTT_RESPONSE_INFORMATION_NOT_REQUESTED',
    rule: 'MQTT-3.1.2-28',
  },
  {
    name: 'a Reason String on a PUBACK to a client that set Request Problem Information 0',
    version: V5,
    steps: [
      ...open5([prop(P.requestProblemInformation, 0)]),
      c(pub(V5, 1, 1)),
      b(acked('PUBACK', V5, 1, 0x10, [prop(P.reasonString, 'no one')])),
    ],
    on: 3,
    code: 'MQTT_PROBLEM_INFORMATION_NOT_REQUESTED',
    rule: 'MQTT-3.1.2-29',
  },
  {
    name: 'an AUTH from the broker when the CONNECT had no Authentication Method',
    version: V5,
    steps: [connect5(), b(auth({ code: 0x18, properties: [prop(P.authenticationMethod, 'A')] }))],
    on: 1,
    code: 'MQTT_AUTH_NOT_NEGOTIATED',
    rule: 'MQTT-4.12.0-6',
  },
  {
    name: 'an AUTH from the client when its CONNECT had no Authentication Method',
    version: V5,
    steps: [...open5(), c(auth({ code: 0x19, properties: [prop(P.authenticationMethod, 'A')] }))],
    on: 2,
    code: 'MQTT_AUTH_NOT_NEGOTIATED',
    rule: 'MQTT-4.12.0-7',
  },
  {
    name: 'an AUTH with another Authentication Method than the CONNECT',
    version: V5,
    steps: [
      connect5([prop(P.authenticationMethod, 'A')]),
      b(auth({ code: 0x18, properties: [prop(P.authenticationMethod, 'B')] })),
    ],
    on: 1,
    code: 'MQTT_AUTH_METHOD_CHANGED',
    rule: 'MQTT-4.12.0-5',
  },

  // The QoS flows
  ...inUse(V5, 'MQTT-2.2.1-3'),
  ...inUse(V3, 'MQTT-2.3.1-2'),
  ...notInFlight(V5, {
    PUBACK: 'MQTT-2.2.1-5',
    PUBREC: 'MQTT-2.2.1-5',
    PUBREL: 'MQTT-2.2.1-5',
    PUBCOMP: 'MQTT-2.2.1-5',
    SUBACK: 'MQTT-2.2.1-6',
    UNSUBACK: 'MQTT-2.2.1-6',
  }),
  ...notInFlight(V3, {
    PUBACK: 'MQTT-2.3.1-6',
    PUBREC: 'MQTT-2.3.1-6',
    PUBREL: 'MQTT-2.3.1-6',
    PUBCOMP: 'MQTT-4.3.3-2',
    SUBACK: 'MQTT-2.3.1-7',
    UNSUBACK: 'MQTT-2.3.1-7',
  }),
  {
    name: 'a SUBACK with one code for two Topic Filters',
    version: V5,
    steps: [
      ...open5(),
      c(subscribe({ version: V5, packetId: 1, subscriptions: [{ filter: 'a' }, { filter: 'b' }] })),
      b(suback({ version: V5, packetId: 1, codes: [0] })),
    ],
    on: 3,
    code: 'MQTT_REASON_CODE_COUNT',
    rule: 'MQTT-3.8.4-6',
  },
  {
    name: 'an UNSUBACK with two codes for one Topic Filter',
    version: V5,
    steps: [
      ...open5(),
      c(unsubscribe({ version: V5, packetId: 1, filters: ['a'] })),
      b(unsuback({ version: V5, packetId: 1, codes: [0, 0] })),
    ],
    on: 3,
    code: 'MQTT_REASON_CODE_COUNT',
    rule: 'MQTT-3.11.3-2',
  },
  {
    name: 'a SUBACK with one code for two Topic Filters',
    version: V3,
    steps: [
      ...open3(),
      c(subscribe({ version: V3, packetId: 1, subscriptions: [{ filter: 'a' }, { filter: 'b' }] })),
      b(suback({ version: V3, packetId: 1, codes: [0] })),
    ],
    on: 3,
    code: 'MQTT_REASON_CODE_COUNT',
    rule: 'MQTT-3.8.4-5',
  },

  // The contract's limits
  {
    name: "a second unacknowledged QoS 1 PUBLISH from the client, with the broker's Receive Maximum 1",
    version: V5,
    steps: [...open5(undefined, [prop(P.receiveMaximum, 1)]), c(pub(V5, 1, 1)), c(pub(V5, 1, 2))],
    on: 3,
    code: 'MQTT_RECEIVE_MAXIMUM_EXCEEDED',
    rule: 'MQTT-3.3.4-7',
  },
  {
    name: "a second uncompleted QoS 2 PUBLISH from the broker, with the client's Receive Maximum 1",
    version: V5,
    steps: [
      ...open5([prop(P.receiveMaximum, 1)]),
      b(pub(V5, 2, 1)),
      c(acked('PUBREC', V5, 1)),
      b(pub(V5, 2, 2)),
    ],
    on: 4,
    code: 'MQTT_RECEIVE_MAXIMUM_EXCEEDED',
    rule: 'MQTT-3.3.4-9',
  },
  {
    name: "a client PUBLISH past the broker's Maximum Packet Size",
    version: V5,
    steps: [
      ...open5(undefined, [prop(P.maximumPacketSize, 20)]),
      c(pub(V5, 0, 0, { payload: Buffer.alloc(20) })),
    ],
    on: 2,
    code: 'MQTT_PACKET_TOO_LARGE',
    rule: 'MQTT-3.2.2-15',
  },
  {
    name: "a broker PUBLISH past the client's Maximum Packet Size",
    version: V5,
    steps: [...open5([prop(P.maximumPacketSize, 20)]), b(pub(V5, 0, 0, { payload: Buffer.alloc(20) }))],
    on: 2,
    code: 'MQTT_PACKET_TOO_LARGE',
    rule: 'MQTT-3.1.2-24',
  },
  ...sizedCases(),
  {
    name: "a client Topic Alias above the broker's Topic Alias Maximum 5",
    version: V5,
    steps: [
      ...open5(undefined, [prop(P.topicAliasMaximum, 5)]),
      c(pub(V5, 0, 0, { properties: [prop(P.topicAlias, 6)] })),
    ],
    on: 2,
    code: 'MQTT_TOPIC_ALIAS_ABOVE_MAXIMUM',
    rule: 'MQTT-3.3.2-9',
  },
  {
    name: 'a client Topic Alias to a broker that accepts none',
    version: V5,
    steps: [...open5(), c(pub(V5, 0, 0, { properties: [prop(P.topicAlias, 1)] }))],
    on: 2,
    code: 'MQTT_TOPIC_ALIAS_ABOVE_MAXIMUM',
    rule: 'MQTT-3.2.2-18',
  },
  {
    name: "a broker Topic Alias above the client's Topic Alias Maximum 5",
    version: V5,
    steps: [
      ...open5([prop(P.topicAliasMaximum, 5)]),
      b(pub(V5, 0, 0, { properties: [prop(P.topicAlias, 6)] })),
    ],
    on: 2,
    code: 'MQTT_TOPIC_ALIAS_ABOVE_MAXIMUM',
    rule: 'MQTT-3.3.2-11',
  },
  {
    name: 'a broker Topic Alias to a client that accepts none',
    version: V5,
    steps: [...open5(), b(pub(V5, 0, 0, { properties: [prop(P.topicAlias, 1)] }))],
    on: 2,
    code: 'MQTT_TOPIC_ALIAS_ABOVE_MAXIMUM',
    rule: 'MQTT-3.1.2-27',
  },
  {
    name: 'a Topic Alias used with an empty Topic Name before any PUBLISH set it',
    version: V5,
    steps: [
      ...open5(undefined, [prop(P.topicAliasMaximum, 5)]),
      c(pub(V5, 0, 0, { topic: 'a', properties: [prop(P.topicAlias, 1)] })),
      c(pub(V5, 0, 0, { topic: '', properties: [prop(P.topicAlias, 2)] })),
    ],
    on: 3,
    code: 'MQTT_TOPIC_ALIAS_UNKNOWN',
    rule: undefined,
  },
  {
    name: "a QoS 1 PUBLISH with the broker's Maximum QoS 0",
    version: V5,
    steps: [...open5(undefined, [prop(P.maximumQoS, 0)]), c(pub(V5, 1, 1))],
    on: 2,
    code: 'MQTT_QOS_NOT_SUPPORTED',
    rule: 'MQTT-3.2.2-11',
  },
  {
    name: 'a CONNACK that accepts a QoS 2 Will with Maximum QoS 1',
    version: V5,
    steps: [
      connect5(undefined, { will: { topic: 'w', payload: [], qos: 2 } }),
      connack5([prop(P.maximumQoS, 1)]),
    ],
    on: 1,
    code: 'MQTT_QOS_NOT_SUPPORTED',
    rule: 'MQTT-3.2.2-12',
  },
  {
    name: "a retained PUBLISH with the broker's Retain Available 0",
    version: V5,
    steps: [...open5(undefined, [prop(P.retainAvailable, 0)]), c(pub(V5, 0, 0, { retain: true }))],
    on: 2,
    code: 'MQTT_RETAIN_NOT_SUPPORTED',
    rule: 'MQTT-3.2.2-14',
  },
  {
    name: 'a CONNACK that accepts a retained Will with Retain Available 0',
    version: V5,
    steps: [
      connect5(undefined, { will: { topic: 'w', payload: [], retain: true } }),
      connack5([prop(P.retainAvailable, 0)]),
    ],
    on: 1,
    code: 'MQTT_RETAIN_NOT_SUPPORTED',
    rule: 'MQTT-3.2.2-13',
  },
  {
    name: "a wildcard subscription with the broker's Wildcard Subscription Available 0",
    version: V5,
    steps: [
      ...open5(undefined, [prop(P.wildcardSubscriptionAvailable, 0)]),
      c(subscribe({ version: V5, packetId: 1, subscriptions: [{ filter: 'a/#' }] })),
    ],
    on: 2,
    code: 'MQTT_WILDCARD_SUBSCRIPTION_NOT_SUPPORTED',
    rule: undefined,
  },
  {
    name: "a shared subscription with the broker's Shared Subscription Available 0",
    version: V5,
    steps: [
      ...open5(undefined, [prop(P.sharedSubscriptionAvailable, 0)]),
      c(subscribe({ version: V5, packetId: 1, subscriptions: [{ filter: '$share/g/a' }] })),
    ],
    on: 2,
    code: 'MQTT_SHARED_SUBSCRIPTION_NOT_SUPPORTED',
    rule: undefined,
  },
  {
    name: "a Subscription Identifier with the broker's Subscription Identifier Available 0",
    version: V5,
    steps: [
      ...open5(undefined, [prop(P.subscriptionIdentifierAvailable, 0)]),
      c(
        subscribe({
          version: V5,
          packetId: 1,
          subscriptions: [{ filter: 'a' }],
          properties: [prop(P.subscriptionIdentifier, 7)],
        }),
      ),
    ],
    on: 2,
    code: 'MQTT_SUBSCRIPTION_ID_NOT_SUPPORTED',
    rule: undefined,
  },
];
