/**
 * Connection faults against mqtt-tap's listeners (with mosquitto behind): resets mid-packet,
 * half-closes, idle connections, WebSocket handshake garbage, wrong paths and oversize frames, TLS
 * garbage and aborted handshakes, PROXY headers, HTTP, TLS ClientHellos on plain listeners, slow
 * clients, and valid sessions in between that must still work. Each fault ends within a bound; what
 * matters is that mqtt-tap survives them all and keeps forwarding.
 */
import type * as net from 'node:net';
import { yieldIo } from './hostile.js';
import { build, type Context, frame, type Level, lengthPrefixed } from './packets.js';
import type { Rng } from './rng.js';
import type { Markers } from './secrets.js';
import { frameWalk, sendable } from './streams.js';
import type { TapProcess } from './tap-process.js';
import {
  dialTcp,
  type Endpoints,
  isTls,
  openPipe,
  portOf,
  startTls,
  type Transport,
  tlsOver,
  upgradeRequest,
  wsFrame,
} from './transports.js';

export type FaultKind =
  | 'rst-mid-packet'
  | 'half-close'
  | 'connect-idle'
  | 'ws-handshake-garbage'
  | 'ws-wrong-path'
  | 'ws-oversize-frame'
  | 'tls-garbage'
  | 'tls-aborted'
  | 'proxy-header'
  | 'http'
  | 'client-hello-plain'
  | 'slow-loris'
  | 'valid-session';

const KINDS: readonly (readonly [FaultKind, number, readonly Transport[]])[] = [
  ['rst-mid-packet', 14, ['tcp', 'tls', 'ws', 'wss']],
  ['half-close', 10, ['tcp', 'tls']],
  ['connect-idle', 8, ['tcp', 'tls', 'ws', 'wss']],
  ['ws-handshake-garbage', 10, ['ws', 'wss']],
  ['ws-wrong-path', 5, ['ws', 'wss']],
  ['ws-oversize-frame', 8, ['ws', 'wss']],
  ['tls-garbage', 8, ['tls', 'wss']],
  ['tls-aborted', 10, ['tls', 'wss']],
  ['proxy-header', 6, ['tcp', 'ws']],
  ['http', 6, ['tcp', 'ws']],
  ['client-hello-plain', 6, ['tcp', 'ws']],
  ['valid-session', 6, ['tcp', 'tls', 'ws', 'wss']],
];

export interface FaultSpec {
  id: string;
  kind: FaultKind;
  transport: Transport;
  rng: Rng;
}

export interface FaultResult {
  id: string;
  kind: FaultKind;
  transport: Transport;
  /** done: ran to its end; failed: a valid session did not work; refused: could not connect. */
  outcome: 'done' | 'failed' | 'refused' | 'timeout';
  /** What mqtt-tap (or mosquitto behind it) answered, in short. */
  answer?: string;
  detail?: string;
}

/** The fault drawn for `rng`. */
export function drawFault(id: string, rng: Rng): FaultSpec {
  const [kind, , transports] = rng.weighted(KINDS.map((k) => [k, k[1]] as const));
  return { id, kind, transport: rng.pick(transports), rng };
}

const FAULT_TIMEOUT_MS = 20_000;
const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Waits until `s` closes, up to `ms`; then destroys it. Resolves with what it received. */
function drain(s: net.Socket, ms: number): Promise<Buffer> {
  return new Promise((resolve) => {
    const got: Buffer[] = [];
    let size = 0;
    const onData = (c: Buffer): void => {
      if (size < 4096) got.push(c);
      size += c.length;
    };
    const done = (): void => {
      clearTimeout(timer);
      s.off('data', onData);
      resolve(Buffer.concat(got));
    };
    const timer = setTimeout(() => {
      s.destroy();
      done();
    }, ms);
    s.on('data', onData);
    s.on('error', () => {});
    s.once('end', () => s.end());
    s.once('close', done);
    s.resume();
  });
}

function firstLine(b: Buffer): string {
  const t = b.toString('latin1');
  if (/^HTTP\//.test(t)) return t.split('\r\n')[0]!;
  return b.length === 0 ? 'nothing' : `${b.length} bytes: ${b.subarray(0, 8).toString('hex')}`;
}

export interface FaultContext {
  tap: TapProcess;
  markers: Markers;
}

/**
 * A valid CONNECT with a marker password; with `secret` false the marker is spoilt (its lead bytes
 * replaced): for streams where mqtt-tap cannot see a CONNECT (after a PROXY header).
 */
function connectPacket(rng: Rng, markers: Markers, secret = true): Buffer {
  const level: Level = rng.pick([3, 4, 5] as const);
  const ctx: Context = { rng, level, stream: level, side: 'client', markers };
  const d = build(ctx, 1);
  return sendable(secret ? d : { bytes: d.bytes, secret: undefined });
}

async function rstMidPacket(s: FaultSpec, e: Endpoints, markers: Markers): Promise<FaultResult> {
  const pipe = await openPipe(s.transport, e, () => s.rng.bytes(4));
  const connect = connectPacket(s.rng, markers);
  const cut = s.rng.range(1, connect.length - 1);
  pipe.write(connect.subarray(0, cut));
  if (s.rng.chance(0.5)) await delay(s.rng.int(50));
  else await yieldIo();
  pipe.reset();
  return {
    id: s.id,
    kind: s.kind,
    transport: s.transport,
    outcome: 'done',
    answer: `RST after ${cut} bytes`,
  };
}

async function halfClose(s: FaultSpec, e: Endpoints, markers: Markers): Promise<FaultResult> {
  const pipe = await openPipe(s.transport, e, () => s.rng.bytes(4));
  const got: Buffer[] = [];
  pipe.onData = (c) => got.push(Buffer.from(c));
  pipe.write(connectPacket(s.rng, markers));
  pipe.end();
  await Promise.race([pipe.closed, delay(5000)]);
  if (!pipe.isClosed) pipe.destroy();
  const b = Buffer.concat(got);
  return {
    id: s.id,
    kind: s.kind,
    transport: s.transport,
    outcome: 'done',
    answer: b[0] === 0x20 ? 'CONNACK, then close' : firstLine(b),
  };
}

async function connectIdle(s: FaultSpec, e: Endpoints, scale: number): Promise<FaultResult> {
  const hold = s.rng.range(200, Math.max(300, Math.round(3000 * Math.min(1, scale * 10))));
  if (s.rng.chance(0.4)) {
    // Only the TCP handshake: no TLS, no HTTP.
    const raw = await dialTcp(e.host, portOf(e, s.transport));
    raw.on('error', () => {});
    await delay(hold);
    if (s.rng.chance(0.5)) raw.resetAndDestroy();
    else raw.end();
    await drain(raw, 3000);
  } else {
    const pipe = await openPipe(s.transport, e, () => s.rng.bytes(4));
    await delay(hold);
    if (s.rng.chance(0.5)) pipe.reset();
    else pipe.end();
    await Promise.race([pipe.closed, delay(3000)]);
    pipe.destroy();
  }
  return { id: s.id, kind: s.kind, transport: s.transport, outcome: 'done', answer: `idle ${hold} ms` };
}

/** Raw connection to the listener of `t`, with TLS done for TLS listeners. */
async function connectRaw(e: Endpoints, t: Transport): Promise<{ raw: net.Socket; stream: net.Socket }> {
  const raw = await dialTcp(e.host, portOf(e, t));
  raw.on('error', () => {});
  if (!isTls(t)) return { raw, stream: raw };
  try {
    const stream = await startTls(raw);
    stream.on('error', () => {});
    return { raw, stream };
  } catch (err) {
    raw.destroy();
    throw err;
  }
}

async function wsHandshakeGarbage(s: FaultSpec, e: Endpoints): Promise<FaultResult> {
  const { rng } = s;
  const { raw, stream } = await connectRaw(e, s.transport);
  const host = `Host: ${e.host}\r\n`;
  const variants: (() => Buffer)[] = [
    () => rng.bytes(rng.range(1, 2000)),
    () => Buffer.from(`GET ${e.wsPath} HTTP/1.1\r\n${host}Upgrade: websocket\r\nConnection: Upgrade\r\n\r\n`),
    () =>
      Buffer.from(
        `GET ${e.wsPath} HTTP/1.1\r\n${host}Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: x\r\nSec-WebSocket-Version: 8\r\n\r\n`,
      ),
    () =>
      Buffer.from(
        upgradeRequest(
          e.host,
          portOf(e, s.transport),
          e.wsPath,
          `X-Big: ${'a'.repeat(rng.range(8000, 90_000))}\r\n`,
        ),
      ),
    () =>
      Buffer.from(
        `GET ${e.wsPath} HTTP/1.1\r\n${host}Upgrade: websocket\r\nConn\u0000ection: Upgrade\r\n\r\n`,
      ),
    () =>
      Buffer.from(upgradeRequest(e.host, portOf(e, s.transport), e.wsPath).replace('HTTP/1.1', 'HTTP/0.9')),
    () => Buffer.from(upgradeRequest(e.host, portOf(e, s.transport), e.wsPath).slice(0, rng.range(5, 80))),
  ];
  const which = rng.int(variants.length);
  stream.write(variants[which]!());
  if (which === variants.length - 1 && rng.chance(0.5)) {
    await yieldIo();
    raw.resetAndDestroy();
    return {
      id: s.id,
      kind: s.kind,
      transport: s.transport,
      outcome: 'done',
      answer: `variant ${which}, RST`,
    };
  }
  const got = await drain(stream, 3000);
  raw.destroy();
  return {
    id: s.id,
    kind: s.kind,
    transport: s.transport,
    outcome: 'done',
    answer: `variant ${which}: ${firstLine(got)}`,
  };
}

async function wsWrongPath(s: FaultSpec, e: Endpoints): Promise<FaultResult> {
  const { rng } = s;
  const { raw, stream } = await connectRaw(e, s.transport);
  const path = rng.pick(['/x', '/', `${e.wsPath}/more`, e.wsPath.toUpperCase(), `/${'p'.repeat(2000)}`]);
  stream.write(upgradeRequest(e.host, portOf(e, s.transport), path));
  if (rng.chance(0.3)) {
    // The reproduced crash: the 404 is written to a connection the client has already reset.
    raw.resetAndDestroy();
    return {
      id: s.id,
      kind: s.kind,
      transport: s.transport,
      outcome: 'done',
      answer: `${path.slice(0, 20)}, RST`,
    };
  }
  const got = await drain(stream, 3000);
  raw.destroy();
  return { id: s.id, kind: s.kind, transport: s.transport, outcome: 'done', answer: firstLine(got) };
}

/** The payload of the large messages (shared: they are many MiB). */
let largePayload: Buffer | undefined;

async function wsOversize(s: FaultSpec, e: Endpoints): Promise<FaultResult> {
  const { rng } = s;
  const pipe = await openPipe(s.transport, e, () => rng.bytes(4));
  const mask = rng.bytes(4);
  // Really sending many MiB is the rare variant.
  const variant = rng.chance(0.06) ? 1 : rng.pick([0, 2, 3, 4]);
  let answer: string;
  if (variant === 0) {
    // A length past any limit, a little data, then nothing.
    const declared = rng.pick([2 ** 53 - 1, 2 ** 40, 256 * 1024 * 1024 + 64 * 1024 + 1, 1 << 30]);
    pipe.sendRaw(wsFrame(2, rng.bytes(rng.range(0, 65536)), mask, declared).subarray(0, 14 + 65536));
    answer = `declared ${declared}`;
  } else if (variant === 1) {
    // A large message that is really sent (past a few MiB), unmasked (zero key) to spare the CPU.
    const size = rng.range(5, 8) * 1024 * 1024;
    largePayload ??= Buffer.alloc(8 * 1024 * 1024, 0x30);
    pipe.sendRaw(wsFrame(2, largePayload.subarray(0, size), Buffer.alloc(4)));
    answer = `${size} B message`;
  } else if (variant === 2) {
    pipe.sendRaw(wsFrame(1, Buffer.from('text frame'), mask));
    answer = 'text frame';
  } else if (variant === 3) {
    const frame = wsFrame(2, Buffer.from([0x10, 0x00]), mask);
    frame[1] = frame[1]! & 0x7f; // unmasked: a protocol error from a client
    pipe.sendRaw(frame.subarray(0, 2 + 2));
    answer = 'unmasked frame';
  } else {
    pipe.sendRaw(wsFrame(rng.pick([3, 4, 5, 0xb]), Buffer.from('x'), mask));
    answer = 'reserved opcode';
  }
  if (rng.chance(0.3)) {
    await yieldIo();
    pipe.reset();
  } else {
    await Promise.race([pipe.closed, delay(5000)]);
    if (pipe.closeCode !== undefined) answer += ` → close ${pipe.closeCode}`;
  }
  pipe.destroy();
  return { id: s.id, kind: s.kind, transport: s.transport, outcome: 'done', answer };
}

async function tlsGarbage(s: FaultSpec, e: Endpoints, markers: Markers): Promise<FaultResult> {
  const { rng } = s;
  const raw = await dialTcp(e.host, portOf(e, s.transport));
  raw.on('error', () => {});
  const variant = rng.int(4);
  const payload = [
    () => rng.bytes(rng.range(1, 4000)),
    () => connectPacket(rng, markers),
    () => Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'),
    () => Buffer.concat([Buffer.from([0x16, 0x03, 0x01, 0x40, 0x00]), rng.bytes(rng.range(0, 2000))]),
  ][variant]!();
  raw.write(payload);
  const got = await drain(raw, 3000);
  return {
    id: s.id,
    kind: s.kind,
    transport: s.transport,
    outcome: 'done',
    answer: `variant ${variant}: ${firstLine(got)}`,
  };
}

async function tlsAborted(s: FaultSpec, e: Endpoints): Promise<FaultResult> {
  const { rng } = s;
  const raw = await dialTcp(e.host, portOf(e, s.transport));
  raw.on('error', () => {});
  const t = tlsOver(raw);
  t.on('error', () => {});
  const variant = rng.int(3);
  if (variant === 2) {
    await new Promise<void>((r) => {
      t.once('secureConnect', () => r());
      t.once('close', () => r());
    });
  } else {
    // Right after the ClientHello, or once the server has answered.
    await new Promise<void>((r) => {
      if (variant === 0) setImmediate(r);
      else raw.once('data', () => r());
      raw.once('close', () => r());
    });
  }
  if (rng.chance(0.7)) raw.resetAndDestroy();
  else raw.end();
  t.destroy();
  return { id: s.id, kind: s.kind, transport: s.transport, outcome: 'done', answer: `variant ${variant}` };
}

async function proxyHeader(s: FaultSpec, e: Endpoints, markers: Markers): Promise<FaultResult> {
  const { rng } = s;
  const raw = await dialTcp(e.host, portOf(e, s.transport));
  raw.on('error', () => {});
  const v2 = Buffer.concat([
    Buffer.from([
      0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a, 0x21, 0x11, 0x00, 0x0c,
    ]),
    Buffer.from([10, 1, 2, 3, 10, 4, 5, 6, 0xc8, 0x22, 0x07, 0x5b]),
  ]);
  const header = rng.chance(0.5) ? Buffer.from('PROXY TCP4 10.1.2.3 10.4.5.6 51234 1883\r\n') : v2;
  raw.write(Buffer.concat([header, connectPacket(rng, markers, false)]));
  raw.end();
  const got = await drain(raw, 3000);
  return { id: s.id, kind: s.kind, transport: s.transport, outcome: 'done', answer: firstLine(got) };
}

async function http(s: FaultSpec, e: Endpoints): Promise<FaultResult> {
  const { rng } = s;
  const raw = await dialTcp(e.host, portOf(e, s.transport));
  raw.on('error', () => {});
  const req = rng.pick([
    `GET ${e.wsPath} HTTP/1.1\r\nHost: ${e.host}\r\n\r\n`,
    'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    `POST ${e.wsPath} HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello`,
    'OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n',
  ]);
  raw.write(req);
  const got = await drain(raw, 3000);
  return { id: s.id, kind: s.kind, transport: s.transport, outcome: 'done', answer: firstLine(got) };
}

async function clientHelloPlain(s: FaultSpec, e: Endpoints): Promise<FaultResult> {
  const raw = await dialTcp(e.host, portOf(e, s.transport));
  raw.on('error', () => {});
  const t = tlsOver(raw);
  let error = 'none';
  t.on('error', (err: NodeJS.ErrnoException) => {
    error = err.code ?? err.message;
  });
  await new Promise<void>((r) => {
    const timer = setTimeout(r, 3000);
    t.once('close', () => {
      clearTimeout(timer);
      r();
    });
  });
  t.destroy();
  raw.destroy();
  return { id: s.id, kind: s.kind, transport: s.transport, outcome: 'done', answer: `TLS error ${error}` };
}

/** A small session that must work: CONNECT, SUBSCRIBE to its own topic, PUBLISH QoS 1, receive it. */
async function validSession(s: FaultSpec, e: Endpoints, markers: Markers): Promise<FaultResult> {
  const { rng } = s;
  const pipe = await openPipe(s.transport, e, () => rng.bytes(4));
  let got = Buffer.alloc(0);
  const seen = new Set<number>();
  let wake: () => void = () => {};
  pipe.onData = (c) => {
    got = Buffer.concat([got, c]);
    const walk = frameWalk(got, 'broker');
    for (const at of walk.starts) if (at < walk.end) seen.add(got[at]! >> 4);
    wake();
  };
  const until = (type: number, ms: number): Promise<boolean> =>
    new Promise((resolve) => {
      const check = (): void => {
        if (seen.has(type)) {
          clearTimeout(timer);
          resolve(true);
        }
      };
      const timer = setTimeout(() => resolve(false), ms);
      wake = check;
      check();
    });
  const level = rng.pick([4, 5] as const);
  const id = `soak-valid-${s.id}`;
  const topic = `soak/valid/${s.id}`;
  const str = lengthPrefixed;
  const props = level === 5 ? Buffer.from([0]) : Buffer.alloc(0);
  const password = markers.pick(rng);
  const connect = frame(
    0x10,
    Buffer.concat([
      str('MQTT'),
      Buffer.from([level, 0xc2, 0, 30]),
      props,
      str(id),
      str('soak'),
      str(password),
    ]),
  );
  // A connection that closed under it (mqtt-tap went down) is "refused": run again once it is back.
  const fail = (what: string): FaultResult => {
    const closed = pipe.isClosed;
    pipe.destroy();
    return {
      id: s.id,
      kind: s.kind,
      transport: s.transport,
      outcome: closed ? 'refused' : 'failed',
      detail: `${what}${closed ? ' (connection closed)' : ''}`,
    };
  };
  pipe.write(connect);
  if (!(await until(2, 5000))) return fail('no CONNACK');
  pipe.write(frame(0x82, Buffer.concat([Buffer.from([0, 1]), props, str(topic), Buffer.from([1])])));
  if (!(await until(9, 5000))) return fail('no SUBACK');
  pipe.write(
    frame(0x32, Buffer.concat([str(topic), Buffer.from([0, 2]), props, Buffer.from('soak valid payload')])),
  );
  if (!(await until(4, 5000))) return fail('no PUBACK');
  if (!(await until(3, 5000))) return fail('own PUBLISH not received');
  pipe.write(Buffer.from([0xe0, 0]));
  pipe.end();
  await Promise.race([pipe.closed, delay(3000)]);
  pipe.destroy();
  return { id: s.id, kind: s.kind, transport: s.transport, outcome: 'done', answer: 'session worked' };
}

/** One byte a second of a valid CONNECT, for `seconds`, then a normal close. */
export async function slowLoris(
  id: string,
  rng: Rng,
  tap: TapProcess,
  markers: Markers,
  seconds: number,
): Promise<FaultResult> {
  const transport = rng.pick(['tcp', 'tls', 'ws', 'wss'] as const);
  try {
    const pipe = await openPipe(transport, tap.endpoints, () => rng.bytes(4));
    const connect = connectPacket(rng, markers);
    let sent = 0;
    for (; sent < Math.min(seconds, connect.length) && !pipe.isClosed; sent++) {
      pipe.write(connect.subarray(sent, sent + 1));
      await delay(1000);
    }
    pipe.end();
    await Promise.race([pipe.closed, delay(3000)]);
    pipe.destroy();
    return { id, kind: 'slow-loris', transport, outcome: 'done', answer: `${sent} bytes in ${sent} s` };
  } catch (err) {
    return { id, kind: 'slow-loris', transport, outcome: 'refused', detail: String(err) };
  }
}

export async function runFault(s: FaultSpec, ctx: FaultContext, scale: number): Promise<FaultResult> {
  const e = ctx.tap.endpoints;
  const run = async (): Promise<FaultResult> => {
    switch (s.kind) {
      case 'rst-mid-packet':
        return rstMidPacket(s, e, ctx.markers);
      case 'half-close':
        return halfClose(s, e, ctx.markers);
      case 'connect-idle':
        return connectIdle(s, e, scale);
      case 'ws-handshake-garbage':
        return wsHandshakeGarbage(s, e);
      case 'ws-wrong-path':
        return wsWrongPath(s, e);
      case 'ws-oversize-frame':
        return wsOversize(s, e);
      case 'tls-garbage':
        return tlsGarbage(s, e, ctx.markers);
      case 'tls-aborted':
        return tlsAborted(s, e);
      case 'proxy-header':
        return proxyHeader(s, e, ctx.markers);
      case 'http':
        return http(s, e);
      case 'client-hello-plain':
        return clientHelloPlain(s, e);
      case 'valid-session':
        return validSession(s, e, ctx.markers);
      default:
        throw new Error(`not a drawn fault: ${s.kind}`);
    }
  };
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<FaultResult>((resolve) => {
    timer = setTimeout(
      () => resolve({ id: s.id, kind: s.kind, transport: s.transport, outcome: 'timeout' }),
      FAULT_TIMEOUT_MS,
    );
  });
  const generation = ctx.tap.generation;
  try {
    const r = await Promise.race([run(), timeout]);
    // A session cut short because mqtt-tap went down under it (another fault's doing): run again.
    if (r.outcome === 'failed' && (ctx.tap.generation !== generation || ctx.tap.restarting)) {
      return { ...r, outcome: 'refused', detail: `${r.detail ?? ''} (mqtt-tap restarted meanwhile)` };
    }
    return r;
  } catch (err) {
    return {
      id: s.id,
      kind: s.kind,
      transport: s.transport,
      outcome: 'refused',
      detail: err instanceof Error ? err.message : String(err),
    };
  } finally {
    clearTimeout(timer);
  }
}
