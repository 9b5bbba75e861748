import type { AnnotateOptions } from '../annotate/packet-record.js';
import type { Packet } from '../protocol/types.js';
import type { Correlation } from '../session/connection-session.js';

/** Where records go. The pino logger implements it; tests may collect records in memory. */

export type Level = 'trace' | 'debug' | 'info' | 'warn' | 'error';

export const LEVELS: readonly Level[] = ['trace', 'debug', 'info', 'warn', 'error'];

/** A structured record; `event` says which kind (listening, open, packet, malformed, close...). */
export interface LogRecord {
  event: string;
  [key: string]: unknown;
}

/** The fields the tap puts before a packet's own (packetRecord's) in its record. */
export interface PacketHead extends LogRecord {
  event: 'packet';
  conn: string;
  from: 'client' | 'broker';
  clientId?: string;
  username?: string;
}

export interface RecordSink {
  /** Cheap check so that records for disabled levels are never built. */
  isLevelEnabled(level: Level): boolean;
  /** `msg` is the one-line human summary (pino's `msg`). */
  write(level: Level, record: LogRecord, msg: string): void;
  /**
   * Optional: writes the record of `packet` (`head`, then what packetRecord and summarize make of
   * it) when the sink has a faster way than building it, and says true; false leaves it to the
   * caller, which builds the record and calls write().
   */
  writePacket?(
    level: Level,
    head: PacketHead,
    packet: Packet,
    corr: Correlation | undefined,
    opts: AnnotateOptions,
  ): boolean;
  /** Resolves when everything written so far has reached its destination. */
  flush(): Promise<void>;
}
