/** The log never shows a password whose packet lies about its lengths, nor what is made of it. */
import { describe, expect, it } from 'vitest';
import type { CloseInfo, OpenInfo } from '../../src/observe/observer.js';
import { createTap } from '../../src/observe/tap.js';
import { DEFAULT_TAP_OPTIONS, type TapOptions } from '../../src/observe/tap-options.js';
import { type CollectedRecord, createCollectSink } from '../helpers/collect-sink.js';
import { hex } from '../helpers/hex.js';
import { findInText } from '../helpers/secret-finder.js';
import { CONNECT, DAMAGED_AUTH_DATA, FLAG_CLEAR, FLAG_CLEAR_SHORT, PASSWORD, SHORT } from './vectors.js';

const OPEN: OpenInfo = {
  conn: 'c1',
  client: { address: '127.0.0.1', port: 50000 },
  local: { address: '127.0.0.1', port: 1884 },
  upstream: '127.0.0.1:1883',
  transport: 'tcp',
  startedAt: 0,
};
const CLOSE: CloseInfo = { closedBy: 'client', durationMs: 1, bytes: { fromClient: 0, fromBroker: 0 } };

/** A User Name length (8) that runs past "u" into the password: the password length then lies too. */
const LONG_USERNAME = hex`10 20 00 04 4d 51 54 54 04 c2 00 3c 00 01 64 00 08 75 00 0e ${PASSWORD}`;
/** A Client Identifier length (12) that swallows the user name and the start of the password. */
const LONG_CLIENT_ID = hex`10 20 00 04 4d 51 54 54 04 c2 00 3c 00 0c 64 00 01 75 00 0e ${PASSWORD}`;

/** Everything the tap writes about `chunks` of client bytes, as NDJSON text. */
function logOf(chunks: Buffer[]): string {
  const sink = createCollectSink('trace');
  const conn = createTap(sink, DEFAULT_TAP_OPTIONS).open(OPEN);
  for (const chunk of chunks) conn.data('client', chunk);
  conn.close(CLOSE);
  return sink.records.map((r) => `${JSON.stringify(r.record)} ${r.msg}`).join('\n');
}

describe('secrets in the log: a CONNECT whose lengths lie', () => {
  it('Remaining Length ending inside the password: the rest of it is not shown as a "packet"', () => {
    const log = logOf([SHORT]);
    expect(findInText(log, PASSWORD)).toBeUndefined();
    expect(log).toContain('"hex":"withheld: may contain credentials"');
  });

  it('the same, one byte at a time and followed by garbage', () => {
    const stream = Buffer.concat([SHORT, hex`30 0a 00 03 61 2f 62 68 65 6c 6c 6f ff ff ff ff ff`]);
    const log = logOf([...stream].map((b) => Buffer.from([b])));
    expect(findInText(log, PASSWORD)).toBeUndefined();
  });

  it('Password Flag clear: the password is left over, then a packet', () => {
    const log = logOf([FLAG_CLEAR, hex`30 07 00 03 61 2f 62 68 69`]);
    expect(findInText(log, PASSWORD)).toBeUndefined();
  });

  it('Password Flag clear and a Remaining Length ending before the password', () => {
    const log = logOf([FLAG_CLEAR_SHORT]);
    expect(findInText(log, PASSWORD)).toBeUndefined();
  });

  it('a User Name length that runs into the password: no field shows what it swallowed', () => {
    const log = logOf([LONG_USERNAME, hex`c0 00`]);
    expect(findInText(log, PASSWORD)).toBeUndefined();
    expect(log).toContain('"content":"withheld: may contain credentials"');
  });

  it('a Client Identifier length that runs into the password: nor in the records after it', () => {
    const log = logOf([LONG_CLIENT_ID, hex`c0 00`]);
    expect(findInText(log, PASSWORD)).toBeUndefined();
  });

  it('a CONNECT cut short by the end of the stream', () => {
    const log = logOf([CONNECT.subarray(0, CONNECT.length - 3)]);
    expect(findInText(log, PASSWORD)).toBeUndefined();
  });

  it('Connect Flags the spec does not allow: the CONNECT is withheld, as the recording masks its fields', () => {
    // The reserved bit, then a will retain without a will: the lengths add up, the flags do not.
    for (const flags of [0xc3, 0xe2]) {
      const bad = Buffer.from(CONNECT);
      bad[9] = flags;
      const log = logOf([bad, hex`c0 00`]);
      expect(log).toContain('"content":"withheld: may contain credentials"');
      expect(log).not.toContain('"clientId":"d"');
      expect(log).not.toContain('"username":"u"');
      // The packet after it frames cleanly and is shown.
      expect(log).toContain('"type":"PINGREQ","protocol":"3.1.1","flags":0,"length":2,"offset":34} PINGREQ');
    }
  });

  it('a Protocol Level that is none of 3, 4, 5: the CONNECT and all after it are withheld', () => {
    const bad = Buffer.from(CONNECT);
    bad[8] = 6;
    const log = logOf([bad, hex`c0 00`]);
    expect(log).not.toContain('"clientId":"d"');
    expect(log).toContain('"type":"PINGREQ","protocol":"3.1.1","flags":0,"length":2,"offset":34,"content"');
  });

  it('5.0 AUTH whose property list does not add up: its properties are withheld', () => {
    const connect = hex`10 0d 00 04 4d 51 54 54 05 02 00 3c 00 00 00`;
    // Authentication Method length 0x0f runs over the Authentication Data; the list then ends inside a field.
    const auth = hex`f0 11 18 0f 15 00 0f 53 16 00 08 ${PASSWORD.subarray(0, 8)}`;
    const sink = createCollectSink('trace');
    const conn = createTap(sink, DEFAULT_TAP_OPTIONS).open(OPEN);
    conn.data('client', connect);
    conn.data('client', auth);
    conn.close(CLOSE);
    const record = sink.records.find((r) => r.record.type === 'AUTH')!.record;
    expect(record.properties).toBe('withheld: may contain credentials');
  });

  it('a CONNECT cut short whose fields were not known to add up: its excerpt is withheld', () => {
    // Will Retain without a will; a User Name length of 260 runs over the password (soak h-1468).
    const connect = hex`10 ff ff ff 7f 00 04 4d 51 54 54 04 e2 00 30 00 00 01 04 67 31 74 6c 00 0e ${PASSWORD}`;
    const log = logOf([connect]);
    expect(findInText(log, PASSWORD)).toBeUndefined();
    expect(log).toContain('"hex":"withheld: may contain credentials"');
  });

  it('a well-formed CONNECT is shown as before, its password redacted', () => {
    const log = logOf([CONNECT]);
    expect(findInText(log, PASSWORD)).toBeUndefined();
    expect(log).toContain('"clientId":"d"');
    expect(log).toContain('"username":"u"');
    expect(log).not.toContain('withheld');
  });
});

describe('what a record withholds, and what it keeps', () => {
  const WITHHELD = 'withheld: may contain credentials';

  function records(chunks: Buffer[], opts: Partial<TapOptions> = {}): CollectedRecord[] {
    const sink = createCollectSink('trace');
    const conn = createTap(sink, { ...DEFAULT_TAP_OPTIONS, ...opts }).open(OPEN);
    for (const chunk of chunks) conn.data('client', chunk);
    conn.data('broker', hex`20 02 00 05`);
    conn.close(CLOSE);
    return sink.records;
  }

  it('packets past a password that ran out of its CONNECT: their shape, never their content', () => {
    // The rest of the password frames as a PUBREL; then a PUBLISH and a CONNECT made of "its" bytes.
    const rest = hex`62 02 00 01 30 0a 00 03 61 2f 62 68 65 6c 6c 6f 10 0c 00 04 4d 51 54 54 04 02 00 3c 00 00`;
    const got = records([SHORT.subarray(0, 22), rest]);
    const packets = got.filter((r) => r.record.event === 'packet' && r.record.from === 'client');
    expect(packets.map((r) => r.record.type)).toEqual(['CONNECT', 'PUBREL', 'PUBLISH', 'CONNECT']);
    expect(packets[2]!.record).toEqual({
      event: 'packet',
      conn: 'c1',
      from: 'client',
      // A CONNECT whose lengths lie shows none of its strings: which one swallowed what is unknown.
      clientId: WITHHELD,
      type: 'PUBLISH',
      protocol: '3.1.1',
      flags: 0,
      length: 12,
      offset: 26,
      content: WITHHELD,
    });
    expect(packets[2]!.msg).toBe(`PUBLISH ${WITHHELD}`);
    // The session never sees them: the client id stays the (withheld) one of the real CONNECT.
    const close = got.find((r) => r.record.event === 'close')!.record;
    expect(close).toMatchObject({ clientId: WITHHELD, packets: { fromClient: 4 } });
    const connack = got.find((r) => r.record.type === 'CONNACK')!.record;
    expect(connack).toMatchObject({ clientId: WITHHELD });
    expect(connack).not.toHaveProperty('username');
  });

  it('violation details of those packets are withheld, their codes kept', () => {
    const got = records([SHORT.subarray(0, 22), hex`82 06 00 01 00 01 23 07`]);
    const sub = got.find((r) => r.record.type === 'SUBSCRIBE')!;
    const violations = sub.record.violations as { code: string; detail: string }[];
    expect(violations.length).toBeGreaterThan(0);
    for (const v of violations)
      expect(v).toMatchObject({ code: expect.stringMatching(/^MQTT_/), detail: WITHHELD });
    expect(JSON.stringify(sub.record)).not.toContain('"#');
  });

  it('5.0: properties read after an Authentication Data whose packet does not decode cleanly', () => {
    // AUTH data "pw" is said to be 2 bytes long; its real third byte 0x26 reads as a User Property.
    const connect = hex`10 0d 00 04 4d 51 54 54 05 02 00 3c 00 00 00`;
    const auth = hex`f0 10 18 0e 15 00 01 53 16 00 02 70 77 26 00 01 78 00`;
    const got = records([connect, auth]);
    const record = got.find((r) => r.record.type === 'AUTH')!.record;
    expect(record.properties).toBe(WITHHELD);
    expect(record.violations).toBeDefined();
  });

  it('5.0: a property the CONNECT does not allow, where an Authentication Data lost a bit of its identifier', () => {
    const { data: DATA, connect } = DAMAGED_AUTH_DATA;
    const got = records([connect]);
    const record = got.find((r) => r.record.type === 'CONNECT')!.record;
    expect(record.properties).toBe(WITHHELD);
    expect(record).toMatchObject({ clientId: 'd', username: 'u' });
    expect(record.violations).toContainEqual(expect.objectContaining({ code: 'MQTT_PROPERTY_NOT_ALLOWED' }));
    const log = got.map((r) => `${JSON.stringify(r.record)} ${r.msg}`).join('\n');
    expect(findInText(log, DATA)).toBeUndefined();
    expect(findInText(log, PASSWORD)).toBeUndefined();
  });

  it("5.0: a broker's records do not echo what a withheld CONNECT or AUTH declared", () => {
    const DATA = Buffer.from('QXZJVKWqxzjvkw');
    // The Authentication Method's length (30) swallows the Authentication Data that follows it.
    const props = Buffer.concat([hex`15 00 1e`, Buffer.from('SCRAM-SHA-256'), hex`16 00 0e`, DATA]);
    const connect = Buffer.concat([hex`10 31 00 04 4d 51 54 54 05 02 00 3c 2e`, props, hex`00 01 64`]);
    // An AUTH whose method (with the same lie) differs from the CONNECT's: its violation would quote it.
    const auth = Buffer.concat([hex`f0 20 18 1e 15 00 1b`, Buffer.from('OTHER-METHOD'), hex`16 00 0e`, DATA]);
    const got = records([connect, auth]);
    const log = got.map((r) => `${JSON.stringify(r.record)} ${r.msg}`).join('\n');
    expect(findInText(log, DATA)).toBeUndefined();
    // The CONNACK (no method) still says what is wrong, without quoting the CONNECT.
    expect(got.find((r) => r.record.type === 'CONNACK')).toBeDefined();
  });

  it("5.0: an AUTH whose properties are withheld: its violations' details are too", () => {
    const DATA = Buffer.from('QXZJVKWqxzjvkw');
    const method = Buffer.from('SCRAM-SHA-256');
    const connect = Buffer.concat([hex`10 1d 00 04 4d 51 54 54 05 02 00 3c 10 15 00 0d`, method, hex`00 00`]);
    // Its method's length (8) runs over the first 4 bytes of the data; the rest reads as data.
    const auth = Buffer.concat([
      hex`f0 1a 18 18 15 00 08 58 16 00 04`,
      DATA.subarray(0, 4),
      hex`16 00 0a`,
      DATA.subarray(4),
    ]);
    const got = records([connect, auth]);
    const record = got.find((r) => r.record.type === 'AUTH')!.record;
    expect(record.properties).toBe(WITHHELD);
    expect(record.violations).toContainEqual(expect.objectContaining({ code: 'MQTT_AUTH_METHOD_CHANGED' }));
    expect(findInText(JSON.stringify(record), DATA)).toBeUndefined();
  });

  it('5.0: an AUTH whose method ran over its data, lengths adding up: its properties are withheld', () => {
    const DATA = Buffer.from('QXZJVKWqxzjvkw');
    const connect = hex`10 0d 00 04 4d 51 54 54 05 02 00 3c 00 00 00`;
    const auth = Buffer.concat([hex`f0 20 18 1e 15 00 1b`, Buffer.from('OTHER-METHOD'), hex`16 00 0e`, DATA]);
    const record = records([connect, auth]).find((r) => r.record.type === 'AUTH')!.record;
    expect(record.properties).toBe(WITHHELD);
    expect(findInText(JSON.stringify(record), DATA)).toBeUndefined();
  });

  it('excerpts of bytes that frame normally are kept', () => {
    const got = records([CONNECT, hex`30 0a 00 03 61 2f 62`]);
    expect(got.find((r) => r.record.event === 'malformed')!.record.hex).toBe('30 0a 00 03 61 2f 62');
    const tls = records([hex`16 03 01 02 00 01 00 01 fc 03 03 aa bb`]);
    expect(tls.find((r) => r.record.event === 'not-mqtt')!.record.hex).toBe(
      '16 03 01 02 00 01 00 01 fc 03 03 aa',
    );
  });

  it('--show-secrets withholds nothing', () => {
    const log = records([SHORT, hex`c0 00`], { showSecrets: true })
      .map((r) => JSON.stringify(r.record))
      .join('\n');
    expect(log).not.toContain('withheld');
    expect(log).toContain('"hex":"63 72 65 74 50 61 73 73 77 30 72 64 c0 00"');
  });
});
