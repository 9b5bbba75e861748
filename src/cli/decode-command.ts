import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import type { ProtocolVersion } from '../protocol/constants.js';
import { DEFAULT_DECODE_PROTOCOL, decodeBuffer } from '../record/decode-buffer.js';
import type { PayloadMode } from '../record/defaults.js';
import { looksLikeHexText, parseHex } from './hex-input.js';
import { DECODE_OPTIONS, withOptions } from './options.js';

interface DecodeArgs {
  hex: string[];
  protocol?: ProtocolVersion;
  payload: PayloadMode;
  payloadMax: number;
  showSecrets: boolean;
}

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export const decodeCommand: CommandModule<object, DecodeArgs> = {
  command: 'decode [hex..]',
  describe: 'Decode MQTT packets given as hex (or - for stdin) and print one JSON record per packet',
  builder: (y: Argv) =>
    withOptions<DecodeArgs>(y, DECODE_OPTIONS)
      .positional('hex', {
        type: 'string',
        array: true,
        default: [],
        describe:
          'hex bytes ("20 02 00 04", "0x20 0x02 ...", several packets per argument); none or - reads stdin',
      })
      .example('$0 decode 20 02 00 04', 'a 3.1.1 CONNACK: return code 4, bad user name or password')
      .example('$0 decode --protocol 5.0 "20 03 00 86 00"', 'a 5.0 CONNACK: 0x86 Bad User Name or Password')
      .example(
        'xxd -p capture.bin | $0 decode -',
        'decode a hex dump from stdin',
      ) as unknown as Argv<DecodeArgs>,
  handler: async (argv: ArgumentsCamelCase<DecodeArgs>) => {
    const parts: Buffer[] = [];
    // yargs drops a lone "-" from positionals, so "-" and no argument both mean stdin.
    const args = argv.hex.length === 0 ? ['-'] : argv.hex;
    if (args.includes('-') && process.stdin.isTTY) {
      process.stderr.write('mqtt-tap decode: give hex bytes as arguments, or pipe them to stdin\n');
      process.exitCode = 1;
      return;
    }
    try {
      for (const arg of args) {
        if (arg === '-') {
          const data = await readStdin();
          parts.push(looksLikeHexText(data) ? parseHex(data.toString('latin1')) : data);
        } else {
          parts.push(parseHex(String(arg)));
        }
      }
    } catch (err) {
      process.stderr.write(`mqtt-tap decode: ${(err as Error).message}\n`);
      process.exitCode = 1;
      return;
    }
    const bytes = Buffer.concat(parts);
    const { records, error } = decodeBuffer(
      bytes,
      argv.protocol ?? DEFAULT_DECODE_PROTOCOL,
      { payload: argv.payload, payloadMax: argv.payloadMax, showSecrets: argv.showSecrets },
      argv.protocol === undefined,
    );
    for (const rec of records) process.stdout.write(`${JSON.stringify(rec)}\n`);
    if (bytes.length === 0) {
      process.stderr.write('mqtt-tap decode: no bytes to decode\n');
      process.exitCode = 1;
    } else if (error !== undefined) {
      const where = error.hex ? ` (at offset ${error.offset}: ${error.hex})` : '';
      const label =
        error.kind === 'not-mqtt'
          ? 'not MQTT'
          : error.kind === 'truncated'
            ? 'incomplete packet'
            : 'malformed';
      process.stderr.write(`mqtt-tap decode: ${label}: ${error.detail}${where}\n`);
      process.exitCode = 1;
    }
  },
};
