/**
 * The connection's contract against Debian's mosquitto configured with limits: the `session` record
 * shows what its CONNACK declared, and a raw client that ignores them gets each breach reported on
 * the packet that commits it, with the rule; mosquitto's own answer (a DISCONNECT with its reason)
 * follows in the records (mosquitto takes a client past its Receive Maximum without a word).
 */
import { once } from 'node:events';
import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { LogRecord } from '../../src/sinks/sink.js';
import { requireMosquitto, startMosquitto } from '../helpers/mosquitto.js';
import { connect, publish } from '../helpers/packets.js';
import { Cleanups, startTapProxy, type TapProxy } from './helpers/tap-proxy.js';

const cleanups = new Cleanups();
afterEach(() => cleanups.run());

const LIMITS = ['max_packet_size 200', 'max_qos 1', 'retain_available false', 'max_inflight_messages 2'];

/**
 * A raw 5.0 client through the proxy: CONNECT, the CONNACK read, then `packets` in one write; then
 * it waits for mosquitto to close, or for `last` and closes itself.
 */
async function misbehave(
  tp: TapProxy,
  n: number,
  clientId: string,
  packets: Buffer[],
  last?: (r: LogRecord) => boolean,
): Promise<LogRecord[]> {
  const socket = net.connect({ host: '127.0.0.1', port: tp.port });
  socket.on('error', () => {});
  cleanups.add(() => socket.destroy());
  await once(socket, 'connect');
  socket.write(connect({ version: '5.0', clientId }));
  await once(socket, 'data');
  socket.write(Buffer.concat(packets));
  const conn = await tp.conn(n);
  if (last !== undefined) {
    await tp.waitFor(conn, last);
    socket.end();
  }
  await tp.closed(conn);
  return tp.records(conn);
}

const violationsOf = (records: LogRecord[], type: string): unknown =>
  records.filter((r) => r.type === type).map((r) => r.violations);

describe.skipIf(!requireMosquitto())('the contract with mosquitto 2.0.11 configured with limits', () => {
  it('the session record shows its limits; QoS, RETAIN, size and Receive Maximum breaches are reported', async () => {
    const broker = await startMosquitto({ extraConfig: LIMITS });
    cleanups.add(() => broker.stop());
    const tp = await startTapProxy(cleanups, broker);

    const qos = await misbehave(tp, 0, 'qos2', [
      publish({ version: '5.0', topic: 't', qos: 2, packetId: 1 }),
    ]);
    const session = qos.find((r) => r.event === 'session')!;
    expect(session).toMatchObject({
      version: '5.0',
      accepted: true,
      keepAlive: 60,
      broker: { maximumQoS: 1, retainAvailable: false, maximumPacketSize: 200, receiveMaximum: 2 },
    });
    expect(violationsOf(qos, 'PUBLISH')).toEqual([
      [
        {
          code: 'MQTT_QOS_NOT_SUPPORTED',
          rule: 'MQTT-3.2.2-11',
          detail: "QoS 2 above the broker's Maximum QoS 1",
        },
      ],
    ]);

    const retain = await misbehave(tp, 1, 'retain', [publish({ version: '5.0', topic: 't', retain: true })]);
    expect(violationsOf(retain, 'PUBLISH')).toEqual([
      [
        {
          code: 'MQTT_RETAIN_NOT_SUPPORTED',
          rule: 'MQTT-3.2.2-14',
          detail: "RETAIN 1 with the broker's Retain Available 0",
        },
      ],
    ]);

    const big = await misbehave(tp, 2, 'big', [
      publish({ version: '5.0', topic: 't', payload: Buffer.alloc(300) }),
    ]);
    expect(violationsOf(big, 'PUBLISH')).toEqual([
      [
        {
          code: 'MQTT_PACKET_TOO_LARGE',
          rule: 'MQTT-3.2.2-15',
          // 1 + 2 (Remaining Length 304) + 3 (topic) + 1 (no properties) + 300.
          detail: "307 bytes, above the broker's Maximum Packet Size 200",
        },
      ],
    ]);

    const flood = await misbehave(
      tp,
      3,
      'flood',
      [1, 2, 3].map((packetId) => publish({ version: '5.0', topic: 't', qos: 1, packetId })),
      (r) => r.type === 'PUBACK' && r.packetId === 3,
    );
    expect(violationsOf(flood, 'PUBLISH')).toEqual([
      undefined,
      undefined,
      [
        {
          code: 'MQTT_RECEIVE_MAXIMUM_EXCEEDED',
          rule: 'MQTT-3.3.4-7',
          detail:
            "2 QoS 1 and 2 PUBLISH packets from the client are unacknowledged; the broker's Receive Maximum is 2",
        },
      ],
    ]);

    // mosquitto refuses the first three with a DISCONNECT saying why; it takes the flood.
    const disconnects = [qos, retain, big].map((records) =>
      records.filter((r) => r.type === 'DISCONNECT').map((r) => (r.reason as { hex: string }).hex),
    );
    expect(disconnects).toEqual([['0x9b'], ['0x9a'], ['0x95']]);
    // Every connection: mosquitto's answers carry no violation of their own.
    for (const records of [qos, retain, big, flood]) {
      expect(records.filter((r) => r.from === 'broker' && r.violations !== undefined)).toEqual([]);
    }
  });
});
