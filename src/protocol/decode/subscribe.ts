import type { Reader } from '../reader.js';
import type {
  PacketHeader,
  SubackPacket,
  SubscribePacket,
  Subscription,
  UnsubackPacket,
  UnsubscribePacket,
} from '../types.js';
import { checkPacketId, checkReasonCode, checkTopicFilter, checkTrailing } from './checks.js';
import { setProps } from './connect.js';
import { readProperties } from './properties.js';

/** SUBSCRIBE (3.1.1 §3.8, 5.0 §3.8): Topic Filters each followed by a Subscription Options byte. */
export function decodeSubscribe(r: Reader, h: PacketHeader): SubscribePacket {
  const packetId = r.u16('Packet Identifier');
  const packet: SubscribePacket = {
    type: 'SUBSCRIBE',
    protocol: h.protocol,
    flags: h.flags,
    length: h.length,
    offset: h.offset,
    violations: h.violations,
    packetId,
    subscriptions: [],
  };
  if (h.truncated === true) packet.truncated = true;
  checkPacketId(r, 'SUBSCRIBE', packetId);
  const v5 = r.version === '5.0';
  if (v5) setProps(packet, readProperties(r, 'SUBSCRIBE'));
  while (r.pos < r.end && !r.stopped) {
    const filter = r.utf8('Topic Filter');
    const options = r.u8('Subscription Options');
    if (r.stopped) break;
    checkTopicFilter(r, filter);
    const qos = options & 0x03;
    const sub: Subscription = { filter, qos };
    if (qos === 3) r.report('MQTT_INVALID_SUBSCRIBE_QOS', `"${filter}" requests QoS 3`);
    if (v5) {
      sub.noLocal = (options & 0x04) !== 0;
      sub.retainAsPublished = (options & 0x08) !== 0;
      sub.retainHandling = (options >> 4) & 0x03;
      if (options & 0xc0) {
        r.report(
          'MQTT_SUBSCRIPTION_OPTIONS_RESERVED',
          `reserved bits 6-7 of the options of "${filter}" are set (0x${options.toString(16)})`,
        );
      }
      if (sub.retainHandling === 3)
        r.report('MQTT_INVALID_RETAIN_HANDLING', `"${filter}" has Retain Handling 3`);
      if (sub.noLocal && filter.startsWith('$share/')) {
        r.report('MQTT_NO_LOCAL_ON_SHARED', `No Local is set on the Shared Subscription "${filter}"`);
      }
    } else if (options & 0xfc) {
      r.report(
        'MQTT_SUBSCRIPTION_OPTIONS_RESERVED',
        `reserved bits 2-7 of the requested QoS of "${filter}" are set (0x${options.toString(16)})`,
      );
    }
    packet.subscriptions.push(sub);
  }
  if (packet.subscriptions.length === 0 && r.complete && !r.stopped) {
    r.report('MQTT_NO_TOPIC_FILTERS', 'SUBSCRIBE contains no Topic Filter');
  }
  return packet;
}

/** SUBACK (3.1.1 §3.9, 5.0 §3.9): one return/reason code per requested filter. */
export function decodeSuback(r: Reader, h: PacketHeader): SubackPacket {
  const packetId = r.u16('Packet Identifier');
  const packet: SubackPacket = {
    type: 'SUBACK',
    protocol: h.protocol,
    flags: h.flags,
    length: h.length,
    offset: h.offset,
    violations: h.violations,
    packetId,
    codes: [],
  };
  if (h.truncated === true) packet.truncated = true;
  checkPacketId(r, 'SUBACK', packetId);
  if (r.version === '5.0') setProps(packet, readProperties(r, 'SUBACK'));
  readCodes(r, 'SUBACK', packet.codes);
  return packet;
}

/** UNSUBSCRIBE (3.1.1 §3.10, 5.0 §3.10). */
export function decodeUnsubscribe(r: Reader, h: PacketHeader): UnsubscribePacket {
  const packetId = r.u16('Packet Identifier');
  const packet: UnsubscribePacket = {
    type: 'UNSUBSCRIBE',
    protocol: h.protocol,
    flags: h.flags,
    length: h.length,
    offset: h.offset,
    violations: h.violations,
    packetId,
    filters: [],
  };
  if (h.truncated === true) packet.truncated = true;
  checkPacketId(r, 'UNSUBSCRIBE', packetId);
  if (r.version === '5.0') setProps(packet, readProperties(r, 'UNSUBSCRIBE'));
  while (r.pos < r.end && !r.stopped) {
    const filter = r.utf8('Topic Filter');
    if (r.stopped) break;
    checkTopicFilter(r, filter);
    packet.filters.push(filter);
  }
  if (packet.filters.length === 0 && r.complete && !r.stopped) {
    r.report('MQTT_NO_UNSUBSCRIBE_FILTERS', 'UNSUBSCRIBE contains no Topic Filter');
  }
  return packet;
}

/** UNSUBACK (3.1.1 §3.11: Packet Identifier only; 5.0 §3.11: plus properties and a code per filter). */
export function decodeUnsuback(r: Reader, h: PacketHeader): UnsubackPacket {
  const packetId = r.u16('Packet Identifier');
  const packet: UnsubackPacket = {
    type: 'UNSUBACK',
    protocol: h.protocol,
    flags: h.flags,
    length: h.length,
    offset: h.offset,
    violations: h.violations,
    packetId,
    codes: [],
  };
  if (h.truncated === true) packet.truncated = true;
  checkPacketId(r, 'UNSUBACK', packetId);
  if (r.version === '5.0') {
    setProps(packet, readProperties(r, 'UNSUBACK'));
    readCodes(r, 'UNSUBACK', packet.codes);
  } else {
    checkTrailing(r, 'UNSUBACK');
  }
  return packet;
}

function readCodes(r: Reader, type: 'SUBACK' | 'UNSUBACK', codes: number[]): void {
  while (r.pos < r.end && !r.stopped) {
    const code = r.buf[r.pos++]!;
    checkReasonCode(r, type, code);
    codes.push(code);
  }
}
