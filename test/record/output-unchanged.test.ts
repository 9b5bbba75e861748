/**
 * Output unchanged: the golden traffic through the tap gives, byte for byte, the NDJSON log, the
 * pretty log and the `decode` records that the main branch wrote before the record model was
 * rebuilt (fixtures made at e2835d2). Only what differs per process is normalised: the HMAC tag of
 * a redacted secret (keyed per process) and the wall-clock time of pretty lines (time zone).
 *
 * After an intended change of output: UPDATE_GOLDEN=1 npx vitest run test/record/output-unchanged.test.ts
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_TAP_OPTIONS } from '../../src/observe/tap-options.js';
import { decodeBuffer } from '../../src/record/decode-buffer.js';
import { createLogSink } from '../../src/sinks/log-sink.js';
import { createCollectSink } from '../helpers/collect-sink.js';
import { decodeInputs, playGolden, T0 } from './golden-traffic.js';

const FIXTURES = join(import.meta.dirname, 'fixtures');
const UPDATE = process.env.UPDATE_GOLDEN === '1';

const normalise = (text: string): string => text.replace(/"hmac":"[0-9a-f]{16}"/g, '"hmac":"…"');

function golden(name: string, actual: string): void {
  const file = join(FIXTURES, name);
  if (UPDATE) writeFileSync(file, actual);
  const expected = readFileSync(file, 'utf8');
  // Line by line first, so that a failure names the first line that changed.
  const a = actual.split('\n');
  const e = expected.split('\n');
  for (let i = 0; i < Math.max(a.length, e.length); i++) expect(a[i], `${name} line ${i + 1}`).toBe(e[i]);
  expect(actual).toBe(expected);
}

describe('output unchanged: the golden traffic gives the main branch output byte for byte', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mqtt-tap-golden-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  let runs = 0;
  async function logOf(pretty: boolean): Promise<string> {
    const file = join(dir, `${++runs}.log`);
    const clock = { now: T0 };
    const sink = createLogSink({
      level: 'trace',
      destination: file,
      pretty,
      clock: () => Math.floor(clock.now),
    });
    playGolden(sink, clock);
    await sink.close();
    return readFileSync(file, 'utf8');
  }

  it('NDJSON log', async () => {
    const text = await logOf(false);
    expect(text.split('\n').length).toBeGreaterThan(400);
    golden('golden.ndjson', normalise(text));
  });

  it('pretty log', async () => {
    const text = (await logOf(true)).replace(/^\d\d:\d\d:\d\d\.\d{3} /gm, 'hh:mm:ss.mmm ');
    golden('golden-pretty.txt', text);
  });

  it('records and summaries handed to an in-memory sink are the NDJSON lines', async () => {
    const clock = { now: T0 };
    const sink = createCollectSink('trace');
    playGolden(sink, clock);
    const levels = { trace: 10, debug: 20, info: 30, warn: 40, error: 50 };
    const lines = sink.records.map(
      (r) => `${JSON.stringify({ level: levels[r.level], time: 0, ...r.record, msg: r.msg })}\n`,
    );
    const ndjson = (await logOf(false)).split('\n').slice(0, -1);
    expect(lines).toHaveLength(ndjson.length);
    for (const [i, line] of lines.entries()) {
      expect(normalise(line.replace('"time":0', `"time":${JSON.parse(ndjson[i]!).time}`)).trimEnd()).toBe(
        normalise(ndjson[i]!),
      );
    }
  });

  it('decode records', () => {
    let out = '';
    for (const input of decodeInputs()) {
      const { records, error } = decodeBuffer(input.bytes, input.version, DEFAULT_TAP_OPTIONS);
      out += `# ${input.name}\n`;
      for (const rec of records) out += `${JSON.stringify(rec)}\n`;
      if (error !== undefined) out += `error ${JSON.stringify(error)}\n`;
    }
    golden('golden-decode.ndjson', normalise(out));
  });
});
