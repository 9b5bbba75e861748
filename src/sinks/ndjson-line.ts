/** The NDJSON line of a record: pino's layout, `{"level":N,"time":MS,<record's fields>,"msg":"..."}`. */
import { jsonString, packetJsonFields } from './packet-json.js';
import type { Level, LogRecord } from './sink.js';

/** pino's numeric levels, as written in every line. */
export const LEVEL_VALUES: Record<Level, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50 };

/**
 * The line pino writes for `logger[level](record, msg)` with `base: null`:
 * `{"level":N,"time":MS,<record's fields>,"msg":"..."}`, made with one native JSON.stringify
 * instead of pino's key-by-key loop. Undefined where only pino gets it right: an `err` field
 * (pino's error serialiser reshapes it) or a value JSON.stringify refuses (BigInt, a cycle).
 */
export function ndjsonLine(level: Level, record: LogRecord, msg: string, time: number): string | undefined {
  let fields = packetJsonFields(record);
  if (fields === undefined) {
    if (Object.hasOwn(record, 'err')) return undefined;
    let body: string;
    try {
      body = JSON.stringify(record);
    } catch {
      return undefined;
    }
    fields = body.length > 2 ? body.slice(1, -1) : undefined;
  }
  return `{"level":${LEVEL_VALUES[level]},"time":${time},${fields === undefined ? '' : `${fields},`}"msg":${jsonString(msg)}}\n`;
}
