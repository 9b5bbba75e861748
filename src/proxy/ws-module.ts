/**
 * The ws library, loaded on first use: a proxy with no WebSocket listener or upstream never loads
 * it (1.3 MB of heap). What a process loads stays in its heap, and past 8 MB of old generation V8
 * answered the garbage of socket reads with mark-compact collections instead of scavenges
 * (README, Performance).
 */
import { createRequire } from 'node:module';

type Ws = typeof import('ws');

let loaded: Ws | undefined;

export function wsModule(): Ws {
  loaded ??= createRequire(import.meta.url)('ws') as Ws;
  return loaded;
}
