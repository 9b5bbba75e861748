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

/**
 * What a recording masks of a CONNECT's fields after Keep Alive (from `from`) when chunks of `size`
 * end before the byte at `resolvedAt`, whose reading tells that its lengths add up: the bytes up to
 * the last chunk end before it (they are written before that is known). [] when none.
 */
function provisional(from: number, resolvedAt: number, size: number): [number, number][] {
  const end = Math.floor(resolvedAt / size) * size;
  return end > from ? [[from, end]] : [];
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

  it('3.1.1 CONNECT: the password bytes become *, and the fields before it where a chunk ends before they are known to add up', () => {
    const stream = Buffer.concat([v311Connect, publish]);
    const pwAt = v311Connect.length - 's3cr3t-pw'.length;
    for (let size = 1; size <= stream.length; size++) {
      const masked = record(cuts(stream, size).map((bytes) => ({ side: 'client' as const, bytes })));
      expect(diff(stream, masked.client), `chunks of ${size}`).toEqual([
        ...provisional(12, pwAt - 1, size),
        [pwAt, v311Connect.length],
      ]);
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
      const secrets = [Buffer.from('pw5'), Buffer.from('client-first'), Buffer.from('client-final')];
      for (const secret of secrets) expect(masked.client.indexOf(secret)).toBe(-1);
      expect(masked.broker.indexOf(Buffer.from('server-first'))).toBe(-1);
      expect(masked.broker.indexOf(Buffer.from('server-final'))).toBe(-1);
      // Split: the fields written before the CONNECT was known to add up are masked too.
      if (size < clientStream.length) continue;
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
    const v: ProtocolVersion = '3.1';
    const whole = record([{ side: 'client', bytes: connect }]).client;
    expect(
      decodeBuffer(whole, v, { payload: 'none', payloadMax: 0, showSecrets: true }).records[0],
    ).toMatchObject({ protocolLevel: 3, password: { text: '****' } });
    expect(diff(connect, whole)).toEqual([[connect.length - 4, connect.length]]);
    // In chunks of 3, the fields after Keep Alive (at 14) are written before they are known to add up.
    const split = record(cuts(connect, 3).map((bytes) => ({ side: 'client' as const, bytes }))).client;
    expect(diff(connect, split)).toEqual([
      [14, 21],
      [connect.length - 4, connect.length],
    ]);
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

  // The fields before the password may hold some of it: from the first one after Keep Alive (12).
  it('a Remaining Length that ends inside the password: the fields after Keep Alive and all after them', () => {
    const stream = Buffer.concat([hex`10 14 ${connect.subarray(2)}`, after]);
    for (const size of [1, 2, 5, stream.length]) {
      const m = masked(stream, size);
      expect(m.changed, `chunks of ${size}`).toEqual([[12, stream.length]]);
      expect(m.loc.opaqueFrom).toBe(22);
      expect(m.loc.maskedUpTo).toBe(stream.length);
    }
  });

  it('a Remaining Length that ends before the user name: masked from the client id on', () => {
    const stream = Buffer.concat([hex`10 10 ${connect.subarray(2)}`, after]);
    expect(masked(stream).changed).toEqual([[12, stream.length]]);
  });

  it('a Password Flag that is clear: the bytes left over, and all after them', () => {
    const stream = Buffer.concat([hex`10 20 00 04 4d 51 54 54 04 82 00 3c ${connect.subarray(12)}`, after]);
    for (const size of [1, 3, stream.length]) {
      const m = masked(stream, size);
      expect(m.changed, `chunks of ${size}`).toEqual([[12, stream.length]]);
      expect(m.loc.opaqueFrom).toBe(34);
    }
  });

  it('the same with a Remaining Length two bytes short: the rest of the password is not shown', () => {
    // Left over: "00 0e" and 12 bytes of the password; its last 2 bytes frame as a packet.
    const stream = hex`10 1e 00 04 4d 51 54 54 04 82 00 3c ${connect.subarray(12)}`;
    expect(masked(stream).changed).toEqual([[12, stream.length]]);
  });

  it('a password sent after a CONNECT whose flags and length leave it out: masked from there on', () => {
    // Flags 0x82 (no password), Remaining Length 16 (ends with the user name), then "00 0e password".
    const stream = Buffer.concat([hex`10 10 00 04 4d 51 54 54 04 82 00 3c ${connect.subarray(12)}`, after]);
    for (const size of [1, 4, stream.length]) {
      expect(masked(stream, size).changed, `chunks of ${size}`).toEqual([
        ...provisional(12, 17, size),
        [18, stream.length],
      ]);
    }
  });

  it('a stream that stops framing later, after other packets, is not masked', () => {
    const stream = Buffer.concat([connect, hex`c0 00`, hex`00 0e 61 62 63 64`]);
    expect(masked(stream).changed).toEqual([[20, 34]]);
  });

  it('a password length longer than the packet: from the client id on, and all after it', () => {
    // CONNECT, Remaining Length 20: "MQTT" 4, flags 0xC2, keepalive, client id "a", user "u", password claims 9.
    const bad = hex`10 14 00 04 4d 51 54 54 04 c2 00 0a 00 01 61 00 01 75 00 09 70 77`;
    expect(masked(Buffer.concat([bad, hex`c0 00`])).changed).toEqual([[12, 24]]);
  });

  it('a password length shorter than the password: from the client id, and all after it', () => {
    const stream = Buffer.concat([hex`10 20 ${connect.subarray(2, 18)} 00 04 ${PASSWORD}`, after]);
    expect(masked(stream).changed).toEqual([[12, stream.length]]);
  });

  it('5.0: an unknown property: from the properties to the end of the frame', () => {
    const c5 = hex`10 16 00 04 4d 51 54 54 05 c2 00 3c 03 63 72 65 00 01 64 00 01 75 00 00`;
    expect(masked(Buffer.concat([c5, after])).changed).toEqual([[12, 28]]);
  });

  it('a CONNECT or AUTH later in the stream, and in several chunks, is found too', () => {
    const first = hex`10 0d 00 04 4d 51 54 54 04 02 00 3c 00 01 61`;
    const publish = hex`30 07 00 03 61 2f 62 68 69`;
    const stream = Buffer.concat([first, hex`c0 00`, publish, connect, after]);
    const at = first.length + 2 + publish.length;
    for (const size of [1, 7, stream.length]) {
      expect(masked(stream, size).changed, `chunks of ${size}`).toEqual([
        ...provisional(12, 14, size),
        ...provisional(at + 12, at + 19, size),
        [at + 20, at + 34],
      ]);
    }
  });
});

/**
 * CONNECTs of the soak (seed 0c0ffee1) whose recording showed the first bytes of the password: a
 * length before it lies (client id, will, user name, protocol name) or the flags are inconsistent,
 * so a field that is shown swallows part of the password. The password is the frame's last bytes.
 */
describe('secret masking where a field before the password lies (soak vectors)', () => {
  const vectors: [string, string, number][] = [
    // name, frame, password bytes at its end
    [
      'will payload length swallows the password (h-323)',
      '103e00044d51545404c4001b0013736f616b2d757431656a3438636f70346e786400037730770018eca785ea83b5ecb08cea9faaeab4aaebbd97eab0abeba3a8',
      24,
    ],
    [
      'user name 17 bytes long, 9 sent (h-443)',
      '103500044d51545404c200440007736f616b2d79320011787663786e626e777a0015ea988eea9395ec9ab1eaa596ec80abeabda5eaa2b9',
      21,
    ],
    [
      'protocol name length 0x24 (h-624)',
      '103300244d5154540440c69f0010736f616b2d66366370776b78383369720015eba6b7ea96adec948fea9e9dea9aaceca696ec9c82',
      21,
    ],
    [
      '3.1: user name length 20, 4 sent (h-1151)',
      '103700064d514973647003c20054000c736f616b2d3477376c6f703700146d6133780015ec8bb0ecbb98eba790eca3a6ea8c88ea8c88ea93a6',
      21,
    ],
    [
      '3.1: will flag without user name or password flags, will topic length 43 (h-1949)',
      '104800064d5149736470030e67fb000d736f616b2d736d726c7a397878002b64626e792f626764786170000432cea9d30018eb96abeca0b0ec8aa3ebb18eeb829fec82a6eca6a4eab58a',
      24,
    ],
    [
      '5.0: protocol name length 0x2a (h-2152)',
      '103d002a4d51545405c0004b0219020011736f616b2d32376b30636a6b7863386b6300073233787737776f0012eaa48deba48feb80b8ea909eec9694ebb18e',
      18,
    ],
    [
      '5.0: client id length 37, 14 sent (m-209)',
      '103c00044d51545405c20022000025736f616b2d3570677236306f6a35000b64326d78723036367278360012eca482ea97beebb29feca0a3eab19bec8589',
      18,
    ],
    [
      'will retain without will flag, user name length 260 (h-1468, its first 64 bytes)',
      '10ffffff7f00044d51545404e20030000001046731746c0012ecaf9becb687eb8888ebb0adec98b6eab7bd82638b710019366361316a782f3374716136792f7777362f6f',
      0,
    ],
  ];

  it.each(vectors)('%s: no 4 bytes of the password are shown, at any split', (_name, frameHex, pwLength) => {
    const frame = Buffer.from(frameHex, 'hex');
    // h-1468's password sits in the middle: the 18 bytes after its "00 12".
    const at = pwLength === 0 ? frame.indexOf(Buffer.from('0012ec', 'hex')) + 2 : frame.length - pwLength;
    const password = frame.subarray(at, pwLength === 0 ? at + 18 : frame.length);
    const stream = Buffer.concat([frame, hex`c0 00`]);
    for (let size = 1; size <= stream.length; size++) {
      const out = record(cuts(stream, size).map((bytes) => ({ side: 'client' as const, bytes }))).client;
      for (let i = 0; i + 4 <= password.length; i++) {
        expect(
          out.indexOf(password.subarray(i, i + 4)),
          `chunks of ${size}, password bytes ${i}-${i + 4}`,
        ).toBe(-1);
      }
    }
  });
});

describe('a string that ran over the next field (its lengths lie consistently)', () => {
  const DATA = Buffer.from('QXZJVKWqxzjvkw');

  it('5.0 AUTH: an Authentication Method holding a NUL is masked with the rest of its properties', () => {
    // The method's length (27) covers "16 00 0e" and 12 bytes of the data; the list and the frame end there.
    const connect = hex`10 0d 00 04 4d 51 54 54 05 02 00 3c 00 00 00`;
    const auth = Buffer.concat([hex`f0 20 18 1e 15 00 1b`, Buffer.from('OTHER-METHOD'), hex`16 00 0e`, DATA]);
    const stream = Buffer.concat([connect, auth, DATA.subarray(12), hex`c0 00`]);
    for (const size of [1, 5, stream.length]) {
      const out = record(cuts(stream, size).map((bytes) => ({ side: 'client' as const, bytes }))).client;
      for (let i = 0; i + 4 <= DATA.length; i++)
        expect(out.indexOf(DATA.subarray(i, i + 4)), `chunks of ${size}, bytes ${i}-${i + 4}`).toBe(-1);
    }
  });

  it('3.1.1 CONNECT: a user name holding a NUL, with lengths that add up, is masked', () => {
    // User name length 17 covers "u", "00 0e" and the password; a password length 0 follows.
    const connect = hex`10 22 00 04 4d 51 54 54 04 c2 00 3c 00 01 64 00 11 75 00 0e ${DATA} 00 00`;
    const out = record([{ side: 'client', bytes: connect }]).client;
    for (let i = 0; i + 4 <= 14; i++) expect(out.indexOf(DATA.subarray(i, i + 4))).toBe(-1);
  });
});
