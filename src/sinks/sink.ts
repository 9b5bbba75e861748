/** Where records go. The pino logger implements it; tests may collect records in memory. */

export type Level = 'trace' | 'debug' | 'info' | 'warn' | 'error';

export const LEVELS: readonly Level[] = ['trace', 'debug', 'info', 'warn', 'error'];

/** A structured record; `event` says which kind (listening, open, packet, malformed, close...). */
export interface LogRecord {
  event: string;
  [key: string]: unknown;
}

export interface RecordSink {
  /** Cheap check so that records for disabled levels are never built. */
  isLevelEnabled(level: Level): boolean;
  /** `msg` is the one-line human summary (pino's `msg`). */
  write(level: Level, record: LogRecord, msg: string): void;
  /** Resolves when everything written so far has reached its destination. */
  flush(): Promise<void>;
}
