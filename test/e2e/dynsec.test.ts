/**
 * Issue 3, required case 2: mosquitto's dynamic-security plugin refusing through the proxy. User
 * alice may do anything except under `a/#` (subscribe and publish denied). mosquitto 2.0.11 then
 * answers a 3.1.1 SUBSCRIBE with SUBACK 0x80, a 5.0 one with 0x87, and a 5.0 QoS 1 PUBLISH with
 * PUBACK 0x87; the records must pair each code with the filter or topic it answers.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { LogRecord } from '../../src/sinks/sink.js';
import { denyTopicDynsec, requireMosquitto, startMosquitto } from '../helpers/mosquitto.js';
import { sessionRecord } from './helpers/expected.js';
import { anyMs, closeRecord, connectLength, openRecord, redacted, untimed } from './helpers/records.js';
import { Cleanups, messages, mqttConnect, startTapProxy, type TapProxy } from './helpers/tap-proxy.js';

const cleanups = new Cleanups();
afterEach(() => cleanups.run());

const AUTH = { username: 'alice', password: 'alice-pw' };

/** The packet id the client chose for its first packet of `type` (mqtt.js picks them at random). */
function packetIdOf(records: LogRecord[], type: string): number {
  const id = records.find((r) => r.type === type)?.packetId;
  if (typeof id !== 'number') throw new Error(`no ${type} with a packet id in ${JSON.stringify(records)}`);
  return id;
}

/** `mqtt.js` rejects a refused subscription; the SUBACK's codes are on the error's packet. */
async function subackCodes(promise: Promise<unknown>): Promise<number[]> {
  const err = await promise.then(
    () => {
      throw new Error('subscription granted, expected a refusal');
    },
    (e: unknown) => e,
  );
  const granted = (err as { packet?: { granted?: number[] } }).packet?.granted;
  if (granted === undefined) throw err;
  return granted;
}

describe.skipIf(!requireMosquitto())('mosquitto dynamic security through the proxy', () => {
  let tp: TapProxy;
  beforeEach(async () => {
    const broker = await startMosquitto({ dynsec: denyTopicDynsec('a/#') });
    cleanups.add(() => broker.stop());
    tp = await startTapProxy(cleanups, broker);
  });

  it('MQTT 3.1.1 SUBSCRIBE a/#, b/# → SUBACK a/# → 0x80 Failure, b/# → 0x01, each paired with its filter', async () => {
    const client = await mqttConnect(cleanups, tp.url, 4, { ...AUTH, clientId: 'dynsec-v4' });
    expect(await subackCodes(client.subscribeAsync(['a/#', 'b/#'], { qos: 1 }))).toEqual([0x80, 1]);
    await client.endAsync();
    const conn = await tp.conn(0);
    await tp.closed(conn);
    const records = tp.records(conn);
    const id = packetIdOf(records, 'SUBSCRIBE');
    const who = { event: 'packet', conn, clientId: 'dynsec-v4', username: 'alice' };
    const base = { protocol: '3.1.1', flags: 0 };
    const connectLen = connectLength({ protocol: '3.1.1', clientId: 'dynsec-v4', ...AUTH });
    // 2 + packet id + two filters of 2 + 3 bytes with their options byte.
    const subscribeLen = 2 + 2 + 2 * (2 + 3 + 1);
    expect(records).toEqual([
      openRecord(tp, conn),
      {
        ...who,
        from: 'client',
        type: 'CONNECT',
        ...base,
        length: connectLen,
        offset: 0,
        protocolName: 'MQTT',
        protocolLevel: 4,
        clientId: 'dynsec-v4',
        clean: true,
        keepAlive: 60,
        username: 'alice',
        password: redacted(8),
      },
      {
        ...who,
        from: 'broker',
        type: 'CONNACK',
        ...base,
        length: 4,
        offset: 0,
        sessionPresent: false,
        reason: {
          code: 0,
          hex: '0x00',
          name: 'Connection Accepted',
          description: 'Connection accepted',
          error: false,
        },
        ms: anyMs(),
      },
      sessionRecord(conn, 'dynsec-v4', 4, 0, { keepAlive: 60, properties: {} }, {}),
      {
        ...who,
        from: 'client',
        type: 'SUBSCRIBE',
        ...base,
        flags: 2,
        length: subscribeLen,
        offset: connectLen,
        packetId: id,
        subscriptions: [
          { filter: 'a/#', qos: 1 },
          { filter: 'b/#', qos: 1 },
        ],
      },
      {
        ...who,
        from: 'broker',
        type: 'SUBACK',
        ...base,
        length: 6,
        offset: 4,
        packetId: id,
        reasons: [
          { filter: 'a/#', code: 0x80, hex: '0x80', name: 'Failure', description: 'Failure', error: true },
          {
            filter: 'b/#',
            code: 1,
            hex: '0x01',
            name: 'Success - Maximum QoS 1',
            description: 'Success - Maximum QoS 1',
            error: false,
          },
        ],
        ms: anyMs(),
      },
      { ...who, from: 'client', type: 'DISCONNECT', ...base, length: 2, offset: connectLen + subscribeLen },
      closeRecord(records[0]!, {
        clientId: 'dynsec-v4',
        closedBy: 'client',
        bytes: { fromClient: connectLen + subscribeLen + 2, fromBroker: 4 + 6 },
        packets: { fromClient: 3, fromBroker: 2 },
        types: { CONNECT: 1, CONNACK: 1, SUBSCRIBE: 1, SUBACK: 1, DISCONNECT: 1 },
        lastReason: { type: 'DISCONNECT', from: 'client' },
        clean: true,
      }),
    ]);
    const msgs = messages(tp.sink, conn).map(untimed);
    expect(msgs.slice(4, 6)).toEqual([
      `SUBSCRIBE id=${id} a/# qos1, b/# qos1`,
      'SUBACK a/# → 0x80 Failure, b/# → 0x01 Success - Maximum QoS 1 (N ms)',
    ]);
    expect(tp.sink.events('packet').find((r) => r.record.type === 'SUBACK')?.level).toBe('warn');
  });

  it('MQTT 5.0 SUBSCRIBE a/#, b/# → SUBACK a/# → 0x87 Not authorized, b/# → 0x01 Granted QoS 1, paired with the filters', async () => {
    const client = await mqttConnect(cleanups, tp.url, 5, { ...AUTH, clientId: 'dynsec-v5' });
    expect(await subackCodes(client.subscribeAsync(['a/#', 'b/#'], { qos: 1 }))).toEqual([0x87, 1]);
    await client.endAsync();
    const conn = await tp.conn(0);
    await tp.closed(conn);
    const records = tp.records(conn);
    const id = packetIdOf(records, 'SUBSCRIBE');
    const who = { event: 'packet', conn, clientId: 'dynsec-v5', username: 'alice' };
    const base = { protocol: '5.0', flags: 0 };
    const subscription = { qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0 };
    const connectLen = connectLength({ protocol: '5.0', clientId: 'dynsec-v5', ...AUTH });
    // As in 3.1.1, plus the empty properties' length byte.
    const subscribeLen = 2 + 2 + 1 + 2 * (2 + 3 + 1);
    expect(records).toEqual([
      openRecord(tp, conn),
      {
        ...who,
        from: 'client',
        type: 'CONNECT',
        ...base,
        length: connectLen,
        offset: 0,
        protocolName: 'MQTT',
        protocolLevel: 5,
        clientId: 'dynsec-v5',
        clean: true,
        keepAlive: 60,
        username: 'alice',
        password: redacted(8),
      },
      {
        ...who,
        from: 'broker',
        type: 'CONNACK',
        ...base,
        length: 11,
        offset: 0,
        sessionPresent: false,
        reason: {
          code: 0,
          hex: '0x00',
          name: 'Success',
          description: 'The Connection is accepted.',
          error: false,
        },
        properties: { topicAliasMaximum: 10, receiveMaximum: 20 },
        ms: anyMs(),
      },
      sessionRecord(
        conn,
        'dynsec-v5',
        5,
        0,
        { keepAlive: 60, properties: {} },
        { topicAliasMaximum: 10, receiveMaximum: 20 },
      ),
      {
        ...who,
        from: 'client',
        type: 'SUBSCRIBE',
        ...base,
        flags: 2,
        length: subscribeLen,
        offset: connectLen,
        packetId: id,
        subscriptions: [
          { filter: 'a/#', ...subscription },
          { filter: 'b/#', ...subscription },
        ],
      },
      {
        ...who,
        from: 'broker',
        type: 'SUBACK',
        ...base,
        length: 7,
        offset: 11,
        packetId: id,
        reasons: [
          {
            filter: 'a/#',
            code: 0x87,
            hex: '0x87',
            name: 'Not authorized',
            description: 'The Client is not authorized to make this subscription.',
            error: true,
          },
          {
            filter: 'b/#',
            code: 1,
            hex: '0x01',
            name: 'Granted QoS 1',
            description:
              'The subscription is accepted and the maximum QoS sent will be QoS 1. This might be a lower QoS than was requested.',
            error: false,
          },
        ],
        ms: anyMs(),
      },
      {
        ...who,
        from: 'client',
        type: 'DISCONNECT',
        ...base,
        length: 4,
        offset: connectLen + subscribeLen,
        reason: {
          code: 0,
          hex: '0x00',
          name: 'Normal disconnection',
          description: 'Close the connection normally. Do not send the Will Message.',
          error: false,
        },
      },
      closeRecord(records[0]!, {
        clientId: 'dynsec-v5',
        closedBy: 'client',
        bytes: { fromClient: connectLen + subscribeLen + 4, fromBroker: 11 + 7 },
        packets: { fromClient: 3, fromBroker: 2 },
        types: { CONNECT: 1, CONNACK: 1, SUBSCRIBE: 1, SUBACK: 1, DISCONNECT: 1 },
        lastReason: {
          type: 'DISCONNECT',
          from: 'client',
          code: 0,
          hex: '0x00',
          name: 'Normal disconnection',
        },
        clean: true,
      }),
    ]);
    expect(messages(tp.sink, conn).map(untimed)[5]).toBe(
      'SUBACK a/# → 0x87 Not authorized, b/# → 0x01 Granted QoS 1 (N ms)',
    );
  });

  it('MQTT 5.0 QoS 1 PUBLISH to a/x denied → PUBACK 0x87 Not authorized with request.topic a/x', async () => {
    const client = await mqttConnect(cleanups, tp.url, 5, { ...AUTH, clientId: 'dynsec-pub' });
    const err = await client.publishAsync('a/x', 'refused', { qos: 1 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: 0x87 });
    // An allowed one on the same connection, for contrast: its PUBACK is a success.
    await client.publishAsync('b/x', 'fine', { qos: 1 });
    const conn = await tp.conn(0);
    const [publishA, publishB] = [
      await tp.waitFor(conn, (r) => r.type === 'PUBLISH' && r.topic === 'a/x'),
      await tp.waitFor(conn, (r) => r.type === 'PUBLISH' && r.topic === 'b/x'),
    ];
    const acks = tp.records(conn).filter((r) => r.type === 'PUBACK');
    const who = { event: 'packet', conn, clientId: 'dynsec-pub', username: 'alice' };
    const connectLen = connectLength({ protocol: '5.0', clientId: 'dynsec-pub', ...AUTH });
    // Topic (2 + 3), packet id, empty properties, payload.
    const publishLen = (payload: number): number => 2 + 2 + 3 + 2 + 1 + payload;
    const connackLen = 11;
    expect([publishA, acks[0], publishB, acks[1]]).toEqual([
      {
        ...who,
        from: 'client',
        type: 'PUBLISH',
        protocol: '5.0',
        flags: 2,
        length: publishLen(7),
        offset: connectLen,
        topic: 'a/x',
        qos: 1,
        retain: false,
        dup: false,
        packetId: publishA.packetId,
        payload: { length: 7, encoding: 'utf8', preview: 'refused', truncated: false },
      },
      {
        ...who,
        from: 'broker',
        type: 'PUBACK',
        protocol: '5.0',
        flags: 0,
        length: 5,
        offset: connackLen,
        packetId: publishA.packetId,
        reason: {
          code: 0x87,
          hex: '0x87',
          name: 'Not authorized',
          description: 'The PUBLISH is not authorized.',
          error: true,
        },
        request: { topic: 'a/x', ms: anyMs() },
      },
      {
        ...who,
        from: 'client',
        type: 'PUBLISH',
        protocol: '5.0',
        flags: 2,
        length: publishLen(4),
        offset: connectLen + publishLen(7),
        topic: 'b/x',
        qos: 1,
        retain: false,
        dup: false,
        packetId: publishB.packetId,
        payload: { length: 4, encoding: 'utf8', preview: 'fine', truncated: false },
      },
      {
        ...who,
        from: 'broker',
        type: 'PUBACK',
        protocol: '5.0',
        flags: 0,
        length: 5,
        offset: connackLen + 5,
        packetId: publishB.packetId,
        // mosquitto knows nobody subscribed to b/x: a success code other than 0x00.
        reason: {
          code: 0x10,
          hex: '0x10',
          name: 'No matching subscribers',
          description:
            'The message is accepted but there are no subscribers. This is sent only by the Server. If the Server knows that there are no matching subscribers, it MAY use this Reason Code instead of 0x00 (Success).',
          error: false,
        },
        request: { topic: 'b/x', ms: anyMs() },
      },
    ]);
    const byType = tp.sink.records.filter((r) => r.record.conn === conn && r.record.type === 'PUBACK');
    expect(byType.map((r) => [r.level, untimed(r.msg)])).toEqual([
      ['warn', `PUBACK id=${String(publishA.packetId)} 0x87 Not authorized (a/x, N ms)`],
      ['info', `PUBACK id=${String(publishB.packetId)} 0x10 No matching subscribers (b/x, N ms)`],
    ]);
  });
});
