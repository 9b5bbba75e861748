/** Host/port pairs as users type them (`[HOST:]PORT`, `[::1]:1884`, `mqtt://host:1883`) and as logs show them. */

export interface HostPort {
  host: string;
  port: number;
}

/** `host:port`, with IPv6 literals bracketed so the text parses back unambiguously. */
export function formatHostPort({ host, port }: HostPort): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

export class AddressError extends Error {
  override name = 'AddressError';
}

function parsePort(text: string, input: string, allowZero: boolean): number {
  if (!/^\d{1,5}$/.test(text)) throw new AddressError(`invalid port "${text}" in "${input}"`);
  const port = Number(text);
  const min = allowZero ? 0 : 1;
  if (port < min || port > 65535)
    throw new AddressError(`port ${port} out of range ${min}..65535 in "${input}"`);
  return port;
}

/**
 * Parses `PORT`, `HOST`, `HOST:PORT`, `[V6]:PORT` or `[V6]`; a missing part takes its default.
 * A bare number is a port (the common `-l 1884`), anything else without a colon is a host.
 */
export function parseHostPort(
  input: string,
  defaults: { host?: string; port?: number },
  /** Port 0 asks the kernel for a free port: fine for a listener, meaningless for a broker. */
  allowPortZero = false,
): HostPort {
  const text = input.trim();
  if (text === '') throw new AddressError('empty address');
  let host: string | undefined;
  let portText: string | undefined;
  const bracketed = /^\[([^\]]+)\](?::(.*))?$/.exec(text);
  if (bracketed) {
    host = bracketed[1];
    portText = bracketed[2];
  } else if (/^\d+$/.test(text)) {
    portText = text;
  } else {
    const colon = text.lastIndexOf(':');
    if (colon === -1) {
      host = text;
    } else if (text.indexOf(':') !== colon) {
      // Two or more colons without brackets: a bare IPv6 literal; no port can be told apart.
      host = text;
    } else {
      host = text.slice(0, colon);
      portText = text.slice(colon + 1);
      if (host === '') throw new AddressError(`missing host in "${input}"`);
    }
  }
  host ??= defaults.host;
  if (host === undefined) throw new AddressError(`missing host in "${input}"`);
  let port: number;
  if (portText !== undefined && portText !== '') port = parsePort(portText, input, allowPortZero);
  else if (defaults.port !== undefined) port = defaults.port;
  else throw new AddressError(`missing port in "${input}"`);
  return { host, port };
}

/** The MQTT default port, used when an upstream is given without one. */
export const MQTT_PORT = 1883;

/**
 * How bytes reach mqtt-tap or the broker: plain TCP, TLS, WebSocket or WebSocket over TLS. The
 * MQTT byte stream inside is the same for all four.
 */
export type Transport = 'tcp' | 'tls' | 'ws' | 'wss';

/** A listener or upstream address with its transport; `path` is the HTTP path of ws/wss only. */
export interface TransportAddress extends HostPort {
  transport: Transport;
  /** ws/wss only: the request path (with its query, for an upstream), `/mqtt` when not given. */
  path?: string;
}

/** The path MQTT-over-WebSocket brokers and clients use unless told otherwise. */
export const DEFAULT_WS_PATH = '/mqtt';

const SCHEMES: Record<string, Transport> = {
  mqtt: 'tcp',
  tcp: 'tcp',
  mqtts: 'tls',
  ssl: 'tls',
  tls: 'tls',
  ws: 'ws',
  wss: 'wss',
};

/** Scheme used when an address is shown (`mqtts`, not `tls`: what clients and brokers call it). */
const CANONICAL_SCHEME: Record<Transport, string> = { tcp: 'mqtt', tls: 'mqtts', ws: 'ws', wss: 'wss' };

/** Ports implied by a scheme without one (IANA: 1883/8883 for MQTT; 80/443 as in any ws/wss URL). */
export const DEFAULT_PORTS: Record<Transport, number> = { tcp: MQTT_PORT, tls: 8883, ws: 80, wss: 443 };

export function isTlsTransport(t: Transport): boolean {
  return t === 'tls' || t === 'wss';
}

export function isWebSocketTransport(t: Transport): boolean {
  return t === 'ws' || t === 'wss';
}

/** What stands in for a query value wherever an address or request path is shown. */
export const REDACTED = '<redacted>';

/**
 * A URL or request path with the value of every query parameter replaced, keys kept
 * (`/mqtt?token=<redacted>&x=<redacted>`): presigned URLs and tokens ride in queries. An item
 * without `=` may itself be a token, so it is replaced whole; so is a fragment.
 */
export function redactQuery(url: string): string {
  const hash = url.indexOf('#');
  const end = hash === -1 ? url.length : hash;
  const fragment = hash === -1 ? '' : hash === url.length - 1 ? '#' : `#${REDACTED}`;
  const q = url.indexOf('?');
  if (q === -1 || q > end) return `${url.slice(0, end)}${fragment}`;
  const items = url
    .slice(q + 1, end)
    .split('&')
    .map((item) => {
      const eq = item.indexOf('=');
      if (eq === -1) return item === '' ? item : REDACTED;
      return eq === item.length - 1 ? item : `${item.slice(0, eq + 1)}${REDACTED}`;
    });
  return `${url.slice(0, q + 1)}${items.join('&')}${fragment}`;
}

/**
 * `host:port` for plain TCP (as logs always showed it), a URL for the others:
 * `mqtts://127.0.0.1:8883`, `wss://[::1]:443/mqtt`. Query values are redacted: this is the form
 * shown in records, comments and messages, never the one dialled.
 */
export function formatAddress(a: TransportAddress): string {
  const hostPort = formatHostPort(a);
  if (a.transport === 'tcp') return hostPort;
  const path = isWebSocketTransport(a.transport) ? redactQuery(a.path ?? DEFAULT_WS_PATH) : '';
  return `${CANONICAL_SCHEME[a.transport]}://${hostPort}${path}`;
}

/**
 * Splits `scheme://authority/path?query`; undefined when the text has no scheme. `input` is the
 * text as errors show it (query values redacted).
 */
function splitUrl(
  text: string,
  input: string,
): { transport: Transport; authority: string; path: string } | undefined {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(text);
  if (!scheme) return undefined;
  const name = scheme[1]!.toLowerCase();
  const transport = SCHEMES[name];
  if (transport === undefined) {
    throw new AddressError(
      `unsupported scheme "${name}://" in "${input}" (mqtt://, mqtts://, ws:// or wss://)`,
    );
  }
  const rest = text.slice(scheme[0].length);
  const cut = rest.search(/[/?#]/);
  const authority = cut === -1 ? rest : rest.slice(0, cut);
  const path = cut === -1 ? '' : rest.slice(cut);
  if (authority.includes('@')) {
    const shown = `${name}://${authority.slice(authority.lastIndexOf('@') + 1)}${redactQuery(path)}`;
    throw new AddressError(
      `no credentials in the address, please: "${shown}" (the client's CONNECT carries them)`,
    );
  }
  if (path.includes('#')) throw new AddressError(`a fragment (#) means nothing here: "${input}"`);
  return { transport, authority, path };
}

function withPath(
  base: HostPort,
  transport: Transport,
  path: string,
  input: string,
  allowQuery: boolean,
): TransportAddress {
  if (!isWebSocketTransport(transport)) {
    if (path.replace(/\/+$/, '') !== '') {
      throw new AddressError(`only ws:// and wss:// addresses have a path: "${input}"`);
    }
    return { host: base.host, port: base.port, transport };
  }
  let p = path === '' ? DEFAULT_WS_PATH : path;
  if (p.startsWith('?')) p = `${DEFAULT_WS_PATH}${p}`;
  if (!allowQuery && p.includes('?')) {
    throw new AddressError(`a listener path has no query: "${input}"`);
  }
  if (/\s/.test(p)) throw new AddressError(`spaces in the path: "${input}"`);
  return { host: base.host, port: base.port, transport, path: p };
}

/**
 * A listener as typed after `-l`: `[HOST:]PORT` (plain TCP, as before), or a URL
 * `mqtt://`, `mqtts://`, `ws://`, `wss://HOST[:PORT][/PATH]` (host default 127.0.0.1, port default
 * from the scheme, path default `/mqtt`). Port 0 asks the kernel for a free port.
 */
export function parseListen(typed: string): TransportAddress {
  const text = typed.trim();
  const input = redactQuery(typed);
  const url = splitUrl(text, input);
  if (url === undefined) return { ...parseHostPort(text, { host: '127.0.0.1' }, true), transport: 'tcp' };
  const hp = parseHostPort(
    url.authority === '' ? '127.0.0.1' : url.authority,
    { host: '127.0.0.1', port: DEFAULT_PORTS[url.transport] },
    true,
  );
  return withPath(hp, url.transport, url.path, input, false);
}

/**
 * An upstream broker: `HOST:PORT`, `HOST` (port 1883) or a URL `mqtt://`, `mqtts://`, `ws://`,
 * `wss://HOST[:PORT][/PATH[?QUERY]]` (port default from the scheme, path default `/mqtt`).
 */
export function parseUpstream(typed: string): TransportAddress {
  const text = typed.trim();
  const input = redactQuery(typed);
  const url = splitUrl(text, input);
  if (url !== undefined) {
    if (url.authority === '') throw new AddressError(`missing host in "${input}"`);
    const hp = parseHostPort(url.authority, { port: DEFAULT_PORTS[url.transport] });
    return withPath(hp, url.transport, url.path, input, true);
  }
  if (/^\d+$/.test(text))
    throw new AddressError(`upstream needs a host: "${input}" (e.g. 127.0.0.1:${text})`);
  return { ...parseHostPort(text, { port: MQTT_PORT }), transport: 'tcp' };
}
