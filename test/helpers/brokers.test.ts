/**
 * The broker helpers must behave as the integration tests assume: these are the measured facts of
 * issue 3, checked directly against the brokers (no proxy in between).
 */
import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { startAedes } from './aedes-broker.js';
import { denyTopicDynsec, mosquittoVersion, requireMosquitto, startMosquitto } from './mosquitto.js';
import { startScriptedBroker } from './scripted-broker.js';

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

type Version = 3 | 4 | 5;

async function connect(
  url: string,
  protocolVersion: Version,
  extra: mqtt.IClientOptions = {},
): Promise<mqtt.MqttClient> {
  const client = await mqtt.connectAsync(url, {
    protocolVersion,
    reconnectPeriod: 0,
    connectTimeout: 3000,
    ...extra,
  });
  cleanups.push(() => client.endAsync(true));
  return client;
}

/** The CONNACK code a refused connection gets (returnCode for 3.x, reasonCode for 5.0). */
async function refusal(
  url: string,
  protocolVersion: Version,
  extra: mqtt.IClientOptions,
): Promise<number | undefined> {
  const err = await connect(url, protocolVersion, extra).then(
    () => undefined,
    (e: unknown) => e,
  );
  return typeof err === 'object' && err !== null && 'code' in err ? (err.code as number) : undefined;
}

/** SUBACK codes for one filter; mqtt.js rejects on a failure code, with the packet attached. */
async function granted(client: mqtt.MqttClient, topic: string): Promise<number[]> {
  try {
    return (await client.subscribeAsync(topic, { qos: 1 })).map((g) => g.qos);
  } catch (err) {
    if (typeof err === 'object' && err !== null && 'packet' in err) {
      const packet = err.packet as { granted?: number[] };
      if (packet.granted) return packet.granted;
    }
    throw err;
  }
}

describe('aedes helper', () => {
  it('refuses wrong credentials with return code 4 and accepts the right ones', async () => {
    const broker = await startAedes({ credentials: { username: 'u', password: 'right' } });
    cleanups.push(() => broker.close());
    expect(await refusal(broker.url, 4, { username: 'u', password: 'wrong' })).toBe(4);
    await connect(broker.url, 4, { username: 'u', password: 'right' });
  });
});

describe('scripted broker helper', () => {
  it('answers a CONNECT with the exact scripted bytes (5.0 CONNACK 0x86)', async () => {
    const broker = await startScriptedBroker([{ expect: 1, send: '20 03 00 86 00', after: 'end' }]);
    cleanups.push(() => broker.close());
    expect(await refusal(broker.url, 5, {})).toBe(0x86);
    expect(broker.errors).toEqual([]);
    expect(broker.connections[0]!.received()[0]).toBe(0x10);
  });
});

describe.skipIf(!requireMosquitto())('mosquitto helper (Debian 2.0.11 facts)', () => {
  it('is 2.0.x', () => {
    expect(mosquittoVersion()).toMatch(/^2\.0\.\d+$/);
  });

  it('password file: wrong password → 3.1.1 CONNACK 5, 3.1 CONNACK 5, 5.0 CONNACK 0x87', async () => {
    const broker = await startMosquitto({ users: [{ username: 'bob', password: 'bob-pw' }] });
    cleanups.push(() => broker.stop());
    const wrong = { username: 'bob', password: 'nope' };
    expect(await refusal(broker.url, 4, wrong)).toBe(5);
    expect(await refusal(broker.url, 3, { ...wrong, protocolId: 'MQIsdp' })).toBe(5);
    expect(await refusal(broker.url, 5, wrong)).toBe(0x87);
    await connect(broker.url, 4, { username: 'bob', password: 'bob-pw' });
  });

  it('dynamic security: denied SUBSCRIBE → 3.1.1 SUBACK 0x80, 5.0 SUBACK 0x87; denied QoS 1 PUBLISH → PUBACK 0x87', async () => {
    const broker = await startMosquitto({ dynsec: denyTopicDynsec('denied/#') });
    cleanups.push(() => broker.stop());
    const auth = { username: 'alice', password: 'alice-pw' };
    expect(await refusal(broker.url, 5, { ...auth, password: 'wrong' })).toBe(0x87);

    const v4 = await connect(broker.url, 4, auth);
    expect(await granted(v4, 'denied/x')).toEqual([0x80]);
    expect(await granted(v4, 'ok/x')).toEqual([1]);

    const v5 = await connect(broker.url, 5, auth);
    expect(await granted(v5, 'denied/x')).toEqual([0x87]);
    const pubErr = await v5.publishAsync('denied/x', 'payload', { qos: 1 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(pubErr).toMatchObject({ code: 0x87 });
    await expect(v5.publishAsync('ok/x', 'payload', { qos: 1 })).resolves.toBeDefined();
  });

  it('acl_file grants a SUBSCRIBE it will not deliver (no SUBACK failure)', async () => {
    const broker = await startMosquitto({
      users: [{ username: 'carol', password: 'carol-pw' }],
      acl: 'user carol\ntopic readwrite ok/#\n',
    });
    cleanups.push(() => broker.stop());
    const c = await connect(broker.url, 4, { username: 'carol', password: 'carol-pw' });
    expect(await granted(c, 'secret/x')).toEqual([1]);
  });

  it('stop() ends the process and removes its temp dir', async () => {
    const broker = await startMosquitto();
    const { existsSync } = await import('node:fs');
    expect(existsSync(broker.dir)).toBe(true);
    await broker.stop();
    expect(existsSync(broker.dir)).toBe(false);
    // mosquitto handles SIGTERM and exits 0.
    expect(await broker.exited).toEqual({ code: 0, signal: null });
  });
});
