/**
 * The in-flight table against a model (a Map that forgets its oldest entry past the bound, and
 * keeps no entry its byte budget cannot hold) under random adds, answers and lookups: ids that
 * collide in the table, growth, eviction when full, a full budget.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InFlightTable } from '../../src/session/in-flight-table.js';
import { ENTRY_COST, StateBudget, stringCost } from '../../src/session/state-budget.js';

type Op =
  | { kind: 'set'; id: number; time: number; pad: number }
  | { kind: 'answer'; id: number; remove: boolean };

/** Ids that share low bits (multiples of 8, 16...) probe into each other. */
const id = fc.oneof(
  fc.integer({ min: 0, max: 40 }),
  fc.integer({ min: 0, max: 20 }).map((k) => k * 64),
  fc.integer({ min: 0, max: 65_535 }),
);
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    kind: fc.constant('set' as const),
    id,
    time: fc.integer({ min: 0, max: 1e9 }),
    pad: fc.integer({ min: 0, max: 300 }),
  }),
  fc.record({ kind: fc.constant('answer' as const), id, remove: fc.boolean() }),
);

function check(max: number, ops: Op[], budgetMax = Number.POSITIVE_INFINITY): void {
  const budget = new StateBudget(budgetMax);
  const table = new InFlightTable(max, budget);
  const model = new Map<number, { topic: string; time: number }>();
  const cost = (topic: string): number => ENTRY_COST + stringCost(topic);
  let used = 0;
  let dropped = 0;
  for (const o of ops) {
    if (o.kind === 'set') {
      const topic = `t${o.id}/${o.time}/${'x'.repeat(o.pad)}`;
      const old = model.get(o.id);
      if (old !== undefined) used -= cost(old.topic);
      if (used + cost(topic) > budgetMax) {
        dropped++;
        model.delete(o.id);
      } else {
        used += cost(topic);
        if (old === undefined && model.size >= max) {
          const oldest = model.keys().next().value!;
          used -= cost(model.get(oldest)!.topic);
          model.delete(oldest);
        }
        model.set(o.id, { topic, time: o.time });
      }
      table.set(o.id, topic, o.time);
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
        used -= cost(want.topic);
        model.delete(o.id);
      }
    }
    expect(table.size).toBe(model.size);
    expect(budget.used).toBe(used);
    expect(budget.dropped).toBe(dropped);
  }
  for (const [k, v] of model) {
    const slot = table.slotOf(k);
    expect({ topic: table.topicAt(slot), time: table.timeAt(slot) }).toEqual(v);
    table.remove(slot);
  }
  expect(budget.used).toBe(0);
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

  it('answers like that Map with a byte budget: entries that do not fit are not kept, every byte is given back', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.array(op, { maxLength: 300 }),
        fc.integer({ min: 0, max: 4000 }),
        (max, ops, budgetMax) => check(max, ops, budgetMax),
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

  it('counts in its budget what it forgot to stay within its bound', () => {
    const budget = new StateBudget();
    const table = new InFlightTable(2, budget);
    for (let id = 1; id <= 5; id++) table.set(id, 't', id);
    expect(budget.forgotten).toBe(3);
    expect(budget.dropped).toBe(0);
  });

  it('an id sent again (PUBLISH with DUP, a second PUBREL) expects one late answer per repeat', () => {
    const table = new InFlightTable(8);
    table.set(5, 't', 1);
    table.set(5, 't', 2); // the PUBLISH again
    table.released(table.slotOf(5)); // the first PUBREL
    table.released(table.slotOf(5)); // and again
    table.remove(table.slotOf(5));
    expect([table.takeLate(5), table.takeLate(5), table.takeLate(5)]).toEqual([true, true, false]);
    // A new message on the id: earlier copies' answers can no longer be told from its own.
    table.set(6, 't', 3);
    table.set(6, 't', 4);
    table.remove(table.slotOf(6));
    table.set(6, 't', 5);
    expect(table.takeLate(6)).toBe(false);
    // Answered once, sent once: nothing late.
    table.remove(table.slotOf(6));
    expect(table.takeLate(6)).toBe(false);
  });
});
