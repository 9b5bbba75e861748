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
 * An upstream broker: `HOST:PORT`, `HOST` (port 1883) or `mqtt://HOST[:PORT]`. Schemes the proxy
 * cannot dial yet (mqtts, ws, wss) are refused loudly rather than silently dialled in clear.
 */
export function parseUpstream(input: string): HostPort {
  const text = input.trim();
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(text);
  if (scheme) {
    const name = scheme[1]!.toLowerCase();
    if (name !== 'mqtt' && name !== 'tcp') {
      throw new AddressError(
        `unsupported upstream scheme "${name}://" in "${input}" (only mqtt:// and tcp://)`,
      );
    }
    const rest = text.slice(scheme[0].length).replace(/\/+$/, '');
    if (rest.includes('/') || rest.includes('@')) {
      throw new AddressError(`upstream must be mqtt://HOST[:PORT] without path or credentials: "${input}"`);
    }
    return parseHostPort(rest, { port: MQTT_PORT });
  }
  if (/^\d+$/.test(text))
    throw new AddressError(`upstream needs a host: "${input}" (e.g. 127.0.0.1:${text})`);
  return parseHostPort(text, { port: MQTT_PORT });
}
