/**
 * The Grafana dashboard (deploy/grafana/mqtt-tap.json), offline: it parses, every panel queries
 * Prometheus, every metric its PromQL selects is one mqtt-tap exports, and every query is valid
 * PromQL for promtool (Grafana's $__rate_interval, $__range and $instance filled in). Grafana itself
 * is not packaged for Debian 12: the queries run against a live Prometheus in
 * test/e2e/prometheus.test.ts.
 */
import { execFileSync } from 'node:child_process';
import { accessSync, constants as fsConstants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PacketMetrics } from '../../src/sinks/packet-metrics.js';
import { createMetricsRegistry } from '../../src/sinks/prometheus.js';
import { dashboard, dashboardQueries, selectedMetrics } from '../helpers/grafana-dashboard.js';

describe('deploy/grafana/mqtt-tap.json', () => {
  it('parses, with panels on the Prometheus data source and an instance variable', () => {
    expect(dashboard.title).toBe('mqtt-tap');
    expect(dashboard.panels.length).toBeGreaterThanOrEqual(8);
    expect(dashboard.templating.list.map((v) => v.name)).toEqual(['datasource', 'instance']);
    for (const p of dashboard.panels) {
      expect(p.datasource, p.title).toEqual({ type: 'prometheus', uid: `\${datasource}` });
      expect(p.targets.length, p.title).toBeGreaterThan(0);
    }
    const titles = dashboard.panels.map((p) => p.title);
    expect(titles).toEqual(
      expect.arrayContaining([
        'Reason codes',
        'Response latency p50 / p95 / p99',
        'Open connections',
        'Close verdicts',
      ]),
    );
  });

  it('every query selects only metrics mqtt-tap exports', () => {
    const registry = createMetricsRegistry(new PacketMetrics({ topicDepth: 1 }));
    const exported = new Set(registry.names().flatMap((n) => [n, `${n}_bucket`, `${n}_sum`, `${n}_count`]));
    for (const q of dashboardQueries()) {
      const names = selectedMetrics(q.expr);
      expect(names.length, `${q.panel} ${q.refId}`).toBeGreaterThan(0);
      for (const name of names) expect(exported.has(name), `${q.panel} ${q.refId}: ${name}`).toBe(true);
    }
  });

  const promtool = ((): boolean => {
    try {
      accessSync('/usr/bin/promtool', fsConstants.X_OK);
      return true;
    } catch {
      return false;
    }
  })();

  it.skipIf(!promtool)('every query is valid PromQL (promtool check rules)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mqtt-tap-grafana-'));
    try {
      const rules = dashboardQueries().map(
        (q, i) => `      - record: dashboard:query_${i}\n        expr: ${JSON.stringify(q.expr)}`,
      );
      const file = join(dir, 'rules.yml');
      writeFileSync(file, `groups:\n  - name: dashboard\n    rules:\n${rules.join('\n')}\n`);
      const out = execFileSync('/usr/bin/promtool', ['check', 'rules', file], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      expect(out).toMatch(new RegExp(`SUCCESS: ${rules.length} rules found`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
