/** The Grafana dashboard of deploy/grafana and its queries, for the tests that check them. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const FILE = join(import.meta.dirname, '../../deploy/grafana/mqtt-tap.json');

interface Target {
  refId: string;
  expr: string;
  legendFormat?: string;
}
interface Panel {
  id: number;
  title: string;
  type: string;
  datasource: { type: string; uid: string };
  targets: Target[];
  gridPos: { x: number; y: number; w: number; h: number };
}

export const dashboard = JSON.parse(readFileSync(FILE, 'utf8')) as {
  title: string;
  uid: string;
  panels: Panel[];
  templating: { list: { name: string; query: unknown }[] };
};

/** Every query of the dashboard, with Grafana's variables given plain values. */
export function dashboardQueries(): { panel: string; refId: string; expr: string }[] {
  return dashboard.panels.flatMap((p) =>
    p.targets.map((t) => ({
      panel: p.title,
      refId: t.refId,
      expr: t.expr
        .replaceAll('$__rate_interval', '1m')
        .replaceAll('$__range', '1h')
        .replaceAll('$instance', '.*'),
    })),
  );
}

/** The metric names a PromQL expression selects (`name{...}`). */
export function selectedMetrics(expr: string): string[] {
  return [...expr.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{/g)].map((m) => m[1]!);
}
