#!/usr/bin/env node
import { setFlagsFromString } from 'node:v8';

// V8's young generation stays at its initial 1 MiB semi-spaces instead of growing to 16 MiB each:
// with many connections that is resident memory the proxy does not need. Set before the modules
// load, which would grow it; the factor is read at each growth decision (--max-semi-space-size is
// read only at start, so it cannot be set from here).
setFlagsFromString('--semi-space-growth-factor=1');
// The old generation grows by at most 20% over what survived a full collection (V8 picks up to
// 4x for a small, busy heap): garbage of a burst, promoted buffers included, is collected before
// it doubles the heap. Read at each collection.
setFlagsFromString('--heap-growing-percent=20');
await import('../dist/src/cli/main.js');
