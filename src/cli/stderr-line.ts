/** Messages for the operator on stderr that never hold mqtt-tap up. */
import { writeSync } from 'node:fs';
import { isatty } from 'node:tty';
import { reopenNonBlocking } from '../sinks/log-destination.js';

let terminal: number | undefined;
let prepared = false;

/**
 * Writes `text` and a line end to stderr. On a terminal that takes no more (paused with Ctrl-S)
 * the line is lost rather than the process stalled; a broken stderr pipe is ignored.
 */
export function stderrLine(text: string): void {
  if (!prepared) {
    prepared = true;
    if (isatty(2)) terminal = reopenNonBlocking(2);
    // Nobody is left to tell: without a listener a broken pipe would crash the process.
    else process.stderr.on('error', () => {});
  }
  const line = `${text}\n`;
  if (terminal === undefined) {
    process.stderr.write(line);
    return;
  }
  try {
    writeSync(terminal, line);
  } catch {
    // EAGAIN: the terminal is paused.
  }
}
