/**
 * The default command: run the proxy. Parses flags (and MQTT_TAP_* variables), starts an embedded
 * broker when no upstream is given, wires proxy → tap → pino, and shuts down cleanly on signals.
 */
import { lookup } from 'node:dns/promises';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { constants as osConstants } from 'node:os';
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { type DeferredObserver, deferredObserver } from '../observe/deferred-observer.js';
import { fanOut } from '../observe/observer.js';
import type { PcapngRecorder } from '../observe/pcapng-recorder.js';
import { createTap } from '../observe/tap.js';
import {
  formatAddress,
  formatHostPort,
  type HostPort,
  isTlsTransport,
  isWebSocketTransport,
  type TransportAddress,
} from '../proxy/address.js';
import type { EmbeddedBroker, EmbeddedBrokerKind } from '../proxy/embedded-broker.js';
import { defaultWsMaxMessage, READY_TIMEOUT_MS } from '../proxy/limits.js';
import type { MetricsServer } from '../proxy/metrics-server.js';
import { type ProxyErrorContext, type RunningProxy, startProxy } from '../proxy/server.js';
import { type TlsClientConfig, type TlsServerConfig, unverifiableClients } from '../proxy/tls-info.js';
import { createLogSink, type LogSink } from '../sinks/log-sink.js';
import type { PacketMetrics } from '../sinks/packet-metrics.js';
import type { Level, RecordSink } from '../sinks/sink.js';
import { summarizing, VerdictSummary } from '../sinks/verdict-summary.js';
import type { UiServer } from '../ui/server.js';
import { raiseMallocTrimThreshold } from './malloc-trim.js';
import {
  ENV_PREFIX,
  type LogArgs,
  PROXY_OPTIONS,
  prettyWanted,
  type TapArgs,
  tapOptionsFrom,
  type UiArgs,
  UsageError,
  uiToken,
  withOptions,
} from './options.js';
import { stderrLine } from './stderr-line.js';

/** How long connections may take to end on their own after SIGINT/SIGTERM. */
export const SHUTDOWN_GRACE_MS = 2000;
/** After the grace period, how long the log may take to drain before mqtt-tap exits regardless. */
export const SHUTDOWN_LOG_MS = 1000;

/** The proxy's parsed flags (see OPTIONS in options.ts). */
export interface ProxyArgs extends LogArgs, TapArgs, UiArgs {
  listen: TransportAddress[];
  upstream?: TransportAddress;
  /** PEM files for mqtts:// and wss:// listeners. */
  tlsCert?: string;
  tlsKey?: string;
  tlsCa?: string;
  tlsRequestCert?: boolean;
  /** TLS towards an mqtts:// or wss:// upstream. */
  upstreamCa?: string;
  upstreamCert?: string;
  upstreamKey?: string;
  upstreamServername?: string;
  upstreamAlpn?: string[];
  insecure?: boolean;
  embedded: 'auto' | EmbeddedBrokerKind;
  record?: string;
  recordRotate?: number;
  /** Largest WebSocket message; default from --capture-max (defaultWsMaxMessage). */
  wsMaxMessage?: number;
  /** Origins whose web pages may open a WebSocket (normalized; `*` for any). */
  wsOrigin?: string[];
  maxConnections: number;
  /** Let clients whose certificate was not verified use --upstream-cert too. */
  upstreamCertForAll?: boolean;
  /** Every listener requires a PROXY protocol header; its source is the client. */
  acceptProxyProtocol?: boolean;
  /** Each upstream connection opens with a PROXY protocol header naming the client. */
  upstreamProxyProtocol?: 'v1' | 'v2';
  /** At shutdown, the verdicts by cause with their top client ids, on stderr. */
  summary?: boolean;
  /** Serve /metrics, /healthz and /readyz here. */
  metrics?: HostPort;
  /** With metrics: PUBLISH counted by the first N levels of their topic (0: off). */
  metricsTopicDepth?: number;
  /** Most topic series. */
  metricsTopicMax?: number;
}

/** Flags that were given (a boolean flag counts when true). */
function given(flags: ReadonlyArray<[string, unknown]>): string[] {
  return flags.filter(([, v]) => v !== undefined && v !== false).map(([name]) => `--${name}`);
}

/** The TLS flags only mean something with a TLS listener or upstream: say so rather than ignore them. */
export function checkTransportArgs(args: Partial<ProxyArgs>): true {
  const tlsListener = (args.listen ?? []).some((l) => isTlsTransport(l.transport));
  if (tlsListener && (args.tlsCert === undefined || args.tlsKey === undefined)) {
    throw new UsageError(
      'mqtts:// and wss:// listeners need --tls-cert FILE and --tls-key FILE (PEM; see README "Transports")',
    );
  }
  const listenerFlags = given([
    ['tls-cert', args.tlsCert],
    ['tls-key', args.tlsKey],
    ['tls-ca', args.tlsCa],
    ['tls-request-cert', args.tlsRequestCert],
  ]);
  if (!tlsListener && listenerFlags.length > 0) {
    throw new UsageError(`${listenerFlags.join(', ')}: only for an mqtts:// or wss:// --listen`);
  }
  if (args.tlsCa !== undefined && args.tlsRequestCert !== true) {
    throw new UsageError('--tls-ca verifies client certificates: add --tls-request-cert');
  }
  const upstreamFlags = given([
    ['upstream-ca', args.upstreamCa],
    ['upstream-cert', args.upstreamCert],
    ['upstream-cert-for-all', args.upstreamCertForAll],
    ['upstream-key', args.upstreamKey],
    ['upstream-servername', args.upstreamServername],
    ['upstream-alpn', args.upstreamAlpn],
    ['insecure', args.insecure],
  ]);
  if (upstreamFlags.length > 0 && (args.upstream === undefined || !isTlsTransport(args.upstream.transport))) {
    throw new UsageError(`${upstreamFlags.join(', ')}: only with an mqtts:// or wss:// --upstream`);
  }
  if ((args.upstreamCert === undefined) !== (args.upstreamKey === undefined)) {
    throw new UsageError('--upstream-cert and --upstream-key go together');
  }
  if (args.upstreamCertForAll === true && args.upstreamCert === undefined) {
    throw new UsageError('--upstream-cert-for-all: only with --upstream-cert');
  }
  if (args.upstreamCert !== undefined && args.upstreamCertForAll !== true) {
    for (const l of args.listen ?? []) {
      const why = unverifiableClients(l.transport, args.tlsRequestCert === true, args.tlsCa !== undefined);
      if (why === undefined) continue;
      throw new UsageError(
        `--upstream-cert: clients of ${formatAddress(l)} ${why}, so every one would reach the broker as mqtt-tap. ` +
          'Verify them (an mqtts:// or wss:// --listen with --tls-request-cert --tls-ca CA.pem), ' +
          'or let every client use the certificate: --upstream-cert-for-all',
      );
    }
  }
  const wsListener = (args.listen ?? []).some((l) => isWebSocketTransport(l.transport));
  if (args.wsOrigin !== undefined && !wsListener) {
    throw new UsageError('--ws-origin: only for a ws:// or wss:// --listen');
  }
  const wsUpstream = args.upstream !== undefined && isWebSocketTransport(args.upstream.transport);
  if (args.wsMaxMessage !== undefined && !wsListener && !wsUpstream) {
    throw new UsageError('--ws-max-message: only with a ws:// or wss:// --listen or --upstream');
  }
  return true;
}

/** A PROXY header needs a TCP or TLS broker that expects one: the embedded brokers do not. */
export function checkProxyProtocolArgs(args: Partial<ProxyArgs>): true {
  if (args.upstreamProxyProtocol === undefined) return true;
  if (args.upstream === undefined) {
    throw new UsageError('--upstream-proxy-protocol needs an --upstream that accepts the PROXY protocol');
  }
  if (args.upstream.transport !== 'tcp' && args.upstream.transport !== 'tls') {
    throw new UsageError('--upstream-proxy-protocol: only with a TCP or mqtts:// --upstream');
  }
  return true;
}

/** The topic flags only mean something with --metrics, and the series cap with a depth. */
export function checkMetricsArgs(args: Partial<ProxyArgs>): true {
  if (args.metrics === undefined && args.metricsTopicDepth !== undefined && args.metricsTopicDepth > 0) {
    throw new UsageError('--metrics-topic-depth: only with --metrics [HOST:]PORT');
  }
  if (
    args.metricsTopicMax !== undefined &&
    !(args.metricsTopicDepth !== undefined && args.metricsTopicDepth > 0)
  ) {
    throw new UsageError('--metrics-topic-max: only with --metrics-topic-depth N');
  }
  return true;
}

/** Reads a PEM file named by a flag; a missing or unreadable file is a startup error naming the flag. */
function readPem(flag: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new Error(`cannot read --${flag} ${file}: ${errorMessage(err)}`, { cause: err });
  }
}

/** The files behind the TLS flags, read once at start. */
export function tlsConfigs(args: ProxyArgs): { server?: TlsServerConfig; client?: TlsClientConfig } {
  const out: { server?: TlsServerConfig; client?: TlsClientConfig } = {};
  if (args.tlsCert !== undefined && args.tlsKey !== undefined) {
    const server: TlsServerConfig = {
      cert: readPem('tls-cert', args.tlsCert),
      key: readPem('tls-key', args.tlsKey),
      requestCert: args.tlsRequestCert === true,
    };
    if (args.tlsCa !== undefined) server.ca = readPem('tls-ca', args.tlsCa);
    out.server = server;
  }
  if (args.upstream !== undefined && isTlsTransport(args.upstream.transport)) {
    const client: TlsClientConfig = { insecure: args.insecure === true };
    if (args.upstreamCa !== undefined) client.ca = readPem('upstream-ca', args.upstreamCa);
    if (args.upstreamCert !== undefined) client.cert = readPem('upstream-cert', args.upstreamCert);
    if (args.upstreamKey !== undefined) client.key = readPem('upstream-key', args.upstreamKey);
    if (args.upstreamServername !== undefined) client.servername = args.upstreamServername;
    if (args.upstreamAlpn !== undefined) client.alpn = args.upstreamAlpn;
    out.client = client;
  }
  return out;
}

export const proxyCommand: CommandModule<object, ProxyArgs> = {
  command: ['$0', 'proxy'],
  describe:
    'Run the proxy: forward every byte unchanged and log every packet with its reason codes explained',
  builder: (y: Argv) =>
    withOptions<ProxyArgs>(y, PROXY_OPTIONS)
      // Here rather than globally: a container's MQTT_TAP_LISTEN must not break `mqtt-tap decode`.
      .env(ENV_PREFIX)
      .check((argv) => checkTransportArgs(argv as unknown as Partial<ProxyArgs>))
      .check((argv) => checkProxyProtocolArgs(argv as unknown as Partial<ProxyArgs>))
      .check((argv) => checkMetricsArgs(argv as unknown as Partial<ProxyArgs>))
      .example('$0', 'proxy to an embedded broker (mosquitto if installed, else aedes)')
      .example('$0 -u 10.0.0.5:1883', 'point clients at 127.0.0.1:1884 instead of the broker')
      .example('$0 -l 0.0.0.0:1884 -u 10.0.0.5:1883', 'accept clients from other machines')
      .example(
        '$0 -l mqtts://0.0.0.0:8883 --tls-cert tap.pem --tls-key tap.key -u mqtts://broker:8883 --upstream-ca ca.pem',
        'TLS on both sides',
      )
      .example('$0 -l 1884 -l ws://127.0.0.1:8080/mqtt -u 10.0.0.5:1883', 'TCP and WebSocket clients at once')
      .example('$0 -u 10.0.0.5:1883 --log-file tap.ndjson', 'NDJSON records to a file')
      .example(
        '$0 -l 0.0.0.0:1884 -u 10.0.0.5:1883 --accept-proxy-protocol',
        'behind HAProxy (send-proxy-v2) or a cloud load balancer: the real client addresses in the records',
      )
      .example("$0 --client-id 'sensor-*' --topic 'plant/#'", 'only some devices and topics')
      .example(
        '$0 -u 10.0.0.5:1883 --metrics 0.0.0.0:9464',
        'Prometheus metrics, /healthz and /readyz on port 9464',
      )
      .example('$0 -u 10.0.0.5:1883 --level warn', 'refusals (warn) and malformed input (error) only')
      .example('$0 -u 10.0.0.5:1883 --ui 8080', 'and watch it live at http://127.0.0.1:8080/')
      .example('MQTT_TAP_UPSTREAM=10.0.0.5:1883 $0', 'options from the environment')
      .epilogue(
        'Every option can also be set with an environment variable MQTT_TAP_<OPTION> ' +
          '(e.g. MQTT_TAP_LISTEN, MQTT_TAP_LOG_FILE, MQTT_TAP_SHOW_SECRETS=true); flags win over variables.',
      ) as unknown as Argv<ProxyArgs>,
  handler: async (argv: ArgumentsCamelCase<ProxyArgs>) => {
    raiseMallocTrimThreshold();
    process.exitCode = await runProxy(argv, {
      stdoutIsTTY: process.stdout.isTTY === true,
      noColor: process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== '',
      searchPath: process.env.PATH ?? '',
    });
    // Connections, brokers and the log are closed and flushed: nothing else may keep us alive.
    process.exit();
  },
};

interface Environment {
  stdoutIsTTY: boolean;
  noColor: boolean;
  searchPath: string;
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The record and message saying which embedded broker runs, and why. */
function describeEmbedded(
  broker: EmbeddedBroker,
  chosen: ProxyArgs['embedded'],
): { level: Level; msg: string } {
  const where = `${broker.host}:${broker.port}`;
  const name = `${broker.kind}${broker.version ? ` ${broker.version}` : ''}`;
  if (broker.kind === 'mosquitto') {
    return {
      level: 'info',
      msg: `no --upstream: started an embedded ${name} on ${where} (MQTT 3.1, 3.1.1 and 5.0); it stops with mqtt-tap`,
    };
  }
  const why = broker.fallbackReason
    ? ` (${broker.fallbackReason})`
    : chosen === 'aedes'
      ? ' (--embedded aedes)'
      : ' (no mosquitto installed)';
  return {
    level: 'warn',
    msg:
      `no --upstream: started an embedded ${name} on ${where}${why}. aedes speaks MQTT 3.1 and 3.1.1 only: ` +
      'it refuses an MQTT 5.0 CONNECT with return code 1. Install mosquitto or pass --upstream HOST:PORT for 5.0.',
  };
}

/** Runs until SIGINT/SIGTERM; resolves with the exit code once everything is closed and flushed. */
export async function runProxy(args: ProxyArgs, env: Environment): Promise<number> {
  const pretty = prettyWanted(args, env.stdoutIsTTY);
  let sinkFailed = false;
  // Opens --log-file now: an unwritable one fails the start plainly.
  const sink: LogSink = createLogSink({
    level: args.level,
    destination: args.logFile ?? 'stdout',
    pretty,
    colorize: pretty && args.logFile === undefined && env.stdoutIsTTY && !env.noColor,
    ...(args.logBuffer !== undefined ? { bufferBytes: args.logBuffer } : {}),
    onError: (err) => {
      // Forwarding goes on without a log: clients of a debugging proxy must not pay for its disk.
      sinkFailed = true;
      stderrLine(`mqtt-tap: cannot write the log (${err.message}); forwarding continues unlogged`);
    },
  });

  const tapOptions = tapOptionsFrom(args);
  const summary = args.summary === true ? new VerdictSummary() : undefined;

  const reportInternal = (err: unknown, ctx: ProxyErrorContext): void => {
    const record = {
      event: 'internal-error',
      where: ctx.where,
      ...(ctx.conn !== undefined ? { conn: ctx.conn } : {}),
      ...(ctx.detail !== undefined ? { detail: ctx.detail } : {}),
      err: err instanceof Error ? { message: err.message, stack: err.stack } : { message: String(err) },
    };
    sink.write('error', record, `internal error in the ${ctx.where}${ctx.detail ? ` (${ctx.detail})` : ''}`);
  };

  let embedded: EmbeddedBroker | undefined;
  let ui: UiServer | undefined;
  let proxy: RunningProxy | undefined;
  let recorder: PcapngRecorder | undefined;
  let tap: DeferredObserver | undefined;
  let metricsServer: MetricsServer | undefined;
  /** /readyz says no once shutdown begins: balancers stop sending before the listeners close. */
  let stopping = false;
  try {
    const tlsConfig = tlsConfigs(args);
    let upstream: TransportAddress | undefined = args.upstream;
    // The embedded broker and the recorder are loaded only when used: see ws-module.ts.
    if (upstream === undefined) {
      const { startEmbeddedBroker } = await import('../proxy/embedded-broker.js');
      embedded = await startEmbeddedBroker({
        kind: args.embedded,
        searchPath: env.searchPath,
        onUnexpectedExit: (detail) => sink.write('error', { event: 'embedded-broker-exit', detail }, detail),
      });
      upstream = { host: embedded.host, port: embedded.port, transport: 'tcp' };
    }
    if (args.record !== undefined) {
      const { createPcapngRecorder } = await import('../observe/pcapng-recorder.js');
      recorder = await createPcapngRecorder({
        file: args.record,
        broker: await captureEndpoint(upstream),
        ...(args.recordRotate !== undefined ? { rotateBytes: args.recordRotate } : {}),
        showSecrets: args.showSecrets,
        onError: (err) =>
          sink.write(
            'error',
            { event: 'record-failed', error: errorMessage(err) },
            `recording stopped: ${errorMessage(err)}; forwarding continues`,
          ),
        onPause: (err, file) =>
          sink.write(
            'warn',
            { event: 'record-paused', file, error: errorMessage(err) },
            `recording paused: cannot open ${file} (${errorMessage(err)}); trying again every second, forwarding continues`,
          ),
        onResume: (file) =>
          sink.write('info', { event: 'record-resumed', file }, `recording resumed in ${file}`),
        onDropped: (conn, bytes) =>
          sink.write(
            'warn',
            { event: 'record-dropped', conn, bytes },
            `the recording lost ${bytes} bytes of ${conn}: the disk was slower than the traffic`,
          ),
      });
    }
    if (args.metrics !== undefined) {
      const started = await startMetrics(args, upstream, {
        logDroppedLines: () => sink.droppedLines(),
        recordDroppedBytes: () => recorder?.stats().droppedBytes ?? 0,
        tapPendingBytes: () => tap?.pendingBytes() ?? 0,
        ready: () => (proxy === undefined ? 'not listening yet' : stopping ? 'shutting down' : undefined),
      });
      metricsServer = started.server;
      tapOptions.metrics = started.metrics;
    }
    // The web view reads the records beside the log: loaded and teed in only with --ui.
    let records: RecordSink = sink;
    if (args.ui !== undefined) {
      const { UiHub, teeSink } = await import('../ui/hub.js');
      const { startUiServer } = await import('../ui/server.js');
      const hub = new UiHub();
      const token = uiToken(args);
      ui = await startUiServer({
        ...args.ui,
        hub,
        queueRecords: args.uiQueue,
        ...(token !== undefined ? { token } : {}),
      });
      records = teeSink(sink, hub);
    }
    // Decoding and logging run a slice at a time between I/O polls, after the forwarding.
    tap = deferredObserver(
      createTap(summary === undefined ? records : summarizing(records, summary), tapOptions),
      {
        onError: (err, ctx) => reportInternal(err, { where: 'observer', ...ctx }),
      },
    );
    proxy = await startProxy({
      listen:
        args.acceptProxyProtocol === true
          ? args.listen.map((l) => ({ ...l, acceptProxyProtocol: true }))
          : args.listen,
      upstream,
      ...(args.upstreamProxyProtocol !== undefined
        ? { upstreamProxyProtocol: args.upstreamProxyProtocol === 'v1' ? 1 : 2 }
        : {}),
      ...(tlsConfig.server !== undefined ? { tls: tlsConfig.server } : {}),
      ...(tlsConfig.client !== undefined ? { upstreamTls: tlsConfig.client } : {}),
      wsMaxMessage: args.wsMaxMessage ?? defaultWsMaxMessage(args.captureMax),
      maxConnections: args.maxConnections,
      ...(args.upstreamCertForAll === true ? { upstreamCertForAll: true } : {}),
      ...(args.wsOrigin !== undefined ? { wsOrigins: args.wsOrigin } : {}),
      observer:
        recorder === undefined
          ? tap
          : fanOut([tap, recorder], (err) => reportInternal(err, { where: 'observer' })),
      onError: reportInternal,
    });
  } catch (err) {
    sink.write(
      'error',
      { event: 'startup-failed', error: errorMessage(err) },
      `cannot start: ${errorMessage(err)}`,
    );
    await metricsServer?.close();
    await embedded?.close();
    await recorder?.close();
    await ui?.close();
    await sink.close(SHUTDOWN_LOG_MS);
    throw err;
  }

  const addresses = proxy.urls;
  sink.write(
    'info',
    {
      event: 'listening',
      addresses,
      upstream: proxy.upstream,
      embedded: embedded?.kind ?? false,
      ...(metricsServer !== undefined
        ? { metrics: `http://${formatHostPort(metricsServer.address)}/metrics` }
        : {}),
    },
    `listening on ${addresses.join(', ')}, forwarding to ${proxy.upstream}${embedded ? ` (embedded ${embedded.kind})` : ''}${metricsServer !== undefined ? `; metrics on http://${formatHostPort(metricsServer.address)}/metrics` : ''}`,
  );
  if (args.insecure === true) {
    sink.write(
      'warn',
      { event: 'insecure-upstream', upstream: proxy.upstream },
      `--insecure: the certificate of ${proxy.upstream} is NOT verified; anyone on the path can read and change the traffic`,
    );
  }
  if (args.upstreamCertForAll === true) {
    sink.write(
      'warn',
      { event: 'upstream-cert-for-all', upstream: proxy.upstream },
      `--upstream-cert-for-all: every client, verified or not, reaches ${proxy.upstream} with mqtt-tap's client certificate`,
    );
  }
  if (embedded) {
    const { level, msg } = describeEmbedded(embedded, args.embedded);
    const record = {
      event: 'embedded-broker',
      kind: embedded.kind,
      ...(embedded.version !== undefined ? { version: embedded.version } : {}),
      address: `${embedded.host}:${embedded.port}`,
      protocols: embedded.protocolLevels.map((l) => (l === 3 ? '3.1' : l === 4 ? '3.1.1' : '5.0')),
      ...(embedded.fallbackReason !== undefined ? { fallbackReason: embedded.fallbackReason } : {}),
    };
    sink.write(level, record, msg);
  }
  if (ui !== undefined) {
    // The URL may hold the token: on the terminal once, never in the log.
    sink.write('info', { event: 'ui-listening', port: ui.port }, `web view on port ${ui.port}`);
    stderrLine(`mqtt-tap: web view at ${ui.url}`);
  }
  if (args.logFile !== undefined) {
    // The terminal would otherwise stay silent: say where the records go.
    stderrLine(`mqtt-tap: listening on ${addresses.join(', ')} → ${proxy.upstream}; log: ${args.logFile}`);
  }

  const running = proxy;
  const signal = await new Promise<NodeJS.Signals>((resolveSignal) => {
    const onSignal = (sig: NodeJS.Signals): void => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      // A second signal: the operator will not wait; only what the log takes at once is written.
      const exitNow = (again: NodeJS.Signals): void => process.exit(128 + osConstants.signals[again]);
      process.once('SIGINT', exitNow);
      process.once('SIGTERM', exitNow);
      resolveSignal(sig);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
  // Shutdown ends by then whatever the log, the broker or the recording does.
  const deadline = performance.now() + SHUTDOWN_GRACE_MS + SHUTDOWN_LOG_MS;
  setTimeout(() => {
    stderrLine('mqtt-tap: shutdown did not finish in time; exiting');
    process.exit(1);
  }, SHUTDOWN_GRACE_MS + SHUTDOWN_LOG_MS).unref();

  stopping = true;
  const open = running.connections().length;
  sink.write(
    'info',
    { event: 'shutdown', signal, connections: open, graceMs: SHUTDOWN_GRACE_MS },
    `${signal}: no longer accepting; ${open} connection(s) get ${SHUTDOWN_GRACE_MS / 1000} s to close`,
  );
  await running.close(SHUTDOWN_GRACE_MS);
  await ui?.close();
  // Every connection has closed: what the tap has not shown yet goes to the log before it closes.
  tap?.drain();
  await metricsServer?.close();
  await embedded?.close();
  if (recorder !== undefined) {
    await recorder.close();
    const st = recorder.stats();
    sink.write(
      st.droppedBytes > 0 || st.error !== undefined ? 'warn' : 'info',
      { event: 'recording', ...st },
      `recorded ${st.recordedBytes} bytes to ${st.files.join(', ')}${st.droppedBytes > 0 ? `; ${st.droppedBytes} bytes dropped (disk too slow)` : ''}`,
    );
  }
  if (summary !== undefined) for (const line of summary.lines()) stderrLine(line);
  const dropped = sink.droppedLines();
  sink.write(
    'info',
    { event: 'stopped', signal, ...(dropped > 0 ? { logDroppedLines: dropped } : {}) },
    dropped > 0 ? `stopped; ${dropped} log lines were dropped (the log could not keep up)` : 'stopped',
  );
  // Leaves the watchdog a moment to spare: the log must not be what keeps mqtt-tap running.
  const complete = await sink.close(deadline - performance.now() - 100);
  if (!complete && !sinkFailed) {
    stderrLine('mqtt-tap: the log destination did not take the last records in time; they are lost');
  }
  return complete ? 0 : 1;
}

/**
 * The metrics counters and their HTTP endpoint; prom-client and the server are loaded only here.
 * `ready()` says why the listeners cannot take clients, or undefined when they can.
 */
async function startMetrics(
  args: ProxyArgs,
  upstream: TransportAddress,
  sources: {
    logDroppedLines: () => number;
    recordDroppedBytes: () => number;
    tapPendingBytes: () => number;
    ready: () => string | undefined;
  },
): Promise<{ metrics: PacketMetrics; server: MetricsServer }> {
  const [{ PacketMetrics }, { createMetricsRegistry }, { startMetricsServer, upstreamProbe }] =
    await Promise.all([
      import('../sinks/packet-metrics.js'),
      import('../sinks/prometheus.js'),
      import('../proxy/metrics-server.js'),
    ]);
  const metrics = new PacketMetrics({
    topicDepth: args.metricsTopicDepth ?? 0,
    ...(args.metricsTopicMax !== undefined ? { topicMax: args.metricsTopicMax } : {}),
  });
  const registry = createMetricsRegistry(metrics, sources);
  const probe = upstreamProbe(upstream, READY_TIMEOUT_MS);
  const server = await startMetricsServer({
    host: args.metrics!.host,
    port: args.metrics!.port,
    metrics: async () => ({ contentType: registry.contentType, body: await registry.metrics() }),
    ready: async () => {
      const notListening = sources.ready();
      if (notListening !== undefined) return { ready: false, detail: notListening };
      const { reachable, detail } = await probe();
      return { ready: reachable, detail };
    },
  });
  return { metrics, server };
}

/**
 * The broker's address as a recording shows it: an IP literal as given, a host name resolved once
 * at start (the capture needs numeric addresses; the dialer still resolves per connection).
 */
async function captureEndpoint(upstream: TransportAddress): Promise<{ address: string; port: number }> {
  const host = upstream.host.replace(/^\[|\]$/g, '');
  if (isIP(host) !== 0) return { address: host, port: upstream.port };
  try {
    return { address: (await lookup(host)).address, port: upstream.port };
  } catch {
    return { address: '127.0.0.1', port: upstream.port };
  }
}
