import { setImmediate as nextTurn } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { deferredObserver } from '../../src/observe/deferred-observer.js';
import type { CloseInfo, ConnectionObserver, OpenInfo, ProxyObserver } from '../../src/observe/observer.js';

const OPEN = (conn: string): OpenInfo => ({
  conn,
  client: { address: '127.0.0.1', port: 50000 },
  local: { address: '127.0.0.1', port: 1884 },
  upstream: '127.0.0.1:1883',
  transport: 'tcp',
  startedAt: 0,
});
const CLOSE: CloseInfo = { closedBy: 'client', durationMs: 1, bytes: { fromClient: 0, fromBroker: 0 } };

/** An inner observer that writes down every call it gets, with the bytes it was shown. */
function recorder() {
  const calls: string[] = [];
  const bytes: Record<string, Buffer[]> = {};
  const times: (number | undefined)[] = [];
  const observer: ProxyObserver = {
    open(info): ConnectionObserver {
      calls.push(`open ${info.conn}`);
      return {
        data(from, chunk, at) {
          calls.push(`data ${info.conn} ${from} ${chunk.length}`);
          // Kept as given: a view must still hold the right bytes when it is shown.
          const key = `${info.conn} ${from}`;
          bytes[key] ??= [];
          bytes[key].push(Buffer.from(chunk));
          times.push(at);
        },
        upstreamConnected() {
          calls.push(`connected ${info.conn}`);
        },
        upstreamError() {
          calls.push(`upstream-error ${info.conn}`);
        },
        close() {
          calls.push(`close ${info.conn}`);
        },
      };
    },
    handshakeFailed() {
      calls.push('handshake-failed');
    },
  };
  return { calls, bytes, times, observer };
}

const filled = (n: number, seed: number): Buffer =>
  Buffer.from(Array.from({ length: n }, (_, i) => (i * 7 + seed) & 0xff));

describe('deferredObserver', () => {
  it('shows a small chunk at once when nothing is waiting (no extra turn)', () => {
    const r = recorder();
    const d = deferredObserver(r.observer, { pieceBytes: 1024 });
    const c = d.open(OPEN('c1'));
    c.data('client', filled(100, 1), 1234);
    expect(r.calls).toEqual(['open c1', 'data c1 client 100']);
    expect(r.times).toEqual([1234]);
  });

  it('shows a large chunk at once while that is cheap, the rest in pieces between turns, with its arrival time', async () => {
    const r = recorder();
    // No time at once beyond the first piece, one piece per turn.
    const d = deferredObserver(r.observer, { pieceBytes: 1024, turnMs: 0, inlineMs: 0 });
    const c = d.open(OPEN('c1'));
    const big = filled(4000, 2);
    const before = Date.now();
    c.data('broker', big);
    expect(r.calls).toEqual(['open c1', 'data c1 broker 1024']);
    expect(d.pendingBytes()).toBe(4000 - 1024);
    await nextTurn();
    expect(r.calls).toEqual(['open c1', 'data c1 broker 1024', 'data c1 broker 1024']);
    for (let i = 0; i < 5; i++) await nextTurn();
    expect(r.calls.slice(1)).toEqual([
      'data c1 broker 1024',
      'data c1 broker 1024',
      'data c1 broker 1024',
      'data c1 broker 928',
    ]);
    expect(Buffer.concat(r.bytes['c1 broker']!)).toEqual(big);
    expect(d.pendingBytes()).toBe(0);
    // Shown at once: no arrival time needed; shown later: when it arrived.
    expect(r.times[0]).toBeUndefined();
    for (const t of r.times.slice(1)) expect(t).toBeGreaterThanOrEqual(before);
  });

  it('shows a large chunk whole at once when its pieces are cheap', () => {
    const r = recorder();
    const d = deferredObserver(r.observer, { pieceBytes: 1024, inlineMs: 1000 });
    const c = d.open(OPEN('c1'));
    c.data('client', filled(4000, 3));
    expect(r.calls).toEqual([
      'open c1',
      'data c1 client 1024',
      'data c1 client 1024',
      'data c1 client 1024',
      'data c1 client 928',
    ]);
    expect(d.pendingBytes()).toBe(0);
  });

  it('keeps the order of every call, across connections, behind a waiting chunk', async () => {
    const r = recorder();
    const d = deferredObserver(r.observer, { pieceBytes: 16, turnMs: 0, inlineMs: 0 });
    const a = d.open(OPEN('a'));
    a.data('client', filled(40, 3));
    const b = d.open(OPEN('b'));
    b.upstreamConnected?.(OPEN('b'));
    b.data('client', filled(5, 4));
    a.data('broker', filled(3, 5));
    a.close(CLOSE);
    d.handshakeFailed?.({
      listener: 'x',
      client: { address: '::1', port: 1 },
      transport: 'tls',
      message: 'm',
    });
    b.upstreamError({ upstream: 'u', message: 'refused' });
    b.close(CLOSE);
    d.drain();
    expect(r.calls).toEqual([
      'open a',
      'data a client 16',
      'data a client 16',
      'data a client 8',
      'open b',
      'connected b',
      'data b client 5',
      'data a broker 3',
      'close a',
      'handshake-failed',
      'upstream-error b',
      'close b',
    ]);
    await nextTurn();
    expect(r.calls).toHaveLength(12);
  });

  it('bounds what waits: past the high-water mark the data call catches up itself', () => {
    const r = recorder();
    const d = deferredObserver(r.observer, {
      pieceBytes: 1000,
      inlineMs: 0,
      highWater: 10_000,
      lowWater: 3_000,
    });
    const c = d.open(OPEN('c1'));
    const shownNow = (): number => r.calls.filter((x) => x.startsWith('data')).length;
    c.data('client', filled(1500, 0));
    // The first piece at once, the other 500 bytes wait; from then on everything waits its turn.
    expect(shownNow()).toBe(1);
    for (let i = 1; i < 7; i++) c.data('client', filled(1500, i));
    expect(d.pendingBytes()).toBe(500 + 6 * 1500);
    expect(shownNow()).toBe(1);
    // This one crosses 10,000 bytes waiting: the data call works the queue down to 3,000.
    c.data('client', filled(1500, 7));
    expect(d.pendingBytes()).toBeLessThanOrEqual(3_000);
    expect(shownNow()).toBeGreaterThan(1);
    c.data('client', filled(1500, 8));
    d.drain();
    expect(d.pendingBytes()).toBe(0);
    expect(Buffer.concat(r.bytes['c1 client']!)).toEqual(
      Buffer.concat(Array.from({ length: 9 }, (_, i) => filled(1500, i))),
    );
  });

  it('shows bytes the observer only counts at once, even behind a waiting chunk, and holds no others', async () => {
    const r = recorder();
    // What the inner observer says it would only count, per connection and direction.
    const free: Record<string, number> = {};
    const counting: ProxyObserver = {
      open(info) {
        const inner = r.observer.open(info);
        return { ...inner, countOnly: (from) => free[`${info.conn} ${from}`] ?? 0 };
      },
    };
    const d = deferredObserver(counting, { pieceBytes: 16, turnMs: 0, inlineMs: 0 });
    const a = d.open(OPEN('a'));
    const b = d.open(OPEN('b'));
    a.data('client', filled(40, 1)); // 16 shown, 24 wait
    free['a client'] = 1000;
    free['b client'] = 1000;
    free['b broker'] = 5;
    a.data('client', filled(30, 2)); // a's client bytes wait already: this one waits behind them
    b.data('client', filled(30, 3)); // nothing of b's waits and all 30 would only be counted: now
    b.data('broker', filled(6, 4)); // one byte more than b's broker side would only count: waits
    expect(r.calls).toEqual(['open a', 'open b', 'data a client 16', 'data b client 30']);
    expect(d.pendingBytes()).toBe(24 + 30 + 6);
    d.drain();
    expect(r.calls.slice(4)).toEqual([
      'data a client 16',
      'data a client 8',
      'data a client 16',
      'data a client 14',
      'data b broker 6',
    ]);
    // Behind another connection's waiting bytes, b's counted bytes still go first; others wait.
    a.data('broker', filled(100, 5)); // nothing waits: 16 shown, 84 wait
    expect(r.calls.slice(-1)).toEqual(['data a broker 16']);
    b.data('client', filled(30, 6));
    expect(r.calls.slice(-1)).toEqual(['data b client 30']);
    free['b client'] = 29;
    b.data('client', filled(30, 7));
    expect(r.calls.slice(-1)).toEqual(['data b client 30']);
    expect(d.pendingBytes()).toBe(84 + 30);
    d.drain();
    expect(r.calls.slice(-2)).toEqual(['data b client 16', 'data b client 14']);
    expect(Buffer.concat(r.bytes['b client']!)).toEqual(
      Buffer.concat([filled(30, 3), filled(30, 6), filled(30, 7)]),
    );
    expect(Buffer.concat(r.bytes['a client']!)).toEqual(Buffer.concat([filled(40, 1), filled(30, 2)]));
    expect(d.pendingBytes()).toBe(0);
    await nextTurn();
  });

  it('reports an observer that throws once per connection and goes on with the others', () => {
    const errors: { conn?: string; detail: string }[] = [];
    const r = recorder();
    const throwing: ProxyObserver = {
      open(info) {
        const inner = r.observer.open(info);
        return {
          ...inner,
          data(from, chunk, at) {
            inner.data(from, chunk, at);
            if (info.conn === 'bad') throw new Error('bug');
          },
        };
      },
    };
    const d = deferredObserver(throwing, { onError: (_err, ctx) => errors.push(ctx) });
    const bad = d.open(OPEN('bad'));
    const good = d.open(OPEN('good'));
    bad.data('client', filled(10, 1));
    bad.data('client', filled(10, 2));
    good.data('client', filled(10, 3));
    good.close(CLOSE);
    bad.close(CLOSE);
    expect(errors).toEqual([{ conn: 'bad', detail: 'data' }]);
    expect(r.calls).toContain('close good');
    expect(r.calls).toContain('close bad');
  });
});
