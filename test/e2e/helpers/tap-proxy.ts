/**
 * The real proxy (`startProxy`) with the real tap (`createTap`) writing into an in-memory collect
 * sink, for end-to-end tests with real peers. Plus the small pieces those tests share: cleanups
 * that run even when a test fails, the records of one connection, real clients.
 */
import { execFile } from 'node:child_process';
import mqtt from 'mqtt';
import { createTap } from '../../../src/observe/tap.js';
import { DEFAULT_TAP_OPTIONS, type TapOptions } from '../../../src/observe/tap-options.js';
import { type RunningProxy, startProxy } from '../../../src/proxy/server.js';
import type { LogRecord } from '../../../src/sinks/sink.js';
import { type CollectedRecord, type CollectSink, createCollectSink } from '../../helpers/collect-sink.js';

/** Things to undo after each test, last first; every one runs even when an earlier one throws. */
export class Cleanups {
  private readonly fns: Array<() => Promise<unknown> | unknown> = [];

  add(fn: () => Promise<unknown> | unknown): void {
    this.fns.push(fn);
  }

  async run(): Promise<void> {
    const errors: unknown[] = [];
    for (const fn of this.fns.splice(0).reverse()) {
      try {
        await fn();
      } catch (err) {
        errors.push(err);
      }
    }
    if (errors.length > 0) throw new AggregateError(errors, 'cleanup failed');
  }
}

export interface TapProxy {
  proxy: RunningProxy;
  sink: CollectSink;
  port: number;
  /** `mqtt://127.0.0.1:PORT` of the proxy. */
  url: string;
  /** `127.0.0.1:PORT` of the broker, as the records name it. */
  upstream: string;
  /** Records (as they would appear in the NDJSON log) of connection `conn`, in order. */
  records(conn: string): LogRecord[];
  /** The `open` records, in order: their `conn` ids name the connections. */
  opens(): LogRecord[];
  /** The id of the n-th connection (0-based), once opened. */
  conn(n: number): Promise<string>;
  /** The close record of `conn`, once written. */
  closed(conn: string, timeoutMs?: number): Promise<LogRecord>;
  /** The first record of `conn` matching `pred`, once written. */
  waitFor(conn: string, pred: (r: LogRecord) => boolean, timeoutMs?: number): Promise<LogRecord>;
}

/** Starts proxy + tap + collect sink on a free 127.0.0.1 port; closed by `cleanups`. */
export async function startTapProxy(
  cleanups: Cleanups,
  upstream: { host: string; port: number },
  tapOptions: Partial<TapOptions> = {},
): Promise<TapProxy> {
  const sink = createCollectSink('trace');
  const proxy = await startProxy({
    listen: [{ host: '127.0.0.1', port: 0 }],
    upstream,
    observer: createTap(sink, { ...DEFAULT_TAP_OPTIONS, ...tapOptions }),
    onError: (err, ctx) => {
      // A tap failure must not go unnoticed in a test: make it a record the assertions will see.
      sink.write('error', { event: 'internal-error', ...ctx, error: String(err) }, String(err));
    },
  });
  cleanups.add(() => proxy.close(0));
  const port = proxy.addresses[0]!.port;
  const ofConn =
    (conn: string) =>
    (r: CollectedRecord): boolean =>
      r.record.conn === conn;
  return {
    proxy,
    sink,
    port,
    url: `mqtt://127.0.0.1:${port}`,
    upstream: proxy.upstream,
    records: (conn) => sink.records.filter(ofConn(conn)).map((r) => r.record),
    opens: () => sink.events('open').map((r) => r.record),
    async conn(n) {
      await sink.waitFor((r) => r.record.event === 'open' && sink.events('open').length > n);
      return String(sink.events('open')[n]!.record.conn);
    },
    async closed(conn, timeoutMs = 5000) {
      const r = await sink.waitFor((x) => x.record.event === 'close' && x.record.conn === conn, timeoutMs);
      return r.record;
    },
    async waitFor(conn, pred, timeoutMs = 5000) {
      const r = await sink.waitFor((x) => x.record.conn === conn && pred(x.record), timeoutMs);
      return r.record;
    },
  };
}

/** The `msg` of every record of `conn`, in order: the human view, asserted alongside the records. */
export function messages(sink: CollectSink, conn: string): string[] {
  return sink.records.filter((r) => r.record.conn === conn).map((r) => r.msg);
}

export type ProtocolVersion = 3 | 4 | 5;

/** mqtt.js options for a test client: no reconnects, 3.1 named "MQIsdp" as its spec requires. */
function clientOptions(protocolVersion: ProtocolVersion, extra: mqtt.IClientOptions): mqtt.IClientOptions {
  return {
    protocolVersion,
    ...(protocolVersion === 3 ? { protocolId: 'MQIsdp' as const } : {}),
    reconnectPeriod: 0,
    connectTimeout: 5000,
    ...extra,
  };
}

/** An mqtt.js client, connecting (listeners can be attached before anything arrives); ended by `cleanups`. */
export function mqttClient(
  cleanups: Cleanups,
  url: string,
  protocolVersion: ProtocolVersion,
  extra: mqtt.IClientOptions = {},
): mqtt.MqttClient {
  const client = mqtt.connect(url, clientOptions(protocolVersion, extra));
  cleanups.add(() => client.endAsync(true));
  return client;
}

/** An mqtt.js client through the proxy, once connected; ended (forcibly) by `cleanups`. */
export async function mqttConnect(
  cleanups: Cleanups,
  url: string,
  protocolVersion: ProtocolVersion,
  extra: mqtt.IClientOptions = {},
): Promise<mqtt.MqttClient> {
  const client = await mqtt.connectAsync(url, clientOptions(protocolVersion, extra));
  cleanups.add(() => client.endAsync(true));
  return client;
}

/** The error a refused mqtt.js connection ends with (CONNACK code in `code`). */
export async function mqttRefusal(
  url: string,
  protocolVersion: ProtocolVersion,
  extra: mqtt.IClientOptions,
): Promise<unknown> {
  const client = mqtt.connect(url, clientOptions(protocolVersion, extra));
  try {
    return await new Promise<unknown>((resolve, reject) => {
      client.once('connect', () => reject(new Error('connection accepted, expected a refusal')));
      client.once('error', resolve);
    });
  } finally {
    await client.endAsync(true);
  }
}

export interface ToolResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command line tool (mosquitto_pub, mosquitto_sub) to its end; never rejects. */
export function runTool(file: string, args: string[], timeoutMs = 10_000): Promise<ToolResult> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: timeoutMs, encoding: 'utf8' }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : null;
      resolve({ code, stdout, stderr });
    });
  });
}

/** Resolves once `cond()` holds; rejects after `timeoutMs` naming `what`. */
export async function until(cond: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
