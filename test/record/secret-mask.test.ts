import mqttPacket from 'mqtt-packet';
import { describe, expect, it } from 'vitest';
import type { ProtocolVersion } from '../../src/protocol/constants.js';
import { decodeBuffer } from '../../src/record/decode-buffer.js';
import { MASK_BYTE, maskRanges, secretLocators } from '../../src/sinks/secret-mask.js';
import { hex } from '../helpers/hex.js';

type Side = 'client' | 'broker';

/** Runs the locators over `chunks` of one side and returns the recorded (masked) stream. */
function record(chunks: { side: Side; bytes: Buffer }[]): Record<Side, Buffer> {
  const loc = secretLocators();
  const out: Record<Side, Buffer[]> = { client: [], broker: [] };
  for (const { side, bytes } of chunks) {
    const ranges = loc[side].done ? undefined : loc[side].scan(bytes);
    out[side].push(ranges === undefined ? bytes : maskRanges(bytes, ranges));
  }
  return { client: Buffer.concat(out.client), broker: Buffer.concat(out.broker) };
}

function cuts(buf: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < buf.length; i += size) out.push(buf.subarray(i, i + size));
  return out;
}

/** Differences between two equal-length buffers, as [start, end) runs. */
function diff(a: Buffer, b: Buffer): [number, number][] {
  expect(a.length).toBe(b.length);
  const runs: [number, number][] = [];
  for (let i = 0; i < a.length; i++) {
    if (a[i] === b[i]) continue;
    const last = runs[runs.length - 1];
    if (last !== undefined && last[1] === i) last[1] = i + 1;
    else runs.push([i, i + 1]);
  }
  return runs;
}

const gen = (p: object, protocolVersion: 4 | 5): Buffer =>
  mqttPacket.generate(p as mqttPacket.Packet, { protocolVersion });

describe('secret masking of recordings', () => {
  const v311Connect = gen(
    {
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: 4,
      clientId: 'sensor-1',
      clean: true,
      keepalive: 30,
      username: 'alice',
      password: Buffer.from('s3cr3t-pw'),
      will: { topic: 'state/sensor-1', payload: Buffer.from('gone'), qos: 1, retain: false },
    },
    4,
  );
  const publish = gen({ cmd: 'publish', topic: 'a/b', payload: Buffer.from('password'), qos: 0 }, 4);

  it('3.1.1 CONNECT: exactly the password bytes become *, at every split of the stream', () => {
    const stream = Buffer.concat([v311Connect, publish]);
    const pwAt = v311Connect.length - 's3cr3t-pw'.length;
    for (let size = 1; size <= stream.length; size++) {
      const masked = record(cuts(stream, size).map((bytes) => ({ side: 'client' as const, bytes })));
      expect(diff(stream, masked.client), `chunks of ${size}`).toEqual([[pwAt, v311Connect.length]]);
      expect(masked.client.subarray(pwAt, v311Connect.length).every((b) => b === MASK_BYTE)).toBe(true);
    }
    const decoded = decodeBuffer(record([{ side: 'client', bytes: stream }]).client, '3.1.1', {
      payload: 'text',
      payloadMax: 64,
      showSecrets: true,
    });
    expect(decoded.records[0]).toMatchObject({ type: 'CONNECT', password: { text: '*********' } });
    expect(decoded.records[1]).toMatchObject({ type: 'PUBLISH', payload: { preview: 'password' } });
  });

  it('does not copy chunks without secrets and stops scanning a 3.x connection after its CONNECT', () => {
    const loc = secretLocators();
    expect(loc.client.scan(v311Connect)).toEqual([v311Connect.length - 9, v311Connect.length]);
    expect(loc.client.scan(publish)).toBeUndefined();
    expect(loc.client.done).toBe(true);
    expect(loc.broker.scan(hex`20 02 00 00`)).toBeUndefined();
    expect(loc.broker.done).toBe(true);
  });

  it('5.0: password and Authentication Data in CONNECT, CONNACK and AUTH (both directions)', () => {
    const connect = gen(
      {
        cmd: 'connect',
        protocolId: 'MQTT',
        protocolVersion: 5,
        clientId: 'c5',
        clean: true,
        keepalive: 60,
        username: 'bob',
        password: Buffer.from('pw5'),
        properties: {
          sessionExpiryInterval: 10,
          authenticationMethod: 'SCRAM-SHA-1',
          authenticationData: Buffer.from('client-first'),
          userProperties: { k: 'v' },
        },
        will: {
          topic: 'w',
          payload: Buffer.from('bye'),
          qos: 0,
          retain: false,
          properties: { willDelayInterval: 5, contentType: 'text/plain' },
        },
      },
      5,
    );
    const auth = (data: string): Buffer =>
      gen(
        {
          cmd: 'auth',
          reasonCode: 0x18,
          properties: { authenticationMethod: 'SCRAM-SHA-1', authenticationData: Buffer.from(data) },
        },
        5,
      );
    const connack = gen(
      {
        cmd: 'connack',
        sessionPresent: false,
        reasonCode: 0,
        properties: {
          authenticationMethod: 'SCRAM-SHA-1',
          authenticationData: Buffer.from('server-final'),
          topicAliasMaximum: 10,
        },
      },
      5,
    );
    const clientStream = Buffer.concat([connect, auth('client-final'), publish]);
    const brokerStream = Buffer.concat([auth('server-first'), connack, hex`e0 00`]);
    for (const size of [1, 2, 3, 7, 1000]) {
      const chunks: { side: Side; bytes: Buffer }[] = [];
      const c = cuts(clientStream, size);
      const b = cuts(brokerStream, size);
      for (let i = 0; i < Math.max(c.length, b.length); i++) {
        if (c[i] !== undefined) chunks.push({ side: 'client', bytes: c[i]! });
        if (b[i] !== undefined) chunks.push({ side: 'broker', bytes: b[i]! });
      }
      const masked = record(chunks);
      const opts = { payload: 'text' as const, payloadMax: 64, showSecrets: true };
      const cr = decodeBuffer(masked.client, '5.0', opts).records;
      expect(cr.map((r) => r.type)).toEqual(['CONNECT', 'AUTH', 'PUBLISH']);
      expect(cr[0]).toMatchObject({
        clientId: 'c5',
        username: 'bob',
        password: { text: '***' },
        properties: { authenticationMethod: 'SCRAM-SHA-1', authenticationData: { text: '************' } },
        will: { topic: 'w', payload: { preview: 'bye' } },
      });
      expect(cr[1]).toMatchObject({ properties: { authenticationData: { text: '************' } } });
      const br = decodeBuffer(masked.broker, '5.0', opts).records;
      expect(br.map((r) => r.type)).toEqual(['AUTH', 'CONNACK', 'DISCONNECT']);
      expect(br[0]).toMatchObject({ properties: { authenticationData: { text: '************' } } });
      expect(br[1]).toMatchObject({
        properties: { authenticationData: { text: '************' }, topicAliasMaximum: 10 },
      });
      // Nothing but the secrets changed.
      const changed = diff(clientStream, masked.client).reduce((n, [s, e]) => n + e - s, 0);
      expect(changed).toBe(3 + 12 + 12);
    }
  });

  it('3.1 (MQIsdp) CONNECT with a password', () => {
    const connect = gen(
      {
        cmd: 'connect',
        protocolId: 'MQIsdp',
        protocolVersion: 3,
        clientId: 'old',
        clean: true,
        keepalive: 10,
        username: 'u',
        password: Buffer.from('pw31'),
      },
      4,
    );
    const masked = record(cuts(connect, 3).map((bytes) => ({ side: 'client' as const, bytes })));
    const v: ProtocolVersion = '3.1';
    expect(
      decodeBuffer(masked.client, v, { payload: 'none', payloadMax: 0, showSecrets: true }).records[0],
    ).toMatchObject({ protocolLevel: 3, password: { text: '****' } });
  });

  it('a stream that is not MQTT (TLS) is left alone', () => {
    const loc = secretLocators();
    expect(loc.client.scan(hex`16 03 01 02 00 01 00 01 fc 03 03`)).toBeUndefined();
    expect(loc.client.done).toBe(true);
  });

  it('a malformed CONNECT (password length past the packet) masks only up to the packet end', () => {
    // CONNECT, Remaining Length 20: "MQTT" 4, flags 0xC2, keepalive, client id "a", user "u", password claims 9.
    const bad = hex`10 14 00 04 4d 51 54 54 04 c2 00 0a 00 01 61 00 01 75 00 09 70 77`;
    const next = hex`c0 00`;
    const masked = record([{ side: 'client', bytes: Buffer.concat([bad, next]) }]);
    expect(diff(Buffer.concat([bad, next]), masked.client)).toEqual([[20, 22]]);
  });
});
