import { DEFAULT_CAPTURE_CAP } from '../protocol/constants.js';
import type { FlappingRule } from '../record/client-id-records.js';
import { DEFAULT_RECORD_OPTIONS, type RecordOptions } from '../record/defaults.js';
import type { PacketMetrics } from '../sinks/packet-metrics.js';

export type { PayloadMode } from '../record/defaults.js';

/** How the tap decodes, what it puts in records and what it selects; set from the CLI. */
export interface TapOptions extends RecordOptions {
  /** Body bytes of one packet kept for decoding (default 64 KiB); the rest is counted. */
  captureCap: number;
  /** Bytes all connections' captures may grow by past their first 4 KiB (default defaultCaptureBudget). */
  captureBudget?: number;
  /** Only log packets of connections whose client id matches this glob (`*`, `?`). */
  clientId?: string;
  /** Only log PUBLISH/SUBSCRIBE/UNSUBSCRIBE traffic matching this MQTT filter (`+`, `#`). */
  topic?: string;
  /** Bytes of in-flight ids, topic aliases and pending requests kept per connection. */
  sessionMax?: number;
  /** Clock for request timings (ms); replay sets it to the capture's timestamps. Default Date.now. */
  now?: () => number;
  /** Takeovers of one client id within a time that make a `flapping` warning (default 3 in 60 s). */
  flapping?: FlappingRule;
  /** Client ids without an open connection kept for their history (default 10,000). */
  clientIdsMax?: number;
  /** --metrics: counts every connection, packet and failure, whatever the level and selection. */
  metrics?: PacketMetrics;
}

export const DEFAULT_TAP_OPTIONS: TapOptions = {
  captureCap: DEFAULT_CAPTURE_CAP,
  ...DEFAULT_RECORD_OPTIONS,
};
