import { reasonCode } from '../catalogue/lookup.js';
import type { PacketTypeName } from '../constants.js';
import type { Direction } from '../direction.js';
import type { Reader } from '../reader.js';
import { topicFilterProblem } from '../topic-match.js';

/** A code not in `packet`'s own table is reported, never dropped: users must see what was sent. */
export function checkReasonCode(r: Reader, packet: PacketTypeName, code: number): void {
  if (reasonCode(r.version, packet, code) !== undefined) return;
  const hex = `0x${code.toString(16).padStart(2, '0')}`;
  const what = r.version === '5.0' ? 'reason code' : 'return code';
  // 3.1 is held to the 3.1.1 rules, but not to one that allows the very code (3.1 SUBACK 0x80).
  const cite = r.version !== '3.1' || reasonCode('3.1.1', packet, code) === undefined;
  r.report(
    'MQTT_UNKNOWN_REASON_CODE',
    `${hex} is not a ${packet} ${what} in MQTT ${r.version}`,
    cite ? packet : undefined,
  );
}

/** A zero Packet Identifier; 5.0 states the rule for a PUBLISH per sender (`from`, when known). */
export function checkPacketId(r: Reader, packet: PacketTypeName, id: number, from?: Direction): void {
  if (id !== 0 || r.stopped) return;
  const context = packet === 'PUBLISH' && from !== undefined ? `PUBLISH from ${from}` : packet;
  r.report('MQTT_PACKET_ID_ZERO', `${packet} has Packet Identifier 0`, context);
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

/**
 * Topic Filter syntax (§4.7.1): `#` only last and alone in its level, `+` alone in its level; in
 * 5.0 a Shared Subscription's `$share/{ShareName}/` first (§4.8.2), then its filter as any other.
 */
export function checkTopicFilter(r: Reader, filter: string): void {
  let rest = filter;
  if (r.version === '5.0' && filter.startsWith(SHARE)) {
    const share = splitShared(filter);
    if (share.problem !== undefined) {
      r.report(
        'MQTT_INVALID_SHARED_SUBSCRIPTION',
        `Shared Subscription "${filter}": ${share.problem}`,
        share.name === '' ? 'empty share name' : 'share name',
      );
      return;
    }
    rest = share.filter;
  }
  const problem = topicFilterProblem(rest);
  if (problem === undefined) return;
  if (problem.wildcard === undefined) r.report('MQTT_EMPTY_TOPIC', 'a Topic Filter is empty');
  else r.report('MQTT_INVALID_TOPIC_FILTER', `Topic Filter "${filter}": ${problem.detail}`, problem.wildcard);
}

const SHARE = '$share/';

/**
 * `$share/{ShareName}/{filter}`: a ShareName of at least one character without "/", "+" or "#"
 * [MQTT-4.8.2-1], followed by "/" and a Topic Filter [MQTT-4.8.2-2].
 */
function splitShared(filter: string): { name: string; filter: string; problem?: string } {
  const slash = filter.indexOf('/', SHARE.length);
  const name = filter.slice(SHARE.length, slash === -1 ? undefined : slash);
  const rest = slash === -1 ? '' : filter.slice(slash + 1);
  let problem: string | undefined;
  if (name === '') problem = 'the ShareName is empty';
  else if (name.includes('+') || name.includes('#')) problem = `the ShareName "${name}" contains a wildcard`;
  else if (slash === -1) problem = 'no "/" and Topic Filter follow the ShareName';
  else if (rest === '') problem = 'no Topic Filter follows the ShareName';
  return problem === undefined ? { name, filter: rest } : { name, filter: rest, problem };
}
