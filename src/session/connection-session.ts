import type { ProtocolVersion } from '../protocol/constants.js';
import type { Packet } from '../protocol/types.js';
import { BoundedMap } from './bounded-map.js';
import { InFlightTable } from './in-flight-table.js';

export type Side = 'client' | 'broker';

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

interface PendingRequest {
  filters: string[];
  at: number;
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
  clientId: string | undefined;
  username: string | undefined;
  /** The last CONNACK or DISCONNECT reason code seen, and from whom. */
  lastReason: { type: 'CONNACK' | 'DISCONNECT'; code: number; from: Side } | undefined;
  /** A DISCONNECT with 0x00 (or any in 3.x) came from the client before the end. */
  cleanDisconnect = false;

  private readonly publishes: Record<Side, InFlightTable> = {
    client: new InFlightTable(MAX_IN_FLIGHT),
    broker: new InFlightTable(MAX_IN_FLIGHT),
  };
  private readonly subscribes = new BoundedMap<number, PendingRequest>(MAX_IN_FLIGHT);
  private readonly unsubscribes = new BoundedMap<number, PendingRequest>(MAX_IN_FLIGHT);
  /** Topic aliases are per direction: each side sets the ones it sends (5.0 §3.3.2.3.4). */
  private readonly aliases: Record<Side, Map<number, string>> = {
    client: new BoundedMap(MAX_ALIASES),
    broker: new BoundedMap(MAX_ALIASES),
  };
  private connectAt: number | undefined;
  private pingAt: number | undefined;

  constructor(defaultVersion: ProtocolVersion = '3.1.1') {
    this.version = defaultVersion;
  }

  /** Updates the state with `packet` (sent by `from` at `now` ms) and returns what it answers. */
  observe(from: Side, packet: Packet, now: number): Correlation | undefined {
    switch (packet.type) {
      case 'CONNECT':
        this.version = packet.protocol;
        this.clientId = packet.clientId;
        this.username = packet.username;
        this.connectAt = now;
        return undefined;
      case 'CONNACK':
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
        return this.answer(this.publishes[other(from)], packet.packetId, now, true);
      case 'PUBREC':
        // A failure code ends the QoS 2 flow (5.0 §4.3.3); otherwise PUBREL follows.
        return this.answer(this.publishes[other(from)], packet.packetId, now, packet.code >= 0x80);
      case 'PUBREL':
        return this.answer(this.publishes[from], packet.packetId, now, false);
      case 'SUBSCRIBE':
        this.subscribes.set(packet.packetId, { filters: packet.subscriptions.map((s) => s.filter), at: now });
        return undefined;
      case 'SUBACK':
        return this.request(this.subscribes, packet.packetId, now);
      case 'UNSUBSCRIBE':
        this.unsubscribes.set(packet.packetId, { filters: packet.filters, at: now });
        return undefined;
      case 'UNSUBACK':
        return this.request(this.unsubscribes, packet.packetId, now);
      case 'PINGREQ':
        this.pingAt = now;
        return undefined;
      case 'PINGRESP': {
        if (this.pingAt === undefined) return undefined;
        const ms = now - this.pingAt;
        this.pingAt = undefined;
        return { ms };
      }
      case 'DISCONNECT':
        this.lastReason = { type: 'DISCONNECT', code: packet.code, from };
        if (from === 'client') this.cleanDisconnect = packet.code === 0;
        return undefined;
      case 'AUTH':
        return undefined;
    }
  }

  private publish(
    from: Side,
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

  private answer(
    table: InFlightTable,
    packetId: number,
    now: number,
    done: boolean,
  ): Correlation | undefined {
    const slot = table.slotOf(packetId);
    if (slot === -1) return undefined;
    const request = { topic: table.topicAt(slot), ms: now - table.timeAt(slot) };
    if (done) table.remove(slot);
    return { request };
  }

  private request(map: Map<number, PendingRequest>, packetId: number, now: number): Correlation | undefined {
    const pending = map.get(packetId);
    if (pending === undefined) return undefined;
    map.delete(packetId);
    return { filters: pending.filters, ms: now - pending.at };
  }
}

function other(side: Side): Side {
  return side === 'client' ? 'broker' : 'client';
}
