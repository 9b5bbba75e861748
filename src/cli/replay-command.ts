import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import type { PayloadMode } from '../annotate/payload-preview.js';
import { DEFAULT_TAP_OPTIONS, type TapOptions } from '../proxy/tap-options.js';
import {
  createSummarySink,
  DEFAULT_MQTT_PORTS,
  type ReplayClock,
  type ReplayResult,
  replayCapture,
} from '../replay/replay.js';
import { createPinoSink, type PinoSink } from '../sinks/pino-logger.js';
import { LEVELS, type Level, type RecordSink } from '../sinks/sink.js';
import { UsageError, validateTopicFilter } from './proxy-command.js';

interface ReplayArgs {
  files: string[];
  port?: number[];
  summary: boolean;
  pretty?: boolean;
  captureMax: number;
  level: Level;
  clientId?: string;
  topic?: string;
  payload: PayloadMode;
  payloadMax: number;
  showSecrets: boolean;
  logFile?: string;
}

function describeResult(r: ReplayResult): string {
  const parts = [
    `${r.packets} packets`,
    `${r.mqttConnections} MQTT connection${r.mqttConnections === 1 ? '' : 's'}`,
  ];
  if (r.skippedConnections > 0) parts.push(`${r.skippedConnections} other TCP connections skipped`);
  if (r.gaps > 0) parts.push(`${r.gaps} gaps in streams`);
  if (r.warnings > 0) parts.push(`${r.warnings} capture warning${r.warnings === 1 ? '' : 's'}`);
  return parts.join(', ');
}

export const replayCommand: CommandModule<object, ReplayArgs> = {
  command: 'replay <files..>',
  describe:
    'Decode a capture (our --record pcapng, or any tcpdump/tshark pcap or pcapng of MQTT over TCP) into the records the proxy logs live',
  builder: (y: Argv) =>
    y
      .positional('files', {
        type: 'string',
        array: true,
        demandOption: true,
        describe: 'capture files, read in order as one (e.g. the parts of a rotated recording)',
      })
      .option('port', {
        type: 'number',
        array: true,
        coerce: (v: unknown[]) =>
          v.map((p) => {
            const n = Number(p);
            if (!Number.isInteger(n) || n < 1 || n > 65535)
              throw new UsageError(`--port ${String(p)}: not a TCP port`);
            return n;
          }),
        describe: `broker port(s) of MQTT connections (default ${DEFAULT_MQTT_PORTS.join(', ')}; our recordings say so themselves; otherwise a connection opening with a CONNECT is taken)`,
      })
      .option('summary', {
        type: 'boolean',
        default: false,
        describe: 'one line per connection: client id, duration, packets each way, last reason code, errors',
      })
      .option('pretty', {
        type: 'boolean',
        describe:
          'one coloured line per record instead of JSON (default: when stdout is a terminal and no --log-file)',
      })
      .option('level', {
        choices: LEVELS,
        default: 'info' as Level,
        describe: 'least severe records written',
      })
      .option('client-id', {
        type: 'string',
        describe: 'only packets of connections whose client id matches this glob (* and ?)',
      })
      .option('topic', {
        type: 'string',
        describe: 'only PUBLISH/SUBSCRIBE/UNSUBSCRIBE traffic matching this MQTT filter (+ and #)',
        coerce: (v: string) => validateTopicFilter(String(v)),
      })
      .option('payload', {
        choices: ['none', 'auto', 'text', 'hex', 'base64'] as const,
        default: 'auto' as const,
        describe: 'how PUBLISH payloads are previewed',
      })
      .option('payload-max', {
        type: 'number',
        default: 256,
        describe: 'bytes of payload shown in a preview',
      })
      .option('capture-max', {
        type: 'number',
        default: 65536,
        describe: 'bytes of one packet kept for decoding; the rest is counted',
      })
      .option('show-secrets', {
        type: 'boolean',
        default: false,
        describe: 'show passwords and AUTH data in clear (our recordings hold * in their place anyway)',
      })
      .option('log-file', {
        type: 'string',
        describe: 'write NDJSON records to this file (appended) instead of stdout',
        coerce: (v: string) => resolve(String(v)),
      })
      .example('$0 replay session.pcapng', 'the records of a recording, with their original times')
      .example('$0 replay --port 8883 --pretty capture.pcap', 'a tcpdump capture of a broker on port 8883')
      .example(
        '$0 replay --summary cap-0001.pcapng cap-0002.pcapng',
        'one line per connection',
      ) as unknown as Argv<ReplayArgs>,
  handler: async (argv: ArgumentsCamelCase<ReplayArgs>) => {
    const clock: ReplayClock = { ms: 0 };
    let pinoSink: PinoSink | undefined;
    let sink: RecordSink;
    if (argv.summary) {
      sink = createSummarySink((line) => process.stdout.write(`${line}\n`));
    } else {
      const tty = process.stdout.isTTY === true;
      const pretty = argv.pretty ?? (tty && argv.logFile === undefined);
      if (argv.logFile !== undefined) {
        // Fail plainly on an unwritable file rather than from an async stream later.
        mkdirSync(dirname(argv.logFile), { recursive: true });
        closeSync(openSync(argv.logFile, 'a'));
      }
      pinoSink = createPinoSink({
        level: argv.level,
        destination: argv.logFile ?? 'stdout',
        pretty,
        colorize: pretty && argv.logFile === undefined && tty && !process.env.NO_COLOR,
        // Records carry the capture's time, not the time of the replay.
        clock: () => clock.ms,
      });
      sink = pinoSink;
    }
    const tap: TapOptions = {
      ...DEFAULT_TAP_OPTIONS,
      captureCap: argv.captureMax,
      payload: argv.payload,
      payloadMax: argv.payloadMax,
      showSecrets: argv.showSecrets,
    };
    if (argv.clientId !== undefined) tap.clientId = argv.clientId;
    if (argv.topic !== undefined) tap.topic = argv.topic;
    try {
      const result = await replayCapture({
        files: argv.files.map(String),
        sink,
        tap,
        clock,
        ...(argv.port === undefined || argv.port.length === 0 ? {} : { ports: argv.port }),
      });
      process.stderr.write(`mqtt-tap replay: ${describeResult(result)}\n`);
      if (result.packets === 0 && result.warnings > 0) process.exitCode = 1;
    } catch (err) {
      process.stderr.write(`mqtt-tap replay: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    } finally {
      await pinoSink?.close();
    }
  },
};
