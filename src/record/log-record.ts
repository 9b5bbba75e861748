/** The records a sink receives: levels, the generic record, and the head of a packet's record. */

export type Level = 'trace' | 'debug' | 'info' | 'warn' | 'error';

export const LEVELS: readonly Level[] = ['trace', 'debug', 'info', 'warn', 'error'];

/** pino's numbers for the levels: the `level` of an NDJSON line. */
export const LEVEL_VALUES: Readonly<Record<Level, number>> = {
  trace: 10,
  debug: 20,
  info: 30,
  warn: 40,
  error: 50,
};

/** A structured record; `event` says which kind (listening, open, packet, malformed, close...). */
export interface LogRecord {
  event: string;
  [key: string]: unknown;
}

/**
 * The fields before a packet's own in its record. Never changed once written: writers may keep
 * what they made of it, so a new value means a new head.
 */
export interface PacketHead extends LogRecord {
  event: 'packet';
  conn: string;
  from: 'client' | 'broker';
  clientId?: string;
  username?: string;
}
