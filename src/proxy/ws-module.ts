/**
 * The ws library, loaded on first use: a proxy with no WebSocket listener or upstream never loads
 * it, since what a process loads stays in its heap and a larger old generation makes V8 collect
 * socket-read garbage with mark-compacts (docs/performance.md).
 */
import { createRequire } from 'node:module';

type Ws = typeof import('ws');

let loaded: Ws | undefined;

export function wsModule(): Ws {
  loaded ??= createRequire(import.meta.url)('ws') as Ws;
  return loaded;
}
