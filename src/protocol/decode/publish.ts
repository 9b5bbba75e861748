import type { Direction } from '../direction.js';
import type { Reader } from '../reader.js';
import type { AckPacket, PacketHeader, PublishPacket } from '../types.js';
import { checkPacketId, checkReasonCode, checkTrailing } from './checks.js';
import { setProps } from './connect.js';
import { readProperties } from './properties.js';

/**
 * PUBLISH (3.1.1 §3.3, 5.0 §3.3), sent by `from` when known. With a truncated frame the payload is
 * the captured prefix and `payload.length` still the size on the wire.
 */
export function decodePublish(
  r: Reader,
  h: PacketHeader,
  remainingLength: number,
  from?: Direction,
): PublishPacket {
  const flags = h.flags;
  const qos = (flags >> 1) & 0x03;
  const dup = (flags & 0x08) !== 0;
  if (qos === 3) r.report('MQTT_INVALID_QOS', 'PUBLISH has QoS 3 (both QoS bits set)');
  if (dup && qos === 0) r.report('MQTT_DUP_ON_QOS0', 'DUP is set on a QoS 0 PUBLISH');
  const topic = r.utf8('Topic Name');
  // The header's fields one by one: a spread after `type` is a slow runtime copy on this hot path.
  const packet: PublishPacket = {
    type: 'PUBLISH',
    protocol: h.protocol,
    flags: h.flags,
    length: h.length,
    offset: h.offset,
    violations: h.violations,
    dup,
    qos,
    retain: (flags & 0x01) !== 0,
    topic,
    payload: NO_PAYLOAD,
  };
  if (h.truncated === true) packet.truncated = true;
  if (qos > 0) {
    const packetId = r.u16('Packet Identifier');
    // Not read (the capture cap cut the topic): absent, not 0.
    if (!r.stopped) packet.packetId = packetId;
    checkPacketId(r, 'PUBLISH', packetId, from);
  }
  if (r.version === '5.0') {
    setProps(packet, readProperties(r, 'PUBLISH'));
    // Only the Server adds the identifiers of the subscriptions a message matched [MQTT-3.3.4-6].
    if (from === 'client' && packet.properties?.subscriptionIdentifier !== undefined) {
      r.report(
        'MQTT_PROPERTY_NOT_ALLOWED',
        "Subscription Identifier is not allowed in a Client's PUBLISH",
        'Subscription Identifier in PUBLISH from client',
      );
    }
  }
  if (r.stopped) return packet;
  if (topic.length === 0) {
    if (r.version !== '5.0') r.report('MQTT_EMPTY_TOPIC', 'PUBLISH has an empty Topic Name');
    else if (packet.properties?.topicAlias === undefined) {
      r.report('MQTT_EMPTY_TOPIC', 'PUBLISH has an empty Topic Name and no Topic Alias');
    }
  } else if (topic !== lastPlainTopic) {
    if (topic.indexOf('+') !== -1 || topic.indexOf('#') !== -1) {
      r.report('MQTT_TOPIC_WILDCARD', `Topic Name "${topic}" contains a wildcard character`);
    } else lastPlainTopic = topic;
  }
  packet.payload = { length: remainingLength - r.pos, data: r.buf.subarray(r.pos, r.end) };
  r.pos = r.end;
  return packet;
}

/** The payload of a PUBLISH read no further than its topic or properties; never changed. */
const NO_PAYLOAD: PublishPacket['payload'] = { length: 0, data: Buffer.alloc(0) };

/**
 * The last topic found free of wildcards: the Reader hands the same string for the same bytes,
 * so a repeated topic is one comparison, not two searches.
 */
let lastPlainTopic = '';

/**
 * PUBACK, PUBREC, PUBREL, PUBCOMP (5.0 §3.4-3.7). In 5.0 the Reason Code may be omitted when it is
 * 0x00 (Remaining Length 2) and the Property Length when there are no properties (Remaining Length 3).
 */
export function decodeAck(r: Reader, h: PacketHeader, type: AckPacket['type']): AckPacket {
  const packetId = r.u16('Packet Identifier');
  const packet: AckPacket = {
    type,
    protocol: h.protocol,
    flags: h.flags,
    length: h.length,
    offset: h.offset,
    violations: h.violations,
    packetId,
    code: 0,
  };
  if (h.truncated === true) packet.truncated = true;
  checkPacketId(r, type, packetId);
  if (r.version === '5.0' && r.remaining > 0) {
    packet.code = r.u8('Reason Code');
    checkReasonCode(r, type, packet.code);
    if (r.remaining > 0) setProps(packet, readProperties(r, type));
  }
  checkTrailing(r, type);
  return packet;
}
