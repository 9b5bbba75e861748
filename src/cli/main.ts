/** Entry point: `mqtt-tap [proxy options]` and its sub-commands. */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { AddressError } from '../proxy/address.js';
import { decodeCommand } from './decode-command.js';
import { envVar, UsageError } from './options.js';
import { proxyCommand } from './proxy-command.js';
import { replayCommand } from './replay-command.js';
import { rulesCommand } from './rules-command.js';
import { stderrLine } from './stderr-line.js';

/** Our package.json, found upwards from this file (src/cli in tests, dist/src/cli when built). */
function packageVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    try {
      const pkg: unknown = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
      if (
        typeof pkg === 'object' &&
        pkg !== null &&
        'name' in pkg &&
        pkg.name === 'mqtt-tap' &&
        'version' in pkg
      ) {
        return String(pkg.version);
      }
    } catch {
      // not here; look one level up
    }
    dir = dirname(dir);
  }
  return 'unknown';
}

/** Says which MQTT_TAP_* variable an unknown argument came from, since the user never typed it. */
function explain(message: string): string {
  const unknown = /^Unknown arguments?: (.+)$/.exec(message);
  if (!unknown) return message;
  const fromEnv = unknown[1]!
    .split(', ')
    .map(envVar)
    .filter((v) => process.env[v] !== undefined);
  return fromEnv.length > 0 ? `${message} (from environment: ${fromEnv.join(', ')})` : message;
}

process.on('uncaughtException', (err) => {
  // A bug, not a network event: say so plainly and stop rather than forward in an unknown state.
  stderrLine(`mqtt-tap: internal error: ${err.stack ?? err.message}`);
  process.exit(70);
});

await yargs(hideBin(process.argv))
  .scriptName('mqtt-tap')
  .usage(
    '$0 [options]\n\nA transparent MQTT proxy for debugging: clients connect to mqtt-tap instead of the broker;\n' +
      'every byte is forwarded unchanged and every packet is logged with its reason codes explained.',
  )
  .command(proxyCommand)
  .command(decodeCommand)
  .command(replayCommand)
  .command(rulesCommand)
  .strict()
  .version(packageVersion())
  .alias('version', 'V')
  .help()
  .alias('help', 'h')
  .wrap(Math.min(110, process.stdout.columns ?? 110))
  .fail((message: string | undefined, err: Error | undefined) => {
    // yargs wraps errors thrown by `coerce` (bad flag values) in a YError: those are usage errors.
    const usage =
      err === undefined || err.name === 'YError' || err instanceof UsageError || err instanceof AddressError;
    if (err && !usage) {
      // Startup failures (port taken, broker binary broken): not a usage problem.
      console.error(`mqtt-tap: ${err.message}`);
      process.exit(1);
    }
    message = err?.message ?? message;
    console.error(`mqtt-tap: ${explain(message ?? 'invalid arguments')}`);
    console.error('Run "mqtt-tap --help" for usage.');
    process.exit(2);
  })
  .parseAsync();
