/**
 * The tap links a client id's connections: the takeover record after the new connection's
 * CONNACK, takenOverBy on the old connection's tap, the flapping warning, and the session
 * record's note when a session asked to be resumed was not there.
 */
import { describe, expect, it } from 'vitest';
import type { TakenOverBy } from '../../src/observe/client-ids.js';
import type { ConnectionObserver, OpenInfo } from '../../src/observe/observer.js';
import { createTap } from '../../src/observe/tap.js';
import { DEFAULT_TAP_OPTIONS, type TapOptions } from '../../src/observe/tap-options.js';
import { createCollectSink } from '../helpers/collect-sink.js';
import { connack, connect, disconnect, P, prop } from '../helpers/packets.js';

function setup(options: Partial<TapOptions> = {}, level: 'trace' | 'warn' = 'trace') {
  const sink = createCollectSink(level);
  const clock = { now: 0 };
  const factory = createTap(sink, { ...DEFAULT_TAP_OPTIONS, now: () => clock.now, ...options });
  let n = 0;
  const open = (
    address = '10.0.0.1',
  ): { conn: ConnectionObserver & { takenOverBy?: TakenOverBy }; name: string } => {
    n++;
    const info: OpenInfo = {
      conn: `c${n}`,
      client: { address, port: 50000 + n },
      local: { address: '127.0.0.1', port: 1884 },
      upstream: '127.0.0.1:1883',
      transport: 'tcp',
      startedAt: clock.now,
    };
    return { conn: factory.open(info), name: info.conn };
  };
  const close = (c: ConnectionObserver, durationMs = 1): void =>
    c.close({ closedBy: 'broker', durationMs, bytes: { fromClient: 0, fromBroker: 0 } });
  return { sink, clock, open, close };
}

const session = (
  c: ConnectionObserver,
  clientId: string,
  opts: {
    username?: string;
    code?: number;
    clean?: boolean;
    present?: boolean;
    version?: '3.1.1' | '5.0';
    expiry?: number;
  } = {},
): void => {
  const version = opts.version ?? '3.1.1';
  c.data(
    'client',
    connect({
      version,
      clientId,
      clean: opts.clean ?? true,
      ...(opts.username !== undefined ? { username: opts.username } : {}),
      ...(opts.expiry !== undefined ? { properties: [prop(P.sessionExpiryInterval, opts.expiry)] } : {}),
    }),
  );
  c.data('broker', connack({ version, code: opts.code ?? 0, sessionPresent: opts.present ?? false }));
};

describe('tap: takeovers', () => {
  it('a second connection with the same client id: a takeover record naming both, takenOverBy on the old tap', () => {
    const t = setup();
    const a = t.open('10.0.0.1');
    t.clock.now = 100;
    session(a.conn, 'dev', { username: 'alice' });
    t.clock.now = 2100;
    const b = t.open('10.0.0.2');
    session(b.conn, 'dev', { username: 'bob' });
    expect(a.conn.takenOverBy).toEqual({
      conn: 'c2',
      address: '10.0.0.2',
      port: 50002,
      username: 'bob',
      afterMs: 2100,
    });
    expect(b.conn.takenOverBy).toBeUndefined();
    const [takeover] = t.sink.events('takeover');
    expect(takeover!.level).toBe('info');
    expect(takeover!.record).toEqual({
      event: 'takeover',
      conn: 'c2',
      clientId: 'dev',
      client: '10.0.0.2:50002',
      username: 'bob',
      takenOver: { conn: 'c1', client: '10.0.0.1:50001', username: 'alice', afterMs: 2100 },
    });
    expect(takeover!.msg).toBe(
      'client id "dev" taken over from c1 (10.0.0.1:50001 user "alice"), open 2.1 s, by c2 (10.0.0.2:50002 user "bob")',
    );
    // The takeover follows the new connection's session record.
    const events = t.sink.records.map((r) => r.record.event);
    expect(events.lastIndexOf('session')).toBe(events.indexOf('takeover') - 1);
  });

  it('a refused CONNACK is no takeover; a closed holder frees its id', () => {
    const t = setup();
    const a = t.open();
    session(a.conn, 'dev');
    const b = t.open();
    session(b.conn, 'dev', { code: 5 });
    expect(a.conn.takenOverBy).toBeUndefined();
    t.close(b.conn);
    t.close(a.conn);
    session(t.open().conn, 'dev');
    expect(t.sink.events('takeover')).toEqual([]);
  });

  it('three takeovers within 60 s: a flapping warning naming the addresses and users, even at --level warn', () => {
    const t = setup({}, 'warn');
    for (let i = 0; i < 4; i++) {
      t.clock.now = i * 5000;
      session(t.open(i % 2 === 0 ? '10.0.0.1' : '10.0.0.2').conn, 'dup', {
        username: i % 2 === 0 ? 'alice' : 'bob',
      });
    }
    const flaps = t.sink.events('flapping');
    expect(flaps).toHaveLength(1);
    expect(flaps[0]!.level).toBe('warn');
    expect(flaps[0]!.record).toMatchObject({
      clientId: 'dup',
      takeovers: 3,
      withinMs: 10_000,
      rule: { count: 3, windowMs: 60_000 },
      conns: ['c1', 'c2', 'c3', 'c4'],
      clients: [
        { address: '10.0.0.1', username: 'alice', conns: ['c1', 'c3'] },
        { address: '10.0.0.2', username: 'bob', conns: ['c2', 'c4'] },
      ],
      hint: 'two or more clients use the same client id',
    });
    expect(flaps[0]!.msg).toContain('10.0.0.1 user "alice", 10.0.0.2 user "bob"');
  });

  it('--flapping 2/1s: the rule is the tap option', () => {
    const t = setup({ flapping: { count: 2, windowMs: 1000 } });
    for (const at of [0, 600, 1700]) {
      t.clock.now = at;
      session(t.open().conn, 'dup');
    }
    expect(t.sink.events('flapping')).toEqual([]);
    t.clock.now = 1900;
    session(t.open().conn, 'dup');
    expect(t.sink.events('flapping').map((r) => r.record.hint)).toEqual([
      'one client reconnects before the broker has dropped its previous connection',
    ]);
  });

  it('past the cap of idle ids, one client-id-limit warning', () => {
    const t = setup({ clientIdsMax: 2 });
    for (let i = 0; i < 4; i++) {
      const c = t.open().conn;
      session(c, `id-${i}`);
      t.close(c);
    }
    expect(t.sink.events('client-id-limit').map((r) => r.record)).toEqual([
      { event: 'client-id-limit', limit: 2 },
    ]);
  });
});

describe('tap: a session asked for that was not there', () => {
  it('Clean Session 0 and Session Present 0: the session record says so', () => {
    const t = setup();
    session(t.open().conn, 'dev', { clean: false });
    const [s] = t.sink.events('session');
    expect(s!.record.sessionNotThere).toBe(true);
    expect(s!.msg).toBe(
      'session 3.1.1, keep-alive 60 s; Clean Session 0 but no session to resume (expired, or on another broker)',
    );
  });

  it('no note when the session was present, or none was asked for, or the connection was refused', () => {
    const t = setup();
    session(t.open().conn, 'a', { clean: false, present: true });
    session(t.open().conn, 'b', { clean: true });
    session(t.open().conn, 'c', { clean: false, code: 5 });
    for (const s of t.sink.events('session')) expect(s.record.sessionNotThere).toBeUndefined();
  });

  it('names the previous connection of the id and what it asked for', () => {
    const t = setup();
    const a = t.open().conn;
    session(a, 'dev', { version: '5.0', clean: false, expiry: 300 });
    a.data('client', disconnect({ code: 0, properties: [prop(P.sessionExpiryInterval, 0)] }));
    t.close(a, 1000);
    t.clock.now = 3000;
    session(t.open().conn, 'dev', { version: '5.0', clean: false, expiry: 300 });
    const s = t.sink.events('session')[1]!;
    expect(s.record.previousConnection).toEqual({
      conn: 'c1',
      closedMsAgo: 2000,
      clean: false,
      sessionExpiryInterval: 0,
    });
    expect(s.msg).toMatch(
      /; Clean Start 0 but no session to resume \(c1 closed 2 s ago with Session Expiry Interval 0: its session ended with it\)$/,
    );
  });
});
