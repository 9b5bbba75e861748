/**
 * The --summary totals: close records counted by verdict cause with their top client ids,
 * takeovers and flapping ids; the wrapping sink builds what it counts whatever the log's level.
 */
import { describe, expect, it } from 'vitest';
import {
  NO_VERDICT,
  SUMMARY_IDS_PER_CAUSE,
  summarizing,
  VerdictSummary,
} from '../../src/sinks/verdict-summary.js';
import { createCollectSink } from '../helpers/collect-sink.js';

const close = (clientId: string | undefined, cause?: string) => ({
  event: 'close',
  conn: 'c1',
  ...(clientId === undefined ? {} : { clientId }),
  ...(cause === undefined ? {} : { verdict: { cause, detail: 'x', evidence: [] } }),
});

describe('verdict summary', () => {
  it('counts causes, most first, with the top three client ids of each', () => {
    const s = new VerdictSummary();
    for (const id of ['a', 'a', 'b', 'c', 'd', 'a']) s.add(close(id, 'CLIENT_DISCONNECT'));
    s.add(close('dup', 'SESSION_TAKEN_OVER'));
    s.add(close('dup', 'SESSION_TAKEN_OVER'));
    s.add(close(undefined, 'CONNECTION_REFUSED'));
    s.add(close('old'));
    s.add({ event: 'takeover', conn: 'c2', clientId: 'dup' });
    s.add({ event: 'takeover', conn: 'c3', clientId: 'dup' });
    s.add({ event: 'flapping', clientId: 'dup' });
    s.add({ event: 'packet', conn: 'c1' });
    expect(s.lines()).toEqual([
      'verdicts of 10 closed connections:',
      '  CLIENT_DISCONNECT   6  "a" 3, "b" 1, "c" 1',
      '  SESSION_TAKEN_OVER  2  "dup" 2',
      '  CONNECTION_REFUSED  1  (no client id) 1',
      `  ${NO_VERDICT.padEnd(18)}  1  "old" 1`,
      'takeovers 2; flapping client ids: "dup"',
    ]);
  });

  it('nothing closed yet', () => {
    expect(new VerdictSummary().lines()).toEqual([
      'verdicts of 0 closed connections:',
      'takeovers 0; flapping client ids: none',
    ]);
  });

  it('client ids are bounded per cause; the rest are counted together', () => {
    const s = new VerdictSummary();
    for (let i = 0; i < SUMMARY_IDS_PER_CAUSE + 5; i++) s.add(close(`id-${i}`, 'CLIENT_GONE'));
    s.add(close('id-0', 'CLIENT_GONE'));
    const [, line] = s.lines();
    expect(line).toBe(
      `  CLIENT_GONE  ${SUMMARY_IDS_PER_CAUSE + 6}  "id-0" 2, "id-1" 1, "id-10" 1, other ids 5`,
    );
  });

  it('the wrapping sink counts close records the log level leaves out, and writes only what the log wants', () => {
    const log = createCollectSink('error');
    const s = new VerdictSummary();
    const sink = summarizing(log, s);
    expect(sink.isLevelEnabled('info')).toBe(true);
    expect(sink.isLevelEnabled('debug')).toBe(false);
    sink.write('info', close('a', 'CLIENT_DISCONNECT'), 'close');
    sink.write('error', { event: 'upstream-error', conn: 'c1' }, 'cannot reach');
    expect(log.records.map((r) => r.record.event)).toEqual(['upstream-error']);
    expect(s.lines()[1]).toBe('  CLIENT_DISCONNECT  1  "a" 1');
  });
});
