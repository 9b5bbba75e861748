/**
 * Every listen transport × every upstream transport (tcp/mqtts/ws/wss × tcp/mqtts/ws/wss), with
 * Debian's mosquitto behind and the `mqtt` npm client in front: an MQTT 5.0 PUBLISH round trip
 * (SUBSCRIBE, PUBLISH QoS 1, delivery, PUBACKs, DISCONNECT), the decoded records, and byte counts
 * that are the MQTT stream's whatever framed it. Plus several listeners at once, and
 * `mosquitto_pub --cafile` through the mqtts listener.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import mqtt, { type IClientOptions } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Transport } from '../../src/proxy/address.js';
import { MOSQUITTO_PUB, requireMosquitto } from '../helpers/mosquitto.js';
import { generateCerts, type TestCerts } from './helpers/certs.js';
import { packetBytes, packetKinds, type TapHarness, tapProxy } from './helpers/tap-harness.js';
import { startTransportBroker, type TransportBroker } from './helpers/transport-broker.js';

const run = promisify(execFile);
const TRANSPORTS: Transport[] = ['tcp', 'tls', 'ws', 'wss'];
const SCHEME: Record<Transport, string> = { tcp: 'mqtt', tls: 'mqtts', ws: 'ws', wss: 'wss' };

let certs: TestCerts;
let broker: TransportBroker;

describe.skipIf(!requireMosquitto())('transports: listen × upstream against mosquitto 2.0.11', () => {
  beforeAll(async () => {
    certs = generateCerts();
    broker = await startTransportBroker(certs);
  });
  afterAll(async () => {
    await broker?.stop();
    certs?.remove();
  });

  function upstreamFor(t: Transport) {
    const port = { tcp: broker.ports.tcp, tls: broker.ports.tls, ws: broker.ports.ws, wss: broker.ports.wss }[
      t
    ];
    return { host: '127.0.0.1', port, transport: t, ...(t === 'ws' || t === 'wss' ? { path: '/mqtt' } : {}) };
  }

  async function proxyFor(listen: Transport, upstream: Transport): Promise<TapHarness> {
    return tapProxy({
      listen: [{ host: '127.0.0.1', port: 0, transport: listen }],
      upstream: upstreamFor(upstream),
      tls: { cert: certs.read(certs.server), key: certs.read(certs.serverKey) },
      upstreamTls: { ca: certs.read(certs.ca) },
    });
  }

  function clientUrl(t: Transport, port: number): string {
    return `${SCHEME[t]}://127.0.0.1:${port}${t === 'ws' || t === 'wss' ? '/mqtt' : ''}`;
  }

  /** SUBSCRIBE, PUBLISH QoS 1 to itself, wait for the delivery, DISCONNECT. */
  async function roundTrip(url: string, clientId: string, extra: IClientOptions = {}): Promise<string> {
    const client = await mqtt.connectAsync(url, {
      protocolVersion: 5,
      clientId,
      reconnectPeriod: 0,
      connectTimeout: 5000,
      ca: certs.read(certs.ca),
      ...extra,
    });
    try {
      await client.subscribeAsync('matrix/t', { qos: 1 });
      const delivered = new Promise<string>((resolve) =>
        client.once('message', (_topic, payload) => resolve(payload.toString())),
      );
      await client.publishAsync('matrix/t', `hello from ${clientId}`, { qos: 1 });
      return await delivered;
    } finally {
      await client.endAsync();
    }
  }

  const combos = TRANSPORTS.flatMap((l) => TRANSPORTS.map((u) => [l, u] as const));

  it.each(combos)(
    'listen %s → upstream %s: PUBLISH round trip, decoded records, MQTT byte counts',
    async (l, u) => {
      const tap = await proxyFor(l, u);
      try {
        const clientId = `mx-${l}-${u}`;
        expect(await roundTrip(clientUrl(l, tap.port()), clientId)).toBe(`hello from ${clientId}`);
        const open = await tap.open(0);
        const conn = String(open.conn);
        const close = await tap.closed(conn);
        expect(open).toMatchObject({ transport: l, upstream: tap.proxy.upstream });
        if (u === 'tcp') expect(open.upstream).toBe(`127.0.0.1:${broker.ports.tcp}`);
        else
          expect(open.upstream).toMatch(
            new RegExp(`^${SCHEME[u]}://127\\.0\\.0\\.1:\\d+${u.startsWith('w') ? '/mqtt' : ''}$`),
          );
        if (l === 'tls' || l === 'wss') {
          expect(open.tls).toMatchObject({ protocol: 'TLSv1.3', cipher: expect.stringMatching(/^TLS_/) });
          expect(open.tls).not.toHaveProperty('clientCert');
        } else {
          expect(open).not.toHaveProperty('tls');
        }
        if (l === 'ws' || l === 'wss') expect(open.websocket).toEqual({ path: '/mqtt', protocol: 'mqtt' });
        else expect(open).not.toHaveProperty('websocket');

        const packets = tap.packets(conn);
        expect(packetKinds(packets)).toEqual(
          [
            'client:CONNECT',
            'broker:CONNACK',
            'client:SUBSCRIBE',
            'broker:SUBACK',
            'client:PUBLISH',
            'broker:PUBACK',
            'broker:PUBLISH',
            'client:PUBACK',
            'client:DISCONNECT',
          ].sort(),
        );
        expect(packets.find((p) => p.type === 'CONNECT')).toMatchObject({ protocol: '5.0', clientId });
        expect(packets.find((p) => p.type === 'CONNACK')).toMatchObject({
          reason: { code: 0, name: 'Success' },
        });
        expect(packets.find((p) => p.type === 'PUBLISH' && p.from === 'broker')).toMatchObject({
          topic: 'matrix/t',
          qos: 1,
          payload: { preview: `hello from ${clientId}` },
        });
        // The counts are MQTT stream bytes: no TLS records, no WebSocket frame headers.
        expect(close).toMatchObject({
          closedBy: 'client',
          clean: true,
          bytes: { fromClient: packetBytes(packets, 'client'), fromBroker: packetBytes(packets, 'broker') },
          packets: { fromClient: 5, fromBroker: 4 },
        });
        expect(close).not.toHaveProperty('error');
        expect(tap.sink.records.filter((r) => r.level === 'error' || r.record.event === 'malformed')).toEqual(
          [],
        );
      } finally {
        await tap.close();
      }
    },
  );

  it('TCP and WebSocket (and TLS) listeners at once, one upstream', async () => {
    const tap = await tapProxy({
      listen: [
        { host: '127.0.0.1', port: 0 },
        { host: '127.0.0.1', port: 0, transport: 'ws', path: '/mqtt' },
        { host: '127.0.0.1', port: 0, transport: 'tls' },
      ],
      upstream: upstreamFor('tcp'),
      tls: { cert: certs.read(certs.server), key: certs.read(certs.serverKey) },
    });
    try {
      expect(tap.proxy.urls).toEqual([
        `127.0.0.1:${tap.port(0)}`,
        `ws://127.0.0.1:${tap.port(1)}/mqtt`,
        `mqtts://127.0.0.1:${tap.port(2)}`,
      ]);
      await Promise.all([
        roundTrip(clientUrl('tcp', tap.port(0)), 'multi-tcp'),
        roundTrip(clientUrl('ws', tap.port(1)), 'multi-ws'),
        roundTrip(clientUrl('tls', tap.port(2)), 'multi-tls'),
      ]);
      const opens = tap.sink.events('open').map((r) => r.record);
      expect(opens.map((o) => o.transport).sort()).toEqual(['tcp', 'tls', 'ws']);
      for (const o of opens) await tap.closed(String(o.conn));
    } finally {
      await tap.close();
    }
  });

  it('mosquitto_pub --cafile through the mqtts listener: its PUBLISH decoded, the broker gets it', async () => {
    const tap = await proxyFor('tls', 'tcp');
    const sub = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.ports.tcp}`, { reconnectPeriod: 0 });
    try {
      await sub.subscribeAsync('cli/#', { qos: 1 });
      const got = new Promise<string>((resolve) => sub.once('message', (_t, p) => resolve(p.toString())));
      await run(MOSQUITTO_PUB, [
        ...['-h', '127.0.0.1', '-p', String(tap.port()), '--cafile', certs.ca],
        ...['-V', 'mqttv5', '-i', 'pub-cafile', '-q', '1', '-t', 'cli/tls', '-m', 'over TLS'],
      ]);
      expect(await got).toBe('over TLS');
      const open = await tap.open(0);
      expect(open).toMatchObject({ transport: 'tls', tls: { protocol: 'TLSv1.3', alpn: null } });
      const conn = String(open.conn);
      await tap.closed(conn);
      expect(tap.packets(conn).find((p) => p.type === 'PUBLISH')).toMatchObject({
        topic: 'cli/tls',
        qos: 1,
        payload: { preview: 'over TLS' },
      });
    } finally {
      await sub.endAsync();
      await tap.close();
    }
  });
});
