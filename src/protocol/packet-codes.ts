/** Which packets carry return or reason codes, and their codes read without allocating. */
import type { Packet } from './types.js';

/** Packet types that carry a return or reason code (in 5.0 also the ones that may carry a Reason String). */
export const CODED_TYPES = [
  'CONNACK',
  'PUBACK',
  'PUBREC',
  'PUBREL',
  'PUBCOMP',
  'SUBACK',
  'UNSUBACK',
  'DISCONNECT',
  'AUTH',
] as const;

/** How many codes `p` carries: CONNACK one, SUBACK and UNSUBACK a list, the others one in 5.0 only. */
export function codeCount(p: Packet): number {
  switch (p.type) {
    case 'CONNACK':
      return 1;
    case 'SUBACK':
    case 'UNSUBACK':
      return p.codes.length;
    case 'PUBACK':
    case 'PUBREC':
    case 'PUBREL':
    case 'PUBCOMP':
    case 'DISCONNECT':
    case 'AUTH':
      return p.protocol === '5.0' ? 1 : 0;
    default:
      return 0;
  }
}

/** The code at `i` (below codeCount(p)). */
export function codeAt(p: Packet, i: number): number {
  return p.type === 'SUBACK' || p.type === 'UNSUBACK' ? p.codes[i]! : (p as { code: number }).code;
}
