/**
 * The client id registry on its own: takeovers linked, refusals undone, flapping within the
 * window only, the cap on idle ids.
 */
import { describe, expect, it } from 'vitest';
import { ClientIdRegistry, type IdHolder } from '../../src/observe/client-ids.js';

function holder(conn: string, openedAt = 0, username?: string, address = '10.0.0.1'): IdHolder {
  return { conn, address, port: 40000 + Number(conn.slice(1)), username, openedAt };
}

const closing = (at: number) => ({ closedAt: at, clean: false });

describe('client id registry', () => {
  it('a second CONNECT with an id an open connection holds: the old holder is told who took over', () => {
    const ids = new ClientIdRegistry();
    const a = holder('c1', 1000, 'alice');
    const b = holder('c2', 5000, 'bob', '10.0.0.2');
    const ca = ids.claim(a, 'broker:1883', 'dev', 1001)!;
    expect(ids.settle(ca, true)).toEqual({});
    const cb = ids.claim(b, 'broker:1883', 'dev', 5001)!;
    expect(a.takenOverBy).toEqual({
      conn: 'c2',
      address: '10.0.0.2',
      port: 40002,
      username: 'bob',
      afterMs: 4001,
    });
    const { takeover, flapping } = ids.settle(cb, true);
    expect(takeover).toEqual({
      clientId: 'dev',
      at: 5001,
      by: { conn: 'c2', address: '10.0.0.2', port: 40002, username: 'bob' },
      old: { conn: 'c1', address: '10.0.0.1', port: 40001, username: 'alice' },
      afterMs: 4001,
    });
    expect(flapping).toBeUndefined();
    expect(b.takenOverBy).toBeUndefined();
  });

  it('an id whose holder closed is free: no takeover; other brokers and empty ids never collide', () => {
    const ids = new ClientIdRegistry();
    const a = holder('c1');
    const ca = ids.claim(a, 'b:1883', 'dev', 1)!;
    ids.settle(ca, true);
    ids.release(a, ca, closing(10));
    const b = holder('c2');
    expect(ids.settle(ids.claim(b, 'b:1883', 'dev', 20)!, true)).toEqual({});
    expect(ids.claim(holder('c3'), 'other:1883', 'dev', 21)!.previous).toBeUndefined();
    expect(ids.claim(holder('c4'), 'b:1883', '', 22)).toBeUndefined();
    expect(ids.claim(holder('c5'), 'b:1883', '', 23)).toBeUndefined();
    expect(b.takenOverBy).toBeUndefined();
  });

  it('a refused CONNACK takes nothing over: the old holder keeps the id and loses takenOverBy', () => {
    const ids = new ClientIdRegistry();
    const a = holder('c1');
    ids.settle(ids.claim(a, 's', 'dev', 1)!, true);
    const b = holder('c2');
    const cb = ids.claim(b, 's', 'dev', 2)!;
    expect(a.takenOverBy?.conn).toBe('c2');
    expect(ids.settle(cb, false)).toEqual({});
    expect(a.takenOverBy).toBeUndefined();
    ids.release(b, cb, closing(3));
    // a still holds it: a third connection takes it over from a.
    const c = ids.claim(holder('c3'), 's', 'dev', 4)!;
    expect(c.previous?.conn).toBe('c1');
  });

  it('the last connection of an id is remembered for the next one', () => {
    const ids = new ClientIdRegistry();
    const a = holder('c1');
    const ca = ids.claim(a, 's', 'dev', 1)!;
    ids.settle(ca, true);
    ids.release(a, ca, { closedAt: 50, clean: false, sessionExpiryInterval: 0 });
    expect(ids.claim(holder('c2'), 's', 'dev', 60)!.last).toEqual({
      conn: 'c1',
      closedAt: 50,
      clean: false,
      sessionExpiryInterval: 0,
    });
  });

  it('flapping: the Nth takeover within the window, once per window; slower takeovers are not', () => {
    const ids = new ClientIdRegistry({ count: 3, windowMs: 60_000 });
    const flaps: number[] = [];
    let n = 0;
    const connectAt = (at: number): void => {
      n++;
      const h = holder(`c${n}`, at, n % 2 === 0 ? 'bob' : 'alice', n % 2 === 0 ? '10.0.0.2' : '10.0.0.1');
      const r = ids.settle(ids.claim(h, 's', 'dup', at)!, true);
      if (r.flapping !== undefined) flaps.push(at);
    };
    connectAt(0); // first holder: no takeover
    connectAt(10_000);
    connectAt(20_000);
    connectAt(30_000); // third takeover in 20 s
    connectAt(40_000); // still within the window of the warning: not again
    connectAt(95_000); // takeovers at 30, 40, 95 s: 65 s apart
    connectAt(160_000);
    expect(flaps).toEqual([30_000]);
  });

  it('a flapping event names the takeovers in the window', () => {
    const ids = new ClientIdRegistry({ count: 2, windowMs: 1000 });
    const a = holder('c1', 0, 'alice', '10.0.0.1');
    ids.settle(ids.claim(a, 's', 'dup', 0)!, true);
    ids.settle(ids.claim(holder('c2', 100, 'bob', '10.0.0.2'), 's', 'dup', 100)!, true);
    const r = ids.settle(ids.claim(holder('c3', 200, 'alice', '10.0.0.1'), 's', 'dup', 200)!, true);
    expect(r.flapping?.takeovers.map((t) => [t.old.conn, t.by.conn])).toEqual([
      ['c1', 'c2'],
      ['c2', 'c3'],
    ]);
  });

  it('idle ids past the cap are forgotten, oldest first, counted, reported once', () => {
    let reported = 0;
    const ids = new ClientIdRegistry(undefined, 2, () => reported++);
    for (let i = 1; i <= 5; i++) {
      const h = holder(`c${i}`);
      const c = ids.claim(h, 's', `id-${i}`, i)!;
      ids.settle(c, true);
      ids.release(h, c, closing(i));
    }
    expect(ids.stats()).toEqual({ held: 0, idle: 2, dropped: 3 });
    expect(reported).toBe(1);
    expect(ids.claim(holder('c9'), 's', 'id-1', 9)!.last).toBeUndefined();
    expect(ids.claim(holder('c10'), 's', 'id-5', 10)!.last?.conn).toBe('c5');
  });

  it('ids open connections hold are never forgotten, whatever the cap', () => {
    const ids = new ClientIdRegistry(undefined, 1);
    const held = Array.from({ length: 50 }, (_, i) => {
      const h = holder(`c${i}`);
      ids.settle(ids.claim(h, 's', `id-${i}`, i)!, true);
      return h;
    });
    expect(ids.stats()).toEqual({ held: 50, idle: 0, dropped: 0 });
    ids.claim(holder('c99'), 's', 'id-0', 100);
    expect(held[0]!.takenOverBy?.conn).toBe('c99');
  });
});
