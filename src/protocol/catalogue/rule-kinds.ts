// The two axes of the spec coverage table (rules.ts), apart from it so that the CLI can offer them
// as choices without loading the table itself.

/** The MQTT versions whose normative statements are numbered (3.1 has none). */
export type RuleVersion = '5.0' | '3.1.1';
export const RULE_VERSIONS: readonly RuleVersion[] = ['5.0', '3.1.1'];

/**
 * `checked`: reported as a violation; `not-observable`: nothing on the wire can show it (`why`
 * says what it concerns); `not-yet`: the wire shows it but mqtt-tap does not check it yet.
 */
export type RuleStatus = 'checked' | 'not-observable' | 'not-yet';
export const RULE_STATUSES: readonly RuleStatus[] = ['checked', 'not-observable', 'not-yet'];
