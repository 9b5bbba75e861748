/** --ui and --ui-token (proxy and replay): where the web view listens, and its token. */
import { randomBytes } from 'node:crypto';
import type { Argv } from 'yargs';
import { PAGE_QUEUE_RECORDS } from '../ui/consumers.js';
import { isLoopback } from '../ui/loopback.js';
import { lastValue, UsageError } from './common-options.js';

export const DEFAULT_UI_HOST = '127.0.0.1';

export interface UiArgs {
  ui?: { host: string; port: number };
  uiToken?: string;
  /** Records a page's queue holds between two sends (every 100 ms). */
  uiQueue: number;
}

/** `[HOST:]PORT`, HOST defaulting to loopback; `[::1]:8080` for IPv6. */
export function parseUiAddress(raw: string): { host: string; port: number } {
  const m = /^(?:(\[[^\]]+\]|[^:]+):)?(\d+)$/.exec(raw.trim());
  const port = Number(m?.[2]);
  if (m === null || !Number.isInteger(port) || port < 0 || port > 65535)
    throw new UsageError(`--ui "${raw}": expected [HOST:]PORT, e.g. 8080 or 0.0.0.0:8080`);
  return { host: (m[1] ?? DEFAULT_UI_HOST).replace(/^\[|\]$/g, ''), port };
}

export function uiOptions<T>(y: Argv<T>): Argv<T & UiArgs> {
  return y
    .option('ui', {
      type: 'string',
      describe: `serve the live web view on [HOST:]PORT (host ${DEFAULT_UI_HOST} unless given; beyond loopback it needs a token)`,
      coerce: (v: string | string[]) => parseUiAddress(String(lastValue(v))),
    })
    .option('ui-token', {
      type: 'string',
      describe:
        'the token the web view requires in its URL (?token=); generated when --ui listens beyond loopback and none is given',
      coerce: (v: string | string[]) => {
        const t = String(lastValue(v));
        if (t.length < 16) throw new UsageError('--ui-token: at least 16 characters');
        return t;
      },
    })
    .option('ui-queue', {
      type: 'number',
      default: PAGE_QUEUE_RECORDS,
      describe:
        'records held for each page between two sends (every 100 ms); what a slow page cannot take beyond it is counted as missed and shown on the page',
      coerce: (v: unknown) => {
        const n = Number(lastValue(v));
        if (!Number.isInteger(n) || n < 1 || n > 1_000_000)
          throw new UsageError(`--ui-queue: a whole number from 1 to 1000000, got "${String(v)}"`);
        return n;
      },
    }) as unknown as Argv<T & UiArgs>;
}

/** The token the web view requires: the one given, or a fresh one beyond loopback; none on loopback. */
export function uiToken(args: UiArgs): string | undefined {
  if (args.ui === undefined) return undefined;
  if (args.uiToken !== undefined) return args.uiToken;
  return isLoopback(args.ui.host) ? undefined : randomBytes(18).toString('base64url');
}
