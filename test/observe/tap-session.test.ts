/**
 * The tap and the session's contract: the `session` record after CONNACK, stateful violations on
 * the packet records, the keep-alive at the close, and the state the tap lacks (a direction no
 * longer decoded, a client in the middle of a long packet).
 */
import { describe, expect, it } from 'vitest';
import type { CloseInfo, OpenInfo } from '../../src/observe/observer.js';
import { createTap } from '../../src/observe/tap.js';
import { DEFAULT_TAP_OPTIONS } from '../../src/observe/tap-options.js';
import { createCollectSink } from '../helpers/collect-sink.js';
import { ack, connack, connect, P, pingreq, prop, publish } from '../helpers/packets.js';

const OPEN: OpenInfo = {
  conn: 'c1',
  client: { address: '127.0.0.1', port: 50000 },
  local: { address: '127.0.0.1', port: 1884 },
  upstream: '127.0.0.1:1883',
  transport: 'tcp',
  startedAt: 0,
};

function tap(level: 'trace' | 'info' | 'warn' = 'trace') {
  const sink = createCollectSink(level);
  const conn = createTap(sink, { ...DEFAULT_TAP_OPTIONS, now: () => 0 }).open(OPEN);
  const close = (durationMs: number): void => {
    const info: CloseInfo = { closedBy: 'broker', durationMs, bytes: { fromClient: 0, fromBroker: 0 } };
    conn.close(info);
  };
  return { sink, conn, close };
}

describe('tap: the session record', () => {
  it('after a 5.0 CONNACK: each side as declared, the spec defaults filled in and named, one line', () => {
    const t = tap();
    t.conn.data(
      'client',
      connect({
        version: '5.0',
        clientId: '',
        keepAlive: 60,
        properties: [
          prop(P.receiveMaximum, 100),
          prop(P.topicAliasMaximum, 5),
          prop(P.sessionExpiryInterval, 300),
        ],
      }),
      0,
    );
    t.conn.data(
      'broker',
      connack({
        version: '5.0',
        properties: [
          prop(P.maximumQoS, 1),
          prop(P.retainAvailable, 0),
          prop(P.topicAliasMaximum, 10),
          prop(P.serverKeepAlive, 30),
          prop(P.assignedClientIdentifier, 'auto-1'),
          prop(P.sharedSubscriptionAvailable, 0),
        ],
      }),
      5,
    );
    const events = t.sink.records.map((r) => `${r.record.event}${r.record.type ? ` ${r.record.type}` : ''}`);
    expect(events).toEqual(['open', 'packet CONNECT', 'packet CONNACK', 'session']);
    const session = t.sink.events('session')[0]!;
    expect(session.level).toBe('info');
    expect(session.record).toEqual({
      event: 'session',
      conn: 'c1',
      clientId: '',
      version: '5.0',
      accepted: true,
      sessionPresent: false,
      keepAlive: 30,
      client: {
        keepAlive: 60,
        clean: true,
        receiveMaximum: 100,
        maximumPacketSize: 268_435_460,
        topicAliasMaximum: 5,
        requestProblemInformation: true,
        requestResponseInformation: false,
        sessionExpiryInterval: 300,
      },
      broker: {
        receiveMaximum: 65_535,
        maximumQoS: 1,
        retainAvailable: false,
        maximumPacketSize: 268_435_460,
        topicAliasMaximum: 10,
        wildcardSubscriptionAvailable: true,
        subscriptionIdentifierAvailable: true,
        sharedSubscriptionAvailable: false,
        assignedClientIdentifier: 'auto-1',
        serverKeepAlive: 30,
      },
      defaults: [
        'client.maximumPacketSize',
        'client.requestProblemInformation',
        'client.requestResponseInformation',
        'broker.receiveMaximum',
        'broker.maximumPacketSize',
        'broker.wildcardSubscriptionAvailable',
        'broker.subscriptionIdentifierAvailable',
      ],
    });
    expect(session.msg).toBe(
      "session 5.0, keep-alive 30 s (the broker's); broker: max QoS 1, retain no, topic aliases 10, shared no, assigned id auto-1; client: receive max 100, topic aliases 5, session expiry 300",
    );
  });

  it('after a 3.1.1 CONNACK: the keep-alive, Clean Session and the protocol limits', () => {
    const t = tap();
    t.conn.data('client', connect({ version: '3.1.1', clientId: 'dev1', keepAlive: 15, clean: false }), 0);
    t.conn.data('broker', connack({ version: '3.1.1', sessionPresent: true }), 5);
    const session = t.sink.events('session')[0]!;
    expect(session.record).toEqual({
      event: 'session',
      conn: 'c1',
      clientId: 'dev1',
      version: '3.1.1',
      accepted: true,
      sessionPresent: true,
      keepAlive: 15,
      client: { keepAlive: 15, clean: false, maximumPacketSize: 268_435_460 },
      broker: { maximumPacketSize: 268_435_460 },
      defaults: ['client.maximumPacketSize', 'broker.maximumPacketSize'],
    });
    expect(session.msg).toBe('session 3.1.1, keep-alive 15 s, session present');
  });

  it('a refused connection says so', () => {
    const t = tap();
    t.conn.data('client', connect({ version: '5.0', clientId: 'c' }), 0);
    t.conn.data(
      'broker',
      connack({ version: '5.0', code: 0x9c, properties: [prop(P.serverReference, 'other:1883')] }),
      5,
    );
    const session = t.sink.events('session')[0]!;
    expect(session.record).toMatchObject({ accepted: false, broker: { serverReference: 'other:1883' } });
    expect(session.msg).toBe('session 5.0 refused, keep-alive 60 s; broker: server reference other:1883');
  });

  it('is not built when info is off', () => {
    const t = tap('warn');
    t.conn.data('client', connect({ version: '5.0', clientId: 'c' }), 0);
    t.conn.data('broker', connack({ version: '5.0' }), 5);
    expect(t.sink.records).toEqual([]);
  });
});

describe('tap: stateful violations', () => {
  it('land on the packet that breaks the contract, which is then a warning', () => {
    const t = tap();
    t.conn.data('client', connect({ version: '5.0', clientId: 'c' }), 0);
    t.conn.data('broker', connack({ version: '5.0', properties: [prop(P.maximumQoS, 0)] }), 5);
    t.conn.data('client', publish({ version: '5.0', topic: 't', qos: 1, packetId: 1 }), 10);
    const [pub] = t.sink.events('packet').filter((r) => r.record.type === 'PUBLISH');
    expect(pub!.level).toBe('warn');
    expect(pub!.record.violations).toEqual([
      {
        code: 'MQTT_QOS_NOT_SUPPORTED',
        rule: 'MQTT-3.2.2-11',
        detail: "QoS 1 above the broker's Maximum QoS 0",
      },
    ]);
  });

  it('the client silent past 1.5 times the keep-alive until the close: on the close record', () => {
    const t = tap();
    t.conn.data('client', connect({ version: '3.1.1', clientId: 'c', keepAlive: 10 }), 0);
    t.conn.data('broker', connack({ version: '3.1.1' }), 5);
    t.conn.data('client', pingreq(), 1000);
    t.close(16_500);
    expect(t.sink.events('close')[0]!.record.violations).toEqual([
      {
        code: 'MQTT_KEEP_ALIVE_EXCEEDED',
        rule: 'MQTT-3.1.2-23',
        detail:
          'nothing from the client for 15.5 s until the close: more than 1.5 times the keep-alive of 10 s',
      },
    ]);
  });

  it('a client sending one long PUBLISH for longer than the keep-alive is not silent', () => {
    const t = tap();
    t.conn.data('client', connect({ version: '3.1.1', clientId: 'c', keepAlive: 10 }), 0);
    t.conn.data('broker', connack({ version: '3.1.1' }), 5);
    const big = publish({ version: '3.1.1', topic: 't', payload: Buffer.alloc(40_000) });
    // Its bytes trickle in over 40 s, the next packet right after.
    for (let i = 0; i < 40; i++)
      t.conn.data('client', big.subarray(i * 1000, (i + 1) * 1000), 1000 + i * 1000);
    t.conn.data('client', Buffer.concat([big.subarray(40_000), pingreq()]), 41_000);
    t.close(42_000);
    const violations = t.sink.records.flatMap((r) => (r.record.violations as unknown[] | undefined) ?? []);
    expect(violations).toEqual([]);
  });

  it('answers after the client direction stopped being decoded (malformed) are not answers to nothing', () => {
    const t = tap();
    t.conn.data('client', connect({ version: '5.0', clientId: 'c' }), 0);
    t.conn.data('broker', connack({ version: '5.0' }), 5);
    // A Remaining Length that never ends: the client's direction is no longer framed.
    t.conn.data('client', Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]), 10);
    t.conn.data('broker', ack('PUBACK', { version: '5.0', packetId: 1 }), 20);
    const puback = t.sink.events('packet').find((r) => r.record.type === 'PUBACK')!;
    expect(puback.record.violations).toBeUndefined();
  });

  it('answers after a capture gap in the client direction are not answers to nothing', () => {
    const t = tap();
    t.conn.data('client', connect({ version: '5.0', clientId: 'c' }), 0);
    t.conn.data('broker', connack({ version: '5.0' }), 5);
    t.conn.gap!('client');
    t.conn.data('broker', ack('PUBACK', { version: '5.0', packetId: 1 }), 20);
    const puback = t.sink.events('packet').find((r) => r.record.type === 'PUBACK')!;
    expect(puback.record.violations).toBeUndefined();
  });
});
