import type { ProtocolVersion } from './constants.js';
import type { Violation } from './types.js';

/**
 * Every violation the decoder reports, with the spec's normative statement per version where the
 * spec has one. Codes are stable: people grep logs for them.
 */
export const VIOLATIONS = {
  MQTT_RESERVED_FLAGS: { v3: 'MQTT-2.2.2-1', v5: 'MQTT-2.1.3-1' },
  MQTT_INVALID_QOS: { v3: 'MQTT-3.3.1-4', v5: 'MQTT-3.3.1-4' },
  MQTT_DUP_ON_QOS0: { v3: 'MQTT-3.3.1-2', v5: 'MQTT-3.3.1-2' },
  MQTT_INVALID_UTF8: { v3: 'MQTT-1.5.3-1', v5: 'MQTT-1.5.4-1' },
  MQTT_NULL_CHARACTER: { v3: 'MQTT-1.5.3-2', v5: 'MQTT-1.5.4-2' },
  MQTT_TRUNCATED: { v3: undefined, v5: undefined },
  MQTT_TRAILING_BYTES: { v3: undefined, v5: undefined },
  MQTT_NON_MINIMAL_VARINT: { v3: undefined, v5: 'MQTT-1.5.5-1' },
  MQTT_PACKET_ID_ZERO: { v3: 'MQTT-2.3.1-1', v5: 'MQTT-2.2.1-3' },
  MQTT_PACKET_NOT_IN_VERSION: { v3: undefined, v5: undefined },
  MQTT_PROTOCOL_NAME: { v3: 'MQTT-3.1.2-1', v5: undefined },
  MQTT_PROTOCOL_LEVEL: { v3: 'MQTT-3.1.2-2', v5: undefined },
  MQTT_CONNECT_RESERVED_FLAG: { v3: 'MQTT-3.1.2-3', v5: 'MQTT-3.1.2-3' },
  MQTT_WILL_QOS_WITHOUT_WILL: { v3: 'MQTT-3.1.2-13', v5: 'MQTT-3.1.2-11' },
  MQTT_WILL_INVALID_QOS: { v3: 'MQTT-3.1.2-14', v5: 'MQTT-3.1.2-12' },
  MQTT_WILL_RETAIN_WITHOUT_WILL: { v3: 'MQTT-3.1.2-15', v5: 'MQTT-3.1.2-13' },
  MQTT_PASSWORD_WITHOUT_USERNAME: { v3: 'MQTT-3.1.2-22', v5: undefined },
  MQTT_CONNACK_RESERVED_FLAGS: { v3: undefined, v5: 'MQTT-3.2.2-1' },
  MQTT_SESSION_PRESENT_ON_REFUSAL: { v3: 'MQTT-3.2.2-4', v5: 'MQTT-3.2.2-6' },
  MQTT_TOPIC_WILDCARD: { v3: 'MQTT-3.3.2-2', v5: 'MQTT-3.3.2-2' },
  MQTT_EMPTY_TOPIC: { v3: 'MQTT-4.7.3-1', v5: 'MQTT-4.7.3-1' },
  MQTT_TOPIC_ALIAS_ZERO: { v3: undefined, v5: 'MQTT-3.3.2-8' },
  MQTT_NO_TOPIC_FILTERS: { v3: 'MQTT-3.8.3-3', v5: 'MQTT-3.8.3-2' },
  MQTT_NO_UNSUBSCRIBE_FILTERS: { v3: 'MQTT-3.10.3-2', v5: 'MQTT-3.10.3-2' },
  MQTT_SUBSCRIPTION_OPTIONS_RESERVED: { v3: 'MQTT-3-8.3-4', v5: 'MQTT-3.8.3-5' },
  MQTT_INVALID_SUBSCRIBE_QOS: { v3: 'MQTT-3-8.3-4', v5: undefined },
  MQTT_INVALID_RETAIN_HANDLING: { v3: undefined, v5: undefined },
  MQTT_NO_LOCAL_ON_SHARED: { v3: undefined, v5: 'MQTT-3.8.3-4' },
  MQTT_INVALID_TOPIC_FILTER: { v3: 'MQTT-4.7.1-2', v5: 'MQTT-4.7.1-1' },
  MQTT_UNKNOWN_REASON_CODE: { v3: undefined, v5: undefined },
  MQTT_UNKNOWN_PROPERTY: { v3: undefined, v5: undefined },
  MQTT_PROPERTY_NOT_ALLOWED: { v3: undefined, v5: undefined },
  MQTT_DUPLICATE_PROPERTY: { v3: undefined, v5: undefined },
  MQTT_PROPERTY_LENGTH: { v3: undefined, v5: undefined },
  MQTT_INVALID_PROPERTY_VALUE: { v3: undefined, v5: undefined },
} as const satisfies Record<string, { v3: string | undefined; v5: string | undefined }>;

export type ViolationCode = keyof typeof VIOLATIONS;

export function violation(code: ViolationCode, version: ProtocolVersion, detail: string): Violation {
  const rule = version === '5.0' ? VIOLATIONS[code].v5 : VIOLATIONS[code].v3;
  return rule === undefined ? { code, detail } : { code, rule, detail };
}
