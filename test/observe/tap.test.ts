import { describe, expect, it } from 'vitest';
import type { CloseInfo, OpenInfo } from '../../src/observe/observer.js';
import { createTap } from '../../src/observe/tap.js';
import { DEFAULT_TAP_OPTIONS, type TapOptions } from '../../src/observe/tap-options.js';
import { createCollectSink } from '../helpers/collect-sink.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

const OPEN: OpenInfo = {
  conn: 'c1',
  client: { address: '127.0.0.1', port: 50000 },
  local: { address: '127.0.0.1', port: 1884 },
  upstream: '127.0.0.1:1883',
  transport: 'tcp',
  startedAt: 0,
};
const CLOSE: CloseInfo = { closedBy: 'client', durationMs: 12, bytes: { fromClient: 0, fromBroker: 0 } };

function tap(opts: Partial<TapOptions> = {}, level: 'trace' | 'info' | 'warn' = 'trace') {
  const sink = createCollectSink(level);
  let clock = 1000;
  const conn = createTap(sink, { ...DEFAULT_TAP_OPTIONS, now: () => clock, ...opts }).open(OPEN);
  return {
    sink,
    conn,
    at(ms: number) {
      clock = ms;
    },
    packets: () => sink.events('packet').map((r) => r.record),
  };
}

// 3.1.1 CONNECT, client id "dev1", user "user1", password "wrong_pass"
const CONNECT_311 = '10 23 0004 4d515454 04 c2 003c 0004 64657631 0005 7573657231 000a 77726f6e675f70617373';

describe('tap: timings', () => {
  it('times requests by when chunks arrived when the caller says so, not when it decodes them', () => {
    // A deferred observer (observe/deferred-observer.ts) shows chunks later than they arrived.
    const t = tap();
    t.at(50_000);
    t.conn.data('client', hex(CONNECT_311), 1000);
    t.conn.data('broker', hex('20 02 00 00'), 1012);
    expect(t.sink.events('packet')[1]!.msg).toBe('CONNACK 0x00 Connection Accepted (12 ms)');
  });
});

describe('tap: the wrong-password experiment of the reference article', () => {
  it('annotates a 3.1.1 CONNACK return code 4 with its name and description, redacts the password', () => {
    const t = tap();
    t.conn.data('client', hex(CONNECT_311));
    t.at(1007);
    t.conn.data('broker', hex('20 02 00 04'));
    const [connect, connack] = t.sink.events('packet');
    expect(connect!.record).toMatchObject({
      event: 'packet',
      conn: 'c1',
      from: 'client',
      type: 'CONNECT',
      protocol: '3.1.1',
      clientId: 'dev1',
      username: 'user1',
      password: { length: 10, redacted: true },
    });
    expect(JSON.stringify(connect!.record)).not.toContain('wrong_pass');
    expect(connack!.level).toBe('warn');
    expect(connack!.msg).toBe('CONNACK 0x04 Connection Refused, bad user name or password (7 ms)');
    expect(connack!.record).toMatchObject({
      from: 'broker',
      clientId: 'dev1',
      username: 'user1',
      type: 'CONNACK',
      ms: 7,
      reason: {
        code: 4,
        hex: '0x04',
        name: 'Connection Refused, bad user name or password',
        description: 'The data in the user name or password is malformed',
        error: true,
      },
    });
  });

  it('shows the password with showSecrets', () => {
    const t = tap({ showSecrets: true });
    t.conn.data('client', hex(CONNECT_311));
    expect(t.packets()[0]!.password).toEqual({ length: 10, text: 'wrong_pass' });
  });

  it('decodes broker packets with the version of the CONNECT: 5.0 CONNACK 0x86', () => {
    const t = tap();
    t.conn.data('client', hex('10 10 0004 4d515454 05 02 003c 00 0003 616263'));
    t.conn.data('broker', hex('20 03 00 86 00'));
    expect(t.sink.events('packet')[1]!.msg).toBe('CONNACK 0x86 Bad User Name or Password (0 ms)');
  });
});

describe('tap: correlation', () => {
  const CONNECT_5 = '10 10 0004 4d515454 05 02 003c 00 0003 616263';
  const CONNACK_5 = '20 03 00 00 00';
  it('SUBACK a/# → 0x87 Not authorized, paired with the filter', () => {
    const t = tap();
    t.conn.data('client', hex(CONNECT_5));
    t.conn.data('broker', hex(CONNACK_5));
    t.conn.data('client', hex('82 09 0001 00 0003 612f23 01'));
    t.at(1005);
    t.conn.data('broker', hex('90 04 0001 00 87'));
    const suback = t.sink.events('packet').at(-1)!;
    expect(suback.msg).toBe('SUBACK a/# → 0x87 Not authorized (5 ms)');
    expect(suback.level).toBe('warn');
    expect(suback.record.reasons).toEqual([
      {
        filter: 'a/#',
        code: 0x87,
        hex: '0x87',
        name: 'Not authorized',
        description: 'The Client is not authorized to make this subscription.',
        error: true,
      },
    ]);
  });

  it('PUBACK carries the topic of the PUBLISH it answers and the time since it', () => {
    const t = tap();
    t.conn.data('client', hex(CONNECT_5));
    t.conn.data('broker', hex(CONNACK_5));
    t.conn.data('client', hex('32 0a 0003 612f62 0007 00 6869'));
    t.at(1003);
    t.conn.data('broker', hex('40 04 0007 87 00'));
    const puback = t.sink.events('packet').at(-1)!;
    expect(puback.record).toMatchObject({ type: 'PUBACK', packetId: 7, request: { topic: 'a/b', ms: 3 } });
    expect(puback.record.reason).toMatchObject({ code: 0x87, name: 'Not authorized' });
  });

  it('resolves MQTT 5 topic aliases from the alias map', () => {
    const t = tap();
    t.conn.data('client', hex(CONNECT_5));
    t.conn.data('broker', hex(CONNACK_5));
    t.conn.data('client', hex('30 0b 0003 612f62 03 23 0005 6869')); // sets alias 5 = a/b
    t.conn.data('client', hex('30 08 0000 03 23 0005 6869')); // uses alias 5
    const last = t.packets().at(-1)!;
    expect(last).toMatchObject({ topic: 'a/b', topicAlias: 5 });
  });
});

describe('tap: malformed and non-MQTT input', () => {
  it('reports a TLS ClientHello on a plain listener as not-mqtt with a hint', () => {
    const t = tap();
    t.conn.data('client', hex('16 03 01 02 00 01 00 01 fc 03 03'));
    const [rec] = t.sink.events('not-mqtt');
    expect(rec!.level).toBe('error');
    expect(rec!.record).toMatchObject({ from: 'client', looksLike: 'tls', offset: 0 });
    expect(rec!.msg).toContain(
      'TLS ClientHello received on a plain MQTT listener: is the client using mqtts?',
    );
    expect(t.sink.events('packet')).toHaveLength(0);
  });

  it('reports a packet cut short by the end of the stream in the close record and a malformed record', () => {
    const t = tap();
    t.conn.data('client', hex(CONNECT_311).subarray(0, 10));
    t.conn.close(CLOSE);
    expect(t.sink.events('malformed')[0]!.record).toMatchObject({
      kind: 'truncated',
      code: 'MQTT_STREAM_ENDED_MID_PACKET',
    });
    expect(t.sink.events('close')[0]!.record).toMatchObject({
      closedBy: 'client',
      malformed: 1,
      clean: false,
    });
  });
});

describe('tap: levels and selection', () => {
  it('logs PINGREQ/PINGRESP at debug only', () => {
    const t = tap({}, 'info');
    t.conn.data('client', hex(CONNECT_311));
    t.conn.data('client', hex('c0 00'));
    t.conn.data('broker', hex('d0 00'));
    expect(t.packets().map((p) => p.type)).toEqual(['CONNECT']);
  });

  it('--client-id selects connections by glob; connection records are always written', () => {
    const t = tap({ clientId: 'sensor-*' });
    t.conn.data('client', hex(CONNECT_311));
    t.conn.close(CLOSE);
    expect(t.sink.events('packet')).toHaveLength(0);
    expect(t.sink.events('open')).toHaveLength(1);
    expect(t.sink.events('close')[0]!.record).toMatchObject({ clientId: 'dev1', types: { CONNECT: 1 } });
  });

  it('--topic selects PUBLISH traffic by MQTT filter', () => {
    const t = tap({ topic: 'a/+' });
    t.conn.data('client', hex(CONNECT_311));
    t.conn.data('client', hex('30 07 0003 612f62 6869 30 07 0003 782f79 6869'));
    expect(
      t
        .packets()
        .filter((p) => p.type === 'PUBLISH')
        .map((p) => p.topic),
    ).toEqual(['a/b']);
  });

  it('a clean DISCONNECT from the client makes a clean close', () => {
    const t = tap();
    t.conn.data('client', hex(CONNECT_311));
    t.conn.data('broker', hex('20 02 00 00'));
    t.conn.data('client', hex('e0 00'));
    t.conn.close(CLOSE);
    const close = t.sink.events('close')[0]!.record;
    expect(close).toMatchObject({ clean: true, packets: { fromClient: 2, fromBroker: 1 } });
    // 3.1.1 DISCONNECT has no reason code: none is made up.
    expect(close.lastReason).toEqual({ type: 'DISCONNECT', from: 'client' });
  });

  it('adds what other observers add to the close record (bytes the recorder dropped)', () => {
    const t = tap();
    t.conn.close({ ...CLOSE, fields: { recordDroppedBytes: 42 } });
    expect(t.sink.events('close')[0]!.record).toMatchObject({ recordDroppedBytes: 42 });
  });
});

describe('tap: rules that depend on the sender', () => {
  // 5.0 CONNECT, client id "c"
  const CONNECT_5 = '10 0e 0004 4d515454 05 02 003c 00 0001 63';

  it("cites a Server's PUBLISH with Packet Identifier 0 as [MQTT-2.2.1-4], a Client's Subscription Identifier as [MQTT-3.3.4-6]", () => {
    const t = tap();
    t.conn.data('client', hex(CONNECT_5));
    t.conn.data('broker', hex('20 03 00 00 00'));
    // QoS 1 PUBLISH "t", Packet Identifier 0, no properties
    t.conn.data('broker', hex('32 06 0001 74 0000 00'));
    // QoS 0 PUBLISH "t" with Subscription Identifier 1
    t.conn.data('client', hex('30 06 0001 74 02 0b 01'));
    const [, , fromBroker, fromClient] = t.packets();
    expect(fromBroker).toMatchObject({
      from: 'broker',
      violations: [{ code: 'MQTT_PACKET_ID_ZERO', rule: 'MQTT-2.2.1-4' }],
    });
    expect(fromClient).toMatchObject({
      from: 'client',
      violations: [{ code: 'MQTT_PROPERTY_NOT_ALLOWED', rule: 'MQTT-3.3.4-6' }],
    });
  });
});

describe('tap: memory of a large PUBLISH', () => {
  // 3.1.1 and 5.0 CONNECTs, client id "c"
  const CONNECT_311_C = '10 0d 0004 4d515454 04 02 003c 0001 63';
  const CONNECT_5 = '10 0e 0004 4d515454 05 02 003c 00 0001 63';
  /** A QoS 0 PUBLISH "t" with a 50,000-byte payload ('a'), with a Property Length in 5.0. */
  const bigPublish = (v5: boolean): Buffer => {
    const body = 3 + (v5 ? 1 : 0) + 50_000;
    return Buffer.concat([
      hex(
        `30 ${((body & 0x7f) | 0x80).toString(16)} ${(((body >> 7) & 0x7f) | 0x80).toString(16)} ${(body >> 14).toString(16).padStart(2, '0')} 0001 74`,
      ),
      v5 ? hex('00') : Buffer.alloc(0),
      Buffer.alloc(50_000, 0x61),
    ]);
  };

  it.each([
    ['3.1.1', CONNECT_311_C, false, {}, 256],
    ['5.0', CONNECT_5, true, {}, 256],
    ['5.0, --payload-max 16', CONNECT_5, true, { payloadMax: 16 }, 16],
    ['3.1.1, --payload none', CONNECT_311_C, false, { payload: 'none' as const }, 0],
  ])('%s: the body past the payload preview is only counted, not kept', (_name, connect, v5, opts, keep) => {
    const t = tap(opts);
    t.conn.data('client', hex(connect));
    const bytes = bigPublish(v5);
    const header = 4 + 3 + (v5 ? 1 : 0);
    t.conn.data('client', bytes.subarray(0, 2000));
    // Everything after the kept bytes, but the last byte, which completes the frame.
    expect(t.conn.countOnly!('client')).toBe(bytes.length - 2000 - 1);
    t.conn.data('client', bytes.subarray(2000));
    const record = t.packets()[1]!;
    expect(record).toMatchObject({ type: 'PUBLISH', topic: 't', payload: { length: 50_000 } });
    expect(record).not.toHaveProperty('truncated');
    const preview = (record.payload as { preview?: string }).preview ?? '';
    expect(preview).toBe('a'.repeat(keep));
    expect(header + keep).toBeLessThan(2000);
  });
});
