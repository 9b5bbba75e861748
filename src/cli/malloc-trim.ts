/**
 * Keeps freed socket read buffers in the process for reuse instead of handing them back to the
 * kernel after every garbage collection.
 *
 * glibc gives the top of its heap back (brk) whenever more than M_TRIM_THRESHOLD, 128 KiB by
 * default, is free there, and V8 frees the 64 KiB buffers of socket reads a collection at a time.
 * In `npm run bench` scenario C (1 MiB messages) mqtt-tap's heap top went down and up again by
 * about 32 MiB every thousand reads (1,679-1,896 brk calls where the relay made 175-471), and its
 * system time was 0.66-0.69 s against the relay's 0.46-0.53: the same pages faulted in again and
 * again.
 *
 * glibc raises the threshold itself when a block it had to map on its own is freed: to twice that
 * block's size, for blocks of up to 32 MiB (mallopt(3), M_MMAP_THRESHOLD, "dynamic threshold").
 * So one 31 MiB buffer, never touched and let go at once, sets it to 62 MiB when V8 collects it:
 * 328 brk calls in the same C round, system time as the relay's. The cost is one mmap and one
 * munmap, and up to 62 MiB of freed memory that may stay with the process after a burst (scenario
 * F's peak RSS growth: 38.4-43.9 MB in three runs after, 38.8-40.1 before); musl and other
 * allocators ignore it.
 */
const BLOCK_BYTES = 31 * 1024 * 1024;

export function raiseMallocTrimThreshold(): void {
  Buffer.allocUnsafeSlow(BLOCK_BYTES);
}
