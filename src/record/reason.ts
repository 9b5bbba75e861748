import { reasonCode } from '../protocol/catalogue/lookup.js';
import { PacketType, type PacketTypeName, type ProtocolVersion } from '../protocol/constants.js';

/** A return/reason code as logged: the spec's name and the description from the packet's own table. */
export interface ReasonInfo {
  readonly code: number;
  readonly hex: string;
  readonly name: string;
  readonly description: string;
  /** A failure: >= 0x80 in 5.0; a refusing CONNACK or a SUBACK Failure in 3.x. */
  readonly error: boolean;
}

const VERSIONS: readonly ProtocolVersion[] = ['3.1', '3.1.1', '5.0'];
/** [version][packet type][code] → frozen record, built on first use: records share them. */
const cache: (ReasonInfo | undefined)[][][] = VERSIONS.map(() => Array.from({ length: 16 }, () => []));

export function hexByte(code: number): string {
  return `0x${code.toString(16).padStart(2, '0')}`;
}

export function reasonInfo(version: ProtocolVersion, packet: PacketTypeName, code: number): ReasonInfo {
  const slot = cache[VERSIONS.indexOf(version)]![PacketType[packet]]!;
  let info = slot[code];
  if (info === undefined) {
    info = Object.freeze(build(version, packet, code));
    slot[code] = info;
  }
  return info;
}

function build(version: ProtocolVersion, packet: PacketTypeName, code: number): ReasonInfo {
  const hex = hexByte(code);
  const entry = reasonCode(version, packet, code);
  const error = version === '5.0' ? code >= 0x80 : packet === 'CONNACK' ? code !== 0 : code > 2;
  if (entry === undefined) {
    const what = version === '5.0' ? 'reason code' : 'return code';
    return {
      code,
      hex,
      name: 'Unknown',
      description: `${hex} is not a ${packet} ${what} in MQTT ${version}`,
      error,
    };
  }
  return { code, hex, name: entry.name, description: entry.description, error };
}
