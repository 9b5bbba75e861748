/**
 * The verdict on the close record, produced by real peers: Debian's mosquitto (2.0.11) for every
 * cause it can produce, a scripted broker for the rest. Raw sockets where mqtt.js would not send
 * what the case needs (a silent client, an oversized packet, a second CONNECT).
 */
import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/free-port.js';
import { requireMosquitto, startMosquitto } from '../helpers/mosquitto.js';
import { connect, publish } from '../helpers/packets.js';
import { startScriptedBroker } from '../helpers/scripted-broker.js';
import { Cleanups, mqttClient, runTool, startTapProxy, type TapProxy } from './helpers/tap-proxy.js';

const cleanups = new Cleanups();
afterEach(() => cleanups.run());

/** A raw TCP client to the proxy; destroyed by the cleanups. */
async function rawClient(tp: TapProxy): Promise<net.Socket> {
  const socket = net.connect(tp.port, '127.0.0.1');
  socket.on('error', () => {});
  socket.on('data', () => {});
  cleanups.add(() => socket.destroy());
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  return socket;
}

const at = expect.any(Number);

describe.skipIf(!requireMosquitto())('verdicts against mosquitto', () => {
  it('KEEP_ALIVE_TIMEOUT: a raw 3.1.1 client with keep-alive 2 s that stops sending; mosquitto closes it', async () => {
    const broker = await startMosquitto();
    cleanups.add(() => broker.stop());
    const tp = await startTapProxy(cleanups, broker);
    const socket = await rawClient(tp);
    socket.write(connect({ version: '3.1.1', clientId: 'silent', keepAlive: 2 }));
    const conn = await tp.conn(0);
    // mosquitto 2.0.11 checks keep-alive about every 5 s: it closes after 3 to 9 s of silence.
    const close = await tp.closed(conn, 15_000);
    expect(close.closedBy).toBe('broker');
    expect(close.verdict).toEqual({
      cause: 'KEEP_ALIVE_TIMEOUT',
      detail: expect.stringMatching(/^keep-alive 2 s, nothing from the client for \d(\.\d)? s$/),
      rule: 'MQTT-3.1.2-24',
      evidence: [
        { conn, from: 'client', type: 'CONNECT', offset: 0, time: at },
        { conn, type: 'close', time: at },
      ],
    });
    // The client broke its keep-alive; the broker closed within the slack the check allows.
    expect(close.violations).toEqual([expect.objectContaining({ code: 'MQTT_KEEP_ALIVE_EXCEEDED' })]);
  }, 20_000);

  it('CONNECTION_REFUSED: a wrong password against a password file', async () => {
    const broker = await startMosquitto({ users: [{ username: 'user1', password: 'right' }] });
    cleanups.add(() => broker.stop());
    const tp = await startTapProxy(cleanups, broker);
    const client = mqttClient(cleanups, tp.url, 4, {
      clientId: 'wrong-pw',
      username: 'user1',
      password: 'wrong',
    });
    client.on('error', () => {});
    const conn = await tp.conn(0);
    const close = await tp.closed(conn);
    expect(close.verdict).toEqual({
      cause: 'CONNECTION_REFUSED',
      detail: 'CONNACK 0x05 Connection Refused, not authorized',
      evidence: [
        { conn, from: 'client', type: 'CONNECT', offset: 0, time: at },
        { conn, from: 'broker', type: 'CONNACK', offset: 0, time: at },
        { conn, type: 'close', time: at },
      ],
    });
  });

  it("SERVER_DISCONNECT: a 5.0 PUBLISH above mosquitto's max_packet_size gets DISCONNECT 0x95, put down to the client's violation", async () => {
    const broker = await startMosquitto({ extraConfig: ['max_packet_size 200'] });
    cleanups.add(() => broker.stop());
    const tp = await startTapProxy(cleanups, broker);
    const socket = await rawClient(tp);
    socket.write(connect({ version: '5.0', clientId: 'big' }));
    const conn = await tp.conn(0);
    await tp.waitFor(conn, (r) => r.type === 'CONNACK');
    socket.write(publish({ version: '5.0', topic: 't', payload: Buffer.alloc(400, 0x41) }));
    const close = await tp.closed(conn);
    expect(close.closedBy).toBe('broker');
    expect(close.verdict).toEqual({
      cause: 'SERVER_DISCONNECT',
      detail:
        "DISCONNECT 0x95 Packet too large, after the client's PUBLISH (MQTT_PACKET_TOO_LARGE: 407 bytes, above the broker's Maximum Packet Size 200)",
      rule: 'MQTT-3.2.2-15',
      evidence: [
        { conn, from: 'client', type: 'PUBLISH', offset: 18, time: at },
        { conn, from: 'broker', type: 'DISCONNECT', offset: 16, time: at },
        { conn, type: 'close', time: at },
      ],
    });
  });

  it('CLIENT_DISCONNECT: mosquitto_pub says DISCONNECT', async () => {
    const broker = await startMosquitto();
    cleanups.add(() => broker.stop());
    const tp = await startTapProxy(cleanups, broker);
    const pub = await runTool('/usr/bin/mosquitto_pub', [
      '-h',
      '127.0.0.1',
      '-p',
      String(tp.port),
      '-t',
      't',
      '-m',
      'x',
    ]);
    expect(pub.code).toBe(0);
    const conn = await tp.conn(0);
    const close = await tp.closed(conn);
    expect(close.verdict).toMatchObject({ cause: 'CLIENT_DISCONNECT', detail: 'DISCONNECT' });
  });

  it('PROTOCOL_ERROR: a second CONNECT on the connection; mosquitto closes it', async () => {
    const broker = await startMosquitto();
    cleanups.add(() => broker.stop());
    const tp = await startTapProxy(cleanups, broker);
    const socket = await rawClient(tp);
    socket.write(connect({ version: '3.1.1', clientId: 'twice' }));
    const conn = await tp.conn(0);
    await tp.waitFor(conn, (r) => r.type === 'CONNACK');
    socket.write(connect({ version: '3.1.1', clientId: 'twice' }));
    const close = await tp.closed(conn);
    expect(close.closedBy).toBe('broker');
    expect(close.verdict).toEqual({
      cause: 'PROTOCOL_ERROR',
      detail: expect.stringMatching(
        /^the client's CONNECT broke a rule \(MQTT_SECOND_CONNECT: a second CONNECT on the connection\), \d+ ms before$/,
      ),
      rule: 'MQTT-3.1.0-2',
      evidence: [
        { conn, from: 'client', type: 'CONNECT', offset: 19, time: at },
        { conn, type: 'close', time: at },
      ],
    });
  });

  it('CLIENT_GONE: a client with a Will closes without DISCONNECT; the Will is due', async () => {
    const broker = await startMosquitto();
    cleanups.add(() => broker.stop());
    const tp = await startTapProxy(cleanups, broker);
    const socket = await rawClient(tp);
    socket.write(
      connect({
        version: '3.1.1',
        clientId: 'gone',
        will: { topic: 'status/gone', payload: Buffer.from('bye') },
      }),
    );
    const conn = await tp.conn(0);
    await tp.waitFor(conn, (r) => r.type === 'CONNACK');
    socket.end();
    const close = await tp.closed(conn);
    expect(close.verdict).toMatchObject({ cause: 'CLIENT_GONE', detail: 'no DISCONNECT; its Will is due' });
  });

  it('PROXY_SHUTDOWN: mqtt-tap closes with the connection open', async () => {
    const broker = await startMosquitto();
    cleanups.add(() => broker.stop());
    const tp = await startTapProxy(cleanups, broker);
    const socket = await rawClient(tp);
    socket.write(connect({ version: '3.1.1', clientId: 'stays' }));
    const conn = await tp.conn(0);
    await tp.waitFor(conn, (r) => r.type === 'CONNACK');
    await tp.proxy.close(0);
    const close = await tp.closed(conn);
    expect(close).toMatchObject({
      closedBy: 'proxy',
      verdict: { cause: 'PROXY_SHUTDOWN', detail: 'mqtt-tap shut down with the connection open' },
    });
  });
});

describe('verdicts against a scripted broker', () => {
  it('BROKER_GONE: CONNACK, then the broker closes without DISCONNECT', async () => {
    const broker = await startScriptedBroker([{ expect: 1, send: '20 02 00 00', after: 'end' }]);
    cleanups.add(() => broker.close());
    const tp = await startTapProxy(cleanups, broker);
    const socket = await rawClient(tp);
    socket.write(connect({ version: '3.1.1', clientId: 'left' }));
    const conn = await tp.conn(0);
    const close = await tp.closed(conn);
    expect(close.verdict).toEqual({
      cause: 'BROKER_GONE',
      detail: 'no DISCONNECT',
      evidence: [
        { conn, from: 'broker', type: 'CONNACK', offset: 0, time: at },
        { conn, type: 'close', time: at },
      ],
    });
  });

  it('KEEP_ALIVE_TIMEOUT the other way: the broker never answers PINGREQ and mqtt.js gives up', async () => {
    const broker = await startScriptedBroker([{ expect: 1, send: '20 02 00 00', after: 'wait' }]);
    cleanups.add(() => broker.close());
    const tp = await startTapProxy(cleanups, broker);
    const client = mqttClient(cleanups, tp.url, 4, { clientId: 'pinger', keepalive: 1 });
    client.on('error', () => {});
    const conn = await tp.conn(0);
    const close = await tp.closed(conn, 10_000);
    expect(close.closedBy).toBe('client');
    expect(close.verdict).toEqual({
      cause: 'KEEP_ALIVE_TIMEOUT',
      detail: expect.stringMatching(
        /^keep-alive 1 s, no PINGRESP from the broker for \d(\.\d)? s after the client's PINGREQ$/,
      ),
      evidence: [
        { conn, from: 'client', type: 'PINGREQ', offset: expect.any(Number), time: at },
        { conn, type: 'close', time: at },
      ],
    });
  }, 15_000);

  it('IDLE_TIMEOUT_SUSPECTED: keep-alive off, and the broker side closes after 30 s with nothing either way', async () => {
    const broker = await startScriptedBroker([
      { expect: 1, send: '20 02 00 00' },
      { delayMs: 30_000, after: 'destroy' },
    ]);
    cleanups.add(() => broker.close());
    const tp = await startTapProxy(cleanups, broker);
    const socket = await rawClient(tp);
    socket.write(connect({ version: '3.1.1', clientId: 'idle', keepAlive: 0 }));
    const conn = await tp.conn(0);
    const close = await tp.closed(conn, 40_000);
    expect(close.verdict).toEqual({
      cause: 'IDLE_TIMEOUT_SUSPECTED',
      detail: expect.stringMatching(
        /^nothing either way for 30 s, close to 30 s, an idle timeout of load balancers and NAT \(keep-alive off\)$/,
      ),
      // The last packet either way: the CONNACK, or the CONNECT when both came in the same ms.
      evidence: [
        expect.objectContaining({ conn, type: expect.stringMatching(/^CONN(ECT|ACK)$/), offset: 0 }),
        { conn, type: 'close', time: at },
      ],
    });
  }, 45_000);

  it('UPSTREAM_UNREACHABLE: nothing listens on the broker port', async () => {
    const port = await freePort();
    const tp = await startTapProxy(cleanups, { host: '127.0.0.1', port });
    await rawClient(tp);
    const conn = await tp.conn(0);
    const close = await tp.closed(conn);
    expect(close.verdict).toEqual({
      cause: 'UPSTREAM_UNREACHABLE',
      detail: `cannot reach 127.0.0.1:${port}: ECONNREFUSED`,
      evidence: [{ conn, type: 'upstream-error', time: at }],
    });
  });
});
