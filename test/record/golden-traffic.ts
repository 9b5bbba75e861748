/**
 * A deterministic set of connections covering every packet type in every protocol version, with
 * properties, violations, odd strings, payload modes and capture cuts, plus the records that are
 * not packets (open, close, malformed, not-mqtt, truncated, upstream and handshake failures).
 * output-unchanged.test.ts feeds it through the tap and compares the log with a golden file.
 */

import type { CloseInfo, Direction, OpenInfo, UpstreamErrorInfo } from '../../src/observe/observer.js';
import { createTap } from '../../src/observe/tap.js';
import { DEFAULT_TAP_OPTIONS, type TapOptions } from '../../src/observe/tap-options.js';
import type { ProtocolVersion } from '../../src/protocol/constants.js';
import type { RecordSink } from '../../src/sinks/sink.js';
import * as mqtt from '../helpers/packets.js';

/** The clock of the tap's request timings and of the log's `time`. */
export const T0 = 1_795_722_244_000;

interface Step {
  from: Direction;
  bytes: Buffer;
  /** Milliseconds since the step before (default 3). */
  after?: number;
  /** Fed in pieces of this many bytes (default: whole). */
  pieces?: number;
}

interface Conversation {
  open: OpenInfo;
  steps: Step[];
  upstreamError?: UpstreamErrorInfo;
  close: Omit<CloseInfo, 'bytes'>;
}

const VERSIONS: readonly ProtocolVersion[] = ['3.1', '3.1.1', '5.0'];

const c = (bytes: Buffer, rest: Omit<Step, 'from' | 'bytes'> = {}): Step => ({
  from: 'client',
  bytes,
  ...rest,
});
const b = (bytes: Buffer, rest: Omit<Step, 'from' | 'bytes'> = {}): Step => ({
  from: 'broker',
  bytes,
  ...rest,
});

function openInfo(conn: string, extra: Partial<OpenInfo> = {}): OpenInfo {
  return {
    conn,
    client: { address: '127.0.0.1', port: 40000 + Number(conn.replace(/\D/g, '') || 0) },
    local: { address: '127.0.0.1', port: 1884 },
    upstream: '127.0.0.1:1883',
    transport: 'tcp',
    startedAt: T0,
    ...extra,
  };
}

/** Payloads around the preview limits and the 60-character summary cut, and every kind of byte. */
const PAYLOADS: readonly Buffer[] = [
  Buffer.from('21.5'),
  Buffer.from('{"t":21.5,"unit":"°C","ok":true}'),
  Buffer.from('x'.repeat(59)),
  Buffer.from('y'.repeat(60)),
  Buffer.from('z'.repeat(61)),
  Buffer.from(`${'long text '.repeat(30)}end`),
  Buffer.from('tab\there\r\nquote " backslash \\ slash /'),
  Buffer.from([0, 1, 2, 0xff, 0xfe, 0x7f]),
  Buffer.from('Grüße aus Köln 🙂'),
  Buffer.from(`a${'🙂'.repeat(40)}`),
  Buffer.from(`${'é'.repeat(130)}`),
  Buffer.from('bell\u0007 and del\u007f'),
  Buffer.alloc(0),
];

/** Strings JSON escapes, strings it does not, and non-ASCII. */
const CLIENT_IDS = ['sensor-7', 'dev "quoted" \\ back', 'ünïcode-🙂', 'tab\tnl\nctl\u0001 del\u007f'];

function fullConversation(v: ProtocolVersion, conn: string, index: number): Conversation {
  const is5 = v === '5.0';
  const clientId = CLIENT_IDS[index % CLIENT_IDS.length]!;
  const steps: Step[] = [
    c(
      mqtt.connect({
        version: v,
        clientId,
        username: index % 2 === 0 ? 'alice' : 'bob "the" builder',
        password: Buffer.from('s3cret'),
        keepAlive: 30,
        clean: index % 2 === 0,
        will: {
          topic: 'will/é',
          payload: Buffer.from('gone'),
          qos: 1,
          retain: true,
          ...(is5
            ? {
                properties: [
                  mqtt.prop(mqtt.P.willDelayInterval, 5),
                  mqtt.prop(mqtt.P.contentType, 'text/plain'),
                ],
              }
            : {}),
        },
        ...(is5
          ? {
              properties: [
                mqtt.prop(mqtt.P.sessionExpiryInterval, 3600),
                mqtt.prop(mqtt.P.receiveMaximum, 10),
                mqtt.prop(mqtt.P.topicAliasMaximum, 5),
                mqtt.prop(mqtt.P.userProperty, ['k', 'v "1"']),
                mqtt.prop(mqtt.P.authenticationMethod, 'SCRAM-SHA-1'),
                mqtt.prop(mqtt.P.authenticationData, Buffer.from([1, 2, 3, 0xff])),
              ],
            }
          : {}),
      }),
      { pieces: 7 },
    ),
    b(
      mqtt.connack({
        version: v,
        code: 0,
        ...(is5
          ? {
              properties: [
                mqtt.prop(mqtt.P.assignedClientIdentifier, 'auto-1'),
                mqtt.prop(mqtt.P.topicAliasMaximum, 5),
                mqtt.prop(mqtt.P.maximumQoS, 1),
              ],
            }
          : {}),
      }),
      { after: 1.25 },
    ),
    c(
      mqtt.subscribe({
        version: v,
        packetId: 1,
        subscriptions: [
          { filter: 'a/+', qos: 1 },
          { filter: 'b/#', qos: 2, ...(is5 ? { noLocal: true, retainHandling: 1 } : {}) },
          { filter: '$share/g/é', qos: 0 },
        ],
        ...(is5 ? { properties: [mqtt.prop(mqtt.P.subscriptionIdentifier, 7)] } : {}),
      }),
    ),
    b(mqtt.suback({ version: v, packetId: 1, codes: is5 ? [1, 0x87, 0] : [1, 0x80, 0] })),
    // An answer nobody asked for.
    b(mqtt.suback({ version: v, packetId: 99, codes: [0] })),
  ];
  let id = 10;
  for (const [i, payload] of PAYLOADS.entries()) {
    const qos = i % 3;
    const topic = i % 4 === 3 ? `odd "topic" \\ ${i} 🙂\u007f` : `sensors/${i}/temp`;
    steps.push(
      c(
        mqtt.publish({
          version: v,
          topic,
          qos,
          packetId: id,
          retain: i % 2 === 1,
          dup: qos > 0 && i % 5 === 0,
          payload,
        }),
        {
          after: i % 4 === 0 ? 0.5 : 3,
        },
      ),
    );
    if (qos === 1)
      steps.push(
        b(mqtt.ack('PUBACK', { version: v, packetId: id, ...(is5 ? { code: i % 2 === 0 ? 0 : 0x10 } : {}) })),
      );
    if (qos === 2) {
      steps.push(
        b(mqtt.ack('PUBREC', { version: v, packetId: id })),
        c(mqtt.ack('PUBREL', { version: v, packetId: id })),
        b(mqtt.ack('PUBCOMP', { version: v, packetId: id, ...(is5 ? { code: 0 } : {}) }), { after: 7 }),
      );
    }
    id++;
  }
  // Broker to client, acknowledged by the client.
  steps.push(
    b(mqtt.publish({ version: v, topic: 'a/x', qos: 1, packetId: 500, payload: Buffer.from([0x80, 0x81]) })),
    c(mqtt.ack('PUBACK', { version: v, packetId: 500 })),
    // An acknowledgement for nothing in flight.
    b(mqtt.ack('PUBACK', { version: v, packetId: 777, ...(is5 ? { code: 0x92 } : {}) })),
  );
  if (is5) {
    steps.push(
      // Topic alias: defined, then used alone.
      c(
        mqtt.publish({
          version: v,
          topic: 'alias/long/topic',
          properties: [mqtt.prop(mqtt.P.topicAlias, 1)],
          payload: Buffer.from('one'),
        }),
      ),
      c(
        mqtt.publish({
          version: v,
          topic: '',
          properties: [mqtt.prop(mqtt.P.topicAlias, 1)],
          payload: Buffer.from('two'),
        }),
      ),
      // An alias never defined.
      c(
        mqtt.publish({
          version: v,
          topic: '',
          properties: [mqtt.prop(mqtt.P.topicAlias, 4)],
          payload: Buffer.from('three'),
        }),
      ),
      c(
        mqtt.publish({
          version: v,
          topic: 'props/all',
          qos: 1,
          packetId: 600,
          properties: [
            mqtt.prop(mqtt.P.payloadFormatIndicator, 1),
            mqtt.prop(mqtt.P.messageExpiryInterval, 60),
            mqtt.prop(mqtt.P.contentType, 'application/json'),
            mqtt.prop(mqtt.P.responseTopic, 'reply/é'),
            mqtt.prop(mqtt.P.correlationData, Buffer.from([9, 8, 7])),
            mqtt.prop(mqtt.P.userProperty, ['a', '1']),
            mqtt.prop(mqtt.P.userProperty, ['a', '2']),
            mqtt.prop(mqtt.P.subscriptionIdentifier, 3),
          ],
          payload: Buffer.from('ctl\u0001 but format indicator says text'),
        }),
      ),
      b(
        mqtt.ack('PUBACK', {
          version: v,
          packetId: 600,
          code: 0x87,
          properties: [mqtt.prop(mqtt.P.reasonString, 'denied "here"')],
        }),
      ),
      c(
        mqtt.publish({
          version: v,
          topic: 'fi/binary',
          properties: [mqtt.prop(mqtt.P.payloadFormatIndicator, 1)],
          payload: Buffer.from([0xff, 0x00]),
        }),
      ),
      c(
        mqtt.auth({
          code: 0x18,
          properties: [
            mqtt.prop(mqtt.P.authenticationMethod, 'SCRAM-SHA-1'),
            mqtt.prop(mqtt.P.authenticationData, Buffer.from('data')),
          ],
        }),
      ),
      b(mqtt.auth({ code: 0x00 })),
      b(mqtt.auth()),
    );
  }
  steps.push(
    c(mqtt.unsubscribe({ version: v, packetId: 2, filters: ['a/+', 'b/#'] })),
    b(mqtt.unsuback({ version: v, packetId: 2, ...(is5 ? { codes: [0, 0x11] } : {}) })),
    b(mqtt.unsuback({ version: v, packetId: 98, ...(is5 ? { codes: [0] } : {}) })),
    c(mqtt.pingreq()),
    b(mqtt.pingresp(), { after: 0.75 }),
    // Violations: reserved flags, QoS 3, DUP on QoS 0, a wildcard topic, a trailing byte.
    c(mqtt.frame(0x80, [0, 3], is5 ? [0] : [], [0, 1, 0x61, 1])),
    c(mqtt.frame(0x36, [0, 1, 0x74, 0, 5], is5 ? [0] : [], Buffer.from('q3'))),
    c(mqtt.frame(0x38, [0, 3, 0x61, 0x2f, 0x23], is5 ? [0] : [], Buffer.from('dup'))),
    b(mqtt.frame(0x40, [0, 9, 0, 0, 0, 0])),
    b(mqtt.frame(0xd0, [1])),
    c(
      is5
        ? mqtt.disconnect({ code: 0x04, properties: [mqtt.prop(mqtt.P.reasonString, 'bye')] })
        : mqtt.disconnect(),
      {
        after: 10,
      },
    ),
  );
  return {
    open: openInfo(
      conn,
      index === 1 ? { transport: 'tls', tls: { protocol: 'TLSv1.3', servername: 'x.test' } } : {},
    ),
    steps,
    close: { closedBy: 'client', durationMs: 1234.5 },
  };
}

/** A CONNECT refused, in each version's words; the broker closes. */
function refused(v: ProtocolVersion, conn: string): Conversation {
  const is5 = v === '5.0';
  return {
    open: openInfo(conn, {
      client: { address: '::1', port: 50001 },
      transport: 'ws',
      websocket: { path: '/mqtt', protocol: 'mqtt' },
    }),
    steps: [
      c(mqtt.connect({ version: v, clientId: '', username: 'mallory', password: Buffer.from([0xc3, 0x28]) })),
      b(
        mqtt.connack({
          version: v,
          code: is5 ? 0x86 : 4,
          ...(is5
            ? {
                properties: [
                  mqtt.prop(mqtt.P.reasonString, 'bad user name or password'),
                  mqtt.prop(mqtt.P.serverReference, 'other:1883'),
                ],
              }
            : {}),
        }),
      ),
      // A code the version does not define.
      b(mqtt.connack({ version: v, code: is5 ? 0x01 : 9 })),
      b(is5 ? mqtt.disconnect({ code: 0x87 }) : mqtt.disconnect()),
      b(is5 ? mqtt.disconnect({ code: 0x01 }) : mqtt.frame(0xe1)),
    ],
    close: {
      closedBy: 'broker',
      durationMs: 8,
      error: { side: 'broker', code: 'ECONNRESET', message: 'read ECONNRESET' },
    },
  };
}

/** Input that is not MQTT, cannot be framed, or stops inside a packet. */
function broken(conn: string, kind: 'malformed' | 'not-mqtt' | 'truncated'): Conversation {
  const hello = mqtt.connect({ version: '3.1.1', clientId: 'x' });
  const steps: Step[] =
    kind === 'not-mqtt'
      ? [c(Buffer.from('GET /mqtt HTTP/1.1\r\nHost: x\r\n\r\n'))]
      : kind === 'malformed'
        ? [
            c(hello),
            b(mqtt.connack({ version: '3.1.1' })),
            c(mqtt.cat([0x30, 0xff, 0xff, 0xff, 0xff, 0x01], Buffer.from('rest'))),
          ]
        : [
            c(hello),
            b(mqtt.connack({ version: '3.1.1' })),
            c(
              mqtt
                .publish({ version: '3.1.1', topic: 'cut', payload: Buffer.from('payload') })
                .subarray(0, 9),
            ),
          ];
  return { open: openInfo(conn), steps, close: { closedBy: 'proxy', durationMs: 2 } };
}

function upstreamDown(conn: string): Conversation {
  return {
    open: openInfo(conn),
    steps: [c(mqtt.connect({ version: '5.0', clientId: 'early' }))],
    upstreamError: {
      upstream: '127.0.0.1:1',
      code: 'ECONNREFUSED',
      message: 'connect ECONNREFUSED 127.0.0.1:1',
      hint: 'is the broker running?',
    },
    close: { closedBy: 'proxy', durationMs: 1 },
  };
}

/** Publishing traffic only, for the payload and capture options. */
function publishing(v: ProtocolVersion, conn: string): Conversation {
  const is5 = v === '5.0';
  const steps: Step[] = [
    c(
      mqtt.connect({
        version: v,
        clientId: 'pub',
        password: Buffer.from('pw'),
        will: { topic: 'w', payload: Buffer.from('x'.repeat(80)) },
        ...(is5 ? { properties: [mqtt.prop(mqtt.P.authenticationData, Buffer.from('auth'))] } : {}),
      }),
    ),
    b(mqtt.connack({ version: v })),
  ];
  for (const [i, payload] of PAYLOADS.entries()) {
    const qos = i % 3;
    steps.push(
      c(
        mqtt.publish({
          version: v,
          topic: `t/${i}`,
          qos,
          packetId: i + 1,
          payload,
          ...(is5 && i % 5 === 4 ? { properties: [mqtt.prop(mqtt.P.payloadFormatIndicator, 1)] } : {}),
        }),
      ),
    );
    if (qos === 1) steps.push(b(mqtt.ack('PUBACK', { version: v, packetId: i + 1 })));
  }
  steps.push(
    c(
      mqtt.subscribe({
        version: v,
        packetId: 40,
        subscriptions: [{ filter: 'long/filter/'.repeat(4), qos: 1 }],
      }),
    ),
    b(mqtt.suback({ version: v, packetId: 40, codes: [1] })),
  );
  return { open: openInfo(conn), steps, close: { closedBy: 'client', durationMs: 50 } };
}

export interface Variant {
  name: string;
  options: Partial<TapOptions>;
  conversations: (first: number) => Conversation[];
}

export const VARIANTS: readonly Variant[] = [
  {
    name: 'default',
    options: {},
    conversations: (n) => [
      ...VERSIONS.map((v, i) => fullConversation(v, `c${n + i}`, i)),
      fullConversation('5.0', `c${n + 3}`, 3),
      ...VERSIONS.map((v, i) => refused(v, `c${n + 4 + i}`)),
      broken(`c${n + 7}`, 'malformed'),
      broken(`c${n + 8}`, 'not-mqtt'),
      broken(`c${n + 9}`, 'truncated'),
      upstreamDown(`c${n + 10}`),
    ],
  },
  { name: 'hex-60-cap-40', options: { payload: 'hex', payloadMax: 60, captureCap: 40 }, conversations: mix },
  {
    name: 'base64-61-secrets-cap-24',
    options: { payload: 'base64', payloadMax: 61, showSecrets: true, captureCap: 24 },
    conversations: mix,
  },
  { name: 'text-1', options: { payload: 'text', payloadMax: 1 }, conversations: mix },
  { name: 'none', options: { payload: 'none' }, conversations: mix },
  { name: 'auto-0', options: { payloadMax: 0 }, conversations: mix },
  { name: 'auto-59-cap-30', options: { payloadMax: 59, captureCap: 30 }, conversations: mix },
];

function mix(n: number): Conversation[] {
  return [publishing('3.1.1', `c${n}`), publishing('5.0', `c${n + 1}`)];
}

/**
 * Runs every variant's connections through a tap writing to `sink`, the connections of a variant
 * interleaved step by step. `clock` is set to each step's time; the sink's clock should read it.
 */
export function playGolden(sink: RecordSink, clock: { now: number }): void {
  let first = 1;
  for (const variant of VARIANTS) {
    const tap = createTap(sink, { ...DEFAULT_TAP_OPTIONS, ...variant.options, now: () => clock.now });
    const conversations = variant.conversations(first);
    first += conversations.length;
    if (variant.name === 'default') {
      tap.handshakeFailed?.({
        listener: 'mqtts://127.0.0.1:8883',
        client: { address: '127.0.0.1', port: 5 },
        transport: 'tls',
        code: 'ERR_SSL_WRONG_VERSION_NUMBER',
        message: 'wrong version number',
        hint: 'the client spoke plain MQTT to a TLS listener',
      });
    }
    const live = conversations.map((conv) => ({
      conv,
      obs: tap.open(conv.open),
      bytes: { fromClient: 0, fromBroker: 0 },
    }));
    const longest = Math.max(...conversations.map((x) => x.steps.length));
    for (let k = 0; k < longest; k++) {
      for (const l of live) {
        const step = l.conv.steps[k];
        if (step === undefined) continue;
        clock.now += step.after ?? 3;
        const size = step.pieces ?? step.bytes.length;
        for (let at = 0; at < step.bytes.length; at += Math.max(1, size)) {
          l.obs.data(step.from, step.bytes.subarray(at, at + Math.max(1, size)));
        }
        if (step.from === 'client') l.bytes.fromClient += step.bytes.length;
        else l.bytes.fromBroker += step.bytes.length;
      }
    }
    for (const l of live) {
      clock.now += 1;
      if (l.conv.upstreamError !== undefined) l.obs.upstreamError(l.conv.upstreamError);
      l.obs.close({ ...l.conv.close, bytes: l.bytes });
    }
  }
}

/** Each direction's bytes of the default variant's full conversations, for `mqtt-tap decode`. */
export function decodeInputs(): { name: string; version: ProtocolVersion; bytes: Buffer }[] {
  return VERSIONS.flatMap((v, i) => {
    const conv = fullConversation(v, 'c', i);
    return (['client', 'broker'] as const).map((from) => ({
      name: `${v} ${from}`,
      version: v,
      bytes: Buffer.concat(conv.steps.filter((s) => s.from === from).map((s) => s.bytes)),
    }));
  });
}
