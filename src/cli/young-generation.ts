/**
 * Keeps V8's young generation at its initial size (1 MiB semi-spaces) instead of letting it grow to
 * 16 MiB each: with many connections, the two semi-spaces are resident memory the proxy never
 * needs, since the per-chunk path allocates little. The flag is read at each growth decision, so
 * setting it once the process runs takes effect (unlike --max-semi-space-size).
 */
import { setFlagsFromString } from 'node:v8';

export function keepYoungGenerationSmall(): void {
  setFlagsFromString('--semi-space-growth-factor=1');
}
