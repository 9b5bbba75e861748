/**
 * Expected records of one connection, built packet by packet from what the test made the peers do.
 * Lengths come from the spec's encodings (MQTT 3.1.1 §3, 5.0 §3), worked out here independently of
 * the codec; offsets are the running sum of lengths per direction, and the close record's byte,
 * packet and type counts are the totals of the packets listed. Reason names and descriptions are
 * written out from the spec's tables (only those the e2e tests meet), not looked up in src/.
 */
import type { LogRecord } from '../../../src/sinks/sink.js';
import {
  anyMs,
  type CloseFields,
  closeRecord,
  connectLength,
  openRecord,
  type ProxyAddress,
  type ReasonFields,
  redacted,
  varintLength,
  wireLength as wire,
} from './records.js';

export type Version = 3 | 4 | 5;
type Protocol = '3.1' | '3.1.1' | '5.0';
type From = 'client' | 'broker';

const PROTOCOL: Record<Version, Protocol> = { 3: '3.1', 4: '3.1.1', 5: '5.0' };

const utf8 = (s: string): number => 2 + Buffer.byteLength(s);

/** MQTT 5.0 Tables 3-1..3-10 and 3.1.1 §3.2.2.3 / §3.9.3, for the codes the e2e tests meet. */
const REASONS: Record<string, Record<number, [string, string]>> = {
  'CONNACK 3': {
    0: ['Connection Accepted', 'Connection accepted'],
    5: ['Connection Refused, not authorized', 'The Client is not authorized to connect'],
  },
  'CONNACK 5': { 0: ['Success', 'The Connection is accepted.'] },
  'SUBACK 3': {
    0: ['Success - Maximum QoS 0', 'Success - Maximum QoS 0'],
    1: ['Success - Maximum QoS 1', 'Success - Maximum QoS 1'],
    2: ['Success - Maximum QoS 2', 'Success - Maximum QoS 2'],
    128: ['Failure', 'Failure'],
  },
  'SUBACK 5': {
    0: [
      'Granted QoS 0',
      'The subscription is accepted and the maximum QoS sent will be QoS 0. This might be a lower QoS than was requested.',
    ],
    1: [
      'Granted QoS 1',
      'The subscription is accepted and the maximum QoS sent will be QoS 1. This might be a lower QoS than was requested.',
    ],
    2: [
      'Granted QoS 2',
      'The subscription is accepted and any received QoS will be sent to this subscription.',
    ],
  },
  'PUBACK 5': {
    0: ['Success', 'The message is accepted. Publication of the QoS 1 message proceeds.'],
    16: [
      'No matching subscribers',
      'The message is accepted but there are no subscribers. This is sent only by the Server. If the Server knows that there are no matching subscribers, it MAY use this Reason Code instead of 0x00 (Success).',
    ],
  },
  'PUBREC 5': {
    0: ['Success', 'The message is accepted. Publication of the QoS 2 message proceeds.'],
    16: [
      'No matching subscribers',
      'The message is accepted but there are no subscribers. This is sent only by the Server. If the Server knows that there are no matching subscribers, it MAY use this Reason Code instead of 0x00 (Success).',
    ],
  },
  'PUBREL 5': { 0: ['Success', 'Message released.'] },
  'PUBCOMP 5': { 0: ['Success', 'Packet Identifier released. Publication of QoS 2 message is complete.'] },
  'DISCONNECT 5': {
    0: ['Normal disconnection', 'Close the connection normally. Do not send the Will Message.'],
    4: [
      'Disconnect with Will Message',
      'The Client wishes to disconnect but requires that the Server also publishes its Will Message.',
    ],
    142: [
      'Session taken over',
      'Another Connection using the same ClientID has connected causing this Connection to be closed.',
    ],
  },
};

export function reason(type: string, version: Version, code: number): ReasonFields {
  const row = REASONS[`${type} ${version === 5 ? 5 : 3}`]?.[code];
  if (row === undefined) throw new Error(`expected.ts knows no ${type} code ${code} for version ${version}`);
  const error = version === 5 ? code >= 0x80 : type === 'CONNACK' ? code !== 0 : code === 0x80;
  return { code, hex: `0x${code.toString(16).padStart(2, '0')}`, name: row[0], description: row[1], error };
}

export interface Will {
  topic: string;
  payload: string;
  qos: number;
  retain: boolean;
}

/** The largest packet a four-byte Remaining Length allows: 1 + 4 + 268,435,455 bytes (5.0 §2.1.4). */
const PROTOCOL_MAXIMUM_PACKET_SIZE = 268_435_460;

/**
 * The `session` record after a CONNACK: each side's limits as sent, or the spec's values
 * (5.0 §3.1.2.11, §3.2.2.3); in 3.x the keep-alive and the protocol's packet size limit.
 */
export function sessionRecord(
  conn: string,
  clientId: string | undefined,
  version: Version,
  code: number,
  client: { keepAlive: number; properties: Record<string, unknown> },
  broker: Record<string, unknown>,
): LogRecord {
  const protocol = PROTOCOL[version];
  const defaults: string[] = [];
  const record: LogRecord = { event: 'session', conn };
  if (clientId !== undefined) record.clientId = clientId;
  record.version = protocol;
  record.accepted = version === 5 ? code < 0x80 : code === 0;
  if (protocol !== '3.1') record.sessionPresent = false;
  const keepAlive = client.keepAlive;
  if (version !== 5) {
    record.keepAlive = keepAlive;
    record.client = { keepAlive, clean: true, maximumPacketSize: PROTOCOL_MAXIMUM_PACKET_SIZE };
    record.broker = { maximumPacketSize: PROTOCOL_MAXIMUM_PACKET_SIZE };
    record.defaults = ['client.maximumPacketSize', 'broker.maximumPacketSize'];
    return record;
  }
  const value = (
    side: 'client' | 'broker',
    props: Record<string, unknown>,
    key: string,
    spec: unknown,
  ): unknown => {
    if (props[key] !== undefined) return props[key];
    defaults.push(`${side}.${key}`);
    return spec;
  };
  const c = client.properties;
  const clientSide = {
    keepAlive,
    clean: true,
    receiveMaximum: value('client', c, 'receiveMaximum', 65_535),
    maximumPacketSize: value('client', c, 'maximumPacketSize', PROTOCOL_MAXIMUM_PACKET_SIZE),
    topicAliasMaximum: value('client', c, 'topicAliasMaximum', 0),
    requestProblemInformation: value('client', c, 'requestProblemInformation', 1) !== 0,
    requestResponseInformation: value('client', c, 'requestResponseInformation', 0) !== 0,
    sessionExpiryInterval: value('client', c, 'sessionExpiryInterval', 0),
  };
  const b = broker;
  const brokerSide = {
    receiveMaximum: value('broker', b, 'receiveMaximum', 65_535),
    maximumQoS: value('broker', b, 'maximumQoS', 2),
    retainAvailable: value('broker', b, 'retainAvailable', 1) !== 0,
    maximumPacketSize: value('broker', b, 'maximumPacketSize', PROTOCOL_MAXIMUM_PACKET_SIZE),
    topicAliasMaximum: value('broker', b, 'topicAliasMaximum', 0),
    wildcardSubscriptionAvailable: value('broker', b, 'wildcardSubscriptionAvailable', 1) !== 0,
    subscriptionIdentifierAvailable: value('broker', b, 'subscriptionIdentifierAvailable', 1) !== 0,
    sharedSubscriptionAvailable: value('broker', b, 'sharedSubscriptionAvailable', 1) !== 0,
  };
  record.keepAlive = typeof b.serverKeepAlive === 'number' ? b.serverKeepAlive : keepAlive;
  record.client = clientSide;
  record.broker = brokerSide;
  record.defaults = defaults;
  return record;
}

/** One connection's expected packet records, in the order the test makes them happen. */
export class Expected {
  readonly protocol: Protocol;
  private readonly packets: LogRecord[] = [];
  /** The packet records and the `session` record after the CONNACK, in order. */
  private readonly entries: LogRecord[] = [];
  private readonly offsets = { client: 0, broker: 0 };
  private identity: { clientId?: string; username?: string } = {};
  private client: { keepAlive: number; properties: Record<string, unknown> } = {
    keepAlive: 60,
    properties: {},
  };

  constructor(
    readonly conn: string,
    readonly version: Version,
  ) {
    this.protocol = PROTOCOL[version];
  }

  private get v5(): boolean {
    return this.version === 5;
  }

  /** Appends a packet record; `event`, `conn`, `from`, identity, `type`, `protocol`, offsets filled in. */
  packet(
    from: From,
    type: string,
    flags: number,
    length: number,
    fields: Record<string, unknown> = {},
  ): this {
    const record: LogRecord = {
      event: 'packet',
      conn: this.conn,
      from,
      ...this.identity,
      type,
      protocol: this.protocol,
      flags,
      length,
      offset: this.offsets[from],
      ...fields,
    };
    this.packets.push(record);
    this.entries.push(record);
    this.offsets[from] += length;
    return this;
  }

  connect(c: {
    clientId: string;
    username?: string;
    password?: string;
    will?: Will;
    keepAlive?: number;
    properties?: Record<string, unknown>;
    propertyBytes?: number;
  }): this {
    this.identity = { clientId: c.clientId, ...(c.username !== undefined ? { username: c.username } : {}) };
    this.client = { keepAlive: c.keepAlive ?? 60, properties: c.properties ?? {} };
    const length = connectLength({ ...c, protocol: this.protocol });
    const fields: Record<string, unknown> = {
      protocolName: this.version === 3 ? 'MQIsdp' : 'MQTT',
      protocolLevel: this.version,
      clientId: c.clientId,
      clean: true,
      keepAlive: c.keepAlive ?? 60,
    };
    if (c.username !== undefined) fields.username = c.username;
    if (c.password !== undefined) fields.password = redacted(Buffer.byteLength(c.password));
    if (c.properties !== undefined) fields.properties = c.properties;
    if (c.will !== undefined) {
      const w = c.will;
      const size = Buffer.byteLength(w.payload);
      fields.will = {
        topic: w.topic,
        qos: w.qos,
        retain: w.retain,
        payload: { length: size, encoding: 'utf8', preview: w.payload, truncated: false },
      };
    }
    return this.packet('client', 'CONNECT', 0, length, fields);
  }

  /** `properties`/`propertyBytes`: what the broker adds in 5.0 (mosquitto: Topic Alias Maximum, Receive Maximum). */
  connack(code = 0, properties?: Record<string, unknown>, propertyBytes = 0): this {
    const body = 2 + (this.v5 ? varintLength(propertyBytes) + propertyBytes : 0);
    this.packet('broker', 'CONNACK', 0, wire(body), {
      sessionPresent: false,
      reason: reason('CONNACK', this.version, code),
      ...(properties !== undefined ? { properties } : {}),
      ms: anyMs(),
    });
    this.entries.push(
      sessionRecord(this.conn, this.identity.clientId, this.version, code, this.client, properties ?? {}),
    );
    return this;
  }

  subscribe(packetId: number, subscriptions: [filter: string, qos: number][]): this {
    let body = 2 + (this.v5 ? 1 : 0);
    for (const [filter] of subscriptions) body += utf8(filter) + 1;
    return this.packet('client', 'SUBSCRIBE', 2, wire(body), {
      packetId,
      subscriptions: subscriptions.map(([filter, qos]) =>
        this.v5
          ? { filter, qos, noLocal: false, retainAsPublished: false, retainHandling: 0 }
          : { filter, qos },
      ),
    });
  }

  suback(packetId: number, answers: [filter: string, code: number][]): this {
    const body = 2 + (this.v5 ? 1 : 0) + answers.length;
    return this.packet('broker', 'SUBACK', 0, wire(body), {
      packetId,
      reasons: answers.map(([filter, code]) => ({ filter, ...reason('SUBACK', this.version, code) })),
      ms: anyMs(),
    });
  }

  publish(
    from: From,
    p: { topic: string; payload: string; qos: number; retain?: boolean; packetId?: number },
  ): this {
    const size = Buffer.byteLength(p.payload);
    const retain = p.retain ?? false;
    const body = utf8(p.topic) + (p.qos > 0 ? 2 : 0) + (this.v5 ? 1 : 0) + size;
    const fields: Record<string, unknown> = { topic: p.topic, qos: p.qos, retain, dup: false };
    if (p.packetId !== undefined) fields.packetId = p.packetId;
    fields.payload = { length: size, encoding: 'utf8', preview: p.payload, truncated: false };
    return this.packet(from, 'PUBLISH', (p.qos << 1) | (retain ? 1 : 0), wire(body), fields);
  }

  /**
   * PUBACK/PUBREC/PUBREL/PUBCOMP answering the PUBLISH of `topic`. In 5.0, `tail` is what follows
   * the Packet Identifier: nothing (the short form of a Success, §3.4.2.1), the Reason Code (1), or
   * the Reason Code and an empty Property Length (2, as mqtt.js writes its PUBREL).
   */
  ack(
    from: From,
    type: 'PUBACK' | 'PUBREC' | 'PUBREL' | 'PUBCOMP',
    packetId: number,
    topic: string,
    code = 0,
    tail: 0 | 1 | 2 = code === 0 ? 0 : 1,
  ): this {
    const body = 2 + (this.v5 ? tail : 0);
    const fields: Record<string, unknown> = { packetId };
    if (this.v5) fields.reason = reason(type, 5, code);
    fields.request = { topic, ms: anyMs() };
    return this.packet(from, type, type === 'PUBREL' ? 2 : 0, wire(body), fields);
  }

  /**
   * DISCONNECT. In 5.0, `tail` is what the sender wrote after the fixed header: nothing (Reason Code
   * 0x00 implied, as mosquitto's clients do), the Reason Code (1), or it and an empty Property
   * Length (2, as mqtt.js does).
   */
  disconnect(from: From, code = 0, tail: 0 | 1 | 2 = 2): this {
    if (!this.v5) return this.packet(from, 'DISCONNECT', 0, wire(0));
    return this.packet(from, 'DISCONNECT', 0, wire(tail), { reason: reason('DISCONNECT', 5, code) });
  }

  /** The packet records so far, and the `session` record after the CONNACK. */
  records(): LogRecord[] {
    return [...this.entries];
  }

  /** open + packets + close; the close record's bytes, packets and types are the listed packets' totals. */
  all(
    tp: ProxyAddress,
    open: LogRecord,
    close: Omit<CloseFields, 'bytes' | 'packets' | 'types' | 'clientId'> & {
      bytes?: CloseFields['bytes'];
    },
  ): LogRecord[] {
    const packets = { fromClient: 0, fromBroker: 0 };
    const types: Record<string, number> = {};
    for (const p of this.packets) {
      if (p.from === 'client') packets.fromClient++;
      else packets.fromBroker++;
      const type = String(p.type);
      types[type] = (types[type] ?? 0) + 1;
    }
    const fields: CloseFields = {
      ...close,
      bytes: close.bytes ?? { fromClient: this.offsets.client, fromBroker: this.offsets.broker },
      packets,
      types,
    };
    if (this.identity.clientId !== undefined) fields.clientId = this.identity.clientId;
    return [openRecord(tp, this.conn), ...this.entries, closeRecord(open, fields)];
  }

  /** `lastReason` as the close record shows it (3.x DISCONNECT carries no code). */
  lastReason(type: 'CONNACK' | 'DISCONNECT', from: From, code = 0): Record<string, unknown> {
    if (type === 'DISCONNECT' && !this.v5) return { type, from };
    const r = reason(type, this.version, code);
    return { type, from, code: r.code, hex: r.hex, name: r.name };
  }
}
