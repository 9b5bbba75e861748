import mqttPacket from 'mqtt-packet';
import { describe, expect, it } from 'vitest';
import type { ProtocolVersion } from '../../src/protocol/constants.js';
import type { Direction } from '../../src/protocol/direction.js';
import { MASK_BYTE, maskRanges, secretLocators } from '../../src/protocol/secret-mask.js';
import { decodeBuffer } from '../../src/record/decode-buffer.js';
import { hex } from '../helpers/hex.js';

/** Runs the locators over `chunks` of one side and returns the recorded (masked) stream. */
function record(chunks: { side: Direction; bytes: Buffer }[]): Record<Direction, Buffer> {
  const loc = secretLocators();
  const out: Record<Direction, Buffer[]> = { client: [], broker: [] };
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

  it('does not copy chunks without secrets; a 3.x broker stream is not scanned', () => {
    const loc = secretLocators();
    expect(loc.client.scan(v311Connect)).toEqual([v311Connect.length - 9, v311Connect.length]);
    expect(loc.client.scan(publish)).toBeUndefined();
    // A client may send another CONNECT (or an AUTH) at any time: its stream is scanned to the end.
    expect(loc.client.done).toBe(false);
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
          userProperties: { k: 'v' },
          authenticationMethod: 'SCRAM-SHA-1',
          authenticationData: Buffer.from('client-first'),
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
          topicAliasMaximum: 10,
          authenticationMethod: 'SCRAM-SHA-1',
          authenticationData: Buffer.from('server-final'),
        },
      },
      5,
    );
    const clientStream = Buffer.concat([connect, auth('client-final'), publish]);
    const brokerStream = Buffer.concat([auth('server-first'), connack, hex`e0 00`]);
    for (const size of [1, 2, 3, 7, 1000]) {
      const chunks: { side: Direction; bytes: Buffer }[] = [];
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

  it('properties after Authentication Data are masked: its length may have been short', () => {
    const connack = hex`20 0f 00 00 0c 16 00 02 78 78 22 00 0a 15 00 01 53`;
    expect(secretLocators().broker.scan(connack)).toEqual([8, connack.length]);
  });

  it('a stream that is not MQTT: TLS and SSH are left alone, the rest is masked after its first 12 bytes', () => {
    const tls = secretLocators();
    expect(tls.client.scan(hex`16 03 01 02 00 01 00 01 fc 03 03 5f 11 22 33 44`)).toBeUndefined();
    expect(tls.client.done).toBe(true);
    const ssh = secretLocators();
    expect(ssh.client.scan(Buffer.from('SSH-2.0-OpenSSH_9.6\r\n'))).toBeUndefined();
    expect(ssh.client.done).toBe(true);
    // A PROXY header before a CONNECT: the log shows the first 12 bytes; so does the recording.
    const behindProxy = Buffer.concat([
      Buffer.from('PROXY TCP4 10.0.0.1 10.0.0.2 40000 1883\r\n'),
      v311Connect,
    ]);
    const proxied = secretLocators();
    expect(proxied.client.scan(behindProxy.subarray(0, 5))).toBeUndefined();
    expect(proxied.client.scan(behindProxy.subarray(5))).toEqual([7, behindProxy.length - 5]);
    expect(proxied.client.opaqueFrom).toBe(12);
  });
});

describe('secret masking where lengths lie', () => {
  const PASSWORD = Buffer.from('s3cretPassw0rd');
  const connect = hex`10 20 00 04 4d 51 54 54 04 c2 00 3c 00 01 64 00 01 75 00 0e ${PASSWORD}`;
  const after = hex`c0 00 e0 00`;

  function masked(stream: Buffer, size = stream.length) {
    const loc = secretLocators();
    const out = record(cuts(stream, size).map((bytes) => ({ side: 'client' as const, bytes }))).client;
    for (const bytes of cuts(stream, size)) loc.client.scan(bytes);
    return { out, changed: diff(stream, out), loc: loc.client };
  }

  it('a Remaining Length that ends inside the password: the rest of the frame and all after it', () => {
    const stream = Buffer.concat([hex`10 14 ${connect.subarray(2)}`, after]);
    for (const size of [1, 2, 5, stream.length]) {
      const m = masked(stream, size);
      expect(m.changed, `chunks of ${size}`).toEqual([[20, stream.length]]);
      expect(m.loc.opaqueFrom).toBe(22);
      expect(m.loc.maskedUpTo).toBe(stream.length);
    }
  });

  it('a Remaining Length that ends before the user name: masked from the user name on', () => {
    const stream = Buffer.concat([hex`10 10 ${connect.subarray(2)}`, after]);
    expect(masked(stream).changed).toEqual([[18, stream.length]]);
  });

  it('a Password Flag that is clear: the bytes left over, and all after them', () => {
    const stream = Buffer.concat([hex`10 20 00 04 4d 51 54 54 04 82 00 3c ${connect.subarray(12)}`, after]);
    for (const size of [1, 3, stream.length]) {
      const m = masked(stream, size);
      expect(m.changed, `chunks of ${size}`).toEqual([[18, stream.length]]);
      expect(m.loc.opaqueFrom).toBe(34);
    }
  });

  it('the same with a Remaining Length two bytes short: the rest of the password is not shown', () => {
    // Left over: "00 0e" and 12 bytes of the password; its last 2 bytes frame as a packet.
    const stream = hex`10 1e 00 04 4d 51 54 54 04 82 00 3c ${connect.subarray(12)}`;
    expect(masked(stream).changed).toEqual([[18, stream.length]]);
  });

  it('a password sent after a CONNECT whose flags and length leave it out: masked from there on', () => {
    // Flags 0x82 (no password), Remaining Length 16 (ends with the user name), then "00 0e password".
    const stream = Buffer.concat([hex`10 10 00 04 4d 51 54 54 04 82 00 3c ${connect.subarray(12)}`, after]);
    for (const size of [1, 4, stream.length]) {
      expect(masked(stream, size).changed, `chunks of ${size}`).toEqual([[18, stream.length]]);
    }
  });

  it('a stream that stops framing later, after other packets, is not masked', () => {
    const stream = Buffer.concat([connect, hex`c0 00`, hex`00 0e 61 62 63 64`]);
    expect(masked(stream).changed).toEqual([[20, 34]]);
  });

  it('a password length longer than the packet: from the password on, and all after it', () => {
    // CONNECT, Remaining Length 20: "MQTT" 4, flags 0xC2, keepalive, client id "a", user "u", password claims 9.
    const bad = hex`10 14 00 04 4d 51 54 54 04 c2 00 0a 00 01 61 00 01 75 00 09 70 77`;
    expect(masked(Buffer.concat([bad, hex`c0 00`])).changed).toEqual([[20, 24]]);
  });

  it('a password length shorter than the password: the rest of the frame, and all after it', () => {
    const stream = Buffer.concat([hex`10 20 ${connect.subarray(2, 18)} 00 04 ${PASSWORD}`, after]);
    expect(masked(stream).changed).toEqual([[20, stream.length]]);
  });

  it('5.0: an unknown property: from it to the end of the frame', () => {
    const c5 = hex`10 16 00 04 4d 51 54 54 05 c2 00 3c 03 63 72 65 00 01 64 00 01 75 00 00`;
    expect(masked(Buffer.concat([c5, after])).changed).toEqual([[14, 28]]);
  });

  it('a CONNECT or AUTH later in the stream, and in several chunks, is found too', () => {
    const first = hex`10 0d 00 04 4d 51 54 54 04 02 00 3c 00 01 61`;
    const publish = hex`30 07 00 03 61 2f 62 68 69`;
    const stream = Buffer.concat([first, hex`c0 00`, publish, connect, after]);
    const at = first.length + 2 + publish.length;
    for (const size of [1, 7, stream.length]) {
      expect(masked(stream, size).changed, `chunks of ${size}`).toEqual([[at + 20, at + 34]]);
    }
  });
});
