import type { Packet } from '../protocol/types.js';
import type { RecordOptions } from '../record/defaults.js';
import type { Level, LogRecord, PacketHead } from '../record/log-record.js';
import type { Correlation } from '../session/connection-session.js';

export { LEVELS, type Level, type LogRecord, type PacketHead } from '../record/log-record.js';

/** Where records go. The pino logger implements it; tests may collect records in memory. */
export interface RecordSink {
  /** Cheap check so that records for disabled levels are never built. */
  isLevelEnabled(level: Level): boolean;
  /** A record that is not a packet's; `msg` is its one-line human summary (pino's `msg`). */
  write(level: Level, record: LogRecord, msg: string): void;
  /**
   * A packet's record: `head`, then the packet's fields (record/fields.ts) and its summary
   * (record/summary.ts), as bytes (record/ndjson-line.ts) or objects (record/object-form.ts).
   */
  writePacket(
    level: Level,
    head: Readonly<PacketHead>,
    packet: Packet,
    corr: Correlation | undefined,
    opts: RecordOptions,
  ): void;
  /** Resolves when everything written so far has reached its destination. */
  flush(): Promise<void>;
}
