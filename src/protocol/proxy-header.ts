/**
 * The PROXY protocol (HAProxy's specification, versions 1 and 2): the header a load balancer sends
 * ahead of the client's own bytes to name the client's real address and the address it connected
 * to. `ProxyHeaderReader` takes the stream chunk by chunk and says as soon as it can whether a
 * valid header is there; `encodeProxyHeader` writes one. Pure: no I/O, no address library.
 */

/** Version 1: `PROXY ` then the rest of one text line, CRLF included, 107 bytes at most. */
const V1_PREFIX = Buffer.from('PROXY ', 'latin1');
export const V1_MAX_LENGTH = 107;
/** Version 2: a fixed 12-byte signature, then version/command, family/transport, length. */
const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const V2_FIXED_LENGTH = 16;
/** Address block sizes by v2 family: AF_UNSPEC, AF_INET, AF_INET6, AF_UNIX. */
const V2_ADDRESS_LENGTH = [0, 12, 36, 216] as const;
/** How many of the first bytes an error shows. */
const EXCERPT_BYTES = 32;
const CR = 0x0d;
const LF = 0x0a;

/** `inet`/`inet6`: addresses given; `unix` and `unspec` carry none a TCP peer can use. */
export type ProxyFamily = 'inet' | 'inet6' | 'unix' | 'unspec';

export interface ProxyEndpoint {
  address: string;
  port: number;
}

export interface ProxyHeader {
  version: 1 | 2;
  /** `local`: a connection the balancer made on its own (a health check); it names no client. */
  command: 'proxy' | 'local';
  family: ProxyFamily;
  /** The client and the address it connected to: only for command `proxy` with `inet`/`inet6`. */
  source?: ProxyEndpoint;
  destination?: ProxyEndpoint;
  /** Bytes the header took on the wire, v2 TLVs included (they are skipped, not kept). */
  length: number;
}

/**
 * - `PROXY_HEADER_MISSING`: the stream does not open with either version's signature (or closed
 *   before sending a byte);
 * - `PROXY_HEADER_INCOMPLETE`: it closed inside a header;
 * - `PROXY_V1_TOO_LONG`: no CRLF within 107 bytes;
 * - `PROXY_V1_MALFORMED`, `PROXY_V2_MALFORMED`: a field is not what the specification allows.
 */
export type ProxyHeaderErrorCode =
  | 'PROXY_HEADER_MISSING'
  | 'PROXY_HEADER_INCOMPLETE'
  | 'PROXY_V1_TOO_LONG'
  | 'PROXY_V1_MALFORMED'
  | 'PROXY_V2_MALFORMED';

export interface ProxyHeaderError {
  code: ProxyHeaderErrorCode;
  message: string;
  /** The first bytes of the stream, at most 32. */
  received: Buffer;
}

/** What a complete header, or the first bytes that rule one out, gave. */
export type ProxyHeaderResult =
  | { ok: true; header: ProxyHeader; rest: Buffer }
  | { ok: false; error: ProxyHeaderError };

enum Stage {
  Signature,
  V1,
  V2Fixed,
  V2Addresses,
  Skip,
  Done,
}

/**
 * Reads one PROXY header from a stream given in chunks of any size. `push` returns undefined while
 * it needs more bytes; else the header and the bytes of that chunk that follow it (`rest`, a view,
 * not a copy), or an error. Fails at the first byte that cannot start a header, so a client that
 * speaks MQTT at once is told apart without waiting. At most 107 bytes are held; TLVs are skipped.
 */
export class ProxyHeaderReader {
  private stage = Stage.Signature;
  private readonly buf = Buffer.alloc(V1_MAX_LENGTH);
  private have = 0;
  /** v2: the header's length field, its address block size, and the bytes still to skip. */
  private v2Length = 0;
  private addressLength = 0;
  private skip = 0;
  /** Bytes of the stream taken so far. */
  private taken = 0;
  private header: ProxyHeader | undefined;

  push(chunk: Buffer): ProxyHeaderResult | undefined {
    if (this.stage === Stage.Done) throw new Error('ProxyHeaderReader: push after the result');
    let off = 0;
    for (;;) {
      if (this.stage === Stage.Skip) {
        const n = Math.min(this.skip, chunk.length - off);
        this.skip -= n;
        this.taken += n;
        off += n;
        if (this.skip > 0) return undefined;
        this.stage = Stage.Done;
        return { ok: true, header: this.header!, rest: chunk.subarray(off) };
      }
      const before = this.have;
      const n = Math.min(this.want() - before, chunk.length - off);
      chunk.copy(this.buf, before, off, off + n);
      this.have += n;
      this.taken += n;
      off += n;
      const result = this.examine(before, chunk, off);
      if (result !== undefined) {
        this.stage = Stage.Done;
        // An error shows what came, from this chunk too (often the opening of an MQTT CONNECT).
        if (!result.ok && result.error.received.length < EXCERPT_BYTES && off < chunk.length) {
          const more = chunk.subarray(off, off + EXCERPT_BYTES - result.error.received.length);
          result.error.received = Buffer.concat([result.error.received, more]);
        }
        return result;
      }
      // A stage that has what it needs moves on and may take more of this chunk.
      if (off >= chunk.length && (this.stage as Stage) !== Stage.Skip) return undefined;
    }
  }

  /** The stream ended: what that means before a complete header. */
  end(): ProxyHeaderResult | undefined {
    if (this.stage === Stage.Done) return undefined;
    this.stage = Stage.Done;
    if (this.have === 0)
      return this.fail('PROXY_HEADER_MISSING', 'the connection closed before a PROXY header');
    return this.fail(
      'PROXY_HEADER_INCOMPLETE',
      `the connection closed after ${this.taken} bytes of a PROXY header`,
    );
  }

  /** How many bytes the current stage needs in `buf`. */
  private want(): number {
    switch (this.stage) {
      case Stage.Signature:
        return this.have > 0 && this.buf[0] === V2_SIGNATURE[0] ? V2_SIGNATURE.length : V1_PREFIX.length;
      case Stage.V1:
        return V1_MAX_LENGTH;
      case Stage.V2Fixed:
        return V2_FIXED_LENGTH;
      case Stage.V2Addresses:
        return V2_FIXED_LENGTH + this.addressLength;
      default:
        return this.have;
    }
  }

  /** Decides what the bytes so far mean; `chunk` and `off` locate the rest of the current chunk. */
  private examine(before: number, chunk: Buffer, off: number): ProxyHeaderResult | undefined {
    switch (this.stage) {
      case Stage.Signature:
        return this.examineSignature();
      case Stage.V1:
        return this.examineV1(before, chunk, off);
      case Stage.V2Fixed:
        return this.examineV2Fixed();
      case Stage.V2Addresses:
        if (this.have < V2_FIXED_LENGTH + this.addressLength) return undefined;
        this.header = this.v2Addresses();
        this.stage = Stage.Skip;
        return undefined;
      default:
        return undefined;
    }
  }

  private examineSignature(): ProxyHeaderResult | undefined {
    const have = this.have;
    const v1 = prefixMatches(this.buf, have, V1_PREFIX);
    const v2 = prefixMatches(this.buf, have, V2_SIGNATURE);
    if (!v1 && !v2) {
      return this.fail(
        'PROXY_HEADER_MISSING',
        'the connection does not start with a PROXY protocol header (v1 "PROXY " or the v2 signature)',
      );
    }
    if (v1 && have >= V1_PREFIX.length) this.stage = Stage.V1;
    else if (v2 && have >= V2_SIGNATURE.length) this.stage = Stage.V2Fixed;
    return undefined;
  }

  private examineV1(before: number, chunk: Buffer, off: number): ProxyHeaderResult | undefined {
    const lf = this.buf.subarray(0, this.have).indexOf(LF, before);
    // What cannot become a valid line fails now rather than at the CRLF (or the timeout).
    const end = lf < 0 ? this.have : lf;
    for (let i = before; i < end; i++) {
      const c = this.buf[i]!;
      if ((c < 0x20 || c > 0x7e) && !(c === CR && i === end - 1)) {
        return this.fail('PROXY_V1_MALFORMED', `byte 0x${c.toString(16).padStart(2, '0')} at offset ${i}`);
      }
    }
    const word = this.buf.toString('latin1', V1_PREFIX.length, Math.min(end, V1_PREFIX.length + 8));
    if (!V1_PROTOCOLS.some((p) => p.startsWith(word) || word.startsWith(p))) {
      return this.fail(
        'PROXY_V1_MALFORMED',
        `protocol ${JSON.stringify(word.split(' ')[0])}, not TCP4, TCP6 or UNKNOWN`,
      );
    }
    if (lf < 0) {
      if (this.have < V1_MAX_LENGTH) return undefined;
      return this.fail('PROXY_V1_TOO_LONG', `no CRLF within the ${V1_MAX_LENGTH} bytes a v1 header may take`);
    }
    if (this.buf[lf - 1] !== CR) return this.fail('PROXY_V1_MALFORMED', 'the v1 line ends in LF without CR');
    const parsed = parseV1Line(this.buf.toString('latin1', 0, lf - 1), lf + 1);
    if (typeof parsed === 'string') return this.fail('PROXY_V1_MALFORMED', parsed);
    // The bytes copied past the line belong to the stream: hand them back from the chunk.
    return { ok: true, header: parsed, rest: chunk.subarray(off - (this.have - (lf + 1))) };
  }

  /** Each byte is judged once it is there: a bad one fails without waiting for the rest. */
  private examineV2Fixed(): ProxyHeaderResult | undefined {
    const b = this.buf;
    const version = b[12]! >> 4;
    const command = b[12]! & 0x0f;
    const family = b[13]! >> 4;
    const transport = b[13]! & 0x0f;
    if (this.have > 12) {
      if (version !== 2) return this.fail('PROXY_V2_MALFORMED', `version ${version}, not 2`);
      if (command > 1) {
        return this.fail('PROXY_V2_MALFORMED', `command 0x${command.toString(16)}, not LOCAL or PROXY`);
      }
    }
    if (this.have > 13) {
      if (family > 3) return this.fail('PROXY_V2_MALFORMED', `address family 0x${family.toString(16)}`);
      if (transport > 2) {
        return this.fail('PROXY_V2_MALFORMED', `transport protocol 0x${transport.toString(16)}`);
      }
    }
    if (this.have < V2_FIXED_LENGTH) return undefined;
    this.v2Length = b.readUInt16BE(14);
    const familyName = (['unspec', 'inet', 'inet6', 'unix'] as const)[family]!;
    const block = V2_ADDRESS_LENGTH[family as 0 | 1 | 2 | 3];
    // LOCAL: the receiver ignores the address block, whatever its family says.
    if (command === 1 && this.v2Length < block) {
      return this.fail(
        'PROXY_V2_MALFORMED',
        `length ${this.v2Length} is shorter than the ${block}-byte ${familyName} address block`,
      );
    }
    const length = V2_FIXED_LENGTH + this.v2Length;
    if (command === 0 || (familyName !== 'inet' && familyName !== 'inet6')) {
      this.header = { version: 2, command: command === 0 ? 'local' : 'proxy', family: familyName, length };
      this.skip = this.v2Length;
      this.stage = Stage.Skip;
      return undefined;
    }
    this.addressLength = block;
    this.header = { version: 2, command: 'proxy', family: familyName, length };
    this.stage = Stage.V2Addresses;
    return undefined;
  }

  private v2Addresses(): ProxyHeader {
    const b = this.buf;
    const h = this.header!;
    const a = V2_FIXED_LENGTH;
    if (h.family === 'inet') {
      h.source = { address: formatIPv4(b, a), port: b.readUInt16BE(a + 8) };
      h.destination = { address: formatIPv4(b, a + 4), port: b.readUInt16BE(a + 10) };
    } else {
      h.source = { address: formatIPv6(b.subarray(a, a + 16)), port: b.readUInt16BE(a + 32) };
      h.destination = { address: formatIPv6(b.subarray(a + 16, a + 32)), port: b.readUInt16BE(a + 34) };
    }
    this.skip = this.v2Length - this.addressLength;
    return h;
  }

  private fail(code: ProxyHeaderErrorCode, message: string): ProxyHeaderResult {
    const received = Buffer.from(this.buf.subarray(0, Math.min(this.have, EXCERPT_BYTES)));
    return { ok: false, error: { code, message, received } };
  }
}

function prefixMatches(buf: Buffer, have: number, prefix: Buffer): boolean {
  const n = Math.min(have, prefix.length);
  for (let i = 0; i < n; i++) if (buf[i] !== prefix[i]) return false;
  return true;
}

const V1_PROTOCOLS = ['TCP4 ', 'TCP6 ', 'UNKNOWN'];
const V1_TCP = /^PROXY (TCP4|TCP6) ([^ ]+) ([^ ]+) ([^ ]+) ([^ ]+)$/;
const V1_UNKNOWN = /^PROXY UNKNOWN(?: [\x20-\x7e]*)?$/;

/** One v1 line without its CRLF; a string is what is wrong with it. */
function parseV1Line(line: string, length: number): ProxyHeader | string {
  if (V1_UNKNOWN.test(line)) return { version: 1, command: 'proxy', family: 'unspec', length };
  const m = V1_TCP.exec(line);
  if (m === null) {
    return `expected "PROXY TCP4|TCP6 SRC DST SRCPORT DSTPORT" or "PROXY UNKNOWN", got ${JSON.stringify(line)}`;
  }
  const inet = m[1] === 'TCP4';
  const src = inet ? parseIPv4(m[2]!) : parseIPv6(m[2]!);
  const dst = inet ? parseIPv4(m[3]!) : parseIPv6(m[3]!);
  if (src === undefined) return `source ${JSON.stringify(m[2])} is not an ${inet ? 'IPv4' : 'IPv6'} address`;
  if (dst === undefined)
    return `destination ${JSON.stringify(m[3])} is not an ${inet ? 'IPv4' : 'IPv6'} address`;
  const srcPort = parsePort(m[4]!);
  const dstPort = parsePort(m[5]!);
  if (srcPort === undefined) return `source port ${JSON.stringify(m[4])} is not 0..65535`;
  if (dstPort === undefined) return `destination port ${JSON.stringify(m[5])} is not 0..65535`;
  const format = (bytes: Uint8Array): string => (inet ? formatIPv4(bytes, 0) : formatIPv6(bytes));
  return {
    version: 1,
    command: 'proxy',
    family: inet ? 'inet' : 'inet6',
    source: { address: format(src), port: srcPort },
    destination: { address: format(dst), port: dstPort },
    length,
  };
}

/** Decimal without leading zeros, 0..65535. */
function parsePort(text: string): number | undefined {
  if (!/^(?:0|[1-9][0-9]{0,4})$/.test(text)) return undefined;
  const n = Number(text);
  return n <= 0xffff ? n : undefined;
}

/** Dotted quad, decimal octets without leading zeros (which some parsers would read as octal). */
export function parseIPv4(text: string): Uint8Array | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (!/^(?:0|[1-9][0-9]{0,2})$/.test(p) || Number(p) > 255) return undefined;
    out[i] = Number(p);
  }
  return out;
}

/** RFC 4291 §2.2 text forms: hex groups, one `::`, an IPv4 tail. No zone (`%eth0`). */
export function parseIPv6(text: string): Uint8Array | undefined {
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const groups = (s: string): number[] | undefined => {
    if (s === '') return [];
    const out: number[] = [];
    const parts = s.split(':');
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i]!;
      if (i === parts.length - 1 && p.includes('.')) {
        const v4 = parseIPv4(p);
        if (v4 === undefined) return undefined;
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else if (/^[0-9a-fA-F]{1,4}$/.test(p)) {
        out.push(Number.parseInt(p, 16));
      } else {
        return undefined;
      }
    }
    return out;
  };
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  if (head === undefined || tail === undefined) return undefined;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  const all = [...head, ...new Array<number>(missing).fill(0), ...tail];
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    out[2 * i] = all[i]! >> 8;
    out[2 * i + 1] = all[i]! & 0xff;
  }
  return out;
}

function formatIPv4(b: Uint8Array, at: number): string {
  return `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`;
}

/** RFC 5952: lower case, no leading zeros, the longest run of two or more zero groups as `::`. */
export function formatIPv6(b: Uint8Array): string {
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push((b[2 * i]! << 8) | b[2 * i + 1]!);
  // IPv4-mapped (::ffff:0:0/96) and IPv4-compatible (::/96 but not ::1 or ::) show an IPv4 tail,
  // as Node's addresses do.
  if (g.slice(0, 5).every((x) => x === 0)) {
    if (g[5] === 0xffff) return `::ffff:${formatIPv4(b, 12)}`;
    if (g[5] === 0 && g[6] !== 0) return `::${formatIPv4(b, 12)}`;
  }
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (xs: number[]): string => xs.map((x) => x.toString(16)).join(':');
  if (best < 0) return hex(g);
  return `${hex(g.slice(0, best))}::${hex(g.slice(best + bestLen))}`;
}

/** An address as 4 bytes when it is IPv4 or IPv4-mapped IPv6, else 16 bytes, else undefined. */
function addressBytes(text: string): Uint8Array | undefined {
  const v4 = parseIPv4(text);
  if (v4 !== undefined) return v4;
  const v6 = parseIPv6(text);
  if (v6 === undefined) return undefined;
  const mapped = v6.subarray(0, 10).every((x) => x === 0) && v6[10] === 0xff && v6[11] === 0xff;
  return mapped ? v6.slice(12) : v6;
}

/** IPv4 as IPv4-mapped IPv6, for a header whose other address is IPv6. */
function asIPv6(b: Uint8Array): Uint8Array {
  if (b.length === 16) return b;
  const out = new Uint8Array(16);
  out[10] = 0xff;
  out[11] = 0xff;
  out.set(b, 12);
  return out;
}

/**
 * A header naming `source` (the client) and `destination` (where it connected). Both IPv4 (or
 * IPv4-mapped): TCP4 / AF_INET; else TCP6 / AF_INET6, an IPv4 one mapped. An address that is not an
 * IP literal gives the header that names none: `PROXY UNKNOWN` / PROXY with AF_UNSPEC.
 */
export function encodeProxyHeader(version: 1 | 2, source: ProxyEndpoint, destination: ProxyEndpoint): Buffer {
  let src = addressBytes(source.address);
  let dst = addressBytes(destination.address);
  const known =
    src !== undefined &&
    dst !== undefined &&
    Number.isInteger(source.port) &&
    Number.isInteger(destination.port) &&
    source.port >= 0 &&
    source.port <= 0xffff &&
    destination.port >= 0 &&
    destination.port <= 0xffff;
  if (!known || src === undefined || dst === undefined) {
    if (version === 1) return Buffer.from('PROXY UNKNOWN\r\n', 'latin1');
    const out = Buffer.alloc(V2_FIXED_LENGTH);
    V2_SIGNATURE.copy(out);
    out[12] = 0x21;
    out[13] = 0x00;
    return out;
  }
  const inet = src.length === 4 && dst.length === 4;
  if (!inet) {
    src = asIPv6(src);
    dst = asIPv6(dst);
  }
  if (version === 1) {
    const format = (b: Uint8Array): string => (inet ? formatIPv4(b, 0) : formatIPv6(b));
    const line = `PROXY ${inet ? 'TCP4' : 'TCP6'} ${format(src)} ${format(dst)} ${source.port} ${destination.port}\r\n`;
    return Buffer.from(line, 'latin1');
  }
  const block = inet ? V2_ADDRESS_LENGTH[1] : V2_ADDRESS_LENGTH[2];
  const out = Buffer.alloc(V2_FIXED_LENGTH + block);
  V2_SIGNATURE.copy(out);
  out[12] = 0x21; // version 2, PROXY
  out[13] = inet ? 0x11 : 0x21; // AF_INET or AF_INET6, STREAM
  out.writeUInt16BE(block, 14);
  out.set(src, V2_FIXED_LENGTH);
  out.set(dst, V2_FIXED_LENGTH + src.length);
  out.writeUInt16BE(source.port, V2_FIXED_LENGTH + 2 * src.length);
  out.writeUInt16BE(destination.port, V2_FIXED_LENGTH + 2 * src.length + 2);
  return out;
}
