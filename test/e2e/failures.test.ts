/**
 * Issue 3, required cases 5 and 6: the broker cannot be reached; a client dies in the middle of a
 * packet; a broker dies in the middle of a session. The records must say who ended the connection
 * and how, and a cut packet must be reported, not swallowed.
 */
import { once } from 'node:events';
import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startAedes } from '../helpers/aedes-broker.js';
import { freePort } from '../helpers/free-port.js';
import { requireMosquitto, startMosquitto } from '../helpers/mosquitto.js';
import { startScriptedBroker } from '../helpers/scripted-broker.js';
import { Expected } from './helpers/expected.js';
import { anyMs, closeRecord, openRecord, untimed } from './helpers/records.js';
import { Cleanups, messages, mqttClient, mqttConnect, startTapProxy, until } from './helpers/tap-proxy.js';

const cleanups = new Cleanups();
afterEach(() => cleanups.run());

/** A raw TCP client; destroyed by `cleanups`. */
async function rawClient(port: number): Promise<net.Socket> {
  const socket = net.connect({ host: '127.0.0.1', port });
  socket.on('error', () => {});
  cleanups.add(() => socket.destroy());
  await once(socket, 'connect');
  return socket;
}

describe('upstream down', () => {
  it('nothing listens on the broker port: upstream-error with ECONNREFUSED and the address; the client sees the close', async () => {
    const deadPort = await freePort();
    const tp = await startTapProxy(cleanups, { host: '127.0.0.1', port: deadPort });
    const client = mqttClient(cleanups, tp.url, 4, { clientId: 'nobody-home' });
    let connected = false;
    client.on('connect', () => {
      connected = true;
    });
    client.on('error', () => {});
    await new Promise<void>((resolve) => client.once('close', () => resolve()));
    expect(connected).toBe(false);

    const conn = await tp.conn(0);
    await tp.closed(conn);
    const records = tp.records(conn);
    const address = `127.0.0.1:${deadPort}`;
    const message = `connect ECONNREFUSED ${address}`;
    expect(records).toEqual([
      openRecord(tp, conn),
      { event: 'upstream-error', conn, upstream: address, code: 'ECONNREFUSED', error: message },
      // Nothing was forwarded: the client's CONNECT, held while dialling, was dropped undecoded.
      closeRecord(records[0]!, {
        closedBy: 'broker',
        error: { side: 'broker', code: 'ECONNREFUSED', message },
        bytes: { fromClient: 0, fromBroker: 0 },
        packets: { fromClient: 0, fromBroker: 0 },
        types: {},
        clean: false,
      }),
    ]);
    const collected = tp.sink.records.filter((r) => r.record.conn === conn);
    expect(collected.map((r) => [r.level, untimed(r.msg)])).toEqual([
      ['info', expect.stringMatching(/^open 127\.0\.0\.1:\d+ → /)],
      ['error', `cannot reach the broker ${address}: ${message}; closing the client`],
      ['info', 'close by broker (broker: ECONNREFUSED) after N ms, 0↑ 0↓ packets'],
    ]);
  });
});

describe('client killed mid-packet', () => {
  it('half a PUBLISH then the socket destroyed: malformed (truncated) from client, then close by client', async () => {
    const broker = await startAedes();
    cleanups.add(() => broker.close());
    const tp = await startTapProxy(cleanups, broker);
    const socket = await rawClient(tp.port);
    // CONNECT, MQTT 3.1.1, clean, keep alive 60, client id "half".
    socket.write(
      Buffer.from('10 10 00 04 4d 51 54 54 04 02 00 3c 00 04 68 61 6c 66'.replaceAll(' ', ''), 'hex'),
    );
    const connack: Buffer = (await once(socket, 'data'))[0];
    expect(connack.toString('hex')).toBe('20020000');
    // A QoS 0 PUBLISH to a/b announcing 100 body bytes; only 25 of them are ever sent.
    const head = Buffer.from([0x30, 100, 0x00, 0x03, ...Buffer.from('a/b')]);
    socket.write(Buffer.concat([head, Buffer.alloc(20, 0x41)]));
    // Let the 25 bytes reach the proxy (and go on to the broker) before the client dies.
    await until(
      () => tp.proxy.connections()[0]?.bytes.fromClient === 18 + 2 + 25,
      'the cut PUBLISH at the proxy',
    );
    socket.destroy();

    const conn = await tp.conn(0);
    const close = await tp.closed(conn);
    const records = tp.records(conn);
    const e = new Expected(conn, 4).connect({ clientId: 'half' }).connack(0);
    expect(records).toEqual([
      openRecord(tp, conn),
      ...e.records(),
      {
        event: 'malformed',
        conn,
        from: 'client',
        kind: 'truncated',
        code: 'MQTT_STREAM_ENDED_MID_PACKET',
        offset: 18,
        detail: 'stream ended 25 of 100 body bytes into a PUBLISH at offset 18',
        hex: `30 64 00 03 61 2f 62 ${'41 '.repeat(20).trim()}`,
      },
      closeRecord(records[0]!, {
        clientId: 'half',
        closedBy: 'client',
        bytes: { fromClient: 18 + 2 + 25, fromBroker: 4 },
        packets: { fromClient: 1, fromBroker: 1 },
        types: { CONNECT: 1, CONNACK: 1 },
        lastReason: e.lastReason('CONNACK', 'broker', 0),
        malformed: 1,
        clean: false,
      }),
    ]);
    expect(close.durationMs).toEqual(anyMs());
    const collected = tp.sink.records.filter((r) => r.record.conn === conn);
    expect(collected.slice(4).map((r) => [r.level, untimed(r.msg)])).toEqual([
      ['warn', 'cut short from client: stream ended 25 of 100 body bytes into a PUBLISH at offset 18'],
      ['info', 'close by client after N ms, 1↑ 1↓ packets, last CONNACK 0x00'],
    ]);
  });
});

describe('broker killed mid-session', () => {
  it.skipIf(!requireMosquitto())(
    'mosquitto killed (SIGKILL) under a connected MQTT 5.0 client: the client sees the close; close by broker, not clean',
    async () => {
      const broker = await startMosquitto();
      cleanups.add(() => broker.stop());
      const tp = await startTapProxy(cleanups, broker);
      const client = await mqttConnect(cleanups, tp.url, 5, { clientId: 'orphan' });
      client.on('error', () => {});
      const clientClosed = new Promise<void>((resolve) => client.once('close', () => resolve()));
      broker.kill('SIGKILL');
      await broker.exited;
      await clientClosed;

      const conn = await tp.conn(0);
      await tp.closed(conn);
      const records = tp.records(conn);
      const e = new Expected(conn, 5)
        .connect({ clientId: 'orphan' })
        .connack(0, { topicAliasMaximum: 10, receiveMaximum: 20 }, 6);
      // The kernel closed the dead broker's socket with a FIN: no socket error to report.
      expect(records).toEqual(
        e.all(tp, records[0]!, {
          closedBy: 'broker',
          lastReason: e.lastReason('CONNACK', 'broker', 0),
          clean: false,
        }),
      );
      expect(untimed(messages(tp.sink, conn).at(-1)!)).toBe(
        'close by broker after N ms, 1↑ 1↓ packets, last CONNACK 0x00',
      );
    },
  );

  it('scripted broker resets its socket (RST) mid-session: close by broker with the ECONNRESET', async () => {
    const broker = await startScriptedBroker([{ expect: 1, send: '20 02 00 00', after: 'wait' }]);
    cleanups.add(() => broker.close());
    const tp = await startTapProxy(cleanups, broker);
    const client = await mqttConnect(cleanups, tp.url, 4, { clientId: 'reset-victim' });
    client.on('error', () => {});
    const clientClosed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    broker.connections[0]!.socket.resetAndDestroy();
    await clientClosed;

    const conn = await tp.conn(0);
    await tp.closed(conn);
    const records = tp.records(conn);
    const e = new Expected(conn, 4).connect({ clientId: 'reset-victim' }).connack(0);
    expect(records).toEqual(
      e.all(tp, records[0]!, {
        closedBy: 'broker',
        error: { side: 'broker', code: 'ECONNRESET', message: 'read ECONNRESET' },
        lastReason: e.lastReason('CONNACK', 'broker', 0),
        clean: false,
      }),
    );
    expect(untimed(messages(tp.sink, conn).at(-1)!)).toBe(
      'close by broker (broker: ECONNRESET) after N ms, 1↑ 1↓ packets, last CONNACK 0x00',
    );
    expect(broker.errors).toEqual([]);
  });
});
