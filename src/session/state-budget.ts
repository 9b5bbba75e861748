/** Bytes of remembered state (in-flight ids, topic aliases, pending requests) one connection may hold. */
export const DEFAULT_SESSION_STATE_MAX = 1024 * 1024;

/** What an entry costs besides its strings: its slot, key and value object. */
export const ENTRY_COST = 64;

/** What a string costs: its header and one byte per UTF-16 code unit (two-byte strings cost more). */
export function stringCost(s: string): number {
  return 16 + s.length;
}

/**
 * The state budget of one connection, shared by all its tables. An entry that does not fit is not
 * kept (what it would answer goes uncorrelated) and is counted; `onFirstDrop` runs once.
 */
export class StateBudget {
  used = 0;
  /** Entries not kept for want of room. */
  dropped = 0;
  /** Entries forgotten to keep a table within its entry bound (the oldest, or answers expected late). */
  forgotten = 0;

  constructor(
    readonly max: number = DEFAULT_SESSION_STATE_MAX,
    private readonly onFirstDrop?: () => void,
  ) {}

  /** Reserves `bytes` if they fit; otherwise counts the entry as dropped. */
  take(bytes: number): boolean {
    if (this.used + bytes <= this.max) {
      this.used += bytes;
      return true;
    }
    if (this.dropped++ === 0) this.onFirstDrop?.();
    return false;
  }

  give(bytes: number): void {
    this.used -= bytes;
  }
}
