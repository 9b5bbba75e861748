/**
 * Per-connection session state is bounded in bytes: a peer that never answers its QoS 2
 * PUBLISHes, or sets aliases for ever longer topics, cannot make the tap keep them all.
 */
import { describe, expect, it } from 'vitest';
import type { OpenInfo } from '../../src/observe/observer.js';
import { createTap } from '../../src/observe/tap.js';
import { DEFAULT_TAP_OPTIONS, type TapOptions } from '../../src/observe/tap-options.js';
import { createCollectSink } from '../helpers/collect-sink.js';
import { ack, connack, connect, P, prop, publish } from '../helpers/packets.js';

const OPEN: OpenInfo = {
  conn: 'c1',
  client: { address: '127.0.0.1', port: 50000 },
  local: { address: '127.0.0.1', port: 1884 },
  upstream: '127.0.0.1:1883',
  transport: 'tcp',
  startedAt: 0,
};
const CLOSE = { closedBy: 'client' as const, durationMs: 1, bytes: { fromClient: 0, fromBroker: 0 } };

/** A tap on a connection whose CONNECT (`version`) the broker accepted. */
function tap(version: '3.1.1' | '5.0', opts: Partial<TapOptions> = {}) {
  const sink = createCollectSink('info');
  const conn = createTap(sink, { ...DEFAULT_TAP_OPTIONS, ...opts }).open(OPEN);
  conn.data('client', connect({ version, clientId: 'c' }));
  conn.data('broker', connack({ version, code: 0 }));
  return { sink, conn };
}

/** A topic of `n` characters ending in `id`, so that each PUBLISH's is its own. */
const longTopic = (id: number, n: number): string => `t/${'x'.repeat(n - 8)}${String(id).padStart(6, '0')}`;

describe('tap: per-connection session state is bounded in bytes', () => {
  it('QoS 2 PUBLISHes never released stop being kept at the default budget: one state-limit record, the count at close', () => {
    const t = tap('3.1.1');
    const count = 64;
    // 64 topics of 60,000 characters: well over the default budget of one connection.
    for (let id = 1; id <= count; id++) {
      t.conn.data(
        'client',
        publish({ version: '3.1.1', topic: longTopic(id, 60_000), qos: 2, packetId: id }),
      );
    }
    t.conn.data('broker', ack('PUBREC', { version: '3.1.1', packetId: 1 }));
    t.conn.data('broker', ack('PUBREC', { version: '3.1.1', packetId: count }));
    t.conn.close(CLOSE);

    const limits = t.sink.events('state-limit');
    expect(limits).toHaveLength(1);
    expect(limits[0]!.level).toBe('warn');
    expect(limits[0]!.record).toEqual({ event: 'state-limit', conn: 'c1', limit: 1024 * 1024 });
    const close = t.sink.events('close')[0]!.record;
    // About 1 MiB of 60,000-character topics is 17 PUBLISHes; the rest were not kept.
    expect(close.stateDropped).toBe(count - 17);
    // The first PUBLISH was kept and is answered; the last was not, and its answer says nothing wrong.
    const pubrecs = t.sink.events('packet').filter((r) => r.record.type === 'PUBREC');
    expect((pubrecs[0]!.record.request as { topic: string }).topic).toBe(longTopic(1, 60_000));
    expect(pubrecs[1]!.record.request).toBeUndefined();
  });

  it('room freed by answers is used again', () => {
    const t = tap('3.1.1', { sessionMax: 4096 });
    for (let round = 0; round < 100; round++) {
      const id = (round % 7) + 1;
      t.conn.data(
        'client',
        publish({ version: '3.1.1', topic: longTopic(round, 1000), qos: 1, packetId: id }),
      );
      t.conn.data('broker', ack('PUBACK', { version: '3.1.1', packetId: id }));
    }
    t.conn.close(CLOSE);
    expect(t.sink.events('state-limit')).toHaveLength(0);
    const pubacks = t.sink.events('packet').filter((r) => r.record.type === 'PUBACK');
    expect(pubacks.every((r) => r.record.request !== undefined)).toBe(true);
  });

  it('a Topic Alias the budget cannot hold maps to nothing, never to the topic it had before', () => {
    const t = tap('5.0', { sessionMax: 4096 });
    const aliased = (topic: string): Buffer =>
      publish({ version: '5.0', topic, properties: [prop(P.topicAlias, 1)], payload: Buffer.from('x') });
    t.conn.data('client', aliased('a/b'));
    t.conn.data('client', aliased(''));
    t.conn.data('client', aliased(longTopic(1, 5000)));
    t.conn.data('client', aliased(''));
    const topics = t.sink
      .events('packet')
      .filter((r) => r.record.type === 'PUBLISH')
      .map((r) => r.record.topic);
    expect(topics).toEqual(['a/b', 'a/b', longTopic(1, 5000), '']);
    expect(t.sink.events('state-limit')).toHaveLength(1);
  });
});
