/**
 * The client ids of one process (one per createTap factory): which open connection holds each
 * id, so that a second CONNECT with the same id is seen as a session takeover and linked to the
 * connection it takes over, and how often each id was taken over lately (flapping). Client ids
 * are chosen by clients: ids no open connection holds are kept up to a cap, least recently used
 * first out, and counted when dropped. Work is O(1) per CONNECT, CONNACK and close; none per packet.
 */
import type {
  ConnRef,
  Flapping,
  FlappingRule,
  LastConnection,
  Takeover,
} from '../record/client-id-records.js';

import type { TakenOverBy } from '../session/verdict.js';

export type { ConnRef, Flapping, FlappingRule, LastConnection, TakenOverBy, Takeover };

/** Defaults of `--flapping`: three takeovers of one client id within 60 s. */
export const DEFAULT_FLAPPING: FlappingRule = { count: 3, windowMs: 60_000 };
/** Largest `count` of a flapping rule: each id keeps that many takeovers to check it. */
export const MAX_FLAPPING_COUNT = 20;
/** Client ids no open connection holds, kept for their history. */
export const DEFAULT_CLIENT_IDS_MAX = 10_000;

/** A connection as the registry sees it: the tap implements it. */
export interface IdHolder {
  readonly conn: string;
  readonly address: string;
  readonly port: number;
  readonly username: string | undefined;
  readonly openedAt: number;
  /** Set by the registry when a newer connection claims this one's client id. */
  takenOverBy?: TakenOverBy;
  /** Set by the registry when the connection closed. */
  idReleased?: boolean;
}

/** What a CONNECT's claim left to settle once its CONNACK is seen. */
export interface Claim {
  readonly entry: Entry;
  readonly holder: IdHolder;
  /** The holder as takeover records name it, made once and shared by the takeovers it is in. */
  readonly ref: ConnRef;
  readonly at: number;
  /** The open connection that held the id, if any. */
  readonly previous: IdHolder | undefined;
  readonly previousRef: ConnRef | undefined;
  /** How the last connection that held the id ended, if the registry still knows. */
  readonly last: LastConnection | undefined;
}

interface Entry {
  readonly key: string;
  readonly clientId: string;
  holder: IdHolder | undefined;
  holderRef: ConnRef | undefined;
  /** The accepted takeovers of this id, at most `rule.count`, oldest first. */
  takeovers: Takeover[] | undefined;
  lastFlappingAt: number | undefined;
  last: LastConnection | undefined;
  /** Neighbours in the list of idle ids, least recently released first; unset while held. */
  older: Entry | undefined;
  newer: Entry | undefined;
}

export interface ClientIdStats {
  /** Ids an open connection holds. */
  held: number;
  /** Ids kept for their history only. */
  idle: number;
  /** Idle ids forgotten to stay within the cap. */
  dropped: number;
}

export class ClientIdRegistry {
  /** Every id known: held by an open connection (as many as those, at most), or idle. */
  private readonly entries = new Map<string, Entry>();
  /** The idle ids, a list from the least recently released (evicted first) to the most. */
  private oldestIdle: Entry | undefined;
  private newestIdle: Entry | undefined;
  private idleCount = 0;
  private droppedIds = 0;

  constructor(
    readonly rule: FlappingRule = DEFAULT_FLAPPING,
    readonly maxIdle: number = DEFAULT_CLIENT_IDS_MAX,
    /** Called once, when the first idle id is forgotten. */
    private readonly onFirstDrop?: () => void,
  ) {}

  /**
   * A CONNECT with `clientId` on `holder`'s connection (to `scope`, the broker). An open
   * connection that held the id gets `takenOverBy`. Empty ids (the broker assigns one) claim nothing.
   */
  claim(holder: IdHolder, scope: string, clientId: string, at: number): Claim | undefined {
    if (clientId === '') return undefined;
    const key = `${scope}\u0000${clientId}`;
    let entry = this.entries.get(key);
    if (entry === undefined) {
      entry = {
        key,
        clientId,
        holder: undefined,
        holderRef: undefined,
        takeovers: undefined,
        lastFlappingAt: undefined,
        last: undefined,
        older: undefined,
        newer: undefined,
      };
      this.entries.set(key, entry);
    } else if (entry.holder === undefined) {
      this.unlinkIdle(entry);
    }
    const previous = entry.holder !== holder ? entry.holder : undefined;
    if (previous !== undefined) {
      const by: TakenOverBy = {
        conn: holder.conn,
        address: holder.address,
        port: holder.port,
        afterMs: Math.max(0, Math.round(at - previous.openedAt)),
      };
      if (holder.username !== undefined) by.username = holder.username;
      previous.takenOverBy = by;
    }
    const previousRef = previous === undefined ? undefined : entry.holderRef;
    const own = entry.holder === holder && entry.holderRef !== undefined ? entry.holderRef : ref(holder);
    entry.holder = holder;
    entry.holderRef = own;
    return { entry, holder, ref: own, at, previous, previousRef, last: entry.last };
  }

  /**
   * The claim's CONNACK: accepted, a takeover of the previous holder is confirmed (and may make
   * the id flapping); refused, the broker kept the previous holder, which holds the id again.
   */
  settle(claim: Claim, accepted: boolean): { takeover?: Takeover; flapping?: Flapping } {
    const { entry, previous, holder } = claim;
    if (previous === undefined) return {};
    if (!accepted) {
      if (previous.takenOverBy?.conn === holder.conn) delete previous.takenOverBy;
      if (entry.holder === holder && previous.idReleased !== true) {
        entry.holder = previous;
        entry.holderRef = claim.previousRef;
      }
      return {};
    }
    const takeover: Takeover = {
      clientId: entry.clientId,
      at: claim.at,
      by: claim.ref,
      old: claim.previousRef ?? ref(previous),
      afterMs: Math.max(0, Math.round(claim.at - previous.openedAt)),
    };
    if (entry.takeovers === undefined) entry.takeovers = [];
    const list = entry.takeovers;
    if (list.length >= this.rule.count) list.shift();
    list.push(takeover);
    const { count, windowMs } = this.rule;
    const first = list[0]!;
    if (
      list.length >= count &&
      takeover.at - first.at <= windowMs &&
      (entry.lastFlappingAt === undefined || takeover.at - entry.lastFlappingAt > windowMs)
    ) {
      entry.lastFlappingAt = takeover.at;
      return { takeover, flapping: { clientId: entry.clientId, takeovers: [...list], rule: this.rule } };
    }
    return { takeover };
  }

  /** `holder`'s connection closed: its id, if it still holds it, becomes idle. */
  release(holder: IdHolder, claim: Claim | undefined, last: Omit<LastConnection, 'conn'>): void {
    holder.idReleased = true;
    if (claim === undefined) return;
    const { entry } = claim;
    if (entry.holder !== holder) return;
    entry.holder = undefined;
    entry.holderRef = undefined;
    entry.last = { conn: holder.conn, ...last };
    this.linkIdle(entry);
    if (this.idleCount > this.maxIdle) {
      const oldest = this.oldestIdle!;
      this.unlinkIdle(oldest);
      this.entries.delete(oldest.key);
      if (this.droppedIds++ === 0) this.onFirstDrop?.();
    }
  }

  stats(): ClientIdStats {
    return { held: this.entries.size - this.idleCount, idle: this.idleCount, dropped: this.droppedIds };
  }

  private linkIdle(entry: Entry): void {
    entry.older = this.newestIdle;
    entry.newer = undefined;
    if (this.newestIdle !== undefined) this.newestIdle.newer = entry;
    else this.oldestIdle = entry;
    this.newestIdle = entry;
    this.idleCount++;
  }

  private unlinkIdle(entry: Entry): void {
    if (entry.older !== undefined) entry.older.newer = entry.newer;
    else this.oldestIdle = entry.newer;
    if (entry.newer !== undefined) entry.newer.older = entry.older;
    else this.newestIdle = entry.older;
    entry.older = undefined;
    entry.newer = undefined;
    this.idleCount--;
  }
}

function ref(h: IdHolder): ConnRef {
  const r: ConnRef = { conn: h.conn, address: h.address, port: h.port };
  if (h.username !== undefined) r.username = h.username;
  return r;
}
