/** What goes into a packet's record, and the defaults every command and the programmatic API share. */

export type PayloadMode = 'none' | 'auto' | 'text' | 'hex' | 'base64';

export const PAYLOAD_MODES = [
  'none',
  'auto',
  'text',
  'hex',
  'base64',
] as const satisfies readonly PayloadMode[];

export interface RecordOptions {
  /** How payloads are previewed: `auto` shows printable UTF-8 as text, anything else as hex. */
  payload: PayloadMode;
  /** Bytes of a payload a preview shows. */
  payloadMax: number;
  /** CONNECT passwords and AUTH data in clear instead of a length and a keyed hash. */
  showSecrets: boolean;
}

export const DEFAULT_RECORD_OPTIONS: RecordOptions = {
  payload: 'auto',
  payloadMax: 256,
  showSecrets: false,
};

/** Characters of a payload preview the one-line summary (`msg`) repeats. */
export const SUMMARY_PREVIEW_CHARS = 60;

/**
 * Entries of one list (subscriptions, filters, reason codes, violations) a packet record writes;
 * the rest are counted (`reasonsOmitted`...). A 64 KiB SUBACK holds 65,000 codes: written out each
 * with its description, that would be one 13 MB line.
 */
export const RECORD_LIST_MAX = 1000;

/** Entries of one list the one-line summary (`msg`) names before `… N more`. */
export const SUMMARY_LIST_MAX = 20;
