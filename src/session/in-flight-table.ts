/**
 * The unanswered PUBLISH packets of one direction of a connection, by packet id: their topic and
 * when they were sent. Bounded: past `max` entries the oldest is forgotten; an entry the budget
 * cannot hold is not kept.
 *
 * Why not a Map: every QoS 1 and 2 message adds an entry and its acknowledgement removes it, and
 * a long-lived Map emptied shrinks its table and grows it again, allocating, each new table stored
 * into an object in V8's old space. Here the table is open addressing with linear probing
 * over typed arrays, deletion by backward shift (no tombstones), and it only ever grows: no
 * allocation per message. Packet ids are mostly consecutive, so the id itself is a good hash.
 *
 * It also counts repeated sends of an id (a PUBLISH sent again, a PUBREL sent again): each may
 * draw an answer of its own, so answers arriving after the entry was removed are expected, not
 * answers to nothing (`takeLate`).
 */
import { ENTRY_COST, StateBudget, stringCost } from './state-budget.js';

const EMPTY = -1;
const INITIAL_CAPACITY = 8;
/** Until the first entry, one empty slot shared by every table: most connections never need one. */
const NO_IDS = new Int32Array([EMPTY]);
const NO_TIMES = new Float64Array(1);
const NO_SENDS = new Uint8Array(1);
/** `sends` bits: a PUBREL was seen for the entry; the rest counts the sends past the first. */
const RELEASED = 0x80;
const REPEATS = 0x7f;
/** Ids answered with answers still expected, kept at most; past it they are forgotten (and counted). */
const LATE_MAX = 64;

export class InFlightTable {
  private ids: Int32Array;
  private topics: (string | undefined)[];
  private times: Float64Array;
  /** Insertion order, to find the oldest entry when full. */
  private order: Float64Array;
  private sends: Uint8Array;
  /** Removed ids that sent more than once: answers still expected. Only made on the first repeat. */
  private late: Map<number, number> | undefined;
  private mask: number;
  private count = 0;
  private inserted = 0;

  constructor(
    private readonly max: number,
    private readonly budget: StateBudget = new StateBudget(Number.POSITIVE_INFINITY),
  ) {
    // Never written: the first set() grows the table first, as one slot is more than half full.
    this.ids = NO_IDS;
    this.topics = [undefined];
    this.times = NO_TIMES;
    this.order = NO_TIMES;
    this.sends = NO_SENDS;
    this.mask = 0;
  }

  get size(): number {
    return this.count;
  }

  /** Records packet `id` (a 16-bit packet identifier); a known id keeps its place in the order, as in a Map. */
  set(id: number, topic: string, time: number): void {
    let slot = this.slotOf(id);
    if (slot !== EMPTY) this.budget.give(entryCost(this.topics[slot]!));
    if (!this.budget.take(entryCost(topic))) {
      // Not kept: an answer to `id` must not find an older PUBLISH's topic.
      if (slot !== EMPTY) this.forget(slot);
      return;
    }
    if (slot === EMPTY) {
      if (this.count >= this.max) {
        this.forgetEntry(this.oldest());
        this.budget.forgotten++;
      }
      if ((this.count + 1) * 2 > this.ids.length) this.grow();
      slot = this.freeSlot(id);
      this.ids[slot] = id;
      this.order[slot] = this.inserted++;
      this.sends[slot] = 0;
      this.count++;
      // A new message on the id: answers to an earlier one can no longer be told from its own.
      if (this.late !== undefined) this.late.delete(id);
    } else if ((this.sends[slot]! & REPEATS) < REPEATS) {
      this.sends[slot]!++;
    }
    this.topics[slot] = topic;
    this.times[slot] = time;
  }

  /** The slot holding packet `id`, or -1: read it with topicAt/timeAt, then remove it if answered. */
  slotOf(id: number): number {
    const ids = this.ids;
    const mask = this.mask;
    for (let i = id & mask; ; i = (i + 1) & mask) {
      const k = ids[i]!;
      if (k === id) return i;
      if (k === EMPTY) return EMPTY;
    }
  }

  topicAt(slot: number): string {
    return this.topics[slot]!;
  }

  timeAt(slot: number): number {
    return this.times[slot]!;
  }

  /** A PUBREL for the entry at `slot`: the first releases it, each one after is a repeated send. */
  released(slot: number): void {
    const sends = this.sends[slot]!;
    if ((sends & RELEASED) === 0) this.sends[slot] = sends | RELEASED;
    else if ((sends & REPEATS) < REPEATS) this.sends[slot] = sends + 1;
  }

  /** The entry at `slot` was answered: empties it, expecting one late answer per repeated send. */
  remove(slot: number): void {
    const repeats = this.sends[slot]! & REPEATS;
    if (repeats > 0) this.expectLate(this.ids[slot]!, repeats);
    this.forgetEntry(slot);
  }

  /** Whether an answer to `id`, which is not in flight, was expected (a repeated send's), and counts it. */
  takeLate(id: number): boolean {
    const n = this.late?.get(id);
    if (n === undefined) return false;
    if (n > 1) this.late!.set(id, n - 1);
    else this.late!.delete(id);
    return true;
  }

  private expectLate(id: number, n: number): void {
    this.late ??= new Map();
    if (this.late.size >= LATE_MAX) {
      this.late.clear();
      this.budget.forgotten++;
    }
    this.late.set(id, n);
  }

  /** Empties `slot` and returns its bytes to the budget. */
  private forgetEntry(slot: number): void {
    this.budget.give(entryCost(this.topics[slot]!));
    this.forget(slot);
  }

  /** Empties `slot`, moving back the entries probed past it so that every one stays findable. */
  private forget(slot: number): void {
    const ids = this.ids;
    const mask = this.mask;
    let hole = slot;
    for (let j = (hole + 1) & mask; ids[j] !== EMPTY; j = (j + 1) & mask) {
      const home = ids[j]! & mask;
      // The entry at j may fill the hole unless its home lies cyclically in (hole, j].
      const stays = hole <= j ? hole < home && home <= j : hole < home || home <= j;
      if (stays) continue;
      ids[hole] = ids[j]!;
      this.topics[hole] = this.topics[j];
      this.times[hole] = this.times[j]!;
      this.order[hole] = this.order[j]!;
      this.sends[hole] = this.sends[j]!;
      hole = j;
    }
    ids[hole] = EMPTY;
    this.topics[hole] = undefined;
    this.count--;
  }

  private freeSlot(id: number): number {
    const ids = this.ids;
    const mask = this.mask;
    let i = id & mask;
    while (ids[i] !== EMPTY) i = (i + 1) & mask;
    return i;
  }

  /** Only when full (a peer that never answers): a scan, not a structure every message pays for. */
  private oldest(): number {
    let best = EMPTY;
    for (let i = 0; i < this.ids.length; i++) {
      if (this.ids[i] !== EMPTY && (best === EMPTY || this.order[i]! < this.order[best]!)) best = i;
    }
    return best;
  }

  private grow(): void {
    const { ids, topics, times, order, sends } = this;
    const capacity = Math.max(INITIAL_CAPACITY, ids.length * 2);
    this.ids = new Int32Array(capacity).fill(EMPTY);
    this.topics = new Array<string | undefined>(capacity).fill(undefined);
    this.times = new Float64Array(capacity);
    this.order = new Float64Array(capacity);
    this.sends = new Uint8Array(capacity);
    this.mask = capacity - 1;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      if (id === EMPTY) continue;
      const slot = this.freeSlot(id);
      this.ids[slot] = id;
      this.topics[slot] = topics[i];
      this.times[slot] = times[i]!;
      this.order[slot] = order[i]!;
      this.sends[slot] = sends[i]!;
    }
  }
}

function entryCost(topic: string): number {
  return ENTRY_COST + stringCost(topic);
}
