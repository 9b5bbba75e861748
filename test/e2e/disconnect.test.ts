/**
 * Issue 3, required case 4: DISCONNECT from either side, with its reason explained and the close
 * record saying who ended the session and with which code. mosquitto 2.0.11 does not send
 * DISCONNECT 0x8E on session takeover (that came in 2.0.15), so a scripted broker sends those bytes.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { requireMosquitto, startMosquitto } from '../helpers/mosquitto.js';
import { startScriptedBroker } from '../helpers/scripted-broker.js';
import { Expected } from './helpers/expected.js';
import { untimed } from './helpers/records.js';
import { Cleanups, messages, mqttClient, mqttConnect, startTapProxy } from './helpers/tap-proxy.js';

const cleanups = new Cleanups();
afterEach(() => cleanups.run());

describe('DISCONNECT from the broker', () => {
  it('scripted broker (mosquitto 2.0.11 never sends it): MQTT 5.0 DISCONNECT 0x8E Session taken over, then FIN; closedBy broker', async () => {
    const broker = await startScriptedBroker([
      // CONNACK 0x00 without properties, then DISCONNECT 0x8E with an empty property length.
      { expect: 1, send: '20 03 00 00 00' },
      { send: 'e0 02 8e 00', after: 'end' },
    ]);
    cleanups.add(() => broker.close());
    const tp = await startTapProxy(cleanups, broker);
    const client = mqttClient(cleanups, tp.url, 5, { clientId: 'taken-over' });
    const disconnect = new Promise<{ reasonCode?: number }>((resolve) => client.once('disconnect', resolve));
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    expect(await disconnect).toMatchObject({ reasonCode: 0x8e });
    await closed;
    const conn = await tp.conn(0);
    await tp.closed(conn);
    expect(broker.errors).toEqual([]);

    const records = tp.records(conn);
    const e = new Expected(conn, 5).connect({ clientId: 'taken-over' }).connack(0).disconnect('broker', 0x8e);
    expect(records).toEqual(
      e.all(tp, records[0]!, {
        closedBy: 'broker',
        lastReason: e.lastReason('DISCONNECT', 'broker', 0x8e),
        clean: false,
        verdict: {
          cause: 'SESSION_TAKEN_OVER',
          detail:
            'DISCONNECT 0x8e Session taken over: another connection with client id "taken-over", not one mqtt-tap saw',
          rule: 'MQTT-3.1.4-3',
          evidence: [
            { conn, from: 'broker', type: 'DISCONNECT', offset: 5, time: expect.any(Number) },
            { conn, type: 'close', time: expect.any(Number) },
          ],
        },
      }),
    );
    expect(messages(tp.sink, conn).slice(4).map(untimed)).toEqual([
      'DISCONNECT 0x8e Session taken over',
      'close by broker after N ms, 1↑ 2↓ packets, last DISCONNECT 0x8e',
    ]);
    expect(tp.sink.records.find((r) => r.record.type === 'DISCONNECT')?.level).toBe('warn');
  });
});

describe.skipIf(!requireMosquitto())('DISCONNECT from the client', () => {
  it('mqtt client end() with 0x04 Disconnect with Will Message (MQTT 5.0, mosquitto): will delivered, close not clean', async () => {
    const broker = await startMosquitto();
    cleanups.add(() => broker.stop());
    const tp = await startTapProxy(cleanups, broker);
    const watcher = await mqttConnect(cleanups, tp.url, 5, { clientId: 'watcher' });
    await watcher.subscribeAsync('status/#', { qos: 0 });
    const will = { topic: 'status/leaver', payload: 'left with will', qos: 0, retain: false };
    const leaver = await mqttConnect(cleanups, tp.url, 5, {
      clientId: 'leaver',
      will: { topic: will.topic, payload: Buffer.from(will.payload), qos: 0, retain: false },
    });
    const conn = await tp.conn(1);
    const received = new Promise<string>((resolve) =>
      watcher.once('message', (_topic, payload: Buffer) => resolve(payload.toString())),
    );
    await leaver.endAsync(false, { reasonCode: 0x04 });
    // 0x04 asks the broker to publish the will although the client said goodbye (§3.14.2.1).
    expect(await received).toBe('left with will');
    await tp.closed(conn);

    const records = tp.records(conn);
    const e = new Expected(conn, 5)
      .connect({ clientId: 'leaver', will })
      .connack(0, { topicAliasMaximum: 10, receiveMaximum: 20 }, 6)
      .disconnect('client', 0x04);
    expect(records).toEqual(
      e.all(tp, records[0]!, {
        closedBy: 'client',
        lastReason: e.lastReason('DISCONNECT', 'client', 0x04),
        clean: false,
      }),
    );
    expect(messages(tp.sink, conn).slice(4).map(untimed)).toEqual([
      'DISCONNECT 0x04 Disconnect with Will Message',
      'close by client after N ms, 2↑ 1↓ packets, last DISCONNECT 0x04',
    ]);
  });
});
