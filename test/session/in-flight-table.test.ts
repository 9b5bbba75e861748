/**
 * The in-flight table against a model (a Map that forgets its oldest entry past the bound) under
 * random adds, answers and lookups: ids that collide in the table, growth, eviction when full.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InFlightTable } from '../../src/session/in-flight-table.js';

type Op = { kind: 'set'; id: number; time: number } | { kind: 'answer'; id: number; remove: boolean };

/** Ids that share low bits (multiples of 8, 16...) probe into each other. */
const id = fc.oneof(
  fc.integer({ min: 0, max: 40 }),
  fc.integer({ min: 0, max: 20 }).map((k) => k * 64),
  fc.integer({ min: 0, max: 65_535 }),
);
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), id, time: fc.integer({ min: 0, max: 1e9 }) }),
  fc.record({ kind: fc.constant('answer' as const), id, remove: fc.boolean() }),
);

function check(max: number, ops: Op[]): void {
  const table = new InFlightTable(max);
  const model = new Map<number, { topic: string; time: number }>();
  for (const o of ops) {
    if (o.kind === 'set') {
      if (!model.has(o.id) && model.size >= max) model.delete(model.keys().next().value!);
      model.set(o.id, { topic: `t${o.id}/${o.time}`, time: o.time });
      table.set(o.id, `t${o.id}/${o.time}`, o.time);
    } else {
      const slot = table.slotOf(o.id);
      const want = model.get(o.id);
      if (want === undefined) {
        expect(slot).toBe(-1);
        continue;
      }
      expect(slot).not.toBe(-1);
      expect({ topic: table.topicAt(slot), time: table.timeAt(slot) }).toEqual(want);
      if (o.remove) {
        table.remove(slot);
        model.delete(o.id);
      }
    }
    expect(table.size).toBe(model.size);
  }
  for (const [k, v] of model) {
    const slot = table.slotOf(k);
    expect({ topic: table.topicAt(slot), time: table.timeAt(slot) }).toEqual(v);
  }
}

describe('InFlightTable', () => {
  it('answers like a Map that forgets its oldest entry, whatever the ids and the order', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.array(op, { maxLength: 300 }), (max, ops) =>
        check(max, ops),
      ),
      { numRuns: 300 },
    );
  });

  it('QoS 1 traffic with 100 in flight: consecutive ids wrapping at 65,535, never more than 100 held', () => {
    const table = new InFlightTable(4096);
    for (let n = 0; n < 200_000; n++) {
      table.set((n % 65_535) + 1, 'a/b', n);
      if (n >= 100) {
        const answered = ((n - 100) % 65_535) + 1;
        const slot = table.slotOf(answered);
        expect(table.timeAt(slot)).toBe(n - 100);
        table.remove(slot);
      }
    }
    expect(table.size).toBe(100);
  });

  it('full: a new id pushes out the oldest, a known one is replaced in place', () => {
    const table = new InFlightTable(3);
    table.set(1, 'a', 1);
    table.set(2, 'b', 2);
    table.set(3, 'c', 3);
    table.set(1, 'a2', 4); // known: replaced, still the oldest
    table.set(4, 'd', 5);
    expect(table.slotOf(1)).toBe(-1);
    expect(table.topicAt(table.slotOf(2))).toBe('b');
    expect(table.topicAt(table.slotOf(4))).toBe('d');
    expect(table.size).toBe(3);
  });
});
