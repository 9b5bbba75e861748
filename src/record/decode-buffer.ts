import type { ProtocolVersion } from '../protocol/constants.js';
import { decodeFrame } from '../protocol/decode/index.js';
import { Framer } from '../protocol/framer.js';
import { sniffNonMqtt } from '../protocol/sniff.js';
import type { FramingError } from '../protocol/types.js';
import { ConnectionSession } from '../session/connection-session.js';
import type { RecordOptions } from './defaults.js';
import { type PacketRecord, packetRecord } from './object-form.js';

/** The version `mqtt-tap decode` reads with until a CONNECT says otherwise. */
export const DEFAULT_DECODE_PROTOCOL: ProtocolVersion = '5.0';

export interface DecodedBuffer {
  records: PacketRecord[];
  /** Why decoding stopped before the end, if it did. */
  error?: FramingError;
}

/**
 * Decodes a byte string of concatenated packets (one direction, as a hex dump gives them).
 * A CONNECT sets the version for what follows; requests and answers are correlated as on a
 * live connection.
 */
export function decodeBuffer(
  bytes: Buffer,
  version: ProtocolVersion,
  opts: RecordOptions,
  /**
   * The version was not given: until a CONNECT says, decode each packet as 5.0 and as 3.1.1 and keep
   * the reading with fewer violations (a 3.1.1 CONNACK `20 02 00 04` is short for 5.0).
   */
  inferVersion = false,
): DecodedBuffer {
  const out: DecodedBuffer = { records: [] };
  const known = bytes.length > 0 ? sniffNonMqtt(bytes.subarray(0, 12), 'client', true) : undefined;
  if (known !== undefined && known.looksLike !== 'unknown') {
    out.error = {
      kind: 'not-mqtt',
      code: 'MQTT_NOT_MQTT',
      offset: 0,
      detail: known.detail,
      hex: '',
      looksLike: known.looksLike,
    };
    return out;
  }
  const session = new ConnectionSession(version);
  let sawConnect = false;
  // Requests and answers travel in opposite directions; a dump holds one stream, so attribute
  // each packet to the side that sends that type.
  const framer = new Framer({
    frame(frame) {
      let packet = decodeFrame(frame, session.version);
      if (inferVersion && !sawConnect && packet.type !== 'CONNECT' && packet.violations.length > 0) {
        const other = decodeFrame(frame, session.version === '5.0' ? '3.1.1' : '5.0');
        if (other.violations.length < packet.violations.length) {
          packet = other;
          session.version = other.protocol;
        }
      }
      if (packet.type === 'CONNECT') sawConnect = true;
      const from = BROKER_TYPES.has(packet.type) ? 'broker' : 'client';
      const corr = session.observe(from, packet, 0);
      out.records.push(packetRecord(packet, opts, corr));
    },
    error(e) {
      out.error ??= e;
    },
  });
  framer.push(bytes);
  framer.end();
  return out;
}

const BROKER_TYPES = new Set(['CONNACK', 'SUBACK', 'UNSUBACK', 'PINGRESP']);
