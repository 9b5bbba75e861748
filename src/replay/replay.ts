/**
 * `mqtt-tap replay`: a capture in, the live proxy's records out. Packets are read (pcap-reader),
 * TCP streams reassembled (tcp-reassembly) and every MQTT connection fed, chunk by chunk, to the
 * same tap the proxy uses, with its clock set to the capture's timestamps: same schema, same
 * correlation, original times.
 *
 * Which connections are MQTT and which side is the broker:
 * 1. our own recordings say so in the SYN's packet comment (with the live connection id, listener
 *    and upstream, so `open` and `close` records come out as they were logged live);
 * 2. otherwise the side whose port is in `ports` (default 1883, 1884) is the broker;
 * 3. otherwise a connection whose first bytes are a CONNECT is MQTT, and its sender the client.
 * Other TCP connections are skipped (counted in the result).
 */

import type {
  CloseInfo,
  ConnectionObserver,
  Direction,
  Endpoint,
  OpenInfo,
  ProxyObserver,
  UpstreamErrorInfo,
} from '../observe/observer.js';
import { COMMENT_PREFIX } from '../observe/pcapng-recorder.js';
import { createTap } from '../observe/tap.js';
import type { TapOptions } from '../observe/tap-options.js';
import type { Level, LogRecord, RecordSink } from '../sinks/sink.js';
import { VerdictSummary } from '../sinks/verdict-summary.js';
import { DEFAULT_MQTT_PORTS } from './default-ports.js';
import { type CaptureEvent, decodeTcp, readCapture } from './pcap-reader.js';
import { type PeerIndex, TcpReassembler, type TcpStream } from './tcp-reassembly.js';

/** The capture time records are stamped with; the command's pino `timestamp` reads it. */
export interface ReplayClock {
  /** Milliseconds since the epoch, whole like Date.now(). */
  ms: number;
}

export interface ReplayOptions {
  /** Read in order as one capture (rotated recordings: name-0001.pcapng, name-0002.pcapng...). */
  files: readonly string[];
  sink: RecordSink;
  /** How the tap decodes and selects; its clock is replaced by the capture's. */
  tap: TapOptions;
  clock: ReplayClock;
  ports?: readonly number[];
  /** Out-of-order bytes held per direction (default 4 MiB). */
  maxPendingBytes?: number;
  /** The tap under test (default createTap); records go to `sink` either way. */
  observer?: ProxyObserver;
  /** A promise while the output is behind: reading waits for it rather than outrun the log. */
  outputBacklog?: () => Promise<void> | undefined;
}

export interface ReplayResult {
  packets: number;
  /** Packets that were not TCP over IP (ARP, UDP, fragments...). */
  otherPackets: number;
  tcpConnections: number;
  mqttConnections: number;
  skippedConnections: number;
  /** Capture warnings: truncated or corrupt files. */
  warnings: number;
  /** Holes in reassembled streams. */
  gaps: number;
}

/** Bytes held from a connection not yet known to be MQTT. */
const SNIFF_LIMIT = 64;

/**
 * Reads `files` and writes the records the proxy would have written. While the output is behind
 * (`outputBacklog`), reading waits, so a slow reader (`| less`) slows the replay down instead of
 * letting records pile up in memory.
 */
export async function replayCapture(opts: ReplayOptions): Promise<ReplayResult> {
  const replay = new Replay(opts);
  for (const file of opts.files) {
    for await (const event of readCapture(file)) {
      replay.event(file, event);
      const behind = opts.outputBacklog?.();
      if (behind !== undefined) await behind;
    }
  }
  replay.finish();
  return replay.result;
}

/** Our recorder's packet comments: `mqtt-tap open {...}`, `mqtt-tap close {...}`, ... */
function ourComment(stream: TcpStream, kind: string): Record<string, unknown> | undefined {
  const prefix = `${COMMENT_PREFIX}${kind} `;
  for (const c of stream.comments) {
    if (!c.startsWith(prefix)) continue;
    try {
      const value: unknown = JSON.parse(c.slice(prefix.length));
      if (typeof value === 'object' && value !== null) return value as Record<string, unknown>;
    } catch {
      // Not ours after all.
    }
  }
  return undefined;
}

function formatEndpoint(e: Endpoint): string {
  return e.address.includes(':') ? `[${e.address}]:${e.port}` : `${e.address}:${e.port}`;
}

/** A CONNECT opening: type 1, a Remaining Length, then the protocol name "MQTT" or "MQIsdp". */
export function looksLikeConnect(b: Buffer): boolean | undefined {
  if (b.length === 0) return undefined;
  if (b[0] !== 0x10) return false;
  let i = 1;
  while (i < b.length && i < 5 && b[i]! & 0x80) i++;
  i++;
  if (b.length < i + 2) return undefined;
  const n = b.readUInt16BE(i);
  if (n !== 4 && n !== 6) return false;
  if (b.length < i + 2 + n) return undefined;
  const name = b.toString('latin1', i + 2, i + 2 + n);
  return name === 'MQTT' || name === 'MQIsdp';
}

class Replay {
  readonly result: ReplayResult = {
    packets: 0,
    otherPackets: 0,
    tcpConnections: 0,
    mqttConnections: 0,
    skippedConnections: 0,
    warnings: 0,
    gaps: 0,
  };
  private readonly tap: ProxyObserver;
  private readonly ports: ReadonlySet<number>;
  private readonly reassembler: TcpReassembler;
  private readonly conns = new Map<TcpStream, ReplayConn>();
  /** Connections of foreign captures are numbered past every `c<n>` id seen so far (ours included). */
  private nextId = 1;
  private lastTsUs = 0;
  private readonly portsSeen = new Set<number>();

  constructor(private readonly opts: ReplayOptions) {
    const clock = opts.clock;
    this.tap = opts.observer ?? createTap(opts.sink, { ...opts.tap, now: () => clock.ms });
    this.ports = new Set(opts.ports ?? DEFAULT_MQTT_PORTS);
    const reassemblyOptions =
      opts.maxPendingBytes === undefined ? {} : { maxPendingBytes: opts.maxPendingBytes };
    this.reassembler = new TcpReassembler(
      {
        open: (s) => this.onOpen(s),
        data: (s, side, bytes, ts) => this.conns.get(s)?.data(side, bytes, ts),
        gap: (s, side, bytes, offset, ts) => this.conns.get(s)?.gap(side, bytes, offset, ts),
        close: (s) => {
          this.conns.get(s)?.close();
          this.conns.delete(s);
        },
      },
      reassemblyOptions,
    );
  }

  setTime(tsUs: number): void {
    this.lastTsUs = tsUs;
    this.opts.clock.ms = Math.floor(tsUs / 1000);
  }

  write(level: Level, record: LogRecord, msg: string): void {
    if (this.opts.sink.isLevelEnabled(level)) this.opts.sink.write(level, record, msg);
  }

  event(file: string, event: CaptureEvent): void {
    if (event.kind === 'warning') {
      this.result.warnings++;
      this.write(
        'warn',
        { event: 'capture-warning', code: event.code, file, offset: event.offset, detail: event.detail },
        `${file}: ${event.detail}`,
      );
      return;
    }
    this.result.packets++;
    this.setTime(event.tsUs);
    const decoded = decodeTcp(event.linkType, event.data);
    if (decoded.kind !== 'tcp') {
      this.result.otherPackets++;
      return;
    }
    this.reassembler.push(decoded.segment, event.tsUs, event.comments);
  }

  finish(): void {
    this.reassembler.finish(this.lastTsUs);
    if (this.result.mqttConnections === 0 && this.result.tcpConnections > 0) {
      const ports = [...this.portsSeen].sort((a, b) => a - b).slice(0, 20);
      this.write(
        'warn',
        {
          event: 'capture-warning',
          code: 'CAPTURE_NO_MQTT',
          detail: `no MQTT connection among ${this.result.tcpConnections} TCP connections`,
          ports,
        },
        `no MQTT connection found among ${this.result.tcpConnections} TCP connections (ports ${ports.join(', ')}): name the broker port with --port`,
      );
    }
  }

  private onOpen(stream: TcpStream): void {
    this.result.tcpConnections++;
    for (const e of stream.endpoints) this.portsSeen.add(e.port);
    const conn = new ReplayConn(this, stream);
    this.conns.set(stream, conn);
    const ours = ourComment(stream, 'open');
    if (ours !== undefined) {
      // Our SYN: the client sent it.
      conn.decide(stream.initiator ?? 0, ours);
      return;
    }
    const [a, b] = stream.endpoints;
    const aIsBroker = this.ports.has(a.port);
    const bIsBroker = this.ports.has(b.port);
    if (aIsBroker !== bIsBroker) conn.decide(aIsBroker ? 1 : 0);
    else if (aIsBroker && stream.initiator !== undefined) conn.decide(stream.initiator);
    // Otherwise: decided by the first bytes (see ReplayConn.data).
  }

  /** Starts the tap's view of a connection; called once its roles are known. */
  startTap(
    stream: TcpStream,
    clientSide: PeerIndex,
    ours: Record<string, unknown> | undefined,
  ): { observer: ConnectionObserver; conn: string } {
    this.result.mqttConnections++;
    const client = stream.endpoints[clientSide];
    const broker = stream.endpoints[clientSide === 0 ? 1 : 0];
    let info: OpenInfo;
    if (ours !== undefined && typeof ours.conn === 'string') {
      info = {
        conn: ours.conn,
        client: isEndpoint(ours.client) ? ours.client : { ...client },
        local: isEndpoint(ours.local) ? ours.local : { ...broker },
        upstream: typeof ours.upstream === 'string' ? ours.upstream : formatEndpoint(broker),
        transport: typeof ours.transport === 'string' ? ours.transport : 'tcp',
        startedAt: typeof ours.startedAt === 'number' ? ours.startedAt : Math.floor(stream.firstTsUs / 1000),
      };
      if (typeof ours.tls === 'object' && ours.tls !== null) info.tls = ours.tls as Record<string, unknown>;
    } else {
      info = {
        conn: this.allocateId(),
        client: { ...client },
        // No proxy in a foreign capture: what the client connected to is the listener and the upstream.
        local: { ...broker },
        upstream: formatEndpoint(broker),
        transport: 'tcp',
        startedAt: Math.floor(stream.firstTsUs / 1000),
      };
    }
    const n = /^c(\d+)$/.exec(info.conn)?.[1];
    if (n !== undefined) this.nextId = Math.max(this.nextId, Number(n) + 1);
    const saved = this.lastTsUs;
    this.setTime(stream.firstTsUs);
    const observer = this.tap.open(info);
    this.setTime(saved);
    return { observer, conn: info.conn };
  }

  skipped(): void {
    this.result.skippedConnections++;
  }

  gapSeen(): void {
    this.result.gaps++;
  }

  private allocateId(): string {
    return `c${this.nextId}`;
  }
}

function isEndpoint(v: unknown): v is Endpoint {
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof (v as Endpoint).address === 'string' &&
    typeof (v as Endpoint).port === 'number'
  );
}

/** One TCP connection of the capture, as the tap sees it once known to be MQTT. */
class ReplayConn {
  private clientSide: PeerIndex | undefined;
  private observer: ConnectionObserver | undefined;
  private conn = '?';
  private skipped = false;
  /** First bytes per side while the roles are unknown. */
  private held: { side: PeerIndex; bytes: Buffer; tsUs: number }[] = [];
  private heldBytes: [number, number] = [0, 0];
  /** A direction that lost bytes is no longer decoded (its framing is unknown past the hole). */
  private readonly broken: [boolean, boolean] = [false, false];
  private readonly bytes: [number, number] = [0, 0];

  constructor(
    private readonly replay: Replay,
    private readonly stream: TcpStream,
  ) {}

  decide(clientSide: PeerIndex, ours?: Record<string, unknown>): void {
    this.clientSide = clientSide;
    const { observer, conn } = this.replay.startTap(this.stream, clientSide, ours);
    this.observer = observer;
    this.conn = conn;
    const held = this.held;
    this.held = [];
    for (const h of held) this.data(h.side, h.bytes, h.tsUs);
  }

  private dir(side: PeerIndex): Direction {
    return side === this.clientSide ? 'client' : 'broker';
  }

  data(side: PeerIndex, bytes: Buffer, tsUs: number): void {
    if (this.skipped) return;
    this.bytes[side] += bytes.length;
    if (this.observer === undefined) {
      this.hold(side, bytes, tsUs);
      return;
    }
    if (this.broken[side]) return;
    this.replay.setTime(tsUs);
    this.observer.data(this.dir(side), bytes);
  }

  /** Roles unknown: the first bytes tell (a CONNECT comes from the client). */
  private hold(side: PeerIndex, bytes: Buffer, tsUs: number): void {
    this.held.push({ side, bytes, tsUs });
    this.heldBytes[side] += bytes.length;
    const first = Buffer.concat(this.held.filter((h) => h.side === side).map((h) => h.bytes));
    const verdict = looksLikeConnect(first);
    if (verdict === true) {
      this.decide(side);
    } else if (verdict === false || this.heldBytes[side] >= SNIFF_LIMIT) {
      // The first thing this side said is not a CONNECT; if the other side has not spoken yet it may
      // still, so only give up once both have spoken or too much has been held.
      const otherSide: PeerIndex = side === 0 ? 1 : 0;
      if (this.heldBytes[otherSide] > 0 || this.heldBytes[side] >= SNIFF_LIMIT) this.skip();
    }
  }

  private skip(): void {
    this.skipped = true;
    this.held = [];
    this.replay.skipped();
  }

  gap(side: PeerIndex, bytes: number, offset: number, tsUs: number): void {
    this.bytes[side] += bytes;
    this.replay.gapSeen();
    if (this.observer === undefined || this.skipped || this.broken[side]) return;
    this.broken[side] = true;
    this.replay.setTime(tsUs);
    const from = this.dir(side);
    this.observer.gap?.(from);
    this.replay.write(
      'warn',
      { event: 'capture-gap', conn: this.conn, from, offset, bytes },
      `${bytes} bytes from the ${from} missing from the capture at stream offset ${offset}: the rest of this direction is not decoded`,
    );
  }

  close(): void {
    if (this.skipped) return;
    if (this.observer === undefined) {
      // Never said enough to tell: not MQTT as far as we know.
      this.skip();
      return;
    }
    const s = this.stream;
    const end = s.end!;
    this.replay.setTime(end.tsUs);
    const upstream = ourComment(s, 'upstream-error');
    if (upstream !== undefined || s.refused) {
      const info: UpstreamErrorInfo = {
        upstream:
          typeof upstream?.upstream === 'string' ? upstream.upstream : formatEndpoint(this.brokerEndpoint()),
        message:
          typeof upstream?.message === 'string'
            ? upstream.message
            : `connect ECONNREFUSED ${formatEndpoint(this.brokerEndpoint())}`,
      };
      const code =
        typeof upstream?.code === 'string'
          ? upstream.code
          : upstream === undefined
            ? 'ECONNREFUSED'
            : undefined;
      if (code !== undefined) info.code = code;
      this.observer.upstreamError(info);
    }
    this.observer.close(this.closeInfo());
  }

  private brokerEndpoint(): Endpoint {
    return this.stream.endpoints[this.clientSide === 0 ? 1 : 0];
  }

  private closeInfo(): CloseInfo {
    const s = this.stream;
    const end = s.end!;
    const c = this.clientSide!;
    const b: PeerIndex = c === 0 ? 1 : 0;
    const ours = ourComment(s, 'close');
    if (ours !== undefined && typeof ours.durationMs === 'number' && typeof ours.closedBy === 'string') {
      const info: CloseInfo = {
        closedBy: ours.closedBy as CloseInfo['closedBy'],
        durationMs: ours.durationMs,
        bytes: (ours.bytes as CloseInfo['bytes'] | undefined) ?? {
          fromClient: this.bytes[c],
          fromBroker: this.bytes[b],
        },
      };
      if (typeof ours.error === 'object' && ours.error !== null)
        info.error = ours.error as CloseInfo['error'];
      return info;
    }
    const durationMs = Math.round(end.tsUs - s.firstTsUs) / 1000;
    const bytes = { fromClient: this.bytes[c], fromBroker: this.bytes[b] };
    const by: Direction | undefined = end.by === undefined ? undefined : this.dir(end.by);
    if (end.how === 'rst' && by !== undefined) {
      return {
        closedBy: by,
        error: { side: by, code: 'ECONNRESET', message: 'read ECONNRESET' },
        durationMs,
        bytes,
      };
    }
    if (end.how === 'capture-end') {
      return {
        closedBy: by ?? 'proxy',
        error: {
          side: by ?? 'client',
          code: 'CAPTURE_ENDED',
          message: 'the capture ended before the connection closed',
        },
        durationMs,
        bytes,
      };
    }
    return { closedBy: by ?? 'client', durationMs, bytes };
  }
}

export interface SummarySink extends RecordSink {
  /** Emits the totals: verdicts by cause with their top client ids, takeovers, flapping ids. */
  end(): void;
}

/**
 * `--summary`: a sink that turns each connection's records into one line when it closes: client
 * id, start, duration, packets each way, the last CONNACK/DISCONNECT reason, errors, the verdict;
 * and the totals at the end.
 */
export function createSummarySink(emit: (line: string) => void): SummarySink {
  const totals = new VerdictSummary();
  const conns = new Map<string, { client: string; errors: number; startedAt?: number }>();
  /** A record of a connection other than its open and close: only its level counts. */
  const seen = (level: Level, conn: string): void => {
    const c = conns.get(conn);
    if (c !== undefined && (level === 'warn' || level === 'error')) c.errors++;
  };
  return {
    isLevelEnabled: (level) => level === 'info' || level === 'warn' || level === 'error',
    write(level, record, msg) {
      totals.add(record);
      const conn = typeof record.conn === 'string' ? record.conn : undefined;
      if (record.event === 'open' && conn !== undefined) {
        conns.set(conn, { client: String(record.client), errors: 0 });
        return;
      }
      if (conn === undefined) {
        if (level !== 'info') emit(`warning: ${String(record.detail ?? msg)}`);
        return;
      }
      const c = conns.get(conn);
      if (c === undefined) return;
      if (record.event !== 'close') {
        seen(level, conn);
        return;
      }
      conns.delete(conn);
      if (record.error !== undefined) c.errors++;
      emit(summaryLine(conn, c.client, record, c.errors));
    },
    writePacket(level, head) {
      seen(level, head.conn);
    },
    flush: () => Promise.resolve(),
    end() {
      for (const line of totals.lines()) emit(line);
    },
  };
}

function summaryLine(conn: string, client: string, record: LogRecord, errors: number): string {
  const packets = record.packets as { fromClient: number; fromBroker: number } | undefined;
  // A 3.x DISCONNECT has no reason code: lastReason then names the packet only.
  const last = record.lastReason as { type: string; hex?: string; name?: string } | undefined;
  const parts = [
    conn,
    client,
    record.clientId === undefined ? '-' : JSON.stringify(record.clientId),
    `${record.durationMs} ms`,
    `↑${packets?.fromClient ?? 0} ↓${packets?.fromBroker ?? 0}`,
    last === undefined
      ? 'last -'
      : `last ${[last.type, last.hex, last.name].filter((x) => x !== undefined).join(' ')}`,
    `errors ${errors}`,
  ];
  const error = record.error as { code?: string; message: string } | undefined;
  if (error !== undefined) parts.push(`(${error.code ?? error.message})`);
  const verdict = record.verdict as { cause?: unknown } | undefined;
  if (typeof verdict?.cause === 'string') parts.push(`verdict ${verdict.cause}`);
  return parts.join('  ');
}
