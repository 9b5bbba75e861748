/**
 * The tap puts a verdict on every close record, from what the session saw and what the tap itself
 * knows: malformed input, a failed dial, and `takenOverBy`, which the client-id registry sets on a
 * connection's tap when a later CONNECT carries its client id.
 */
import { describe, expect, it } from 'vitest';
import type { CloseInfo, ConnectionObserver, OpenInfo } from '../../src/observe/observer.js';
import { createTap } from '../../src/observe/tap.js';
import { DEFAULT_TAP_OPTIONS } from '../../src/observe/tap-options.js';
import type { TakenOverBy } from '../../src/session/verdict.js';
import { createCollectSink } from '../helpers/collect-sink.js';
import { connack, connect, pingreq, publish } from '../helpers/packets.js';

const OPEN: OpenInfo = {
  conn: 'c1',
  client: { address: '127.0.0.1', port: 50000 },
  local: { address: '127.0.0.1', port: 1884 },
  upstream: '127.0.0.1:1883',
  transport: 'tcp',
  startedAt: 1_000_000,
};

function tap(level: 'trace' | 'info' | 'warn' = 'trace') {
  const sink = createCollectSink(level);
  let now = OPEN.startedAt;
  const conn = createTap(sink, { ...DEFAULT_TAP_OPTIONS, now: () => now }).open(OPEN);
  const at = (ms: number): number => {
    now = OPEN.startedAt + ms;
    return now;
  };
  const close = (durationMs: number, closedBy: CloseInfo['closedBy'] = 'broker'): void => {
    at(durationMs);
    conn.close({ closedBy, durationMs, bytes: { fromClient: 0, fromBroker: 0 } });
  };
  const verdict = (): unknown => sink.events('close')[0]!.record.verdict;
  return { sink, conn, at, close, verdict };
}

const opened = (t: ReturnType<typeof tap>, keepAlive = 60): void => {
  t.conn.data('client', connect({ version: '3.1.1', clientId: 'dev1', keepAlive }), t.at(0));
  t.conn.data('broker', connack({ version: '3.1.1' }), t.at(3));
};

describe('tap: the verdict on the close record', () => {
  it('takenOverBy set by the registry, then the broker closes: SESSION_TAKEN_OVER naming the other connection', () => {
    const t = tap();
    opened(t);
    const by: TakenOverBy = {
      conn: 'c9',
      address: '10.1.2.3',
      port: 40001,
      username: 'bob',
      afterMs: 42_000,
    };
    (t.conn as ConnectionObserver & { takenOverBy?: TakenOverBy }).takenOverBy = by;
    t.close(42_010);
    const close = t.sink.events('close')[0]!.record;
    expect(close.verdict).toEqual({
      cause: 'SESSION_TAKEN_OVER',
      detail:
        'c9 from 10.1.2.3:40001 user "bob" connected with client id "dev1" 42 s after this connection opened',
      rule: 'MQTT-3.1.4-2',
      evidence: [
        { conn: 'c9', from: 'client', type: 'CONNECT', time: 1_042_000 },
        { conn: 'c1', type: 'close', time: 1_042_010 },
      ],
    });
    // The verdict comes last, after `clean`.
    expect(Object.keys(close).slice(-2)).toEqual(['clean', 'verdict']);
  });

  it('without takenOverBy the same close is the broker gone', () => {
    const t = tap();
    opened(t);
    t.close(42_010);
    expect(t.verdict()).toMatchObject({ cause: 'BROKER_GONE' });
  });

  it('malformed input from the client, then the broker closes: PROTOCOL_ERROR with the malformed record as evidence', () => {
    const t = tap();
    opened(t);
    t.conn.data('client', Buffer.from([0x00, 0x00]), t.at(500));
    t.close(502);
    expect(t.verdict()).toEqual({
      cause: 'PROTOCOL_ERROR',
      detail: expect.stringMatching(/^a malformed packet from the client \(.+\), 2 ms before$/),
      evidence: [
        { conn: 'c1', from: 'client', type: 'malformed', offset: 18, time: 1_000_500 },
        { conn: 'c1', type: 'close', time: 1_000_502 },
      ],
    });
  });

  it('the broker unreachable: UPSTREAM_UNREACHABLE with the upstream-error record as evidence', () => {
    const t = tap();
    t.at(2);
    t.conn.upstreamError({ upstream: '127.0.0.1:1', code: 'ECONNREFUSED', message: 'connect ECONNREFUSED' });
    t.close(3);
    expect(t.verdict()).toEqual({
      cause: 'UPSTREAM_UNREACHABLE',
      detail: 'cannot reach 127.0.0.1:1: ECONNREFUSED',
      evidence: [{ conn: 'c1', type: 'upstream-error', time: 1_000_002 }],
    });
  });

  it('a keep-alive timeout, with the client silent since its last packet', () => {
    const t = tap();
    opened(t, 2);
    t.conn.data('client', publish({ version: '3.1.1', topic: 't' }), t.at(1_000));
    t.conn.data('client', pingreq(), t.at(2_000));
    t.close(7_100);
    expect(t.verdict()).toEqual({
      cause: 'KEEP_ALIVE_TIMEOUT',
      detail: 'keep-alive 2 s, nothing from the client for 5.1 s',
      rule: 'MQTT-3.1.2-24',
      evidence: [
        { conn: 'c1', from: 'client', type: 'PINGREQ', offset: 23, time: 1_002_000 },
        { conn: 'c1', type: 'close', time: 1_007_100 },
      ],
    });
  });

  it('nothing at --level warn: no close record, no verdict work', () => {
    const t = tap('warn');
    opened(t);
    t.close(100);
    expect(t.sink.events('close')).toEqual([]);
  });
});
