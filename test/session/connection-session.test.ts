import { describe, expect, it } from 'vitest';
import type { Packet } from '../../src/protocol/types.js';
import { ConnectionSession } from '../../src/session/connection-session.js';

const base = { flags: 0, length: 0, offset: 0, violations: [] };
const v5 = { ...base, protocol: '5.0' as const };

describe('connection session', () => {
  it('learns the version and client id from CONNECT', () => {
    const s = new ConnectionSession();
    s.observe(
      'client',
      {
        type: 'CONNECT',
        ...v5,
        protocolName: 'MQTT',
        protocolLevel: 5,
        clean: true,
        keepAlive: 60,
        clientId: 'dev1',
        username: 'u',
      },
      0,
    );
    expect(s).toMatchObject({ version: '5.0', clientId: 'dev1', username: 'u' });
  });

  it('follows a QoS 2 flow in both directions: PUBREC, PUBREL and PUBCOMP answer the PUBLISH', () => {
    const s = new ConnectionSession('5.0');
    const pub: Packet = {
      type: 'PUBLISH',
      ...v5,
      dup: false,
      qos: 2,
      retain: false,
      topic: 't',
      packetId: 9,
      payload: { length: 0, data: Buffer.alloc(0) },
    };
    s.observe('broker', pub, 100);
    expect(s.observe('client', { type: 'PUBREC', ...v5, packetId: 9, code: 0 }, 101)).toEqual({
      request: { topic: 't', ms: 1 },
    });
    expect(s.observe('broker', { type: 'PUBREL', ...v5, packetId: 9, code: 0 }, 102)).toEqual({
      request: { topic: 't', ms: 2 },
    });
    expect(s.observe('client', { type: 'PUBCOMP', ...v5, packetId: 9, code: 0 }, 103)).toEqual({
      request: { topic: 't', ms: 3 },
    });
    // The flow is over: a late duplicate PUBCOMP answers nothing.
    expect(s.observe('client', { type: 'PUBCOMP', ...v5, packetId: 9, code: 0 }, 104)).toBeUndefined();
  });

  it('keeps in-flight state bounded', () => {
    const s = new ConnectionSession('5.0');
    for (let id = 1; id <= 65535; id++) {
      s.observe(
        'client',
        { type: 'SUBSCRIBE', ...v5, packetId: id, subscriptions: [{ filter: `t/${id}`, qos: 0 }] },
        0,
      );
    }
    // The oldest were forgotten, the newest are still paired.
    expect(s.observe('broker', { type: 'SUBACK', ...v5, packetId: 1, codes: [0] }, 1)).toBeUndefined();
    expect(s.observe('broker', { type: 'SUBACK', ...v5, packetId: 65535, codes: [0] }, 1)).toEqual({
      filters: ['t/65535'],
      ms: 1,
    });
  });

  it('times PINGRESP against the PINGREQ', () => {
    const s = new ConnectionSession();
    s.observe('client', { type: 'PINGREQ', ...base, protocol: '3.1.1' }, 10);
    expect(s.observe('broker', { type: 'PINGRESP', ...base, protocol: '3.1.1' }, 25)).toEqual({ ms: 15 });
  });
});
