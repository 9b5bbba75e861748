import { PROPERTY_BY_ID, propertyAllowed, propertyRepeatable } from '../catalogue/lookup.js';
import type { PropertyPacket } from '../catalogue/properties.js';
import type { Reader } from '../reader.js';
import type { Properties } from '../types.js';

/** Properties whose value must be 0 or 1 (5.0 §3.1.2.11, §3.2.2.3, §3.3.2.3). */
const BOOLEAN_PROPERTIES = new Set([0x01, 0x17, 0x19, 0x24, 0x25, 0x28, 0x29, 0x2a]);
/** Properties for which 0 is a Protocol Error. */
const NON_ZERO_PROPERTIES = new Set([0x0b, 0x21, 0x23, 0x27]);

/**
 * Property Length and the properties after it (5.0 §2.2.2). Returns undefined when there are
 * none. Stops at an unknown identifier, since its length cannot be known.
 */
export function readProperties(r: Reader, packet: PropertyPacket): Properties | undefined {
  const start = r.pos;
  const length = r.varint('Property Length');
  if (r.stopped || length === 0) return undefined;
  const declaredEnd = r.pos + length;
  const saved = { end: r.end, complete: r.complete };
  // Whether the reader was narrowed to the properties; compare no ends: when the properties end
  // exactly where the capture does, narrowing changes `complete` and not `end`.
  const limited = declaredEnd <= r.end;
  // Past the packet's end on the wire: malformed, even when the capture cap cut the body.
  const pastPacket = declaredEnd > r.length;
  if (pastPacket) {
    r.report(
      'MQTT_PROPERTY_LENGTH',
      `Property Length ${length} at offset ${r.base + start} runs ${declaredEnd - r.length} bytes past the end of the packet`,
    );
  }
  if (limited) {
    r.limit(declaredEnd, true, 'properties');
  }
  const props: Properties = {};
  while (r.pos < r.end && !r.stopped) {
    const at = r.pos;
    const id = r.varint('Property Identifier');
    if (r.stopped) break;
    const def = PROPERTY_BY_ID[id];
    if (def === undefined) {
      r.report(
        'MQTT_UNKNOWN_PROPERTY',
        `property identifier 0x${id.toString(16).padStart(2, '0')} at offset ${r.base + at} is not defined`,
      );
      r.pos = r.end;
      break;
    }
    if (!propertyAllowed(def, packet)) {
      r.report('MQTT_PROPERTY_NOT_ALLOWED', `${def.name} is not allowed in ${packetLabel(packet)}`);
    }
    let value: number | string | Buffer | [string, string];
    switch (def.type) {
      case 'byte':
        value = r.u8(def.name);
        break;
      case 'twoByteInteger':
        value = r.u16(def.name);
        break;
      case 'fourByteInteger':
        value = r.u32(def.name);
        break;
      case 'varint':
        value = r.varint(def.name);
        break;
      case 'utf8':
        value = r.utf8(def.name);
        break;
      case 'binary':
        value = r.binary(def.name);
        break;
      case 'utf8Pair':
        value = [r.utf8(`${def.name} name`), r.utf8(`${def.name} value`)];
        break;
    }
    if (r.stopped) break;
    if (typeof value === 'number') {
      if (BOOLEAN_PROPERTIES.has(id) && value > 1) {
        r.report('MQTT_INVALID_PROPERTY_VALUE', `${def.name} is ${value}; only 0 and 1 are allowed`);
      } else if (NON_ZERO_PROPERTIES.has(id) && value === 0) {
        r.report(
          id === 0x23 ? 'MQTT_TOPIC_ALIAS_ZERO' : 'MQTT_INVALID_PROPERTY_VALUE',
          `${def.name} of 0 is a Protocol Error`,
        );
      }
    }
    const repeatable = propertyRepeatable(def, packet);
    const existing = props[def.key];
    if (Array.isArray(value)) {
      // User Property: a list of pairs in wire order.
      const list = (existing as [string, string][] | undefined) ?? [];
      list.push(value);
      props[def.key] = list;
    } else if (repeatable) {
      const list = (existing as number[] | undefined) ?? [];
      list.push(value as number);
      props[def.key] = list;
    } else if (existing !== undefined) {
      r.report('MQTT_DUPLICATE_PROPERTY', `${def.name} appears more than once in ${packetLabel(packet)}`);
    } else {
      props[def.key] = value;
    }
  }
  if (limited) {
    // The declared length says where the properties end, whatever went wrong inside them.
    r.limit(saved.end, saved.complete);
    r.pos = declaredEnd;
    r.stopped = false;
  } else if (!pastPacket) {
    // The capture cap cut the properties: they still end where declared, past the captured bytes,
    // so what follows (a PUBLISH payload's length) is still known; any read there stops quietly.
    r.pos = declaredEnd;
    r.stopped = false;
    r.capped = false;
  }
  return props;
}

function packetLabel(packet: PropertyPacket): string {
  return packet === 'WILL' ? 'Will Properties' : packet;
}
