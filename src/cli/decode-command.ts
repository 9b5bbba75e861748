import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import type { ProtocolVersion } from '../protocol/constants.js';
import { decodeBuffer } from '../record/decode-buffer.js';
import { DEFAULT_RECORD_OPTIONS, PAYLOAD_MODES, type PayloadMode } from '../record/defaults.js';
import { looksLikeHexText, parseHex } from './hex-input.js';

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
    y
      .positional('hex', {
        type: 'string',
        array: true,
        default: [],
        describe:
          'hex bytes ("20 02 00 04", "0x20 0x02 ...", several packets per argument); none or - reads stdin',
      })
      .option('protocol', {
        // A string: yargs would otherwise read "5.0" as the number 5.
        type: 'string',
        choices: ['3.1', '3.1.1', '5.0'] as const,
        describe:
          'version to decode with until a CONNECT in the input says otherwise (default 5.0; packets that only make sense in 3.1.1, such as a 2-byte CONNACK, are read as 3.1.1)',
      })
      .option('payload', {
        choices: PAYLOAD_MODES,
        default: DEFAULT_RECORD_OPTIONS.payload,
        describe: 'payload preview encoding',
      })
      .option('payload-max', {
        type: 'number',
        default: DEFAULT_RECORD_OPTIONS.payloadMax,
        describe: 'bytes of payload shown in a preview',
      })
      .option('show-secrets', {
        type: 'boolean',
        default: DEFAULT_RECORD_OPTIONS.showSecrets,
        describe: 'show CONNECT passwords and AUTH data in clear',
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
      argv.protocol ?? '5.0',
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
