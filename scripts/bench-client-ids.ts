/**
 * The client id registry under hostile ids: what one connection costs (CONNECT claim, CONNACK
 * settle, close release) and what the registry holds after many distinct ids.
 *
 *   npm run build && node dist/scripts/bench-client-ids.js [-- --ids 1000000]
 *
 * (a) `--ids` connections one after another, each with a new 64-character client id (an attacker
 *     cycling ids): ns per connection, heap after, ids kept (at most DEFAULT_CLIENT_IDS_MAX);
 * (b) the same number of connections over 100 ids, each taking over the one before (flapping):
 *     ns per connection, flapping events;
 * (c) the worst case of memory: DEFAULT_CLIENT_IDS_MAX idle ids, each with MAX_FLAPPING_COUNT
 *     takeovers kept (a rule of 20/1h): heap.
 */
import { performance } from 'node:perf_hooks';
import {
  ClientIdRegistry,
  DEFAULT_CLIENT_IDS_MAX,
  type IdHolder,
  MAX_FLAPPING_COUNT,
} from '../src/observe/client-ids.js';

const arg = process.argv.indexOf('--ids');
const N = arg === -1 ? 1_000_000 : Number(process.argv[arg + 1]);

function holder(n: number, at: number): IdHolder {
  return { conn: `c${n}`, address: '10.0.0.1', port: 40000 + (n % 20000), username: 'u', openedAt: at };
}

function heapMiB(): number {
  globalThis.gc?.();
  return process.memoryUsage().heapUsed / 1024 / 1024;
}

const before = heapMiB();
const ids = new ClientIdRegistry();
let t0 = performance.now();
for (let i = 0; i < N; i++) {
  const h = holder(i, i);
  const claim = ids.claim(h, '127.0.0.1:1883', `attacker-${String(i).padStart(55, '0')}`, i);
  if (claim !== undefined) ids.settle(claim, true);
  ids.release(h, claim, { closedAt: i + 1, clean: true });
}
const distinctNs = ((performance.now() - t0) * 1e6) / N;
const after = heapMiB();
console.log(
  `(a) ${N} connections, distinct ids: ${distinctNs.toFixed(0)} ns/connection; kept ${JSON.stringify(ids.stats())} (cap ${DEFAULT_CLIENT_IDS_MAX}); heap ${before.toFixed(1)} → ${after.toFixed(1)} MiB${globalThis.gc === undefined ? ' (run with --expose-gc for exact heap)' : ''}`,
);

const flappy = new ClientIdRegistry();
let flaps = 0;
const open: (IdHolder | undefined)[] = new Array(100);
t0 = performance.now();
for (let i = 0; i < N; i++) {
  const slot = i % 100;
  const h = holder(i, i);
  const claim = flappy.claim(h, '127.0.0.1:1883', `dev-${slot}`, i * 10);
  if (claim !== undefined && flappy.settle(claim, true).flapping !== undefined) flaps++;
  const old = open[slot];
  if (old !== undefined) flappy.release(old, undefined, { closedAt: i * 10, clean: true });
  open[slot] = h;
}
const flapNs = ((performance.now() - t0) * 1e6) / N;
console.log(
  `(b) ${N} connections over 100 ids, each a takeover: ${flapNs.toFixed(0)} ns/connection; ${flaps} flapping events; kept ${JSON.stringify(flappy.stats())}`,
);

const heapBefore = heapMiB();
const worst = new ClientIdRegistry({ count: MAX_FLAPPING_COUNT, windowMs: 3_600_000 });
let n = 0;
for (let id = 0; id < DEFAULT_CLIENT_IDS_MAX; id++) {
  const clientId = `worst-${String(id).padStart(58, '0')}`;
  let previous: { h: IdHolder; claim: ReturnType<ClientIdRegistry['claim']> } | undefined;
  for (let k = 0; k <= MAX_FLAPPING_COUNT; k++) {
    const h = holder(n++, n);
    const claim = worst.claim(h, '127.0.0.1:1883', clientId, n);
    if (claim !== undefined) worst.settle(claim, true);
    if (previous !== undefined) worst.release(previous.h, previous.claim, { closedAt: n, clean: true });
    previous = { h, claim };
  }
  worst.release(previous!.h, previous!.claim, { closedAt: n, clean: true });
}
console.log(
  `(c) ${DEFAULT_CLIENT_IDS_MAX} idle ids with ${MAX_FLAPPING_COUNT} takeovers each: kept ${JSON.stringify(worst.stats())}; heap ${heapBefore.toFixed(1)} → ${heapMiB().toFixed(1)} MiB`,
);
