import { PACKET_TYPE_NAMES, type ProtocolVersion, REQUIRED_FLAGS } from '../constants.js';
import type { Direction } from '../direction.js';
import { Reader } from '../reader.js';
import type { Frame, Packet, PacketHeader, Violation } from '../types.js';
import { violation } from '../violations.js';
import { decodeConnack, decodeConnect, peekConnectVersion } from './connect.js';
import { decodeDisconnectOrAuth, decodePing } from './control.js';
import { decodeAck, decodePublish } from './publish.js';
import { decodeSuback, decodeSubscribe, decodeUnsuback, decodeUnsubscribe } from './subscribe.js';

export { peekConnectVersion, versionOfLevel } from './connect.js';

/**
 * Decodes one frame as `version` speaks it; a CONNECT decides its own version. `from`, the sender
 * when known, picks the rule where the spec states one per sender and enables the checks that
 * need it. Never throws: whatever is wrong is in `violations`.
 */
export function decodeFrame(frame: Frame, version: ProtocolVersion, from?: Direction): Packet {
  const type = frame.type;
  const v = type === 1 ? (peekConnectVersion(frame.body) ?? version) : version;
  const violations: Violation[] = [];
  const required = REQUIRED_FLAGS[type];
  if (required !== undefined && frame.flags !== required && !retriedIn31(v, required, frame.flags)) {
    const name = PACKET_TYPE_NAMES[type]!;
    violations.push(
      violation(
        'MQTT_RESERVED_FLAGS',
        v,
        `${name} fixed header flags are 0x${frame.flags.toString(16)}; they must be 0x${required.toString(16)}`,
        name,
      ),
    );
  }
  // The Remaining Length is a Variable Byte Integer too: minimally encoded [MQTT-1.5.5-1].
  const lengthBytes = frame.headerLength - 1;
  if (lengthBytes > 1 && lengthBytes > varintSize(frame.remainingLength)) {
    violations.push(
      violation(
        'MQTT_NON_MINIMAL_VARINT',
        v,
        `Remaining Length ${frame.remainingLength} at offset ${frame.offset + 1} uses ${lengthBytes} bytes`,
      ),
    );
  }
  const h: PacketHeader = {
    protocol: v,
    flags: frame.flags,
    length: frame.headerLength + frame.remainingLength,
    offset: frame.offset,
    violations,
  };
  // A PUBLISH kept only up to its payload preview is whole but for payload no record shows.
  if (frame.truncated && frame.payloadCut !== true) h.truncated = true;
  const r = new Reader(
    frame.body,
    frame.body.length,
    !frame.truncated,
    frame.offset + frame.headerLength,
    v,
    violations,
    frame.remainingLength,
  );
  switch (type) {
    case 1:
      return decodeConnect(r, h);
    case 2:
      return decodeConnack(r, h);
    case 3:
      return decodePublish(r, h, frame.remainingLength, from);
    case 4:
      return decodeAck(r, h, 'PUBACK');
    case 5:
      return decodeAck(r, h, 'PUBREC');
    case 6:
      return decodeAck(r, h, 'PUBREL');
    case 7:
      return decodeAck(r, h, 'PUBCOMP');
    case 8:
      return decodeSubscribe(r, h);
    case 9:
      return decodeSuback(r, h);
    case 10:
      return decodeUnsubscribe(r, h);
    case 11:
      return decodeUnsuback(r, h);
    case 12:
      return decodePing(r, h, 'PINGREQ');
    case 13:
      return decodePing(r, h, 'PINGRESP');
    case 14:
      return decodeDisconnectOrAuth(r, h, 'DISCONNECT', from);
    default:
      return decodeDisconnectOrAuth(r, h, 'AUTH', from);
  }
}

/**
 * MQTT 3.1 sets DUP (0x8) on a retried PUBREL, SUBSCRIBE or UNSUBSCRIBE, the packets whose flags
 * are QoS 1 (0x2); 3.1.1 reserved the bit.
 */
function retriedIn31(v: ProtocolVersion, required: number, flags: number): boolean {
  return v === '3.1' && required === 0x02 && flags === 0x0a;
}

/** Bytes of the minimal Variable Byte Integer encoding of `n` (§1.5.5). */
function varintSize(n: number): number {
  return n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : 4;
}
