/**
 * Which web pages may open a WebSocket to mqtt-tap. Browsers send the page's Origin with every
 * WebSocket handshake and a page cannot change it; other clients usually send none. Without an
 * allow-list, a handshake that carries an Origin is refused, so that no web page the operator
 * visits can reach the broker through a listener on loopback or the local network.
 */

/** An allow-list entry that admits every origin. */
export const ANY_ORIGIN = '*';

/** The longest origin shown in a record; the header is the client's text. */
const SHOWN_MAX = 256;

/**
 * An origin as compared: `scheme://host[:port]` in lower case, the default port dropped, no path;
 * `null` (sandboxed pages, file://) as is. Throws on anything else.
 */
export function normalizeOrigin(text: string): string {
  const t = text.trim();
  if (t === ANY_ORIGIN || t.toLowerCase() === 'null') return t.toLowerCase();
  let url: URL;
  try {
    url = new URL(t);
  } catch {
    throw new Error(`"${t}" is not an origin (scheme://host[:port], e.g. http://localhost:3000)`);
  }
  if (url.origin === 'null' || (url.pathname !== '/' && url.pathname !== '') || url.search || url.hash) {
    throw new Error(`"${t}" is not an origin (scheme://host[:port], without a path)`);
  }
  return url.origin;
}

/** Whether a handshake with this Origin header (undefined: none sent) is admitted. */
export function originAllowed(origin: string | undefined, allowed: readonly string[]): boolean {
  if (origin === undefined) return true;
  if (allowed.includes(ANY_ORIGIN)) return true;
  let normal: string;
  try {
    normal = normalizeOrigin(origin);
  } catch {
    return false;
  }
  return allowed.includes(normal);
}

/** The Origin header as a record shows it. */
export function shownOrigin(origin: string): string {
  return origin.length > SHOWN_MAX ? `${origin.slice(0, SHOWN_MAX)}…` : origin;
}
