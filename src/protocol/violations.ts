import type { ProtocolVersion } from './constants.js';
import type { Violation } from './types.js';

/**
 * A normative statement id, or one per context where the spec has a separate statement for each
 * case (keyed by packet type, by packet type and sender, or by wildcard character for Topic
 * Filters; `'*'` for the contexts not named); undefined where the spec states the rule without an
 * id (or states none).
 */
type Rule = string | undefined | Readonly<Record<string, string>>;

/**
 * Every violation the decoder and the session's stateful checks report, with the spec's normative statement per version where the
 * spec has one: `v3` cites MQTT 3.1.1 (also used for 3.1, whose spec has no numbered statements),
 * `v5` cites MQTT 5.0. Ids checked against the statements' text (3.1.1 Appendix B, 5.0 Appendix B).
 * Codes are stable: people grep logs for them.
 */
export const VIOLATIONS = {
  /** Fixed header flags; PUBREL, SUBSCRIBE, UNSUBSCRIBE, DISCONNECT (and 5.0 AUTH) have a statement each. */
  MQTT_RESERVED_FLAGS: {
    v3: {
      PUBREL: 'MQTT-3.6.1-1',
      SUBSCRIBE: 'MQTT-3.8.1-1',
      UNSUBSCRIBE: 'MQTT-3.10.1-1',
      DISCONNECT: 'MQTT-3.14.1-1',
      '*': 'MQTT-2.2.2-1',
    },
    v5: {
      PUBREL: 'MQTT-3.6.1-1',
      SUBSCRIBE: 'MQTT-3.8.1-1',
      UNSUBSCRIBE: 'MQTT-3.10.1-1',
      DISCONNECT: 'MQTT-3.14.1-1',
      AUTH: 'MQTT-3.15.1-1',
      '*': 'MQTT-2.1.3-1',
    },
  },
  MQTT_INVALID_QOS: { v3: 'MQTT-3.3.1-4', v5: 'MQTT-3.3.1-4' },
  MQTT_DUP_ON_QOS0: { v3: 'MQTT-3.3.1-2', v5: 'MQTT-3.3.1-2' },
  MQTT_INVALID_UTF8: { v3: 'MQTT-1.5.3-1', v5: 'MQTT-1.5.4-1' },
  MQTT_NULL_CHARACTER: { v3: 'MQTT-1.5.3-2', v5: 'MQTT-1.5.4-2' },
  MQTT_TRUNCATED: { v3: undefined, v5: undefined },
  MQTT_TRAILING_BYTES: { v3: undefined, v5: undefined },
  /** A Variable Byte Integer whose fourth byte has the continuation bit set ("at most four bytes", §1.5.5, no id). */
  MQTT_MALFORMED_VARINT: { v3: undefined, v5: undefined },
  MQTT_NON_MINIMAL_VARINT: { v3: undefined, v5: 'MQTT-1.5.5-1' },
  /**
   * 3.1.1 [MQTT-2.3.1-1] requires a non-zero id in SUBSCRIBE, UNSUBSCRIBE and PUBLISH (QoS > 0)
   * whoever sends them; 5.0 says it of a Client's [MQTT-2.2.1-3] and of a Server's PUBLISH
   * [MQTT-2.2.1-4] apart, so a PUBLISH whose sender is unknown gets no 5.0 rule. An acknowledgement
   * only echoes the id it answers ([MQTT-2.2.1-5], [MQTT-2.3.1-6]): 0 there is reported without a rule.
   */
  MQTT_PACKET_ID_ZERO: {
    v3: {
      PUBLISH: 'MQTT-2.3.1-1',
      'PUBLISH from client': 'MQTT-2.3.1-1',
      'PUBLISH from broker': 'MQTT-2.3.1-1',
      SUBSCRIBE: 'MQTT-2.3.1-1',
      UNSUBSCRIBE: 'MQTT-2.3.1-1',
    },
    v5: {
      'PUBLISH from client': 'MQTT-2.2.1-3',
      'PUBLISH from broker': 'MQTT-2.2.1-4',
      SUBSCRIBE: 'MQTT-2.2.1-3',
      UNSUBSCRIBE: 'MQTT-2.2.1-3',
    },
  },
  MQTT_PACKET_NOT_IN_VERSION: { v3: undefined, v5: undefined },
  MQTT_PROTOCOL_NAME: { v3: 'MQTT-3.1.2-1', v5: 'MQTT-3.1.2-1' },
  MQTT_PROTOCOL_LEVEL: { v3: 'MQTT-3.1.2-2', v5: 'MQTT-3.1.2-2' },
  MQTT_CONNECT_RESERVED_FLAG: { v3: 'MQTT-3.1.2-3', v5: 'MQTT-3.1.2-3' },
  MQTT_WILL_QOS_WITHOUT_WILL: { v3: 'MQTT-3.1.2-13', v5: 'MQTT-3.1.2-11' },
  MQTT_WILL_INVALID_QOS: { v3: 'MQTT-3.1.2-14', v5: 'MQTT-3.1.2-12' },
  MQTT_WILL_RETAIN_WITHOUT_WILL: { v3: 'MQTT-3.1.2-15', v5: 'MQTT-3.1.2-13' },
  MQTT_PASSWORD_WITHOUT_USERNAME: { v3: 'MQTT-3.1.2-22', v5: undefined },
  /** 3.1.1 §3.2.2.1 says "MUST be set to 0" without an id; 5.0 numbers it. */
  MQTT_CONNACK_RESERVED_FLAGS: { v3: undefined, v5: 'MQTT-3.2.2-1' },
  MQTT_SESSION_PRESENT_ON_REFUSAL: { v3: 'MQTT-3.2.2-4', v5: 'MQTT-3.2.2-6' },
  MQTT_TOPIC_WILDCARD: { v3: 'MQTT-3.3.2-2', v5: 'MQTT-3.3.2-2' },
  MQTT_EMPTY_TOPIC: { v3: 'MQTT-4.7.3-1', v5: 'MQTT-4.7.3-1' },
  MQTT_TOPIC_ALIAS_ZERO: { v3: undefined, v5: 'MQTT-3.3.2-8' },
  MQTT_NO_TOPIC_FILTERS: { v3: 'MQTT-3.8.3-3', v5: 'MQTT-3.8.3-2' },
  MQTT_NO_UNSUBSCRIBE_FILTERS: { v3: 'MQTT-3.10.3-2', v5: 'MQTT-3.10.3-2' },
  /** "MQTT-3-8.3-4" is how the 3.1.1 standard itself prints this id (sic). */
  MQTT_SUBSCRIPTION_OPTIONS_RESERVED: { v3: 'MQTT-3-8.3-4', v5: 'MQTT-3.8.3-5' },
  /** 5.0 §3.8.3.1: "It is a Protocol Error if the Maximum QoS field has the value 3", no id. */
  MQTT_INVALID_SUBSCRIBE_QOS: { v3: 'MQTT-3-8.3-4', v5: undefined },
  MQTT_INVALID_RETAIN_HANDLING: { v3: undefined, v5: undefined },
  MQTT_NO_LOCAL_ON_SHARED: { v3: undefined, v5: 'MQTT-3.8.3-4' },
  /** `$share/{ShareName}/{filter}` (5.0 §4.8.2): an empty ShareName, or one not of that form. */
  MQTT_INVALID_SHARED_SUBSCRIPTION: {
    v3: undefined,
    v5: { 'empty share name': 'MQTT-4.8.2-1', 'share name': 'MQTT-4.8.2-2' },
  },
  /** Keyed by the misplaced wildcard: `#` (multi-level) and `+` (single-level) have a statement each. */
  MQTT_INVALID_TOPIC_FILTER: {
    v3: { '#': 'MQTT-4.7.1-2', '+': 'MQTT-4.7.1-3' },
    v5: { '#': 'MQTT-4.7.1-1', '+': 'MQTT-4.7.1-2' },
  },
  /** Each packet's "MUST use one of the ... Reason Codes"; 3.1.1 has one for SUBACK only. */
  MQTT_UNKNOWN_REASON_CODE: {
    v3: { SUBACK: 'MQTT-3.9.3-2' },
    v5: {
      CONNACK: 'MQTT-3.2.2-8',
      PUBACK: 'MQTT-3.4.2-1',
      PUBREC: 'MQTT-3.5.2-1',
      PUBREL: 'MQTT-3.6.2-1',
      PUBCOMP: 'MQTT-3.7.2-1',
      SUBACK: 'MQTT-3.9.3-2',
      UNSUBACK: 'MQTT-3.11.3-2',
      DISCONNECT: 'MQTT-3.14.2-1',
      AUTH: 'MQTT-3.15.2-1',
    },
  },
  MQTT_UNKNOWN_PROPERTY: { v3: undefined, v5: undefined },
  /**
   * Table 2-4 names the packets each property may appear in, without an id; two statements forbid
   * a property to one sender: a Client's Subscription Identifier in PUBLISH and a Server's Session
   * Expiry Interval in DISCONNECT.
   */
  MQTT_PROPERTY_NOT_ALLOWED: {
    v3: undefined,
    v5: {
      'Subscription Identifier in PUBLISH from client': 'MQTT-3.3.4-6',
      'Session Expiry Interval in DISCONNECT from broker': 'MQTT-3.14.2-2',
    },
  },
  MQTT_DUPLICATE_PROPERTY: { v3: undefined, v5: undefined },
  MQTT_PROPERTY_LENGTH: { v3: undefined, v5: undefined },
  MQTT_INVALID_PROPERTY_VALUE: { v3: undefined, v5: undefined },

  // Stateful checks (session/session-checks.ts): a packet against the contract and the flows before it.

  /** Table 2-1 (5.0) / Table 2.1 (3.1.1) give each packet's direction of flow without an id. */
  MQTT_WRONG_DIRECTION: { v3: undefined, v5: undefined },
  MQTT_CONNECT_NOT_FIRST: { v3: 'MQTT-3.1.0-1', v5: 'MQTT-3.1.0-1' },
  MQTT_SECOND_CONNECT: { v3: 'MQTT-3.1.0-2', v5: 'MQTT-3.1.0-2' },
  /** 3.1.1 has no statement against a second CONNACK. */
  MQTT_SECOND_CONNACK: { v3: undefined, v5: 'MQTT-3.2.0-2' },
  /** A client with extended authentication under way, a broker before its CONNACK (5.0: a DISCONNECT has its own). */
  MQTT_BEFORE_CONNACK: {
    v3: { 'from broker': 'MQTT-3.2.0-1' },
    v5: {
      'from client': 'MQTT-3.1.2-30',
      'from broker': 'MQTT-3.2.0-1',
      'DISCONNECT from broker': 'MQTT-3.14.0-1',
    },
  },
  /** After a refusing CONNACK the broker closes; a 5.0 DISCONNECT then breaks a statement of its own. */
  MQTT_AFTER_REFUSAL: { v3: 'MQTT-3.2.2-5', v5: { DISCONNECT: 'MQTT-3.14.0-1', '*': 'MQTT-3.2.2-7' } },
  MQTT_AFTER_DISCONNECT: { v3: 'MQTT-3.14.4-2', v5: 'MQTT-3.14.4-1' },
  /** The client's duty to send within the keep-alive, reported past the broker's 1.5 times (3.1.2-22). */
  MQTT_KEEP_ALIVE_EXCEEDED: { v3: 'MQTT-3.1.2-23', v5: 'MQTT-3.1.2-20' },
  /** The broker's duty to close the connection of a client silent past 1.5 times the keep-alive. */
  MQTT_KEEP_ALIVE_NOT_ENFORCED: { v3: 'MQTT-3.1.2-24', v5: 'MQTT-3.1.2-22' },
  MQTT_SESSION_PRESENT_ON_CLEAN_START: { v3: 'MQTT-3.2.2-1', v5: 'MQTT-3.2.2-2' },
  MQTT_ASSIGNED_CLIENT_ID_MISSING: { v3: undefined, v5: 'MQTT-3.2.2-16' },
  MQTT_RESPONSE_INFORMATION_NOT_REQUESTED: { v3: undefined, v5: 'MQTT-3.1.2-28' },
  MQTT_PROBLEM_INFORMATION_NOT_REQUESTED: { v3: undefined, v5: 'MQTT-3.1.2-29' },
  /** AUTH, or an Authentication Method in CONNACK, without one in the CONNECT. */
  MQTT_AUTH_NOT_NEGOTIATED: {
    v3: undefined,
    v5: {
      'AUTH from client': 'MQTT-4.12.0-7',
      'AUTH from broker': 'MQTT-4.12.0-6',
      CONNACK: 'MQTT-4.12.0-6',
    },
  },
  MQTT_AUTH_METHOD_CHANGED: { v3: undefined, v5: 'MQTT-4.12.0-5' },
  /**
   * One set of ids per sender across PUBLISH, SUBSCRIBE and UNSUBSCRIBE (5.0 §2.2.1); the QoS 1
   * and QoS 2 delivery protocols each state it for PUBLISH.
   */
  MQTT_PACKET_ID_IN_USE: {
    v3: {
      'PUBLISH QoS 1': 'MQTT-4.3.2-1',
      'PUBLISH QoS 2': 'MQTT-4.3.3-1',
      SUBSCRIBE: 'MQTT-2.3.1-2',
      UNSUBSCRIBE: 'MQTT-2.3.1-2',
    },
    v5: {
      'PUBLISH QoS 1': 'MQTT-4.3.2-1',
      'PUBLISH QoS 2': 'MQTT-4.3.3-1',
      SUBSCRIBE: 'MQTT-2.2.1-3',
      UNSUBSCRIBE: 'MQTT-2.2.1-3',
    },
  },
  /** 3.1.1 [MQTT-2.3.1-6] leaves out PUBCOMP, whose id is the PUBREL's (4.3.3-2). */
  MQTT_PACKET_ID_NOT_IN_FLIGHT: {
    v3: {
      PUBACK: 'MQTT-2.3.1-6',
      PUBREC: 'MQTT-2.3.1-6',
      PUBREL: 'MQTT-2.3.1-6',
      PUBCOMP: 'MQTT-4.3.3-2',
      SUBACK: 'MQTT-2.3.1-7',
      UNSUBACK: 'MQTT-2.3.1-7',
    },
    v5: { SUBACK: 'MQTT-2.2.1-6', UNSUBACK: 'MQTT-2.2.1-6', '*': 'MQTT-2.2.1-5' },
  },
  /** A code for each Topic Filter of the request; a 3.x UNSUBACK has none. */
  MQTT_REASON_CODE_COUNT: {
    v3: { SUBACK: 'MQTT-3.8.4-5' },
    v5: { SUBACK: 'MQTT-3.8.4-6', UNSUBACK: 'MQTT-3.11.3-2' },
  },
  MQTT_RECEIVE_MAXIMUM_EXCEEDED: {
    v3: undefined,
    v5: { 'from client': 'MQTT-3.3.4-7', 'from broker': 'MQTT-3.3.4-9' },
  },
  /** By sender; where the packet carries a Reason String or User Property, the statement that it should have been left out. */
  MQTT_PACKET_TOO_LARGE: {
    v3: undefined,
    v5: {
      'from client': 'MQTT-3.2.2-15',
      'from broker': 'MQTT-3.1.2-24',
      'CONNACK Reason String': 'MQTT-3.2.2-19',
      'CONNACK User Property': 'MQTT-3.2.2-20',
      'PUBACK Reason String': 'MQTT-3.4.2-2',
      'PUBACK User Property': 'MQTT-3.4.2-3',
      'PUBREC Reason String': 'MQTT-3.5.2-2',
      'PUBREC User Property': 'MQTT-3.5.2-3',
      'PUBREL Reason String': 'MQTT-3.6.2-2',
      'PUBREL User Property': 'MQTT-3.6.2-3',
      'PUBCOMP Reason String': 'MQTT-3.7.2-2',
      'PUBCOMP User Property': 'MQTT-3.7.2-3',
      'SUBACK Reason String': 'MQTT-3.9.2-1',
      'SUBACK User Property': 'MQTT-3.9.2-2',
      'UNSUBACK Reason String': 'MQTT-3.11.2-1',
      'UNSUBACK User Property': 'MQTT-3.11.2-2',
      'DISCONNECT Reason String': 'MQTT-3.14.2-3',
      'DISCONNECT User Property': 'MQTT-3.14.2-4',
      'AUTH Reason String': 'MQTT-3.15.2-2',
      'AUTH User Property': 'MQTT-3.15.2-3',
    },
  },
  MQTT_TOPIC_ALIAS_ABOVE_MAXIMUM: {
    v3: undefined,
    v5: {
      'from client': 'MQTT-3.3.2-9',
      'from broker': 'MQTT-3.3.2-11',
      'from client, none accepted': 'MQTT-3.2.2-18',
      'from broker, none accepted': 'MQTT-3.1.2-27',
    },
  },
  /** 5.0 §3.3.2.3.4 defines the mapping without a statement for an alias never set. */
  MQTT_TOPIC_ALIAS_UNKNOWN: { v3: undefined, v5: undefined },
  MQTT_QOS_NOT_SUPPORTED: { v3: undefined, v5: { PUBLISH: 'MQTT-3.2.2-11', Will: 'MQTT-3.2.2-12' } },
  MQTT_RETAIN_NOT_SUPPORTED: { v3: undefined, v5: { PUBLISH: 'MQTT-3.2.2-14', Will: 'MQTT-3.2.2-13' } },
  /** 5.0 §3.2.2.3.11-13 call these a Protocol Error without an id. */
  MQTT_WILDCARD_SUBSCRIPTION_NOT_SUPPORTED: { v3: undefined, v5: undefined },
  MQTT_SHARED_SUBSCRIPTION_NOT_SUPPORTED: { v3: undefined, v5: undefined },
  MQTT_SUBSCRIPTION_ID_NOT_SUPPORTED: { v3: undefined, v5: undefined },
} as const satisfies Record<string, { v3: Rule; v5: Rule }>;

export type ViolationCode = keyof typeof VIOLATIONS;

/**
 * The normative id for `code` in `version`; `context` picks among per-case ids (a packet type, a
 * packet type and its sender, a wildcard), falling back to the `'*'` entry where there is one.
 */
export function ruleOf(code: ViolationCode, version: ProtocolVersion, context?: string): string | undefined {
  const rule: Rule = version === '5.0' ? VIOLATIONS[code].v5 : VIOLATIONS[code].v3;
  if (rule === undefined || typeof rule === 'string') return rule;
  return (context === undefined ? undefined : rule[context]) ?? rule['*'];
}

export function violation(
  code: ViolationCode,
  version: ProtocolVersion,
  detail: string,
  context?: string,
): Violation {
  const rule = ruleOf(code, version, context);
  return rule === undefined ? { code, detail } : { code, rule, detail };
}
