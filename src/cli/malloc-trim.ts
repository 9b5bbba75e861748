/**
 * Keeps freed socket read buffers in the process instead of glibc handing the top of its heap back
 * to the kernel after each collection: freeing one large unused block raises glibc's trim
 * threshold to twice its size (mallopt(3), dynamic M_MMAP_THRESHOLD). Other allocators ignore it.
 */
const BLOCK_BYTES = 31 * 1024 * 1024;

export function raiseMallocTrimThreshold(): void {
  Buffer.allocUnsafeSlow(BLOCK_BYTES);
}
