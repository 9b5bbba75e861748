import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import type { ReplayClock, ReplayResult } from '../replay/replay.js';
import { createLogSink, type LogSink } from '../sinks/log-sink.js';
import type { RecordSink } from '../sinks/sink.js';
import {
  type LogArgs,
  prettyWanted,
  REPLAY_OPTIONS,
  type TapArgs,
  tapOptionsFrom,
  withOptions,
} from './options.js';

interface ReplayArgs extends LogArgs, TapArgs {
  files: string[];
  port?: number[];
  summary: boolean;
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
    withOptions<ReplayArgs>(y, REPLAY_OPTIONS)
      .positional('files', {
        type: 'string',
        array: true,
        demandOption: true,
        describe: 'capture files, read in order as one (e.g. the parts of a rotated recording)',
      })
      .example('$0 replay session.pcapng', 'the records of a recording, with their original times')
      .example('$0 replay --port 8883 --pretty capture.pcap', 'a tcpdump capture of a broker on port 8883')
      .example(
        '$0 replay --summary cap-0001.pcapng cap-0002.pcapng',
        'one line per connection',
      ) as unknown as Argv<ReplayArgs>,
  handler: async (argv: ArgumentsCamelCase<ReplayArgs>) => {
    // Loaded when run, not when the CLI starts: the proxy command has no use for it.
    const { createSummarySink, replayCapture } = await import('../replay/replay.js');
    const clock: ReplayClock = { ms: 0 };
    let logSink: LogSink | undefined;
    let sink: RecordSink;
    if (argv.summary) {
      sink = createSummarySink((line) => process.stdout.write(`${line}\n`));
    } else {
      const tty = process.stdout.isTTY === true;
      const pretty = prettyWanted(argv, tty);
      logSink = createLogSink({
        level: argv.level,
        destination: argv.logFile ?? 'stdout',
        pretty,
        colorize: pretty && argv.logFile === undefined && tty && !process.env.NO_COLOR,
        ...(argv.logBuffer !== undefined ? { bufferBytes: argv.logBuffer } : {}),
        // Records carry the capture's time, not the time of the replay.
        clock: () => clock.ms,
        onError: (err) => {
          // `replay … | head`: the reader has what it wanted; stop quietly, as a filter does.
          if ((err as NodeJS.ErrnoException).code === 'EPIPE') process.exit();
          process.stderr.write(`mqtt-tap replay: cannot write the records (${err.message})\n`);
          process.exitCode = 1;
        },
      });
      sink = logSink;
    }
    const tap = tapOptionsFrom(argv);
    try {
      const result = await replayCapture({
        files: argv.files.map(String),
        sink,
        tap,
        clock,
        // A capture is read no faster than its records are written: none is dropped.
        ...(logSink !== undefined ? { outputBacklog: logSink.whenRoom } : {}),
        ...(argv.port === undefined || argv.port.length === 0 ? {} : { ports: argv.port }),
      });
      process.stderr.write(`mqtt-tap replay: ${describeResult(result)}\n`);
      if (result.packets === 0 && result.warnings > 0) process.exitCode = 1;
    } catch (err) {
      process.stderr.write(`mqtt-tap replay: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    } finally {
      await logSink?.close();
    }
  },
};
