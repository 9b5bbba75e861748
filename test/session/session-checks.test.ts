/**
 * The stateful checks, table-driven: a connection's packets both ways, and the one violation it
 * must produce (code and rule, on the packet that breaks the rule); and sequences that must
 * produce none, where the tap lacks the state to judge (a capture gap, a full state budget, a
 * resumed session) or the protocol allows what looks odd (a resend and its second answer).
 */
import { describe, expect, it } from 'vitest';
import type { ProtocolVersion } from '../../src/protocol/constants.js';
import {
  ack,
  auth,
  connack,
  connect,
  P,
  pingreq,
  prop,
  publish,
  suback,
  subscribe,
} from '../helpers/packets.js';
import { runSession, type Step, violationsOf } from '../helpers/session-run.js';
import { STATEFUL_CASES } from '../helpers/stateful-cases.js';

describe('stateful checks: each vector reports its violation on the packet that breaks the rule, and nothing else', () => {
  it.each(STATEFUL_CASES.map((c) => [c.code, c.version, c.name, c] as const))(
    '%s (%s): %s',
    (_code, _v, _name, c) => {
      const run = runSession(c.version, c.steps, c.closeAt === undefined ? {} : { closeAt: c.closeAt });
      const expected =
        c.rule === undefined ? { on: c.on, code: c.code } : { on: c.on, code: c.code, rule: c.rule };
      expect(violationsOf(run)).toEqual([expected]);
    },
  );
});

const V5: ProtocolVersion = '5.0';
const V3: ProtocolVersion = '3.1.1';
const c = (bytes: Buffer, at?: number): Step =>
  at === undefined ? { from: 'client', bytes } : { from: 'client', bytes, at };
const b = (bytes: Buffer, at?: number): Step =>
  at === undefined ? { from: 'broker', bytes } : { from: 'broker', bytes, at };
const pub = (version: ProtocolVersion, qos: number, packetId: number, dup = false): Buffer =>
  publish({ version, topic: 't', qos, packetId, dup });
const open = (
  version: ProtocolVersion,
  more: Partial<Parameters<typeof connect>[0]> = {},
  sessionPresent = false,
): Step[] => [c(connect({ version, clientId: 'c', ...more }), 0), b(connack({ version, sessionPresent }))];

const METHOD = prop(P.authenticationMethod, 'A');

interface QuietCase {
  name: string;
  version: ProtocolVersion;
  steps: Step[];
  closeAt?: number;
  stateMax?: number;
}

const QUIET: QuietCase[] = [
  {
    name: 'QoS 1 and QoS 2 flows both ways, ids reused once answered',
    version: V5,
    steps: [
      ...open(V5),
      c(pub(V5, 1, 1)),
      b(ack('PUBACK', { version: V5, packetId: 1 })),
      c(pub(V5, 1, 1)),
      b(ack('PUBACK', { version: V5, packetId: 1 })),
      b(pub(V5, 2, 1)),
      c(ack('PUBREC', { version: V5, packetId: 1 })),
      b(ack('PUBREL', { version: V5, packetId: 1 })),
      c(ack('PUBCOMP', { version: V5, packetId: 1 })),
      c(pub(V5, 2, 1)),
      b(ack('PUBREC', { version: V5, packetId: 1, code: 0x97 })),
      c(pub(V5, 2, 1)),
    ],
  },
  {
    name: 'a 3.1.1 QoS 1 PUBLISH sent again with DUP, and both copies acknowledged',
    version: V3,
    steps: [
      ...open(V3),
      c(pub(V3, 1, 4)),
      c(pub(V3, 1, 4, true)),
      b(ack('PUBACK', { version: V3, packetId: 4 })),
      b(ack('PUBACK', { version: V3, packetId: 4 })),
    ],
  },
  {
    name: 'a 3.1.1 PUBREL sent again, and both completed',
    version: V3,
    steps: [
      ...open(V3),
      c(pub(V3, 2, 4)),
      b(ack('PUBREC', { version: V3, packetId: 4 })),
      c(ack('PUBREL', { version: V3, packetId: 4 })),
      c(ack('PUBREL', { version: V3, packetId: 4 })),
      b(ack('PUBCOMP', { version: V3, packetId: 4 })),
      b(ack('PUBCOMP', { version: V3, packetId: 4 })),
    ],
  },
  {
    name: 'a 3.1.1 SUBSCRIBE sent again with its id while unanswered',
    version: V3,
    steps: [
      ...open(V3),
      c(subscribe({ version: V3, packetId: 2, subscriptions: [{ filter: 'a' }] })),
      c(subscribe({ version: V3, packetId: 2, subscriptions: [{ filter: 'a' }] })),
      b(suback({ version: V3, packetId: 2, codes: [0] })),
    ],
  },
  {
    name: 'a resumed session: the client releases, and the broker completes, a flow of the last connection',
    version: V5,
    steps: [
      ...open(V5, { clean: false }, true),
      c(ack('PUBREL', { version: V5, packetId: 7 })),
      b(ack('PUBCOMP', { version: V5, packetId: 7 })),
    ],
  },
  {
    name: 'a PUBACK for a PUBLISH the state budget could not keep',
    version: V5,
    stateMax: 100,
    steps: [
      ...open(V5),
      c(publish({ version: V5, topic: 'x'.repeat(100), qos: 1, packetId: 1 })),
      b(ack('PUBACK', { version: V5, packetId: 1 })),
    ],
  },
  {
    name: 'a PUBACK for a PUBLISH the in-flight table forgot to stay within its bound',
    version: V5,
    steps: [
      ...open(V5),
      ...Array.from({ length: 4097 }, (_, i) => c(pub(V5, 1, i + 1))),
      b(ack('PUBACK', { version: V5, packetId: 1 })),
    ],
  },
  {
    name: "a PUBACK after the client's direction was lost (a capture gap)",
    version: V5,
    steps: [...open(V5), { from: 'client', lost: true }, b(ack('PUBACK', { version: V5, packetId: 1 }))],
  },
  {
    name: 'a client that sends while its CONNECT waits for the CONNACK, without extended authentication',
    version: V5,
    steps: [
      c(connect({ version: V5, clientId: 'c' }), 0),
      c(pub(V5, 1, 1)),
      b(connack({ version: V5 })),
      b(ack('PUBACK', { version: V5, packetId: 1 })),
    ],
  },
  {
    name: 'extended authentication: AUTH both ways with the method of the CONNECT, then the CONNACK',
    version: V5,
    steps: [
      c(connect({ version: V5, clientId: 'c', properties: [METHOD] }), 0),
      b(auth({ code: 0x18, properties: [METHOD] })),
      c(auth({ code: 0x18, properties: [METHOD] })),
      b(connack({ version: V5, properties: [METHOD] })),
      c(pub(V5, 0, 0)),
    ],
  },
  {
    name: 'keep-alive: 1.4 times it, then silence past it once the client said DISCONNECT',
    version: V3,
    closeAt: 100_000,
    steps: [
      c(connect({ version: V3, clientId: 'c', keepAlive: 10 }), 0),
      b(connack({ version: V3 })),
      c(pingreq(), 14_000),
      c(Buffer.from([0xe0, 0x00]), 28_000),
    ],
  },
  {
    name: 'keep-alive: the broker still sends 24.9 s into the silence of a 10 s keep-alive, within its slack',
    version: V5,
    steps: [
      c(connect({ version: V5, clientId: 'c', keepAlive: 10 }), 0),
      b(connack({ version: V5 })),
      b(pub(V5, 0, 0), 24_900),
    ],
  },
  {
    name: 'keep-alive 0: no limit',
    version: V3,
    closeAt: 1_000_000,
    steps: [
      c(connect({ version: V3, clientId: 'c', keepAlive: 0 }), 0),
      b(connack({ version: V3 })),
      c(pingreq(), 500_000),
    ],
  },
];

describe('stateful checks: what they must not report', () => {
  it.each(QUIET.map((q) => [q.name, q] as const))('%s', (_name, q) => {
    const opts: { closeAt?: number; stateMax?: number } = {};
    if (q.closeAt !== undefined) opts.closeAt = q.closeAt;
    if (q.stateMax !== undefined) opts.stateMax = q.stateMax;
    expect(violationsOf(runSession(q.version, q.steps, opts))).toEqual([]);
  });
});

describe('keep-alive: the broker that does not close a silent client (MQTT-3.1.2-22, 3.1.1 MQTT-3.1.2-24)', () => {
  const open10 = (version: ProtocolVersion): Step[] => [
    c(connect({ version, clientId: 'c', keepAlive: 10 }), 0),
    b(connack({ version })),
  ];

  it('a client packet 26 s into its silence: the client broke its keep-alive, and the broker kept the connection open', () => {
    const run = runSession(V5, [...open10(V5), c(pingreq(), 26_000)]);
    expect(violationsOf(run)).toEqual([
      { on: 2, code: 'MQTT_KEEP_ALIVE_EXCEEDED', rule: 'MQTT-3.1.2-20' },
      { on: 2, code: 'MQTT_KEEP_ALIVE_NOT_ENFORCED', rule: 'MQTT-3.1.2-22' },
    ]);
    expect(run.packets[2]!.packet.violations[1]!.detail).toBe(
      'the broker had not closed the connection when this packet came: nothing from the client for 26.0 s, more than 1.5 times the keep-alive of 10 s',
    );
  });

  it('a close 30 s into the silence: both at the close', () => {
    const run = runSession(V3, open10(V3), { closeAt: 30_000 });
    expect(violationsOf(run)).toEqual([
      { on: 'close', code: 'MQTT_KEEP_ALIVE_EXCEEDED', rule: 'MQTT-3.1.2-23' },
      { on: 'close', code: 'MQTT_KEEP_ALIVE_NOT_ENFORCED', rule: 'MQTT-3.1.2-24' },
    ]);
  });

  it('once per silence: on the first broker packet past the slack, not on later ones nor at the close', () => {
    const run = runSession(V5, [...open10(V5), b(pub(V5, 0, 0), 25_100), b(pub(V5, 0, 0), 26_000)], {
      closeAt: 40_000,
    });
    expect(violationsOf(run)).toEqual([
      { on: 2, code: 'MQTT_KEEP_ALIVE_NOT_ENFORCED', rule: 'MQTT-3.1.2-22' },
      { on: 'close', code: 'MQTT_KEEP_ALIVE_EXCEEDED', rule: 'MQTT-3.1.2-20' },
    ]);
  });

  it('a new silence after the client spoke again is reported again', () => {
    const run = runSession(V5, [
      ...open10(V5),
      b(pub(V5, 0, 0), 25_100),
      c(pingreq(), 25_200),
      b(pub(V5, 0, 0), 50_400),
    ]);
    expect(
      violationsOf(run)
        .filter((v) => v.code === 'MQTT_KEEP_ALIVE_NOT_ENFORCED')
        .map((v) => v.on),
    ).toEqual([2, 4]);
  });
});
