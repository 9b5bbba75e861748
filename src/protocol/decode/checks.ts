import { reasonCode } from '../catalogue/lookup.js';
import type { PacketTypeName } from '../constants.js';
import type { Reader } from '../reader.js';
import { topicFilterProblem } from '../topic-match.js';

/** A code not in `packet`'s own table is reported, never dropped: users must see what was sent. */
export function checkReasonCode(r: Reader, packet: PacketTypeName, code: number): void {
  if (reasonCode(r.version, packet, code) !== undefined) return;
  const hex = `0x${code.toString(16).padStart(2, '0')}`;
  const what = r.version === '5.0' ? 'reason code' : 'return code';
  r.report('MQTT_UNKNOWN_REASON_CODE', `${hex} is not a ${packet} ${what} in MQTT ${r.version}`, packet);
}

export function checkPacketId(r: Reader, packet: PacketTypeName, id: number): void {
  if (id === 0 && !r.stopped) r.report('MQTT_PACKET_ID_ZERO', `${packet} has Packet Identifier 0`, packet);
}

/** Bytes left over after a packet whose layout is fully known. */
export function checkTrailing(r: Reader, packet: PacketTypeName): void {
  if (r.stopped || !r.complete || r.pos >= r.end) return;
  const n = r.end - r.pos;
  r.report(
    'MQTT_TRAILING_BYTES',
    `${n} unexpected byte${n === 1 ? '' : 's'} at the end of ${packet} (offset ${r.base + r.pos})`,
  );
  r.pos = r.end;
}

/** Topic Filter syntax (§4.7.1): `#` only last and alone in its level, `+` alone in its level. */
export function checkTopicFilter(r: Reader, filter: string): void {
  const problem = topicFilterProblem(filter);
  if (problem === undefined) return;
  if (problem.wildcard === undefined) r.report('MQTT_EMPTY_TOPIC', 'a Topic Filter is empty');
  else r.report('MQTT_INVALID_TOPIC_FILTER', `Topic Filter "${filter}": ${problem.detail}`, problem.wildcard);
}
