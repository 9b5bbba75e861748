import { ConnectFlag, PROTOCOL_LEVELS, type ProtocolVersion } from '../constants.js';
import type { Reader } from '../reader.js';
import type { ConnackPacket, ConnectPacket, PacketHeader, Properties, Will } from '../types.js';
import type { ViolationCode } from '../violations.js';
import { checkReasonCode, checkTrailing } from './checks.js';
import { readProperties } from './properties.js';

/** The version a CONNECT speaks, from its Protocol Name and Level (3.1: "MQIsdp"/3; 3.1.1: "MQTT"/4; 5.0: "MQTT"/5). */
export function versionOfLevel(level: number): ProtocolVersion | undefined {
  // Bridges may set the top bit of the level (mosquitto's try_private); the version is in the rest.
  return PROTOCOL_LEVELS[level & 0x7f];
}

/** The Protocol Name that goes with a Protocol Level: "MQIsdp" for 3 (3.1), else "MQTT". */
export function protocolNameOf(level: number): string {
  return (level & 0x7f) === 3 ? 'MQIsdp' : 'MQTT';
}

/**
 * The Connect Flags' problems (3.1.1 §3.1.2.3, 5.0 §3.1.2.3): the reserved bit, a will QoS or
 * retain without a will, will QoS 3, before 5.0 a password without a user name. Empty when none.
 */
export function connectFlagProblems(flags: number, version: ProtocolVersion): [ViolationCode, string][] {
  const out: [ViolationCode, string][] = [];
  const willFlag = (flags & ConnectFlag.WILL) !== 0;
  const willQos = (flags >> 3) & 0x03;
  if (flags & ConnectFlag.RESERVED)
    out.push(['MQTT_CONNECT_RESERVED_FLAG', 'the reserved bit 0 of the Connect Flags is set']);
  if (!willFlag && willQos !== 0)
    out.push(['MQTT_WILL_QOS_WITHOUT_WILL', `Will QoS is ${willQos} but the Will Flag is 0`]);
  if (!willFlag && flags & ConnectFlag.WILL_RETAIN)
    out.push(['MQTT_WILL_RETAIN_WITHOUT_WILL', 'Will Retain is set but the Will Flag is 0']);
  // [MQTT-3.1.2-14] (5.0: -12) speaks of a Will Flag of 1; without a will, QoS 3 is just "not 0" above.
  if (willFlag && willQos === 3) out.push(['MQTT_WILL_INVALID_QOS', 'Will QoS is 3']);
  if (flags & ConnectFlag.PASSWORD && !(flags & ConnectFlag.USERNAME) && version !== '5.0')
    out.push(['MQTT_PASSWORD_WITHOUT_USERNAME', 'the Password Flag is set but the User Name Flag is not']);
  return out;
}

/**
 * Reads the Protocol Name and Level at the start of a CONNECT body without decoding it, so the
 * caller can pick the version before decoding; undefined when they are not there.
 */
export function peekConnectVersion(body: Buffer): ProtocolVersion | undefined {
  if (body.length < 2) return undefined;
  const n = body.readUInt16BE(0);
  if (body.length < 3 + n) return undefined;
  return versionOfLevel(body[2 + n]!);
}

/** CONNECT (3.1.1 §3.1, 5.0 §3.1). `r.version` was chosen by peekConnectVersion. */
export function decodeConnect(r: Reader, h: PacketHeader): ConnectPacket {
  const protocolName = r.utf8('Protocol Name');
  const protocolLevel = r.u8('Protocol Level');
  const v = r.version;
  const known = versionOfLevel(protocolLevel);
  if (!r.stopped) {
    if (known === undefined) {
      r.report(
        'MQTT_PROTOCOL_LEVEL',
        `Protocol Level ${protocolLevel} is not 3 (3.1), 4 (3.1.1) or 5 (5.0); decoded as ${v}`,
      );
    }
    const expectedName = protocolNameOf(protocolLevel);
    if (protocolName !== expectedName) {
      r.report(
        'MQTT_PROTOCOL_NAME',
        `Protocol Name "${protocolName}" with Protocol Level ${protocolLevel} (expected "${expectedName}")`,
      );
    }
  }
  const flags = r.u8('Connect Flags');
  const keepAlive = r.u16('Keep Alive');
  const packet: ConnectPacket = {
    type: 'CONNECT',
    protocol: h.protocol,
    flags: h.flags,
    length: h.length,
    offset: h.offset,
    violations: h.violations,
    protocolName,
    protocolLevel,
    clean: (flags & ConnectFlag.CLEAN) !== 0,
    keepAlive,
    clientId: '',
  };
  if (h.truncated === true) packet.truncated = true;
  if (r.stopped) return packet;

  const willFlag = (flags & ConnectFlag.WILL) !== 0;
  const willQos = (flags >> 3) & 0x03;
  const willRetain = (flags & ConnectFlag.WILL_RETAIN) !== 0;
  const hasPassword = (flags & ConnectFlag.PASSWORD) !== 0;
  const hasUsername = (flags & ConnectFlag.USERNAME) !== 0;
  for (const [code, detail] of connectFlagProblems(flags, v)) r.report(code, detail);

  if (v === '5.0') setProps(packet, readProperties(r, 'CONNECT'));
  packet.clientId = r.utf8('Client Identifier');
  if (willFlag && !r.stopped) {
    let willProps: Properties | undefined;
    if (v === '5.0') willProps = readProperties(r, 'WILL');
    const topic = r.utf8('Will Topic');
    // The length on the wire, even when the capture cap cut the data.
    const length = r.u16('Will Payload');
    const data = r.bytes('Will Payload', length);
    const will: Will = { qos: willQos, retain: willRetain, topic, payload: { length, data } };
    if (willProps !== undefined) will.properties = willProps;
    packet.will = will;
  }
  if (hasUsername && !r.stopped) packet.username = r.utf8('User Name');
  if (hasPassword && !r.stopped) packet.password = r.binary('Password');
  checkTrailing(r, 'CONNECT');
  return packet;
}

/** CONNACK (3.1.1 §3.2, 5.0 §3.2). */
export function decodeConnack(r: Reader, h: PacketHeader): ConnackPacket {
  const ackFlags = r.u8('Connect Acknowledge Flags');
  const code = r.u8(r.version === '5.0' ? 'Connect Reason Code' : 'Connect Return code');
  // 3.1 reserved this byte (for topic name compression, never specified): it has no Session Present.
  const v31 = r.version === '3.1';
  const packet: ConnackPacket = {
    type: 'CONNACK',
    protocol: h.protocol,
    flags: h.flags,
    length: h.length,
    offset: h.offset,
    violations: h.violations,
    sessionPresent: !v31 && (ackFlags & 0x01) !== 0,
    code,
  };
  if (h.truncated === true) packet.truncated = true;
  if (r.stopped) return packet;
  if (ackFlags & 0xfe && !v31) {
    r.report(
      'MQTT_CONNACK_RESERVED_FLAGS',
      `reserved bits of the Connect Acknowledge Flags are set (0x${ackFlags.toString(16)})`,
    );
  }
  if (code !== 0 && packet.sessionPresent) {
    r.report('MQTT_SESSION_PRESENT_ON_REFUSAL', 'Session Present is 1 on a refused connection');
  }
  checkReasonCode(r, 'CONNACK', code);
  if (r.version === '5.0') setProps(packet, readProperties(r, 'CONNACK'));
  checkTrailing(r, 'CONNACK');
  return packet;
}

export function setProps(packet: { properties?: Properties }, props: Properties | undefined): void {
  if (props !== undefined) packet.properties = props;
}
