import { writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import type { ReplayClock, ReplayResult, SummarySink } from '../replay/replay.js';
import { createLogSink, type LogSink } from '../sinks/log-sink.js';
import type { RecordSink } from '../sinks/sink.js';
import {
  type LogArgs,
  prettyWanted,
  REPLAY_OPTIONS,
  type TapArgs,
  tapOptionsFrom,
  type UiArgs,
  uiToken,
  withOptions,
} from './options.js';
import { stderrLine } from './stderr-line.js';

interface ReplayArgs extends LogArgs, TapArgs, UiArgs {
  files: string[];
  port?: number[];
  summary: boolean;
  html?: string;
}

/** The hub that keeps every record of the capture (capped), and what serves or writes it. */
async function pageView() {
  const { UiHub, teeSink } = await import('../ui/hub.js');
  const { RecordKeeper } = await import('../ui/consumers.js');
  const { reportHtml } = await import('../ui/report.js');
  const { startUiServer } = await import('../ui/server.js');
  const hub = new UiHub({ clock: () => replayClock.ms, closedRows: Number.POSITIVE_INFINITY });
  const keeper = new RecordKeeper();
  hub.attach(keeper);
  return { hub, keeper, teeSink, reportHtml, startUiServer };
}

/** The capture's time, which the replay sets as it goes: records carry it, not the replay's. */
const replayClock: ReplayClock = { ms: 0 };

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
      .example('$0 replay --summary cap-0001.pcapng cap-0002.pcapng', 'one line per connection')
      .example('$0 replay session.pcapng --html report.html', 'a report to attach to a bug report')
      .example(
        '$0 replay session.pcapng --ui 8080',
        'browse the capture at http://127.0.0.1:8080/',
      ) as unknown as Argv<ReplayArgs>,
  handler: async (argv: ArgumentsCamelCase<ReplayArgs>) => {
    // Loaded when run, not when the CLI starts: the proxy command has no use for it.
    const { createSummarySink, replayCapture } = await import('../replay/replay.js');
    const clock = replayClock;
    let logSink: LogSink | undefined;
    let summary: SummarySink | undefined;
    let sink: RecordSink | undefined;
    // With --html or --ui the records go to the page; to stdout as well only when asked.
    const page = argv.html !== undefined || argv.ui !== undefined;
    if (argv.summary) {
      summary = createSummarySink((line) => process.stdout.write(`${line}\n`));
      sink = summary;
    } else if (!page || argv.logFile !== undefined) {
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
    const view = page ? await pageView() : undefined;
    if (view !== undefined) sink = sink === undefined ? view.hub : view.teeSink(sink, view.hub);
    const tap = tapOptionsFrom(argv);
    try {
      const result = await replayCapture({
        files: argv.files.map(String),
        sink: sink ?? view!.hub,
        tap,
        clock,
        // A capture is read no faster than its records are written: none is dropped.
        ...(logSink !== undefined ? { outputBacklog: logSink.whenRoom } : {}),
        ...(argv.port === undefined || argv.port.length === 0 ? {} : { ports: argv.port }),
      });
      summary?.end();
      process.stderr.write(`mqtt-tap replay: ${describeResult(result)}\n`);
      if (result.packets === 0 && result.warnings > 0) process.exitCode = 1;
      if (view !== undefined && argv.html !== undefined) {
        const html = view.reportHtml(
          view.hub,
          view.keeper,
          argv.files.map((f) => basename(String(f))).join(', '),
        );
        writeFileSync(argv.html, html, { mode: 0o600 });
        stderrLine(
          `mqtt-tap replay: report written to ${argv.html}${view.keeper.leftOut > 0 ? ` (${view.keeper.leftOut} records left out: the capture is larger than a report holds)` : ''}`,
        );
      }
      if (view !== undefined && argv.ui !== undefined) {
        await logSink?.flush();
        const token = uiToken(argv);
        const ui = await view.startUiServer({
          ...argv.ui,
          hub: view.hub,
          keeper: view.keeper,
          ...(token !== undefined ? { token } : {}),
        });
        stderrLine(`mqtt-tap replay: web view at ${ui.url} (Ctrl-C stops it)`);
        await new Promise<void>((done) => {
          process.once('SIGINT', () => done());
          process.once('SIGTERM', () => done());
        });
        await ui.close();
      }
    } catch (err) {
      process.stderr.write(`mqtt-tap replay: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    } finally {
      await logSink?.close();
    }
  },
};
