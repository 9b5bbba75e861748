import { CaptureBudget, defaultCaptureBudget } from '../protocol/capture-budget.js';
import { decodeFrame } from '../protocol/decode/index.js';
import type { Direction } from '../protocol/direction.js';
import { Framer } from '../protocol/framer.js';
import { compileGlob, type Glob } from '../protocol/glob.js';
import { codeAt, codeCount } from '../protocol/packet-codes.js';
import { SecretLocator } from '../protocol/secret-mask.js';
import { filtersOverlap, topicMatches } from '../protocol/topic-match.js';
import type { Frame, FramingError, Packet, Properties } from '../protocol/types.js';
import {
  clientIdLimitEntry,
  flappingEntry,
  sessionNotThere,
  takeoverEntry,
} from '../record/client-id-records.js';
import { hexByte, reasonInfo } from '../record/reason.js';
import {
  connectMayHoldSecret,
  mayShiftSecret,
  shiftedEntry,
  WITHHELD,
  withheldEntry,
  withoutCredentials,
} from '../record/withheld.js';
import { ConnectionSession, type Correlation } from '../session/connection-session.js';
import { contractFields, contractSummary } from '../session/contract.js';
import { type CloseFacts, judge, type MalformedMark, type TakenOverBy } from '../session/verdict.js';
import type { ConnectionMetrics } from '../sinks/packet-metrics.js';
import type { Level, LogRecord, PacketHead, RecordSink } from '../sinks/sink.js';
import { type Claim, ClientIdRegistry, type IdHolder } from './client-ids.js';
import type {
  CloseInfo,
  ConnectionObserver,
  Endpoint,
  HandshakeFailure,
  OpenInfo,
  ProxiedInfo,
  ProxyObserver,
  RefusedClient,
  UpstreamErrorInfo,
} from './observer.js';
import type { TapOptions } from './tap-options.js';

/**
 * The tap: decodes what the proxy forwarded and writes one record per packet, plus open, close
 * and malformed-input records. It only ever reads the chunks it is given.
 */
export function createTap(sink: RecordSink, opts: TapOptions): ProxyObserver {
  const clientIdPattern = opts.clientId === undefined ? undefined : compileGlob(opts.clientId);
  const limit = opts.captureBudget ?? defaultCaptureBudget(opts.captureCap);
  // Once per process, before the first frame it cuts short.
  const budget = new CaptureBudget(limit, () => {
    if (!sink.isLevelEnabled('warn')) return;
    sink.write(
      'warn',
      { event: 'capture-budget', limit },
      `packets spanning reads held ${limit} bytes across connections (--capture-budget): larger ones are kept in part, decoded as far as they go and marked truncated`,
    );
  });
  // One per factory: a live process, or one replay run.
  const ids = new ClientIdRegistry(opts.flapping, opts.clientIdsMax, () => {
    if (!sink.isLevelEnabled('warn')) return;
    const { record, msg } = clientIdLimitEntry(ids.maxIdle);
    sink.write('warn', record, msg);
  });
  return {
    open(info: OpenInfo): ConnectionObserver {
      return new ConnectionTap(sink, opts, info, clientIdPattern, ids, budget);
    },
    refused(info: RefusedClient): void {
      opts.metrics?.refused(info.code);
      if (!sink.isLevelEnabled('warn')) return;
      sink.write(
        'warn',
        clientRecord('refused', info),
        `refused ${endpoint(info.client)} on ${info.listener}: ${info.message}${info.hint !== undefined ? ` (${info.hint})` : ''}`,
      );
    },
    handshakeFailed(info: HandshakeFailure): void {
      opts.metrics?.handshakeFailed(info.transport);
      if (!sink.isLevelEnabled('warn')) return;
      const record = clientRecord('handshake-failed', info);
      if (info.received !== undefined) record.received = info.received;
      sink.write(
        'warn',
        record,
        `${info.transport} handshake with ${endpoint(info.client)} failed: ${info.code ?? info.message}${info.hint !== undefined ? ` (${info.hint})` : ''}`,
      );
    },
  };
}

/** The record of a client that never became a connection: refused, or its handshake failed. */
function clientRecord(event: string, info: HandshakeFailure): LogRecord {
  const record: LogRecord = {
    event,
    listener: info.listener,
    client: endpoint(info.client),
    transport: info.transport,
  };
  if (info.code !== undefined) record.code = info.code;
  record.error = info.message;
  if (info.hint !== undefined) record.hint = info.hint;
  return record;
}

/** `{version, via, destination}` of a client that came through a PROXY protocol header. */
function proxiedRecord(p: ProxiedInfo): Record<string, unknown> {
  const out: Record<string, unknown> = { version: p.version, via: endpoint(p.via) };
  if (p.destination !== undefined) out.destination = endpoint(p.destination);
  return out;
}

export function endpoint(e: Endpoint): string {
  return e.address.includes(':') ? `[${e.address}]:${e.port}` : `${e.address}:${e.port}`;
}

class ConnectionTap implements ConnectionObserver, IdHolder {
  /** Set by the client-id registry when a later connection's CONNECT carries this one's client id. */
  takenOverBy?: TakenOverBy;
  idReleased?: boolean;
  private readonly session: ConnectionSession;
  private readonly framers: Record<Direction, Framer>;
  private readonly packets = { client: 0, broker: 0 };
  private readonly types: Record<string, number> = {};
  private malformed = 0;
  private readonly heads: Partial<Record<Direction, PacketHead>> = {};
  /** Whether this connection passes --client-id; undefined until its CONNECT is seen. */
  private selected: boolean | undefined;
  private readonly now: () => number;
  /** When the chunk being decoded arrived (a deferred observer shows it later than that). */
  private arrivedAt: number | undefined;
  /** Where the client's credentials are or may be, which no record shows; none with --show-secrets. */
  private readonly secrets: SecretLocator | undefined;
  private contractShown = false;
  /** This connection's CONNECT claim on its client id; undefined before it, or for an empty id. */
  private claim: Claim | undefined;
  private claimSettled = false;
  private connectSeen = false;
  /** What the CONNECT asked of its session, told to the registry at close. */
  private askedClean = true;
  private sessionExpiryInterval: number | undefined;
  /** For the verdict: the last input from each side that did not decode, and a failed dial. */
  private readonly malformedFrom: Partial<Record<Direction, MalformedMark>> = {};
  private upstreamFailure: CloseFacts['upstreamError'];
  /** --metrics: this connection's counters; undefined without the flag. */
  private readonly metrics: ConnectionMetrics | undefined;

  constructor(
    private readonly sink: RecordSink,
    private readonly opts: TapOptions,
    private readonly info: OpenInfo,
    private readonly clientIdPattern: Glob | undefined,
    private readonly ids: ClientIdRegistry,
    budget: CaptureBudget,
  ) {
    this.now = opts.now ?? Date.now;
    this.metrics = opts.metrics?.open(info.listener ?? endpoint(info.local), info.transport);
    this.session = new ConnectionSession(undefined, opts.sessionMax, () => this.onStateFull(), true);
    // A PUBLISH is kept up to its payload preview; its properties are counted in unless a CONNECT said 3.x.
    const payloadKeep = opts.payload === 'none' ? 0 : Math.max(0, opts.payloadMax);
    const publishProperties = (): boolean => !this.session.versionSeen || this.session.version === '5.0';
    const framer = (from: Direction): Framer =>
      new Framer(
        {
          frame: (frame) => {
            this.onFrame(from, frame);
            if (!this.contractShown && this.session.contract !== undefined) this.showContract();
            if (!this.claimSettled && this.contractShown && this.claim !== undefined) this.settleClaim();
          },
          error: (error) => {
            this.session.lostSight(from, this.arrivedAt ?? this.now());
            this.onFramingError(from, error);
          },
        },
        { captureCap: opts.captureCap, sniff: from, payloadKeep, publishProperties, budget },
      );
    this.framers = { client: framer('client'), broker: framer('broker') };
    this.secrets = opts.showSecrets
      ? undefined
      : new SecretLocator('client', { version: undefined }, { atChunkEnd: 'wait' });
    if (sink.isLevelEnabled('info')) {
      const record: LogRecord = {
        event: 'open',
        conn: info.conn,
        client: endpoint(info.client),
        listener: endpoint(info.local),
        upstream: info.upstream,
        transport: info.transport,
      };
      if (info.proxied !== undefined) record.proxied = proxiedRecord(info.proxied);
      if (info.tls !== undefined) record.tls = info.tls;
      if (info.websocket !== undefined) record.websocket = info.websocket;
      sink.write('info', record, `open ${endpoint(info.client)} → ${info.upstream}`);
    }
  }

  get conn(): string {
    return this.info.conn;
  }

  get address(): string {
    return this.info.client.address;
  }

  get port(): number {
    return this.info.client.port;
  }

  get username(): string | undefined {
    return this.session.username;
  }

  get openedAt(): number {
    return this.info.startedAt;
  }

  data(from: Direction, chunk: Buffer, at?: number): void {
    // Before the framer: it then knows what the bytes of each frame and excerpt may hold.
    if (from === 'client' && this.secrets !== undefined && !this.secrets.done) this.secrets.scan(chunk);
    const now = at ?? this.now();
    this.metrics?.chunk(from, chunk.length);
    this.arrivedAt = now;
    this.framers[from].push(chunk);
    this.arrivedAt = undefined;
    this.session.heard(from, now);
  }

  gap(from: Direction): void {
    this.session.lostSight(from, this.now());
  }

  countOnly(from: Direction): number {
    return this.framers[from].countOnly;
  }

  upstreamConnected(): void {}

  upstreamError(err: UpstreamErrorInfo): void {
    this.upstreamFailure = { upstream: err.upstream, message: err.message, at: this.now() };
    if (err.code !== undefined) this.upstreamFailure.code = err.code;
    this.metrics?.upstreamError();
    const record: LogRecord = { event: 'upstream-error', conn: this.info.conn, upstream: err.upstream };
    if (err.code !== undefined) record.code = err.code;
    record.error = err.message;
    if (err.hint !== undefined) record.hint = err.hint;
    this.sink.write(
      'error',
      record,
      `cannot reach the broker ${err.upstream}: ${err.message}${err.hint !== undefined ? ` (${err.hint})` : ''}; closing the client`,
    );
  }

  close(info: CloseInfo): void {
    this.framers.client.end();
    this.framers.broker.end();
    const ended = { closedAt: this.info.startedAt + info.durationMs, clean: this.askedClean };
    this.ids.release(
      this,
      this.claim,
      this.sessionExpiryInterval === undefined
        ? ended
        : { ...ended, sessionExpiryInterval: this.sessionExpiryInterval },
    );
    const logged = this.sink.isLevelEnabled('info');
    if (!logged && this.metrics === undefined) return;
    const closedAt = this.info.startedAt + info.durationMs;
    const silence = this.session.end(closedAt);
    const verdict = judge(this.session.facts(), this.closeFacts(info, closedAt));
    if (this.metrics !== undefined) {
      for (const v of silence) this.metrics.violation(v.code);
      this.metrics.closed(info.closedBy, verdict.cause);
    }
    if (!logged) return;
    const s = this.session;
    const last = s.lastReason;
    const clean = s.cleanDisconnect && info.closedBy === 'client' && info.error === undefined;
    const record: LogRecord = {
      event: 'close',
      conn: this.info.conn,
      client: endpoint(this.info.client),
    };
    if (s.clientId !== undefined) record.clientId = s.clientId;
    record.closedBy = info.closedBy;
    if (info.error !== undefined) record.error = info.error;
    record.durationMs = info.durationMs;
    record.bytes = info.bytes;
    if (info.notForwarded !== undefined) record.notForwarded = info.notForwarded;
    record.packets = { fromClient: this.packets.client, fromBroker: this.packets.broker };
    record.types = this.types;
    // A 3.x DISCONNECT carries no code: say it was seen, not a code it never had.
    const coded = last !== undefined && (last.type === 'CONNACK' || s.version === '5.0');
    if (last !== undefined) {
      if (coded) {
        const r = reasonInfo(s.version, last.type, last.code);
        record.lastReason = { type: last.type, from: last.from, code: r.code, hex: r.hex, name: r.name };
      } else {
        record.lastReason = { type: last.type, from: last.from };
      }
    }
    if (this.malformed > 0) record.malformed = this.malformed;
    if (s.stateDropped > 0) record.stateDropped = s.stateDropped;
    if (silence.length > 0) record.violations = silence;
    if (info.fields !== undefined) Object.assign(record, info.fields);
    record.clean = clean;
    record.verdict = verdict;
    const why =
      info.error !== undefined ? ` (${info.error.side}: ${info.error.code ?? info.error.message})` : '';
    const lastText = last === undefined ? '' : `, last ${last.type}${coded ? ` ${hexByte(last.code)}` : ''}`;
    this.sink.write(
      'info',
      record,
      `close by ${info.closedBy}${why} after ${Math.round(info.durationMs)} ms, ${this.packets.client}↑ ${this.packets.broker}↓ packets${lastText}${clean ? ', clean' : ''}`,
    );
  }

  private closeFacts(info: CloseInfo, closedAt: number): CloseFacts {
    const facts: CloseFacts = {
      conn: this.info.conn,
      closedBy: info.closedBy,
      closedAt,
      openedAt: this.info.startedAt,
      malformed: this.malformedFrom,
    };
    if (info.error !== undefined) facts.error = info.error;
    if (this.upstreamFailure !== undefined) facts.upstreamError = this.upstreamFailure;
    if (this.takenOverBy !== undefined) facts.takenOverBy = this.takenOverBy;
    return facts;
  }

  private onFrame(from: Direction, frame: Frame): void {
    if (from === 'client' && frame.offset >= (this.secrets?.opaqueFrom ?? Number.POSITIVE_INFINITY)) {
      this.onWithheldFrame(frame);
      return;
    }
    const decoded = decodeFrame(frame, this.session.version, from);
    // A CONNECT or AUTH whose fields the recording masks (its lengths, name or flags do not fit).
    const untrusted =
      from === 'client' && this.secrets !== undefined && this.secrets.untrustedAt(frame.offset);
    // A CONNECT whose lengths lie may show password bytes in any field: only its shape is shown.
    const hidden =
      from === 'client' &&
      this.secrets !== undefined &&
      decoded.type === 'CONNECT' &&
      (untrusted || connectMayHoldSecret(decoded));
    const packet = hidden ? withoutCredentials(decoded) : decoded;
    const at = this.arrivedAt ?? this.now();
    const corr = this.session.observe(from, packet, at);
    if (from === 'client' && !hidden) this.onSessionRequest(packet, at);
    this.metrics?.packet(from, packet, corr);
    this.packets[from]++;
    this.types[packet.type] = (this.types[packet.type] ?? 0) + 1;
    if (packet.type === 'CONNECT' && this.clientIdPattern !== undefined) {
      this.selected = this.clientIdPattern.test(packet.clientId);
    }
    const level = levelOf(packet);
    if (!this.sink.isLevelEnabled(level)) return;
    if (this.clientIdPattern !== undefined && this.selected !== true) return;
    if (this.opts.topic !== undefined && !passesTopic(this.opts.topic, packet, corr)) return;
    const head = this.head(from);
    if (hidden) {
      const { record, msg } = withheldEntry(head, packet);
      this.sink.write(level, record, msg);
      return;
    }
    if (from === 'client' && this.secrets !== undefined && (untrusted || mayShiftSecret(packet))) {
      const { record, msg } = shiftedEntry(head, packet, corr, this.opts);
      this.sink.write(level, record, msg);
      return;
    }
    this.sink.writePacket(level, head, packet, corr, this.opts);
  }

  /**
   * A client frame past opaqueFrom, where a secret's end is unknown (a password that ran out of its
   * packet or was left over in it, what follows one and does not frame): it may be made of the
   * secret. Counted and shown by its shape; the session never sees it.
   */
  private onWithheldFrame(frame: Frame): void {
    const packet = decodeFrame(frame, this.session.version, 'client');
    this.metrics?.withheld('client', packet);
    this.packets.client++;
    this.types[packet.type] = (this.types[packet.type] ?? 0) + 1;
    const level = levelOf(packet);
    if (!this.sink.isLevelEnabled(level)) return;
    if (this.clientIdPattern !== undefined && this.selected !== true) return;
    const { record, msg } = withheldEntry(this.head('client'), packet);
    this.sink.write(level, record, msg);
  }

  /** Whether client bytes from `offset` on may include credentials (masked in a recording). */
  private mayHoldSecret(offset: number): boolean {
    const s = this.secrets;
    return s !== undefined && (offset >= s.suspectFrom || s.maskedUpTo > offset || s.provisional);
  }

  /** The head of this direction's packet records: one object while the client id and user name stay. */
  private head(from: Direction): PacketHead {
    const { clientId, username } = this.session;
    const current = this.heads[from];
    if (current !== undefined && current.clientId === clientId && current.username === username)
      return current;
    const head = newHead(this.info.conn, from, clientId, username);
    this.heads[from] = head;
    return head;
  }

  /** A client's CONNECT claims its client id; a CONNECT or 5.0 DISCONNECT says what becomes of its session. */
  private onSessionRequest(packet: Packet, at: number): void {
    if (packet.type === 'CONNECT') {
      if (this.connectSeen) return;
      this.connectSeen = true;
      this.askedClean = packet.clean;
      if (packet.protocol === '5.0') this.sessionExpiryInterval = sessionExpiry(packet.properties) ?? 0;
      this.claim = this.ids.claim(this, this.info.upstream, packet.clientId, at);
    } else if (packet.type === 'DISCONNECT' && packet.protocol === '5.0') {
      const expiry = sessionExpiry(packet.properties);
      if (expiry !== undefined) this.sessionExpiryInterval = expiry;
    }
  }

  /** After the CONNACK and its session record: whether this connection took over its id from another. */
  private settleClaim(): void {
    this.claimSettled = true;
    const { takeover, flapping } = this.ids.settle(this.claim!, this.session.contract!.accepted);
    if (takeover !== undefined && this.sink.isLevelEnabled('info')) {
      const { record, msg } = takeoverEntry(takeover);
      this.sink.write('info', record, msg);
    }
    if (flapping !== undefined && this.sink.isLevelEnabled('warn')) {
      const { record, msg } = flappingEntry(flapping);
      this.sink.write('warn', record, msg);
    }
  }

  /** Once per connection, after the CONNACK: what it and the CONNECT negotiated. */
  private showContract(): void {
    this.contractShown = true;
    if (!this.sink.isLevelEnabled('info')) return;
    const contract = this.session.contract!;
    const record: LogRecord = { event: 'session', conn: this.info.conn };
    if (this.session.clientId !== undefined) record.clientId = this.session.clientId;
    Object.assign(record, contractFields(contract));
    let msg = contractSummary(contract);
    // Asked to resume a session, told none was there (3.1 has no Session Present).
    if (
      contract.accepted &&
      !contract.client.clean &&
      !contract.sessionPresent &&
      contract.version !== '3.1'
    ) {
      const note = sessionNotThere(contract.version, this.arrivedAt ?? this.now(), this.claim?.last);
      Object.assign(record, note.fields);
      msg += note.msg;
    }
    this.sink.write('info', record, msg);
  }

  /** Once per connection: the session stopped keeping new state, so some correlations will be missing. */
  private onStateFull(): void {
    if (!this.sink.isLevelEnabled('warn')) return;
    const max = this.session.stateMax;
    this.sink.write(
      'warn',
      { event: 'state-limit', conn: this.info.conn, limit: max },
      `session state full at ${max} bytes: new in-flight ids, topic aliases and requests are not kept (see close.stateDropped)`,
    );
  }

  private onFramingError(from: Direction, error: FramingError): void {
    this.malformed++;
    this.metrics?.framingError(from, error);
    // Cut short is the stream ending mid-packet, not input that broke the protocol.
    if (error.kind !== 'truncated') {
      this.malformedFrom[from] = {
        event: error.kind === 'not-mqtt' ? 'not-mqtt' : 'malformed',
        offset: error.offset,
        at: this.arrivedAt ?? this.now(),
        detail: error.detail,
      };
    }
    const level: Level = error.kind === 'truncated' ? 'warn' : 'error';
    if (!this.sink.isLevelEnabled(level)) return;
    const record: LogRecord = {
      event: error.kind === 'not-mqtt' ? 'not-mqtt' : 'malformed',
      conn: this.info.conn,
      from,
      ...error,
    };
    // A not-mqtt excerpt is a stream's first bytes, before any CONNECT.
    if (from === 'client' && error.kind !== 'not-mqtt' && this.mayHoldSecret(error.offset))
      record.hex = WITHHELD;
    const label =
      error.kind === 'not-mqtt' ? 'not MQTT' : error.kind === 'truncated' ? 'cut short' : 'malformed';
    this.sink.write(level, record, `${label} from ${from}: ${error.detail}`);
  }
}

/** A Session Expiry Interval property, if sent. */
function sessionExpiry(properties: Properties | undefined): number | undefined {
  const value = properties?.sessionExpiryInterval;
  return typeof value === 'number' ? value : undefined;
}

function newHead(
  conn: string,
  from: Direction,
  clientId: string | undefined,
  username: string | undefined,
): PacketHead {
  const head: PacketHead = { event: 'packet', conn, from };
  if (clientId !== undefined) head.clientId = clientId;
  if (username !== undefined) head.username = username;
  return head;
}

/** PINGs are chatter (debug); failure codes and spec violations are what people look for (warn). */
function levelOf(packet: Packet): Level {
  if (packet.type === 'PINGREQ' || packet.type === 'PINGRESP') return 'debug';
  if (packet.violations.length > 0) return 'warn';
  for (let i = 0, n = codeCount(packet); i < n; i++) {
    if (reasonInfo(packet.protocol, packet.type, codeAt(packet, i)).error) return 'warn';
  }
  return 'info';
}

/** --topic selects PUBLISH traffic (and its acks) and subscriptions; other packets always pass. */
function passesTopic(filter: string, packet: Packet, corr: Correlation | undefined): boolean {
  switch (packet.type) {
    case 'PUBLISH':
      return topicMatches(filter, corr?.topic ?? packet.topic);
    case 'PUBACK':
    case 'PUBREC':
    case 'PUBREL':
    case 'PUBCOMP':
      return corr?.request === undefined || topicMatches(filter, corr.request.topic);
    case 'SUBSCRIBE':
      return packet.subscriptions.some((s) => filtersOverlap(filter, s.filter));
    case 'UNSUBSCRIBE':
      return packet.filters.some((f) => filtersOverlap(filter, f));
    case 'SUBACK':
    case 'UNSUBACK':
      return corr?.filters === undefined || corr.filters.some((f) => filtersOverlap(filter, f));
    default:
      return true;
  }
}
