/**
 * The connection's contract: what each side declared in CONNECT and CONNACK about what it accepts,
 * with the spec's value for what it did not declare (MQTT 5.0 §3.1.2.11, §3.2.2.3). Each side's
 * limits bind the other: the client sends within the broker's, the broker within the client's.
 * In 3.x nothing is negotiated but the keep-alive; the limits are the protocol's.
 */
import { MAX_REMAINING_LENGTH, type ProtocolVersion } from '../protocol/constants.js';
import type { ConnackPacket, ConnectPacket, Properties } from '../protocol/types.js';

/** The largest packet a Remaining Length can describe: one byte of type and flags, four of length (§2.1.4). */
export const PROTOCOL_MAXIMUM_PACKET_SIZE = 1 + 4 + MAX_REMAINING_LENGTH;

/** What the client declared in CONNECT (5.0 §3.1.2.11); it binds the broker. */
export interface ClientLimits {
  /** Keep Alive in seconds, as the client asked. */
  keepAlive: number;
  /** Clean Start (5.0) / Clean Session (3.x). */
  clean: boolean;
  receiveMaximum: number;
  maximumPacketSize: number;
  topicAliasMaximum: number;
  requestProblemInformation: boolean;
  requestResponseInformation: boolean;
  sessionExpiryInterval: number;
}

/** What the broker declared in CONNACK (5.0 §3.2.2.3); it binds the client. */
export interface BrokerLimits {
  receiveMaximum: number;
  maximumQoS: number;
  retainAvailable: boolean;
  maximumPacketSize: number;
  topicAliasMaximum: number;
  wildcardSubscriptionAvailable: boolean;
  subscriptionIdentifierAvailable: boolean;
  sharedSubscriptionAvailable: boolean;
  /** The properties below have no default: present only when the broker sent them. */
  assignedClientIdentifier?: string;
  serverKeepAlive?: number;
  serverReference?: string;
  sessionExpiryInterval?: number;
  responseInformation?: string;
}

export interface Contract {
  version: ProtocolVersion;
  /** The CONNACK accepted the connection: return code 0 (3.x), reason code below 0x80 (5.0). */
  accepted: boolean;
  sessionPresent: boolean;
  /** The keep-alive in force, in seconds: the broker's Server Keep Alive, else the client's. */
  keepAlive: number;
  client: ClientLimits;
  broker: BrokerLimits;
  /** The limits the spec filled in, as `client.receiveMaximum`: not sent, or not negotiable in 3.x. */
  defaults: string[];
}

/** What a broker is held to before any CONNECT: the spec's values. */
export function defaultClientLimits(): ClientLimits {
  return {
    keepAlive: 0,
    clean: true,
    receiveMaximum: 65_535,
    maximumPacketSize: PROTOCOL_MAXIMUM_PACKET_SIZE,
    topicAliasMaximum: 0,
    requestProblemInformation: true,
    requestResponseInformation: false,
    sessionExpiryInterval: 0,
  };
}

/** What a client is held to before any CONNACK: the spec's values. */
export function defaultBrokerLimits(): BrokerLimits {
  return {
    receiveMaximum: 65_535,
    maximumQoS: 2,
    retainAvailable: true,
    maximumPacketSize: PROTOCOL_MAXIMUM_PACKET_SIZE,
    topicAliasMaximum: 0,
    wildcardSubscriptionAvailable: true,
    subscriptionIdentifierAvailable: true,
    sharedSubscriptionAvailable: true,
  };
}

/** The client's limits from its CONNECT; `defaults` gets the names the spec filled in. */
export function clientLimits(connect: ConnectPacket, defaults: string[]): ClientLimits {
  const p = connect.protocol === '5.0' ? connect.properties : undefined;
  const num = (key: string, fallback: number): number => numberProperty(p, key, fallback, 'client', defaults);
  return {
    keepAlive: connect.keepAlive,
    clean: connect.clean,
    receiveMaximum: num('receiveMaximum', 65_535),
    maximumPacketSize: num('maximumPacketSize', PROTOCOL_MAXIMUM_PACKET_SIZE),
    topicAliasMaximum: num('topicAliasMaximum', 0),
    requestProblemInformation: num('requestProblemInformation', 1) !== 0,
    requestResponseInformation: num('requestResponseInformation', 0) !== 0,
    sessionExpiryInterval: num('sessionExpiryInterval', 0),
  };
}

/** The broker's limits from its CONNACK; `defaults` gets the names the spec filled in. */
export function brokerLimits(connack: ConnackPacket, defaults: string[]): BrokerLimits {
  const p = connack.protocol === '5.0' ? connack.properties : undefined;
  const num = (key: string, fallback: number): number => numberProperty(p, key, fallback, 'broker', defaults);
  const limits: BrokerLimits = {
    receiveMaximum: num('receiveMaximum', 65_535),
    maximumQoS: num('maximumQoS', 2),
    retainAvailable: num('retainAvailable', 1) !== 0,
    maximumPacketSize: num('maximumPacketSize', PROTOCOL_MAXIMUM_PACKET_SIZE),
    topicAliasMaximum: num('topicAliasMaximum', 0),
    wildcardSubscriptionAvailable: num('wildcardSubscriptionAvailable', 1) !== 0,
    subscriptionIdentifierAvailable: num('subscriptionIdentifierAvailable', 1) !== 0,
    sharedSubscriptionAvailable: num('sharedSubscriptionAvailable', 1) !== 0,
  };
  if (typeof p?.assignedClientIdentifier === 'string')
    limits.assignedClientIdentifier = p.assignedClientIdentifier;
  if (typeof p?.serverKeepAlive === 'number') limits.serverKeepAlive = p.serverKeepAlive;
  if (typeof p?.serverReference === 'string') limits.serverReference = p.serverReference;
  if (typeof p?.sessionExpiryInterval === 'number') limits.sessionExpiryInterval = p.sessionExpiryInterval;
  if (typeof p?.responseInformation === 'string') limits.responseInformation = p.responseInformation;
  return limits;
}

/** Whether a CONNACK accepted the connection. */
export function accepts(connack: ConnackPacket): boolean {
  return connack.protocol === '5.0' ? connack.code < 0x80 : connack.code === 0;
}

/** The contract a CONNACK settles, given the client's limits from its CONNECT. */
export function settle(
  connack: ConnackPacket,
  client: ClientLimits,
  clientDefaults: readonly string[],
): Contract {
  const v5 = connack.protocol === '5.0';
  const defaults = v5 ? [...clientDefaults] : ['client.maximumPacketSize', 'broker.maximumPacketSize'];
  const broker = brokerLimits(connack, v5 ? defaults : []);
  return {
    version: connack.protocol,
    accepted: accepts(connack),
    sessionPresent: connack.sessionPresent,
    keepAlive: broker.serverKeepAlive ?? client.keepAlive,
    client,
    broker,
    defaults,
  };
}

/**
 * The contract as the fields of a `session` record, in print order. 3.x shows what it has: the
 * keep-alive, Clean Session and the protocol's packet size limit (3.1 has no Session Present).
 */
export function contractFields(c: Contract): Record<string, unknown> {
  const out: Record<string, unknown> = { version: c.version, accepted: c.accepted };
  if (c.version !== '3.1') out.sessionPresent = c.sessionPresent;
  out.keepAlive = c.keepAlive;
  if (c.version === '5.0') {
    out.client = { ...c.client };
    out.broker = { ...c.broker };
  } else {
    out.client = {
      keepAlive: c.client.keepAlive,
      clean: c.client.clean,
      maximumPacketSize: c.client.maximumPacketSize,
    };
    out.broker = { maximumPacketSize: c.broker.maximumPacketSize };
  }
  out.defaults = c.defaults;
  return out;
}

/** One line: the version, the keep-alive in force, and each side's limits that differ from the spec's. */
export function contractSummary(c: Contract): string {
  const head = `session ${c.version}${c.accepted ? '' : ' refused'}, keep-alive ${c.keepAlive === 0 ? 'off' : `${c.keepAlive} s`}${c.broker.serverKeepAlive === undefined ? '' : " (the broker's)"}`;
  const present = c.version !== '3.1' && c.sessionPresent ? ', session present' : '';
  if (c.version !== '5.0') return `${head}${present}`;
  const broker = declared(c, 'broker', BROKER_LABELS);
  const client = declared(c, 'client', CLIENT_LABELS);
  const sides = [broker === '' ? '' : `; broker: ${broker}`, client === '' ? '' : `; client: ${client}`];
  return `${head}${present}${sides.join('')}${broker === '' && client === '' ? '; default limits' : ''}`;
}

const CLIENT_LABELS: Record<string, string> = {
  receiveMaximum: 'receive max',
  maximumPacketSize: 'max packet',
  topicAliasMaximum: 'topic aliases',
  requestProblemInformation: 'problem info',
  requestResponseInformation: 'response info',
  sessionExpiryInterval: 'session expiry',
};

const BROKER_LABELS: Record<string, string> = {
  receiveMaximum: 'receive max',
  maximumQoS: 'max QoS',
  retainAvailable: 'retain',
  maximumPacketSize: 'max packet',
  topicAliasMaximum: 'topic aliases',
  wildcardSubscriptionAvailable: 'wildcards',
  subscriptionIdentifierAvailable: 'subscription ids',
  sharedSubscriptionAvailable: 'shared',
  assignedClientIdentifier: 'assigned id',
  serverReference: 'server reference',
  sessionExpiryInterval: 'session expiry',
  responseInformation: 'response info',
};

/** `label value` for each limit of `side` the side sent, in the order of the labels. */
function declared(c: Contract, side: 'client' | 'broker', labels: Record<string, string>): string {
  const limits = c[side] as unknown as Record<string, unknown>;
  const parts: string[] = [];
  for (const [key, label] of Object.entries(labels)) {
    const value = limits[key];
    if (value === undefined || c.defaults.includes(`${side}.${key}`)) continue;
    parts.push(`${label} ${typeof value === 'boolean' ? (value ? 'yes' : 'no') : value}`);
  }
  return parts.join(', ');
}

/** A numeric property as sent, or `fallback` with `side.key` added to `defaults`. */
function numberProperty(
  p: Properties | undefined,
  key: string,
  fallback: number,
  side: 'client' | 'broker',
  defaults: string[],
): number {
  const value = p?.[key];
  if (typeof value === 'number') return value;
  defaults.push(`${side}.${key}`);
  return fallback;
}
