/**
 * A client id's connections against Debian's mosquitto: a second client with the same id takes
 * the session over (mosquitto 2.0.11 closes the first, without a DISCONNECT), the takeover
 * record names both connections; a client id taken over again and again gets a flapping warning;
 * Clean Start 0 against a fresh mosquitto gets Session Present 0 and the session record's note.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { requireMosquitto, startMosquitto } from '../helpers/mosquitto.js';
import { Cleanups, mqttConnect, startTapProxy } from './helpers/tap-proxy.js';

const cleanups = new Cleanups();
afterEach(() => cleanups.run());

describe.skipIf(!requireMosquitto())('client ids across connections, with mosquitto 2.0.11', () => {
  it('a second 5.0 client with the same id: mosquitto closes the first; the takeover record names both', async () => {
    const broker = await startMosquitto();
    cleanups.add(() => broker.stop());
    const tp = await startTapProxy(cleanups, broker);
    await mqttConnect(cleanups, tp.url, 5, { clientId: 'twin', username: 'first' });
    const first = await tp.conn(0);
    await tp.waitFor(first, (r) => r.event === 'session');
    await mqttConnect(cleanups, tp.url, 5, { clientId: 'twin', username: 'second' });
    const second = await tp.conn(1);

    const takeover = await tp.waitFor(second, (r) => r.event === 'takeover');
    expect(takeover).toEqual({
      event: 'takeover',
      conn: second,
      clientId: 'twin',
      client: expect.stringMatching(/^127\.0\.0\.1:\d+$/),
      username: 'second',
      takenOver: {
        conn: first,
        client: tp.opens()[0]!.client,
        username: 'first',
        afterMs: expect.any(Number),
      },
    });
    // mosquitto 2.0.11 closes the first connection, without a DISCONNECT (measured).
    const close = await tp.closed(first);
    expect(close).toMatchObject({ closedBy: 'broker', lastReason: { type: 'CONNACK', code: 0 } });
    expect(tp.records(first).filter((r) => r.type === 'DISCONNECT')).toEqual([]);
    // The verdict on the first connection's close names the connection that took over.
    expect(close.verdict).toMatchObject({
      cause: 'SESSION_TAKEN_OVER',
      detail: expect.stringContaining(`${second} from ${takeover.client} user "second"`),
    });
  });

  it('one client id taken over three times within a minute: a flapping warning with the addresses and users', async () => {
    const broker = await startMosquitto();
    cleanups.add(() => broker.stop());
    const tp = await startTapProxy(cleanups, broker);
    for (let i = 0; i < 4; i++) {
      await mqttConnect(cleanups, tp.url, 4, {
        clientId: 'flappy',
        username: i % 2 === 0 ? 'dev-a' : 'dev-b',
      });
      // mosquitto closes the previous holder before the next one connects.
      if (i > 0) await tp.closed(await tp.conn(i - 1));
    }
    const flapping = await tp.sink.waitFor((r) => r.record.event === 'flapping');
    const conns = await Promise.all([0, 1, 2, 3].map((n) => tp.conn(n)));
    expect(flapping.level).toBe('warn');
    expect(flapping.record).toMatchObject({
      clientId: 'flappy',
      takeovers: 3,
      conns,
      clients: [
        { address: '127.0.0.1', username: 'dev-a', conns: [conns[0], conns[2]] },
        { address: '127.0.0.1', username: 'dev-b', conns: [conns[1], conns[3]] },
      ],
      hint: 'two or more clients use the same client id',
    });
    expect(tp.sink.events('takeover')).toHaveLength(3);
    expect(tp.sink.events('flapping')).toHaveLength(1);
  });

  it('Clean Start 0 against a fresh mosquitto: Session Present 0, and the session record says the session was not there', async () => {
    const broker = await startMosquitto();
    cleanups.add(() => broker.stop());
    const tp = await startTapProxy(cleanups, broker);
    await mqttConnect(cleanups, tp.url, 5, {
      clientId: 'resume-me',
      clean: false,
      properties: { sessionExpiryInterval: 300 },
    });
    const conn = await tp.conn(0);
    const session = await tp.waitFor(conn, (r) => r.event === 'session');
    expect(session).toMatchObject({ accepted: true, sessionPresent: false, sessionNotThere: true });
    const msg = tp.sink.events('session')[0]!.msg;
    expect(msg).toMatch(/; Clean Start 0 but no session to resume \(expired, or on another broker\)$/);
  });
});
