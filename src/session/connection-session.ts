import type { ProtocolVersion } from '../protocol/constants.js';
import { type Direction, opposite } from '../protocol/direction.js';
import type { Packet, Violation } from '../protocol/types.js';
import { BoundedMap } from './bounded-map.js';
import type { Contract } from './contract.js';
import { InFlightTable } from './in-flight-table.js';
import { type PendingRequest, SessionChecks } from './session-checks.js';
import { ENTRY_COST, StateBudget, stringCost } from './state-budget.js';

export type { Direction };

/** What the session can tell about a packet from what came before it on the connection. */
export interface Correlation {
  /** For PUBACK/PUBREC/PUBREL/PUBCOMP: the PUBLISH answered and the time since it. */
  request?: { topic: string; ms: number };
  /** For SUBACK/UNSUBACK: the filters of the SUBSCRIBE/UNSUBSCRIBE answered, in order. */
  filters?: string[];
  /** Time since the request (SUBSCRIBE, UNSUBSCRIBE, CONNECT for CONNACK, PINGREQ for PINGRESP). */
  ms?: number;
  /** For a PUBLISH that used a Topic Alias with an empty Topic Name: the topic the alias stands for. */
  topic?: string;
}

/** A packet as a verdict names it: its type, its offset in its direction's stream, when it came (ms). */
export interface PacketMark {
  type: Packet['type'];
  offset: number;
  at: number;
}

/** What the session saw that a verdict on the close rests on (verdict.ts). */
export interface SessionFacts {
  version: ProtocolVersion;
  clientId: string | undefined;
  /** The first CONNECT: its keep-alive, and whether it carried a Will. */
  connect?: PacketMark & { keepAlive: number; will: boolean };
  /** The first CONNACK and its code. */
  connack?: PacketMark & { code: number; accepted: boolean };
  /** The keep-alive in force (s) once a CONNACK accepted the connection. */
  keepAlive?: number;
  /** The first DISCONNECT, from either side. */
  disconnect?: PacketMark & { from: Direction; code: number };
  /** The last packet from each side. */
  last: Partial<Record<Direction, PacketMark>>;
  /** When bytes last came from each side (a packet's first bytes may come before it is whole). */
  heardAt: Partial<Record<Direction, number>>;
  /** A PINGREQ not answered yet. */
  pingPending?: PacketMark | undefined;
  /** The last packet from each side that broke a rule, with its first violation. */
  broke: Partial<Record<Direction, PacketMark & { violation: Violation }>>;
  /** When each side's bytes stopped being decoded (malformed, not MQTT, a capture gap). */
  blindAt: Partial<Record<Direction, number>>;
}

/** Per-connection bounds: packet ids are 16-bit, topic aliases too; keep far fewer. */
const MAX_IN_FLIGHT = 4096;
const MAX_ALIASES = 1024;

/**
 * Per-connection protocol state shared by both directions (the version learnt from CONNECT serves
 * the broker's packets too): client id, in-flight packet ids, topic aliases, request timings.
 */
export class ConnectionSession {
  /** Until a CONNECT says otherwise. */
  version: ProtocolVersion;
  /** A CONNECT has set `version`. */
  versionSeen = false;
  clientId: string | undefined;
  username: string | undefined;
  /** The last CONNACK or DISCONNECT reason code seen, and from whom. */
  lastReason: { type: 'CONNACK' | 'DISCONNECT'; code: number; from: Direction } | undefined;
  /** A DISCONNECT with 0x00 (or any in 3.x) came from the client before the end. */
  cleanDisconnect = false;

  /** Bytes of state kept for the tables below, all of them together. */
  private readonly budget: StateBudget;
  private readonly publishes: Record<Direction, InFlightTable>;
  private readonly subscribes: BoundedMap<number, PendingRequest>;
  private readonly unsubscribes: BoundedMap<number, PendingRequest>;
  /** Topic aliases are per direction: each side sets the ones it sends (5.0 §3.3.2.3.4). */
  private readonly aliases: Record<Direction, Map<number, string>>;
  private connectAt: number | undefined;
  private pingAt: number | undefined;
  /** Kept for the verdict; `last` marks are updated in place, one object per side. */
  private readonly seen: SessionFacts;
  /** The stateful rule checks, for a connection seen from its start in both directions. */
  private readonly checks: SessionChecks | undefined;

  /**
   * `stateMax`: bytes of in-flight ids, topic aliases and pending requests kept; past it new
   * entries are not kept, and `onStateFull` runs the first time. `checks`: check each packet
   * against the contract and the flows (a live or captured connection, not a dump of one direction).
   */
  constructor(
    defaultVersion: ProtocolVersion = '3.1.1',
    stateMax?: number,
    onStateFull?: () => void,
    checks = false,
  ) {
    this.version = defaultVersion;
    this.seen = {
      version: defaultVersion,
      clientId: undefined,
      last: {},
      heardAt: {},
      broke: {},
      blindAt: {},
    };
    const budget = new StateBudget(stateMax, onStateFull);
    this.budget = budget;
    this.publishes = {
      client: new InFlightTable(MAX_IN_FLIGHT, budget),
      broker: new InFlightTable(MAX_IN_FLIGHT, budget),
    };
    this.subscribes = new BoundedMap(MAX_IN_FLIGHT, budget, requestCost);
    this.unsubscribes = new BoundedMap(MAX_IN_FLIGHT, budget, requestCost);
    this.aliases = {
      client: new BoundedMap(MAX_ALIASES, budget, aliasCost),
      broker: new BoundedMap(MAX_ALIASES, budget, aliasCost),
    };
    if (checks) {
      this.checks = new SessionChecks({
        publishes: this.publishes,
        subscribes: this.subscribes,
        unsubscribes: this.unsubscribes,
        aliases: this.aliases,
        budget,
      });
    }
  }

  /** What CONNECT and CONNACK negotiated, once the CONNACK is seen (with checks on). */
  get contract(): Contract | undefined {
    return this.checks?.contract;
  }

  /** Bytes from `from` arrived at `now` (a chunk, whether or not it ends a packet). */
  heard(from: Direction, now: number): void {
    this.seen.heardAt[from] = now;
    this.checks?.heard(from, now);
  }

  /** `from`'s direction is no longer decoded (malformed, not MQTT, bytes missing from a capture) since `now`. */
  lostSight(from: Direction, now?: number): void {
    if (now !== undefined) this.seen.blindAt[from] ??= now;
    this.checks?.lostSight(from);
  }

  /** The connection closed at `now`: what the client's silence until then breaks (and the broker's, had it not closed). */
  end(now: number): Violation[] {
    return this.checks?.end(now) ?? [];
  }

  /** What a verdict on the close rests on. */
  facts(): Readonly<SessionFacts> {
    const seen = this.seen;
    seen.version = this.version;
    seen.clientId = this.clientId;
    const c = this.contract;
    if (c?.accepted) seen.keepAlive = c.keepAlive;
    return seen;
  }

  /** Entries not kept because the connection's state budget was full. */
  get stateDropped(): number {
    return this.budget.dropped;
  }

  get stateMax(): number {
    return this.budget.max;
  }

  /** Updates the state with `packet` (sent by `from` at `now` ms) and returns what it answers. */
  observe(from: Direction, packet: Packet, now: number): Correlation | undefined {
    this.checks?.check(from, packet, now);
    const seen = this.seen;
    const last = seen.last[from];
    if (last === undefined) seen.last[from] = { type: packet.type, offset: packet.offset, at: now };
    else {
      last.type = packet.type;
      last.offset = packet.offset;
      last.at = now;
    }
    if (packet.violations.length > 0) {
      seen.broke[from] = {
        type: packet.type,
        offset: packet.offset,
        at: now,
        violation: packet.violations[0]!,
      };
    }
    switch (packet.type) {
      case 'CONNECT':
        seen.connect ??= {
          type: 'CONNECT',
          offset: packet.offset,
          at: now,
          keepAlive: packet.keepAlive,
          will: packet.will !== undefined,
        };
        this.version = packet.protocol;
        this.versionSeen = true;
        this.clientId = packet.clientId;
        this.username = packet.username;
        this.connectAt = now;
        return undefined;
      case 'CONNACK':
        seen.connack ??= {
          type: 'CONNACK',
          offset: packet.offset,
          at: now,
          code: packet.code,
          accepted: packet.protocol === '5.0' ? packet.code < 0x80 : packet.code === 0,
        };
        this.lastReason = { type: 'CONNACK', code: packet.code, from };
        return this.connectAt === undefined ? undefined : { ms: now - this.connectAt };
      case 'PUBLISH':
        return this.publish(
          from,
          packet.topic,
          packet.qos,
          packet.packetId,
          packet.properties?.topicAlias,
          now,
        );
      case 'PUBACK':
      case 'PUBCOMP':
        return this.answer(this.publishes[opposite(from)], packet.packetId, now, true);
      case 'PUBREC':
        // A failure code ends the QoS 2 flow (5.0 §4.3.3); otherwise PUBREL follows.
        return this.answer(this.publishes[opposite(from)], packet.packetId, now, packet.code >= 0x80);
      case 'PUBREL':
        return this.answer(this.publishes[from], packet.packetId, now, false, true);
      case 'SUBSCRIBE':
        this.subscribes.set(packet.packetId, {
          filters: packet.subscriptions.map((s) => s.filter),
          at: now,
          truncated: packet.truncated === true,
        });
        return undefined;
      case 'SUBACK':
        return this.request(this.subscribes, packet.packetId, now);
      case 'UNSUBSCRIBE':
        this.unsubscribes.set(packet.packetId, {
          filters: packet.filters,
          at: now,
          truncated: packet.truncated === true,
        });
        return undefined;
      case 'UNSUBACK':
        return this.request(this.unsubscribes, packet.packetId, now);
      case 'PINGREQ':
        this.pingAt = now;
        seen.pingPending ??= { type: 'PINGREQ', offset: packet.offset, at: now };
        return undefined;
      case 'PINGRESP': {
        seen.pingPending = undefined;
        if (this.pingAt === undefined) return undefined;
        const ms = now - this.pingAt;
        this.pingAt = undefined;
        return { ms };
      }
      case 'DISCONNECT':
        seen.disconnect ??= { type: 'DISCONNECT', offset: packet.offset, at: now, from, code: packet.code };
        this.lastReason = { type: 'DISCONNECT', code: packet.code, from };
        if (from === 'client') this.cleanDisconnect = packet.code === 0;
        return undefined;
      case 'AUTH':
        return undefined;
    }
  }

  private publish(
    from: Direction,
    topic: string,
    qos: number,
    packetId: number | undefined,
    alias: unknown,
    now: number,
  ): Correlation | undefined {
    let resolved: string | undefined;
    if (typeof alias === 'number') {
      const map = this.aliases[from];
      if (topic.length > 0) map.set(alias, topic);
      else resolved = map.get(alias);
    }
    if (qos > 0 && packetId !== undefined) {
      this.publishes[from].set(packetId, resolved ?? topic, now);
    }
    return resolved === undefined ? undefined : { topic: resolved };
  }

  /** `done`: the answer ends the flow; `released`: it is a PUBREL (one more send, if not the first). */
  private answer(
    table: InFlightTable,
    packetId: number,
    now: number,
    done: boolean,
    released = false,
  ): Correlation | undefined {
    const slot = table.slotOf(packetId);
    if (slot === -1) return undefined;
    const request = { topic: table.topicAt(slot), ms: now - table.timeAt(slot) };
    if (done) table.remove(slot);
    else if (released) table.released(slot);
    return { request };
  }

  private request(map: Map<number, PendingRequest>, packetId: number, now: number): Correlation | undefined {
    const pending = map.get(packetId);
    if (pending === undefined) return undefined;
    map.delete(packetId);
    return { filters: pending.filters, ms: now - pending.at };
  }
}

function requestCost(request: PendingRequest): number {
  let bytes = ENTRY_COST;
  for (const filter of request.filters) bytes += stringCost(filter);
  return bytes;
}

function aliasCost(topic: string): number {
  return ENTRY_COST + stringCost(topic);
}
