/** The soak's table: what its bars say. */
import { describe, expect, it } from 'vitest';
import { rows, type Summary } from '../../scripts/soak/report.js';
import type { StallResult } from '../../scripts/soak/stall.js';
import { DEFAULT_LOG_BUFFER_BYTES } from '../../src/sinks/log-sink.js';

const window = (peakMB: number): StallResult['unstalled'] =>
  ({
    seconds: 60,
    rssStartMB: 100,
    rssEndMB: peakMB,
    peakMB,
    rate: 10_000,
    logBytes: 0,
  }) as StallResult['unstalled'];

function summary(logBufferMB: number): Summary {
  return {
    seed: 's',
    scale: 1,
    seconds: 1,
    inputs: { total: 0, clientViaScripted: 0, clientViaMosquitto: 0, brokerToClient: 0 },
    connections: { scripted: 0, mosquitto: 0, concurrent: 0 },
    outcomes: {},
    differences: 0,
    failures: [],
    mosquittoUnclean: 0,
    faults: { total: 0, byKind: {} },
    validSessions: { ok: 0, total: 0, refused: 0 },
    restarts: [],
    peakRssMB: {},
    stall: {
      targetRate: 10_000,
      unstalled: window(110),
      stalled: window(150),
      lost: 0,
      reordered: 0,
      drainSeconds: 1,
    } as StallResult,
    logBufferMB,
    log: {},
    logDropped: { reported: false, lines: 0, detail: '' },
    secrets: { found: 0, windows: 0, markersSent: 0, byWhere: {}, examples: [], scanned: [] },
    shutdown: {},
    cpuSeconds: {},
    unexpectedUpstreams: 0,
  };
}

describe('soak report', () => {
  it("the stalled-log bar names the log buffer it allows for: mqtt-tap's default, 32 MiB", () => {
    const row = rows(summary(DEFAULT_LOG_BUFFER_BYTES / 1024 / 1024)).find((r) =>
      r.what.startsWith('stalled stdout ('),
    )!;
    expect(row.bar).toBe('≤ log buffer (32 MB) + 32 MB = 64 MB');
    // Growth of 50 MB is within 32 + 32.
    expect(row.ok).toBe(true);
  });
});
