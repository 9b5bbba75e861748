import { StateBudget } from './state-budget.js';

/**
 * A Map bounded in entries (past `max` it forgets its oldest) and in bytes (an entry the budget
 * cannot hold is not kept: its key then maps to nothing, never to a stale value).
 */
export class BoundedMap<K, V> extends Map<K, V> {
  constructor(
    private readonly max: number,
    private readonly budget: StateBudget = new StateBudget(Number.POSITIVE_INFINITY),
    private readonly cost: (value: V) => number = () => 0,
  ) {
    super();
  }

  override set(key: K, value: V): this {
    const old = super.get(key);
    if (old !== undefined) this.budget.give(this.cost(old));
    if (!this.budget.take(this.cost(value))) {
      if (old !== undefined) super.delete(key);
      return this;
    }
    // The size first: below the bound (the usual case) no lookup is needed.
    if (old === undefined && this.size >= this.max) {
      const oldest = this.keys().next();
      if (!oldest.done) {
        this.delete(oldest.value);
        this.budget.forgotten++;
      }
    }
    return super.set(key, value);
  }

  override delete(key: K): boolean {
    const old = super.get(key);
    if (old === undefined) return false;
    this.budget.give(this.cost(old));
    return super.delete(key);
  }
}
