/**
 * Capture memory shared by the framers of a process: the bytes frames spanning chunks keep beyond
 * their first CAPTURE_STEP (framer.ts). `--capture-max` bounds one frame; with many connections
 * each inside a large packet at once, only this bounds the total. A frame that cannot grow keeps
 * what it has and counts the rest, like one longer than `--capture-max` (`truncated`).
 */
export class CaptureBudget {
  private used = 0;
  /** Times a frame was refused more. */
  refusals = 0;

  /** `onFirstRefusal` runs once, when a frame is first refused (before that frame is emitted). */
  constructor(
    readonly limit: number,
    private readonly onFirstRefusal?: () => void,
  ) {}

  /** Bytes held now. */
  get inUse(): number {
    return this.used;
  }

  /** Takes `bytes` when they fit. */
  take(bytes: number): boolean {
    if (this.used + bytes > this.limit) {
      if (this.refusals++ === 0) this.onFirstRefusal?.();
      return false;
    }
    this.used += bytes;
    return true;
  }

  give(bytes: number): void {
    this.used -= bytes;
  }
}

/** The default budget for a `--capture-max`: 2 MiB, or room for four frames at that maximum. */
export function defaultCaptureBudget(captureCap: number): number {
  return Math.max(2 * 1024 * 1024, 4 * captureCap);
}
