/**
 * The verdict on a close (src/session/verdict.ts): one vector per cause and per way to reach it, each
 * a connection's real packets through the session (times in ms from 0) and what the tap knows of
 * the close. Every cause has at least one.
 */
import { describe, expect, it } from 'vitest';
import type { ProtocolVersion } from '../../src/protocol/constants.js';
import {
  type CloseFacts,
  judge,
  VERDICT_CAUSES,
  type Verdict,
  type VerdictCause,
  verdictSentence,
} from '../../src/session/verdict.js';
import { connack, connect, disconnect, P, pingreq, prop, publish, subscribe } from '../helpers/packets.js';
import { runSession, type Step } from '../helpers/session-run.js';

const V5: ProtocolVersion = '5.0';
const V3: ProtocolVersion = '3.1.1';
const c = (bytes: Buffer, at?: number): Step =>
  at === undefined ? { from: 'client', bytes } : { from: 'client', bytes, at };
const b = (bytes: Buffer, at?: number): Step =>
  at === undefined ? { from: 'broker', bytes } : { from: 'broker', bytes, at };
const open = (
  version: ProtocolVersion,
  keepAlive = 60,
  more: Partial<Parameters<typeof connect>[0]> = {},
) => [c(connect({ version, clientId: 'dev1', keepAlive, ...more }), 0), b(connack({ version }), 5)];

interface Case {
  name: string;
  version: ProtocolVersion;
  steps: Step[];
  close: Omit<CloseFacts, 'conn' | 'openedAt'>;
  expected: Omit<Verdict, 'evidence'> & { evidence?: Verdict['evidence'] };
  /** The pretty sentence, where the case pins it. */
  sentence?: string;
}

const CASES: Case[] = [
  {
    name: 'the client says DISCONNECT 0x00 (5.0)',
    version: V5,
    steps: [...open(V5), c(disconnect({ code: 0 }), 100)],
    close: { closedBy: 'client', closedAt: 102 },
    expected: {
      cause: 'CLIENT_DISCONNECT',
      detail: 'DISCONNECT 0x00 Normal disconnection',
      evidence: [
        { conn: 'c1', from: 'client', type: 'DISCONNECT', offset: 19, time: 100 },
        { conn: 'c1', type: 'close', time: 102 },
      ],
    },
    sentence: 'closed by the client: DISCONNECT 0x00 Normal disconnection',
  },
  {
    name: 'the client says DISCONNECT (3.1.1: no code)',
    version: V3,
    steps: [...open(V3), c(disconnect(), 100)],
    close: { closedBy: 'client', closedAt: 102 },
    expected: { cause: 'CLIENT_DISCONNECT', detail: 'DISCONNECT' },
  },
  {
    name: 'the broker says DISCONNECT 0x89 Server busy',
    version: V5,
    steps: [...open(V5), b(disconnect({ code: 0x89 }), 100)],
    close: { closedBy: 'broker', closedAt: 101 },
    expected: { cause: 'SERVER_DISCONNECT', detail: 'DISCONNECT 0x89 Server busy' },
  },
  {
    name: "the broker says DISCONNECT 0x95 right after the client's PUBLISH above its Maximum Packet Size",
    version: V5,
    steps: [
      c(connect({ version: V5, clientId: 'dev1' }), 0),
      b(connack({ version: V5, properties: [prop(P.maximumPacketSize, 100)] }), 5),
      c(publish({ version: V5, topic: 't', payload: Buffer.alloc(200) }), 50),
      b(disconnect({ code: 0x95 }), 51),
    ],
    close: { closedBy: 'broker', closedAt: 52 },
    expected: {
      cause: 'SERVER_DISCONNECT',
      detail:
        "DISCONNECT 0x95 Packet too large, after the client's PUBLISH (MQTT_PACKET_TOO_LARGE: 207 bytes, above the broker's Maximum Packet Size 100)",
      rule: 'MQTT-3.2.2-15',
      evidence: [
        { conn: 'c1', from: 'client', type: 'PUBLISH', offset: 19, time: 50 },
        { conn: 'c1', from: 'broker', type: 'DISCONNECT', offset: 10, time: 51 },
        { conn: 'c1', type: 'close', time: 52 },
      ],
    },
  },
  {
    name: 'a refusing CONNACK (3.1.1 return code 5)',
    version: V3,
    steps: [c(connect({ version: V3, clientId: 'dev1' }), 0), b(connack({ version: V3, code: 5 }), 3)],
    close: { closedBy: 'broker', closedAt: 4 },
    expected: {
      cause: 'CONNECTION_REFUSED',
      detail: 'CONNACK 0x05 Connection Refused, not authorized',
      evidence: [
        { conn: 'c1', from: 'client', type: 'CONNECT', offset: 0, time: 0 },
        { conn: 'c1', from: 'broker', type: 'CONNACK', offset: 0, time: 3 },
        { conn: 'c1', type: 'close', time: 4 },
      ],
    },
  },
  {
    name: 'a refusing CONNACK (5.0 0x87), closed by the client first',
    version: V5,
    steps: [c(connect({ version: V5, clientId: 'dev1' }), 0), b(connack({ version: V5, code: 0x87 }), 3)],
    close: { closedBy: 'client', closedAt: 4 },
    expected: { cause: 'CONNECTION_REFUSED', detail: 'CONNACK 0x87 Not authorized' },
    sentence: 'closed by the client: CONNACK 0x87 Not authorized',
  },
  {
    name: 'the broker closes a client silent for 91 s with a keep-alive of 60 s',
    version: V5,
    steps: [...open(V5), c(pingreq(), 30_000)],
    close: { closedBy: 'broker', closedAt: 121_000 },
    expected: {
      cause: 'KEEP_ALIVE_TIMEOUT',
      detail: 'keep-alive 60 s, nothing from the client for 91 s',
      rule: 'MQTT-3.1.2-22',
      evidence: [
        { conn: 'c1', from: 'client', type: 'PINGREQ', offset: 19, time: 30_000 },
        { conn: 'c1', type: 'close', time: 121_000 },
      ],
    },
    sentence: 'closed by the broker: keep-alive 60 s, nothing from the client for 91 s (MQTT-3.1.2-22)',
  },
  {
    name: 'the broker closes a client silent for 3.4 s with a keep-alive of 2 s (3.1.1)',
    version: V3,
    steps: [...open(V3, 2)],
    close: { closedBy: 'broker', closedAt: 3_400 },
    expected: {
      cause: 'KEEP_ALIVE_TIMEOUT',
      detail: 'keep-alive 2 s, nothing from the client for 3.4 s',
      rule: 'MQTT-3.1.2-24',
    },
  },
  {
    name: 'the broker closes after 1 to 1.5 times the keep-alive: the timeout, without the rule',
    version: V3,
    steps: [...open(V3, 10)],
    close: { closedBy: 'broker', closedAt: 12_000 },
    expected: { cause: 'KEEP_ALIVE_TIMEOUT', detail: 'keep-alive 10 s, nothing from the client for 12 s' },
  },
  {
    name: 'the broker says DISCONNECT 0x8D Keep Alive timeout',
    version: V5,
    steps: [...open(V5, 10), b(disconnect({ code: 0x8d }), 15_200)],
    close: { closedBy: 'broker', closedAt: 15_201 },
    expected: {
      cause: 'KEEP_ALIVE_TIMEOUT',
      detail: 'DISCONNECT 0x8d Keep Alive timeout: keep-alive 10 s, nothing from the client for 15 s',
      rule: 'MQTT-3.1.2-22',
    },
  },
  {
    name: 'the client gives up on the broker: its PINGREQ unanswered for 40 s (keep-alive 60 s)',
    version: V3,
    steps: [...open(V3), c(pingreq(), 60_000)],
    close: { closedBy: 'client', closedAt: 100_000 },
    expected: {
      cause: 'KEEP_ALIVE_TIMEOUT',
      detail: "keep-alive 60 s, no PINGRESP from the broker for 40 s after the client's PINGREQ",
      evidence: [
        { conn: 'c1', from: 'client', type: 'PINGREQ', offset: 18, time: 60_000 },
        { conn: 'c1', type: 'close', time: 100_000 },
      ],
    },
  },
  {
    name: "mqtt.js's timing: keep-alive 60 s, it gives up half of it after its PINGREQ, a little early",
    version: V3,
    steps: [...open(V3), c(pingreq(), 60_000)],
    close: { closedBy: 'client', closedAt: 89_400 },
    expected: {
      cause: 'KEEP_ALIVE_TIMEOUT',
      detail: "keep-alive 60 s, no PINGRESP from the broker for 29 s after the client's PINGREQ",
      evidence: [
        { conn: 'c1', from: 'client', type: 'PINGREQ', offset: 18, time: 60_000 },
        { conn: 'c1', type: 'close', time: 89_400 },
      ],
    },
  },
  {
    name: 'a later connection took the client id; the broker closes this one (3.1.1: no DISCONNECT)',
    version: V3,
    steps: [...open(V3)],
    close: {
      closedBy: 'broker',
      closedAt: 12_400,
      takenOverBy: { conn: 'c7', address: '10.0.0.5', port: 51234, username: 'bob', afterMs: 12_300 },
    },
    expected: {
      cause: 'SESSION_TAKEN_OVER',
      detail:
        'c7 from 10.0.0.5:51234 user "bob" connected with client id "dev1" 12 s after this connection opened',
      rule: 'MQTT-3.1.4-2',
      evidence: [
        { conn: 'c7', from: 'client', type: 'CONNECT', time: 12_300 },
        { conn: 'c1', type: 'close', time: 12_400 },
      ],
    },
  },
  {
    name: 'a later connection took the client id; the broker says DISCONNECT 0x8E (5.0)',
    version: V5,
    steps: [...open(V5), b(disconnect({ code: 0x8e }), 800)],
    close: {
      closedBy: 'broker',
      closedAt: 801,
      takenOverBy: { conn: 'c2', address: '::1', port: 40000, afterMs: 799 },
    },
    expected: {
      cause: 'SESSION_TAKEN_OVER',
      detail:
        'DISCONNECT 0x8e Session taken over: c2 from [::1]:40000 connected with client id "dev1" 799 ms after this connection opened',
      rule: 'MQTT-3.1.4-3',
    },
  },
  {
    name: 'DISCONNECT 0x8E from the broker, the other connection not seen by mqtt-tap',
    version: V5,
    steps: [...open(V5), b(disconnect({ code: 0x8e }), 800)],
    close: { closedBy: 'broker', closedAt: 801 },
    expected: {
      cause: 'SESSION_TAKEN_OVER',
      detail:
        'DISCONNECT 0x8e Session taken over: another connection with client id "dev1", not one mqtt-tap saw',
      rule: 'MQTT-3.1.4-3',
    },
  },
  {
    name: 'a later connection took the client id, but the client closed this one: not a takeover',
    version: V3,
    steps: [...open(V3)],
    close: {
      closedBy: 'client',
      closedAt: 900,
      takenOverBy: { conn: 'c2', address: '127.0.0.1', port: 4000, afterMs: 800 },
    },
    expected: { cause: 'CLIENT_GONE', detail: 'no DISCONNECT; no Will' },
  },
  {
    name: 'malformed input from the client, and the broker closes 3 ms later',
    version: V3,
    steps: [...open(V3)],
    close: {
      closedBy: 'broker',
      closedAt: 503,
      malformed: { client: { event: 'malformed', offset: 18, at: 500, detail: 'reserved packet type 0' } },
    },
    expected: {
      cause: 'PROTOCOL_ERROR',
      detail: 'a malformed packet from the client (reserved packet type 0), 3 ms before',
      evidence: [
        { conn: 'c1', from: 'client', type: 'malformed', offset: 18, time: 500 },
        { conn: 'c1', type: 'close', time: 503 },
      ],
    },
  },
  {
    name: 'a second CONNECT from the client, and the broker closes',
    version: V3,
    steps: [...open(V3), c(connect({ version: V3, clientId: 'dev1' }), 500)],
    close: { closedBy: 'broker', closedAt: 501 },
    expected: {
      cause: 'PROTOCOL_ERROR',
      detail:
        "the client's CONNECT broke a rule (MQTT_SECOND_CONNECT: a second CONNECT on the connection), 1 ms before",
      rule: 'MQTT-3.1.0-2',
    },
    sentence:
      "closed by the broker: the client's CONNECT broke a rule (MQTT_SECOND_CONNECT: a second CONNECT on the connection), 1 ms before (MQTT-3.1.0-2)",
  },
  {
    name: "a client's violation long before the close is not the cause",
    version: V3,
    steps: [...open(V3), c(subscribe({ version: V3, packetId: 1, subscriptions: [] }), 500)],
    close: { closedBy: 'broker', closedAt: 9_000 },
    expected: { cause: 'BROKER_GONE', detail: 'no DISCONNECT' },
  },
  {
    name: 'the client closes without DISCONNECT: its Will is due',
    version: V5,
    steps: [
      ...open(V5, 60, { will: { topic: 'status', payload: [0x30] } }),
      c(publish({ version: V5, topic: 't' }), 40),
    ],
    close: { closedBy: 'client', closedAt: 60 },
    expected: {
      cause: 'CLIENT_GONE',
      detail: 'no DISCONNECT; its Will is due',
      evidence: [
        { conn: 'c1', from: 'client', type: 'PUBLISH', offset: 31, time: 40 },
        { conn: 'c1', type: 'close', time: 60 },
      ],
    },
  },
  {
    name: 'the client resets the connection',
    version: V3,
    steps: [...open(V3)],
    close: {
      closedBy: 'client',
      closedAt: 60,
      error: { side: 'client', code: 'ECONNRESET', message: 'read ECONNRESET' },
    },
    expected: { cause: 'CLIENT_GONE', detail: 'a reset (ECONNRESET), no DISCONNECT; no Will' },
  },
  {
    name: 'the client closes before any CONNECT (a port check)',
    version: V3,
    steps: [],
    close: { closedBy: 'client', closedAt: 5 },
    expected: { cause: 'CLIENT_GONE', detail: 'no DISCONNECT before any CONNECT' },
  },
  {
    name: 'the broker closes without DISCONNECT',
    version: V5,
    steps: [...open(V5), b(publish({ version: V5, topic: 't' }), 40)],
    close: { closedBy: 'broker', closedAt: 45 },
    expected: {
      cause: 'BROKER_GONE',
      detail: 'no DISCONNECT',
      evidence: [
        { conn: 'c1', from: 'broker', type: 'PUBLISH', offset: 5, time: 40 },
        { conn: 'c1', type: 'close', time: 45 },
      ],
    },
  },
  {
    name: 'closed after 350 s with nothing either way, keep-alive off: an idle timeout',
    version: V3,
    steps: [...open(V3, 0), c(publish({ version: V3, topic: 't' }), 10_000)],
    close: { closedBy: 'client', closedAt: 360_400 },
    expected: {
      cause: 'IDLE_TIMEOUT_SUSPECTED',
      detail:
        'nothing either way for 350 s, close to 350 s, an idle timeout of load balancers and NAT (keep-alive off)',
      evidence: [
        { conn: 'c1', from: 'client', type: 'PUBLISH', offset: 18, time: 10_000 },
        { conn: 'c1', type: 'close', time: 360_400 },
      ],
    },
  },
  {
    name: 'the broker side reset after 60 s with nothing either way, keep-alive 120 s: an idle timeout',
    version: V5,
    steps: [...open(V5, 120)],
    close: {
      closedBy: 'broker',
      closedAt: 60_900,
      error: { side: 'broker', code: 'ECONNRESET', message: 'read ECONNRESET' },
    },
    expected: {
      cause: 'IDLE_TIMEOUT_SUSPECTED',
      detail:
        'a reset (ECONNRESET) after nothing either way for 61 s, close to 60 s, an idle timeout of load balancers and NAT (keep-alive 120 s)',
    },
  },
  {
    name: 'closed after 200 s with nothing either way, keep-alive off: no round idle time',
    version: V3,
    steps: [...open(V3, 0)],
    close: { closedBy: 'client', closedAt: 200_005 },
    expected: { cause: 'CLIENT_GONE', detail: 'no DISCONNECT; no Will' },
  },
  {
    name: 'closed by the client after 300 s idle with a keep-alive of 60 s: the keep-alive would have spoken first',
    version: V3,
    steps: [...open(V3)],
    close: { closedBy: 'client', closedAt: 300_005 },
    expected: { cause: 'CLIENT_GONE', detail: 'no DISCONNECT; no Will' },
  },
  {
    name: 'the broker cannot be reached',
    version: V3,
    steps: [],
    close: {
      closedBy: 'broker',
      closedAt: 3,
      upstreamError: {
        upstream: '127.0.0.1:1',
        code: 'ECONNREFUSED',
        message: 'connect ECONNREFUSED',
        at: 2,
      },
    },
    expected: {
      cause: 'UPSTREAM_UNREACHABLE',
      detail: 'cannot reach 127.0.0.1:1: ECONNREFUSED',
      evidence: [{ conn: 'c1', type: 'upstream-error', time: 2 }],
    },
    sentence: 'no broker connection: cannot reach 127.0.0.1:1: ECONNREFUSED',
  },
  {
    name: "the broker's certificate does not verify",
    version: V3,
    steps: [],
    close: {
      closedBy: 'broker',
      closedAt: 9,
      upstreamError: {
        upstream: 'mqtts://broker.example:8883',
        code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
        message: 'unable to verify the first certificate',
        at: 8,
      },
    },
    expected: {
      cause: 'TLS_HANDSHAKE_FAILED',
      detail: 'the TLS handshake with mqtts://broker.example:8883 failed: UNABLE_TO_VERIFY_LEAF_SIGNATURE',
    },
  },
  {
    name: "the broker's TLS 1.3 alert before any CONNACK: it wanted a client certificate",
    version: V3,
    steps: [c(connect({ version: V3, clientId: 'dev1' }), 0)],
    close: {
      closedBy: 'broker',
      closedAt: 4,
      error: { side: 'broker', code: 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED', message: 'alert' },
    },
    expected: {
      cause: 'TLS_HANDSHAKE_FAILED',
      detail: 'the TLS session with the broker failed: ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED',
    },
  },
  {
    name: 'mqtt-tap shuts down',
    version: V5,
    steps: [...open(V5)],
    close: { closedBy: 'proxy', closedAt: 2_000 },
    expected: {
      cause: 'PROXY_SHUTDOWN',
      detail: 'mqtt-tap shut down with the connection open',
      evidence: [{ conn: 'c1', type: 'close', time: 2_000 }],
    },
    sentence: 'closed by mqtt-tap: mqtt-tap shut down with the connection open',
  },
  {
    name: "the broker's packets were not decoded since 1 s before it closed",
    version: V3,
    steps: [...open(V3), { from: 'broker', lost: true, at: 4_000 }],
    close: { closedBy: 'broker', closedAt: 5_000 },
    expected: {
      cause: 'UNKNOWN',
      detail: "no DISCONNECT mqtt-tap could see: the broker's packets were not decoded for the last 1 s",
    },
  },
];

describe('verdict: one cause per close, with its evidence', () => {
  it.each(CASES.map((k) => [k.expected.cause, k.name, k] as const))('%s: %s', (_cause, _name, k) => {
    const run = runSession(k.version, k.steps);
    const verdict = judge(run.session.facts(), { conn: 'c1', openedAt: 0, ...k.close });
    const { evidence, ...rest } = k.expected;
    expect({ cause: verdict.cause, detail: verdict.detail, rule: verdict.rule }).toEqual({
      rule: undefined,
      ...rest,
    });
    if (evidence !== undefined) expect(verdict.evidence).toEqual(evidence);
    expect(verdict.evidence.length).toBeGreaterThan(0);
    if (k.sentence !== undefined) expect(verdictSentence(verdict, k.close.closedBy)).toBe(k.sentence);
  });

  it('every cause has a vector', () => {
    const covered = new Set<VerdictCause>(CASES.map((k) => k.expected.cause));
    expect(VERDICT_CAUSES.filter((cause) => !covered.has(cause))).toEqual([]);
  });
});
