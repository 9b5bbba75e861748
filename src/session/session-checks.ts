/**
 * Stateful rule checks: each packet against the connection's contract (contract.ts) and against
 * what came before it on the connection, in the direction it travels. A breach is a violation on
 * the packet that commits it; nothing is blocked. Checks that rest on the absence of state (an
 * answer to an id not in flight, an alias never set) run only while that state is whole: both
 * directions decoded from their start and nothing forgotten or dropped by the state bounds.
 */
import type { ProtocolVersion } from '../protocol/constants.js';
import { type Direction, opposite } from '../protocol/direction.js';
import { CODED_TYPES } from '../protocol/packet-codes.js';
import type {
  AckPacket,
  AuthPacket,
  ConnackPacket,
  ConnectPacket,
  Packet,
  Properties,
  PublishPacket,
  SubackPacket,
  SubscribePacket,
  UnsubackPacket,
  UnsubscribePacket,
  Violation,
} from '../protocol/types.js';
import { type ViolationCode, violation } from '../protocol/violations.js';
import {
  accepts,
  type BrokerLimits,
  brokerLimits,
  type ClientLimits,
  type Contract,
  clientLimits,
  defaultBrokerLimits,
  defaultClientLimits,
  settle,
} from './contract.js';
import type { InFlightTable } from './in-flight-table.js';
import type { StateBudget } from './state-budget.js';

/** A SUBSCRIBE or UNSUBSCRIBE waiting for its answer, as the session keeps it. */
export interface PendingRequest {
  filters: string[];
  at: number;
  /** Cut by the capture cap: `filters` may miss some. */
  truncated: boolean;
}

/** The session's tables the checks read (and never change, but for late answers they count). */
export interface SessionTables {
  publishes: Record<Direction, InFlightTable>;
  subscribes: Map<number, PendingRequest>;
  unsubscribes: Map<number, PendingRequest>;
  aliases: Record<Direction, Map<number, string>>;
  budget: StateBudget;
}

const NO_CONNACK = 0;
const ACCEPTED = 1;
const REFUSED = 2;

/** Packets with a statement of their own for a Reason String or User Property past the Maximum Packet Size. */
const SIZED_PROPERTIES = new Set<string>(CODED_TYPES);

/** Where Request Problem Information 0 still lets the broker send a Reason String or User Property [MQTT-3.1.2-29]. */
const PROBLEM_INFORMATION_ALWAYS = new Set(['PUBLISH', 'CONNACK', 'DISCONNECT']);

export class SessionChecks {
  /** The contract, once a CONNACK settled it. */
  contract: Contract | undefined;
  /** What each side declared: the client in CONNECT, the broker in CONNACK; the spec's values until then. */
  private clientSide: ClientLimits = defaultClientLimits();
  private brokerSide: BrokerLimits = defaultBrokerLimits();
  private clientDefaults: string[] = [];
  private connects = 0;
  private clientPackets = 0;
  private connack = NO_CONNACK;
  /** The CONNECT's Authentication Method (5.0 extended authentication). */
  private authMethod: string | undefined;
  private will: { qos: number; retain: boolean } | undefined;
  private emptyClientId = false;
  /** The broker resumed a session: PUBRELs (and their PUBCOMPs) of the earlier connection may follow. */
  private resumed = false;
  private readonly disconnected: Record<Direction, boolean> = { client: false, broker: false };
  /** A direction no longer decoded (malformed, not MQTT, a capture gap): its packets are unknown. */
  private readonly blind: Record<Direction, boolean> = { client: false, broker: false };
  private lastClientAt = 0;
  /** 1.5 times the keep-alive in force, in ms; 0 while none applies. */
  private silenceLimit = 0;
  /** Client silence past which the broker should have closed: silenceLimit and its slack. */
  private enforceLimit = 0;
  /** The broker's failure to close was reported for the client's current silence. */
  private notEnforcedShown = false;

  constructor(private readonly tables: SessionTables) {}

  /** Bytes from `from` arrived at `now`: a client in the middle of a long packet is not silent. */
  heard(from: Direction, now: number): void {
    if (from === 'client') this.lastClientAt = now;
  }

  /** `from`'s direction is no longer decoded. */
  lostSight(from: Direction): void {
    this.blind[from] = true;
  }

  /** Checks `packet`, sent by `from` at `now`, against what came before it; run before the session takes it in. */
  check(from: Direction, p: Packet, now: number): void {
    if (!sends(p.type, from, p.protocol)) {
      report(
        p,
        'MQTT_WRONG_DIRECTION',
        `${p.type} comes from the ${opposite(from)} only${p.type === 'DISCONNECT' ? ` in MQTT ${p.protocol}` : ''}`,
      );
      return;
    }
    if (this.disconnected[from]) {
      report(p, 'MQTT_AFTER_DISCONNECT', `${p.type} from the ${from} after its DISCONNECT`);
    }
    if (from === 'client') this.clientTurn(p, now);
    else this.brokerTurn(p, now);
    switch (p.type) {
      case 'CONNECT':
        if (this.connects === 1) this.connect(p);
        break;
      case 'CONNACK':
        if (this.connack === NO_CONNACK) this.settle(p);
        break;
      case 'PUBLISH':
        this.publish(from, p);
        break;
      case 'PUBACK':
      case 'PUBREC':
      case 'PUBCOMP':
        this.answer(opposite(from), p);
        break;
      case 'PUBREL':
        this.answer(from, p);
        break;
      case 'SUBSCRIBE':
      case 'UNSUBSCRIBE':
        this.request(p);
        break;
      case 'SUBACK':
      case 'UNSUBACK':
        this.acknowledge(p);
        break;
      case 'DISCONNECT':
        this.disconnected[from] = true;
        break;
      case 'AUTH':
        this.auth(from, p);
        break;
    }
    if (p.protocol === '5.0') this.limits(from, p);
  }

  /**
   * At the close: the client's silence since its last bytes, if it outlasted 1.5 times the
   * keep-alive, and the broker's, if it had not closed well past that.
   */
  end(now: number): Violation[] {
    if (this.silenceLimit === 0 || this.disconnected.client || this.blind.client) return [];
    const silent = now - this.lastClientAt;
    if (silent <= this.silenceLimit) return [];
    const version = this.contract!.version;
    const found = [violation('MQTT_KEEP_ALIVE_EXCEEDED', version, this.silence(silent, 'until the close'))];
    if (silent > this.enforceLimit && !this.notEnforcedShown)
      found.push(violation('MQTT_KEEP_ALIVE_NOT_ENFORCED', version, this.notClosed(silent, 'at the close')));
    return found;
  }

  /** Answers found missing mean something only while every packet of both directions was kept. */
  private get whole(): boolean {
    const b = this.tables.budget;
    return !this.blind.client && !this.blind.broker && b.dropped === 0 && b.forgotten === 0;
  }

  private clientTurn(p: Packet, now: number): void {
    if (p.type === 'CONNECT') {
      if (this.connects++ > 0) report(p, 'MQTT_SECOND_CONNECT', 'a second CONNECT on the connection');
    } else if (this.clientPackets === 0) {
      report(p, 'MQTT_CONNECT_NOT_FIRST', `the client's first packet is ${p.type}, not CONNECT`);
    } else if (
      this.connack === NO_CONNACK &&
      this.authMethod !== undefined &&
      p.type !== 'AUTH' &&
      p.type !== 'DISCONNECT'
    ) {
      report(
        p,
        'MQTT_BEFORE_CONNACK',
        `${p.type} before the CONNACK, with extended authentication under way`,
        'from client',
      );
    }
    this.clientPackets++;
    if (this.silenceLimit > 0 && !this.disconnected.client && !this.blind.client) {
      const silent = now - this.lastClientAt;
      if (silent > this.silenceLimit) {
        report(p, 'MQTT_KEEP_ALIVE_EXCEEDED', this.silence(silent, 'before it'));
        // The connection was still open for this packet: the broker's failure, shown here when no broker packet showed it.
        if (silent > this.enforceLimit && !this.notEnforcedShown)
          report(p, 'MQTT_KEEP_ALIVE_NOT_ENFORCED', this.notClosed(silent, 'when this packet came'));
      }
    }
    this.lastClientAt = now;
    this.notEnforcedShown = false;
  }

  private brokerTurn(p: Packet, now: number): void {
    if (
      this.enforceLimit > 0 &&
      !this.notEnforcedShown &&
      now - this.lastClientAt > this.enforceLimit &&
      !this.disconnected.client &&
      !this.blind.client
    ) {
      this.notEnforcedShown = true;
      report(p, 'MQTT_KEEP_ALIVE_NOT_ENFORCED', this.notClosed(now - this.lastClientAt, 'and still sends'));
    }
    if (p.type === 'CONNACK') {
      if (this.connack !== NO_CONNACK) report(p, 'MQTT_SECOND_CONNACK', 'a second CONNACK on the connection');
      return;
    }
    const v5 = p.protocol === '5.0';
    if (this.connack === NO_CONNACK) {
      if (v5 && p.type === 'AUTH') return;
      report(
        p,
        'MQTT_BEFORE_CONNACK',
        `${p.type} from the broker before its CONNACK`,
        v5 && p.type === 'DISCONNECT' ? 'DISCONNECT from broker' : 'from broker',
      );
    } else if (this.connack === REFUSED) {
      report(
        p,
        'MQTT_AFTER_REFUSAL',
        `${p.type} from the broker after its CONNACK refused the connection`,
        p.type,
      );
    }
  }

  private connect(p: ConnectPacket): void {
    this.clientDefaults = [];
    this.clientSide = clientLimits(p, this.clientDefaults);
    const method = p.protocol === '5.0' ? p.properties?.authenticationMethod : undefined;
    this.authMethod = typeof method === 'string' ? method : undefined;
    this.will = p.will === undefined ? undefined : { qos: p.will.qos, retain: p.will.retain };
    this.emptyClientId = p.clientId === '';
  }

  private settle(p: ConnackPacket): void {
    if (this.connects === 0) {
      // No CONNECT seen: the broker's limits hold, but nothing was negotiated that the tap knows.
      this.brokerSide = brokerLimits(p, []);
      this.connack = accepts(p) ? ACCEPTED : REFUSED;
      return;
    }
    const c = settle(p, this.clientSide, this.clientDefaults);
    this.contract = c;
    this.brokerSide = c.broker;
    this.connack = c.accepted ? ACCEPTED : REFUSED;
    const v5 = p.protocol === '5.0';
    const method = v5 ? p.properties?.authenticationMethod : undefined;
    if (v5 && this.authMethod === undefined && method !== undefined) {
      report(
        p,
        'MQTT_AUTH_NOT_NEGOTIATED',
        'the CONNACK has an Authentication Method; the CONNECT had none',
        'CONNACK',
      );
    }
    if (!c.accepted) return;
    this.resumed = !c.client.clean && (p.protocol === '3.1' || p.sessionPresent);
    this.silenceLimit = c.keepAlive * 1500;
    this.enforceLimit = c.keepAlive === 0 ? 0 : enforceLimit(c.keepAlive);
    if (p.protocol !== '3.1' && c.client.clean && p.sessionPresent) {
      report(
        p,
        'MQTT_SESSION_PRESENT_ON_CLEAN_START',
        'Session Present is 1 for a CONNECT with a clean start',
      );
    }
    if (!v5) return;
    const b = c.broker;
    if (this.will !== undefined && this.will.qos > b.maximumQoS) {
      report(
        p,
        'MQTT_QOS_NOT_SUPPORTED',
        `accepts a Will of QoS ${this.will.qos} with Maximum QoS ${b.maximumQoS}`,
        'Will',
      );
    }
    if (this.will?.retain === true && !b.retainAvailable) {
      report(p, 'MQTT_RETAIN_NOT_SUPPORTED', 'accepts a retained Will with Retain Available 0', 'Will');
    }
    if (this.emptyClientId && b.assignedClientIdentifier === undefined) {
      report(
        p,
        'MQTT_ASSIGNED_CLIENT_ID_MISSING',
        'the CONNECT had an empty Client Identifier and the CONNACK assigns none',
      );
    }
    if (!c.client.requestResponseInformation && b.responseInformation !== undefined) {
      report(
        p,
        'MQTT_RESPONSE_INFORMATION_NOT_REQUESTED',
        'Response Information the CONNECT did not request',
      );
    }
    if (this.authMethod !== undefined && method !== this.authMethod) {
      report(p, 'MQTT_AUTH_METHOD_CHANGED', methodDetail('CONNACK', method, this.authMethod));
    }
  }

  private publish(from: Direction, p: PublishPacket): void {
    const v5 = p.protocol === '5.0';
    const to = from === 'client' ? this.brokerSide : this.clientSide;
    const id = p.packetId;
    if (p.qos > 0 && id !== undefined && id !== 0 && this.whole) {
      const t = this.tables;
      const table = t.publishes[from];
      if (table.slotOf(id) !== -1) {
        // DUP 1 says it is the same message sent again, not a new one on a busy id.
        if (!p.dup) report(p, 'MQTT_PACKET_ID_IN_USE', inUse(id, from), `PUBLISH QoS ${p.qos}`);
      } else if (
        from === 'client' &&
        t.subscribes.size + t.unsubscribes.size > 0 &&
        (t.subscribes.has(id) || t.unsubscribes.has(id))
      ) {
        report(p, 'MQTT_PACKET_ID_IN_USE', inUse(id, from), `PUBLISH QoS ${p.qos}`);
      } else if (v5 && table.size >= to.receiveMaximum) {
        report(
          p,
          'MQTT_RECEIVE_MAXIMUM_EXCEEDED',
          `${table.size} QoS 1 and 2 PUBLISH packets from the ${from} are unacknowledged; the ${opposite(from)}'s Receive Maximum is ${to.receiveMaximum}`,
          `from ${from}`,
        );
      }
    }
    if (!v5) return;
    if (from === 'client') {
      const b = this.brokerSide;
      if (p.qos > b.maximumQoS) {
        report(
          p,
          'MQTT_QOS_NOT_SUPPORTED',
          `QoS ${p.qos} above the broker's Maximum QoS ${b.maximumQoS}`,
          'PUBLISH',
        );
      }
      if (p.retain && !b.retainAvailable) {
        report(p, 'MQTT_RETAIN_NOT_SUPPORTED', "RETAIN 1 with the broker's Retain Available 0", 'PUBLISH');
      }
    }
    const alias = p.properties?.topicAlias;
    if (typeof alias !== 'number' || alias === 0) return;
    const max = to.topicAliasMaximum;
    if (alias > max) {
      report(
        p,
        'MQTT_TOPIC_ALIAS_ABOVE_MAXIMUM',
        `Topic Alias ${alias} above the ${opposite(from)}'s Topic Alias Maximum ${max}`,
        max === 0 ? `from ${from}, none accepted` : `from ${from}`,
      );
    } else if (p.topic === '' && this.whole && !this.tables.aliases[from].has(alias)) {
      report(
        p,
        'MQTT_TOPIC_ALIAS_UNKNOWN',
        `Topic Alias ${alias} with an empty Topic Name, and no PUBLISH set it`,
      );
    }
  }

  /** A PUBACK, PUBREC, PUBREL or PUBCOMP for a PUBLISH sent by `sender`. */
  private answer(sender: Direction, p: AckPacket): void {
    if (!this.whole) return;
    const table = this.tables.publishes[sender];
    const id = p.packetId;
    if (table.slotOf(id) !== -1 || table.takeLate(id)) return;
    // A resumed session's QoS 2 flows go on: PUBREL is sent again for what the last connection released.
    if (this.resumed && (p.type === 'PUBREL' || p.type === 'PUBCOMP')) return;
    report(
      p,
      'MQTT_PACKET_ID_NOT_IN_FLIGHT',
      `${p.type} for packet id ${id}, which no PUBLISH from the ${sender} has in flight`,
      p.type,
    );
  }

  private request(p: SubscribePacket | UnsubscribePacket): void {
    const id = p.packetId;
    if (id !== 0 && this.whole) {
      const t = this.tables;
      const same = (p.type === 'SUBSCRIBE' ? t.subscribes : t.unsubscribes).get(id);
      const busy =
        same !== undefined
          ? // The same request again is a resend (3.1 marks it with DUP), not a new one on a busy id.
            !sameFilters(
              same.filters,
              p.type === 'SUBSCRIBE' ? p.subscriptions.map((s) => s.filter) : p.filters,
            )
          : t.publishes.client.slotOf(id) !== -1 ||
            (p.type === 'SUBSCRIBE' ? t.unsubscribes : t.subscribes).has(id);
      if (busy) report(p, 'MQTT_PACKET_ID_IN_USE', inUse(id, 'client'), p.type);
    }
    if (p.type === 'SUBSCRIBE' && p.protocol === '5.0') this.features(p);
  }

  /** Subscriptions of a kind the broker said it does not support (5.0 §3.2.2.3.11-13). */
  private features(p: SubscribePacket): void {
    const b = this.brokerSide;
    if (b.wildcardSubscriptionAvailable && b.sharedSubscriptionAvailable && b.subscriptionIdentifierAvailable)
      return;
    if (!b.subscriptionIdentifierAvailable && p.properties?.subscriptionIdentifier !== undefined) {
      report(
        p,
        'MQTT_SUBSCRIPTION_ID_NOT_SUPPORTED',
        "a Subscription Identifier with the broker's Subscription Identifier Available 0",
      );
    }
    for (const { filter } of p.subscriptions) {
      if (!b.sharedSubscriptionAvailable && filter.startsWith('$share/')) {
        report(
          p,
          'MQTT_SHARED_SUBSCRIPTION_NOT_SUPPORTED',
          `"${filter}" with the broker's Shared Subscription Available 0`,
        );
      }
      if (!b.wildcardSubscriptionAvailable && (filter.includes('+') || filter.includes('#'))) {
        report(
          p,
          'MQTT_WILDCARD_SUBSCRIPTION_NOT_SUPPORTED',
          `"${filter}" with the broker's Wildcard Subscription Available 0`,
        );
      }
    }
  }

  private acknowledge(p: SubackPacket | UnsubackPacket): void {
    const t = this.tables;
    const pending = (p.type === 'SUBACK' ? t.subscribes : t.unsubscribes).get(p.packetId);
    if (pending === undefined) {
      if (this.whole) {
        const request = p.type === 'SUBACK' ? 'SUBSCRIBE' : 'UNSUBSCRIBE';
        report(
          p,
          'MQTT_PACKET_ID_NOT_IN_FLIGHT',
          `${p.type} for packet id ${p.packetId}, which no ${request} has pending`,
          p.type,
        );
      }
      return;
    }
    // 3.x UNSUBACK carries no codes; a cut packet or request may miss some.
    if (pending.truncated || p.truncated || (p.type === 'UNSUBACK' && p.protocol !== '5.0')) return;
    if (p.codes.length !== pending.filters.length) {
      report(
        p,
        'MQTT_REASON_CODE_COUNT',
        `${p.codes.length} reason code${p.codes.length === 1 ? '' : 's'} for ${pending.filters.length} Topic Filter${pending.filters.length === 1 ? '' : 's'}`,
        p.type,
      );
    }
  }

  private auth(from: Direction, p: AuthPacket): void {
    if (p.protocol !== '5.0' || this.connects === 0) return;
    if (this.authMethod === undefined) {
      report(
        p,
        'MQTT_AUTH_NOT_NEGOTIATED',
        `AUTH from the ${from}; the CONNECT had no Authentication Method`,
        `AUTH from ${from}`,
      );
      return;
    }
    const method = p.properties?.authenticationMethod;
    if (method !== this.authMethod)
      report(p, 'MQTT_AUTH_METHOD_CHANGED', methodDetail('AUTH', method, this.authMethod));
  }

  /** What the receiver declared it accepts: its Maximum Packet Size, and what the client asked of failures. */
  private limits(from: Direction, p: Packet): void {
    const props = (p as { properties?: Properties }).properties;
    const to = from === 'client' ? this.brokerSide : this.clientSide;
    if (p.length > to.maximumPacketSize) {
      const context =
        props === undefined || !SIZED_PROPERTIES.has(p.type)
          ? `from ${from}`
          : props.reasonString !== undefined
            ? `${p.type} Reason String`
            : props.userProperties !== undefined
              ? `${p.type} User Property`
              : `from ${from}`;
      report(
        p,
        'MQTT_PACKET_TOO_LARGE',
        `${p.length} bytes, above the ${opposite(from)}'s Maximum Packet Size ${to.maximumPacketSize}`,
        context,
      );
    }
    if (
      from === 'broker' &&
      props !== undefined &&
      !this.clientSide.requestProblemInformation &&
      !PROBLEM_INFORMATION_ALWAYS.has(p.type) &&
      (props.reasonString !== undefined || props.userProperties !== undefined)
    ) {
      report(
        p,
        'MQTT_PROBLEM_INFORMATION_NOT_REQUESTED',
        `a Reason String or User Property on ${p.type}; the CONNECT's Request Problem Information is 0`,
      );
    }
  }

  private notClosed(ms: number, when: string): string {
    const keepAlive = this.silenceLimit / 1500;
    return `the broker had not closed the connection ${when}: nothing from the client for ${(ms / 1000).toFixed(1)} s, more than 1.5 times the keep-alive of ${keepAlive} s`;
  }

  private silence(ms: number, until: string): string {
    const keepAlive = this.silenceLimit / 1500;
    return `nothing from the client for ${(ms / 1000).toFixed(1)} s ${until}: more than 1.5 times the keep-alive of ${keepAlive} s`;
  }
}

/**
 * Client silence (ms) past which a broker that had not closed is reported: 1.5 times the keep-alive,
 * plus 10 s or half the keep-alive, whichever is more. Brokers check keep-alive on a timer
 * (mosquitto 2.0.11 every 5 s or so: closed after 3.4 to 8.7 s of silence with a keep-alive of 2 s).
 */
export function enforceLimit(keepAlive: number): number {
  return keepAlive * 1500 + Math.max(10_000, keepAlive * 500);
}

/** Who may send `type` (Table 2-1); AUTH outside 5.0 is the decoder's to report. */
function sends(type: Packet['type'], from: Direction, v: ProtocolVersion): boolean {
  switch (type) {
    case 'PUBLISH':
    case 'PUBACK':
    case 'PUBREC':
    case 'PUBREL':
    case 'PUBCOMP':
      return true;
    case 'CONNECT':
    case 'SUBSCRIBE':
    case 'UNSUBSCRIBE':
    case 'PINGREQ':
      return from === 'client';
    case 'CONNACK':
    case 'SUBACK':
    case 'UNSUBACK':
    case 'PINGRESP':
      return from === 'broker';
    case 'DISCONNECT':
      return from === 'client' || v === '5.0';
    default:
      return true;
  }
}

function report(p: Packet, code: ViolationCode, detail: string, context?: string): void {
  p.violations.push(violation(code, p.protocol, detail, context));
}

function inUse(id: number, from: Direction): string {
  return `packet id ${id} is still in use by an unanswered request from the ${from}`;
}

function sameFilters(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function methodDetail(type: string, method: unknown, expected: string): string {
  return method === undefined
    ? `${type} without the Authentication Method "${expected}" of the CONNECT`
    : `${type} with Authentication Method "${String(method)}", the CONNECT's was "${expected}"`;
}
