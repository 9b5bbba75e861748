#!/usr/bin/env node
import { setFlagsFromString } from 'node:v8';

// V8's young generation stays at its initial 1 MiB semi-spaces instead of growing to 16 MiB each:
// with many connections that is resident memory the proxy does not need. Set before the modules
// load, which would grow it; the factor is read at each growth decision (--max-semi-space-size is
// read only at start, so it cannot be set from here).
setFlagsFromString('--semi-space-growth-factor=1');
// The old generation may grow to 1.5 times what survived the last full collection before the next
// one, instead of up to 4 times: garbage of bursts otherwise stays resident until the heap is 4
// times its live size. Read at each collection.
setFlagsFromString('--heap-growing-percent=50');
await import('../dist/src/cli/main.js');
