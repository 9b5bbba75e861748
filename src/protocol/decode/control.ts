import type { Direction } from '../direction.js';
import type { Reader } from '../reader.js';
import type { AuthPacket, DisconnectPacket, PacketHeader, PingPacket } from '../types.js';
import { checkReasonCode, checkTrailing } from './checks.js';
import { setProps } from './connect.js';
import { readProperties } from './properties.js';

/** PINGREQ / PINGRESP (§3.12, §3.13): no variable header, no payload. */
export function decodePing(r: Reader, h: PacketHeader, type: PingPacket['type']): PingPacket {
  checkTrailing(r, type);
  // The header's fields one by one, as in every decoder: a spread after `type` is a slow runtime copy.
  const packet: PingPacket = {
    type,
    protocol: h.protocol,
    flags: h.flags,
    length: h.length,
    offset: h.offset,
    violations: h.violations,
  };
  if (h.truncated === true) packet.truncated = true;
  return packet;
}

/**
 * DISCONNECT (3.1.1 §3.14: empty; 5.0 §3.14) and AUTH (5.0 §3.15), sent by `from` when known. In
 * 5.0 a Remaining Length of 0 means Reason Code 0x00, and a Property Length is present only when
 * the Remaining Length exceeds 1.
 */
export function decodeDisconnectOrAuth<T extends 'DISCONNECT' | 'AUTH'>(
  r: Reader,
  h: PacketHeader,
  type: T,
  from?: Direction,
): T extends 'AUTH' ? AuthPacket : DisconnectPacket;
export function decodeDisconnectOrAuth(
  r: Reader,
  h: PacketHeader,
  type: 'DISCONNECT' | 'AUTH',
  from?: Direction,
): DisconnectPacket | AuthPacket {
  const packet: DisconnectPacket | AuthPacket = {
    type,
    protocol: h.protocol,
    flags: h.flags,
    length: h.length,
    offset: h.offset,
    violations: h.violations,
    code: 0,
  };
  if (h.truncated === true) packet.truncated = true;
  if (type === 'AUTH' && r.version !== '5.0') {
    r.report(
      'MQTT_PACKET_NOT_IN_VERSION',
      `packet type 15 is reserved in MQTT ${r.version} (AUTH exists only in 5.0)`,
    );
  }
  if (r.version === '5.0' && r.remaining > 0) {
    packet.code = r.u8('Reason Code');
    checkReasonCode(r, type, packet.code);
    if (r.remaining > 0) setProps(packet, readProperties(r, type));
    // The Session Expiry Interval is the Client's to change at DISCONNECT [MQTT-3.14.2-2].
    if (
      type === 'DISCONNECT' &&
      from === 'broker' &&
      packet.properties?.sessionExpiryInterval !== undefined
    ) {
      r.report(
        'MQTT_PROPERTY_NOT_ALLOWED',
        "Session Expiry Interval is not allowed in a Server's DISCONNECT",
        'Session Expiry Interval in DISCONNECT from broker',
      );
    }
  }
  checkTrailing(r, type);
  return packet;
}
