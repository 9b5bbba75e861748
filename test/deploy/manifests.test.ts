/**
 * The deployment samples under deploy/, checked offline: every Kubernetes object against the API
 * schema (kubernetes-models), and what the docs promise of them: probes on /healthz and /readyz,
 * non-root, resources, configuration only through MQTT_TAP_* variables that are real flags with
 * values the CLI accepts, Services and the ServiceMonitor pointing at ports that exist. The HAProxy
 * and Prometheus samples go through `haproxy -c` and `promtool check config`; the log shipper
 * samples are parsed and their labels checked (no Fluent Bit or Vector binary here).
 */
import { execFileSync } from 'node:child_process';
import { accessSync, constants as fsConstants, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Service } from 'kubernetes-models/v1/Service';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import yargs, { type Argv } from 'yargs';
import { proxyCommand } from '../../src/cli/proxy-command.js';
import { HAPROXY_BIN, requireHaproxy } from '../helpers/haproxy.js';

const ROOT = join(import.meta.dirname, '../..');
const DEPLOY = join(ROOT, 'deploy');
/** Port of --metrics in the samples, where /healthz and /readyz are served too. */
const METRICS_PORT = 9464;

type Obj = Record<string, unknown>;
interface K8sObject {
  file: string;
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [key: string]: unknown;
}

function files(dir: string, ext: RegExp): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name), ext) : ext.test(e.name) ? [join(dir, e.name)] : [],
  );
}

function yamlDocs(file: string): unknown[] {
  return parseAllDocuments(readFileSync(file, 'utf8')).map((doc) => {
    if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors.map((e) => e.message).join('; ')}`);
    return doc.toJS() as unknown;
  });
}

const k8sFiles = files(join(DEPLOY, 'kubernetes'), /\.ya?ml$/).filter(
  (f) => !f.endsWith('kustomization.yaml'),
);
const objects: K8sObject[] = k8sFiles.flatMap((file) =>
  yamlDocs(file).map((doc) => ({ ...(doc as Obj), file: relative(DEPLOY, file) }) as K8sObject),
);
const byKind = (kind: string): K8sObject[] => objects.filter((o) => o.kind === kind);
const at = (o: unknown, ...path: (string | number)[]): unknown =>
  path.reduce<unknown>((v, k) => (v === null || typeof v !== 'object' ? undefined : (v as Obj)[k]), o);

/** The proxy command's options, as the CLI defines them (`--log-file` is `log-file`). */
function proxyFlags(): Set<string> {
  const y = (proxyCommand.builder as (y: Argv) => Argv)(yargs([]));
  const options = (y as unknown as { getOptions(): { key: Record<string, unknown> } }).getOptions();
  return new Set(Object.keys(options.key));
}

/** Runs the proxy command's parser (coercions, choices, checks) over `env` as MQTT_TAP_* variables. */
function parseEnv(env: Record<string, string>): Obj {
  const saved = { ...process.env };
  try {
    for (const k of Object.keys(process.env)) if (k.startsWith('MQTT_TAP_')) delete process.env[k];
    Object.assign(process.env, env);
    const y = (proxyCommand.builder as (y: Argv) => Argv)(yargs([]))
      .strict()
      .exitProcess(false)
      .fail((msg, err) => {
        throw err ?? new Error(msg);
      });
    return y.parseSync() as Obj;
  } finally {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
  }
}

const toFlag = (variable: string): string =>
  variable
    .replace(/^MQTT_TAP_/, '')
    .toLowerCase()
    .replace(/_/g, '-');

interface Container {
  name: string;
  image: string;
  ports?: { name: string; containerPort: number }[];
  env?: { name: string; value?: string }[];
  envFrom?: { configMapRef?: { name: string } }[];
  livenessProbe?: Obj;
  readinessProbe?: Obj;
  resources?: { requests?: Obj; limits?: Obj };
  securityContext?: Obj;
}

function podSpec(d: K8sObject): Obj {
  return at(d, 'spec', 'template', 'spec') as Obj;
}

/** The mqtt-tap containers of every workload, with their pod spec. */
function tapContainers(): { workload: K8sObject; pod: Obj; container: Container }[] {
  return byKind('Deployment').flatMap((workload) => {
    const pod = podSpec(workload);
    return (pod.containers as Container[])
      .filter((c) => c.image.startsWith('mqtt-tap'))
      .map((container) => ({ workload, pod, container }));
  });
}

/** The MQTT_TAP_* configuration a container gets: its ConfigMaps, then its own env. */
function tapEnv(container: Container): Record<string, string> {
  const env: Record<string, string> = {};
  for (const source of container.envFrom ?? []) {
    const name = source.configMapRef?.name;
    const cm = byKind('ConfigMap').find((c) => c.metadata.name === name);
    expect(cm, `ConfigMap ${name}`).toBeDefined();
    Object.assign(env, cm!.data as Record<string, string>);
  }
  for (const e of container.env ?? []) if (e.value !== undefined) env[e.name] = e.value;
  return env;
}

describe('deploy/kubernetes', () => {
  it('every object is valid against the Kubernetes API schema', () => {
    const models: Record<string, new (data: never) => { validate(): void }> = {
      Deployment,
      Service,
      ConfigMap,
      PodDisruptionBudget,
      ServiceMonitor,
    };
    expect(objects.length).toBeGreaterThanOrEqual(8);
    for (const o of objects) {
      const Model = models[o.kind];
      expect(Model, `${o.file}: a ${o.kind} has no schema check here`).toBeDefined();
      const { file: _file, ...data } = o;
      expect(
        () => new Model!(data as never).validate(),
        `${o.file} ${o.kind}/${o.metadata.name}`,
      ).not.toThrow();
    }
  });

  it('kustomization.yaml lists files that exist', () => {
    const k = yamlDocs(join(DEPLOY, 'kubernetes/kustomization.yaml'))[0] as { resources: string[] };
    for (const r of k.resources) expect(() => accessSync(join(DEPLOY, 'kubernetes', r))).not.toThrow();
    expect(k.resources).toEqual(
      expect.arrayContaining(['deployment.yaml', 'service.yaml', 'servicemonitor.yaml']),
    );
  });

  it('the Deployment runs N replicas, and the sidecar variant runs mqtt-tap beside a broker', () => {
    const main = byKind('Deployment').find((d) => d.metadata.name === 'mqtt-tap');
    expect(at(main, 'spec', 'replicas')).toBeGreaterThanOrEqual(2);
    const sidecar = byKind('Deployment').find((d) => d.file.startsWith('kubernetes/sidecar/'));
    const names = (podSpec(sidecar!).containers as Container[]).map((c) => c.name);
    expect(names).toEqual(expect.arrayContaining(['mosquitto', 'mqtt-tap']));
  });

  it('probes: liveness on /healthz, readiness on /readyz, on the metrics port', () => {
    for (const { workload, container } of tapContainers()) {
      const metrics = container.ports?.find((p) => p.name === 'metrics');
      expect(metrics?.containerPort, workload.file).toBe(METRICS_PORT);
      expect(container.livenessProbe, workload.file).toMatchObject({
        httpGet: { path: '/healthz', port: 'metrics' },
      });
      expect(container.readinessProbe, workload.file).toMatchObject({
        httpGet: { path: '/readyz', port: 'metrics' },
      });
    }
  });

  it('non-root, no privilege escalation, read-only root, no capabilities', () => {
    for (const { workload, pod, container } of tapContainers()) {
      const podSc = (pod.securityContext ?? {}) as Obj;
      const sc = { ...podSc, ...container.securityContext };
      expect(sc.runAsNonRoot, workload.file).toBe(true);
      expect(sc.runAsUser, workload.file).toBeGreaterThan(0);
      expect(sc).toMatchObject({
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        capabilities: { drop: ['ALL'] },
      });
    }
  });

  it('resources: CPU and memory requested, memory limited', () => {
    for (const { workload, container } of tapContainers()) {
      expect(container.resources?.requests, workload.file).toMatchObject({
        cpu: expect.any(String),
        memory: expect.any(String),
      });
      expect(container.resources?.limits?.memory, workload.file).toEqual(expect.any(String));
    }
  });

  it('configuration: MQTT_TAP_* variables only, each a real flag, values the CLI accepts', () => {
    const flags = proxyFlags();
    expect(flags.has('accept-proxy-protocol')).toBe(true);
    for (const { workload, container } of tapContainers()) {
      const env = tapEnv(container);
      expect(Object.keys(env).length, workload.file).toBeGreaterThan(3);
      for (const name of Object.keys(env)) {
        expect(name, workload.file).toMatch(/^MQTT_TAP_[A-Z0-9_]+$/);
        const flag = toFlag(name);
        expect(flags.has(flag), `${workload.file}: ${name} is no flag`).toBe(true);
      }
      // The CLI's own parser: coercions, choices and checks.
      const argv = parseEnv(env);
      const listen = (argv.listen as { host: string; port: number }[])[0]!;
      expect(listen.host, 'listens beyond the pod').toBe('0.0.0.0');
      expect(container.ports?.find((p) => p.name === 'mqtt')?.containerPort).toBe(listen.port);
      expect(argv.upstream, 'a broker is named (no embedded one in a container)').toBeDefined();
      expect(argv.pretty).toBe(false);
      expect(env.MQTT_TAP_METRICS).toBe(`0.0.0.0:${METRICS_PORT}`);
      expect(argv.metrics).toEqual({ host: '0.0.0.0', port: METRICS_PORT });
    }
  });

  it('Services select the pods and target ports that exist; the ServiceMonitor finds a metrics port', () => {
    for (const svc of byKind('Service')) {
      const selector = at(svc, 'spec', 'selector') as Record<string, string>;
      const pods = byKind('Deployment').filter((d) =>
        Object.entries(selector).every(([k, v]) => at(d, 'spec', 'template', 'metadata', 'labels', k) === v),
      );
      expect(pods.length, `${svc.file} ${svc.metadata.name} selects no pods`).toBeGreaterThan(0);
      const portNames = pods.flatMap((d) =>
        (podSpec(d).containers as Container[]).flatMap((c) => (c.ports ?? []).map((p) => p.name)),
      );
      for (const p of at(svc, 'spec', 'ports') as { targetPort: string }[]) {
        expect(portNames, `${svc.metadata.name} → ${p.targetPort}`).toContain(p.targetPort);
      }
    }
    const [monitor] = byKind('ServiceMonitor');
    const selector = at(monitor, 'spec', 'selector', 'matchLabels') as Record<string, string>;
    const scraped = byKind('Service').filter((s) =>
      Object.entries(selector).every(([k, v]) => s.metadata.labels?.[k] === v),
    );
    const endpointPorts = (at(monitor, 'spec', 'endpoints') as { port: string }[]).map((e) => e.port);
    // Exactly one selected Service offers each endpoint port: every pod is scraped once.
    for (const port of endpointPorts) {
      const offering = scraped.filter((s) =>
        (at(s, 'spec', 'ports') as { name: string }[]).some((p) => p.name === port),
      );
      expect(
        offering.map((s) => s.metadata.name),
        port,
      ).toHaveLength(1);
    }
  });

  it('scrape annotations name the metrics port', () => {
    for (const { workload } of tapContainers()) {
      expect(at(workload, 'spec', 'template', 'metadata', 'annotations')).toMatchObject({
        'prometheus.io/scrape': 'true',
        'prometheus.io/port': String(METRICS_PORT),
        'prometheus.io/path': '/metrics',
      });
    }
  });

  it('the Dockerfile exposes the ports the containers declare', () => {
    const exposed = new Set(
      [...readFileSync(join(ROOT, 'Dockerfile'), 'utf8').matchAll(/^EXPOSE\s+(.+)$/gm)].flatMap((m) =>
        m[1]!.trim().split(/\s+/).map(Number),
      ),
    );
    for (const { container } of tapContainers()) {
      for (const p of container.ports ?? [])
        expect(exposed, `${p.name} ${p.containerPort}`).toContain(p.containerPort);
    }
  });
});

describe('deploy/: HAProxy, Prometheus, log shippers', () => {
  it.skipIf(!requireHaproxy())(
    'haproxy.cfg is valid for HAProxy (haproxy -c) and sends PROXY v2, by client id',
    () => {
      const file = join(DEPLOY, 'haproxy/haproxy.cfg');
      const out = execFileSync(HAPROXY_BIN, ['-c', '-f', file], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      expect(out).toMatch(/Configuration file is valid/);
      const text = readFileSync(file, 'utf8');
      expect(text).toMatch(/send-proxy-v2/);
      expect(text).toMatch(/stick on req\.payload\(0,0\),mqtt_field_value\(connect,client_identifier\)/);
    },
  );

  const promtool = ((): boolean => {
    try {
      accessSync('/usr/bin/promtool', fsConstants.X_OK);
      return true;
    } catch {
      return false;
    }
  })();

  it.skipIf(!promtool)('prometheus.yml passes promtool check config', () => {
    const out = execFileSync(
      '/usr/bin/promtool',
      ['check', 'config', join(DEPLOY, 'prometheus/prometheus.yml')],
      {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    expect(out).toMatch(/SUCCESS/);
  });

  it('the Kubernetes scrape job keeps annotated mqtt-tap pods and scrapes their annotated port', () => {
    const doc = yamlDocs(join(DEPLOY, 'prometheus/kubernetes-pods.yml'))[0] as {
      scrape_configs: { job_name: string; relabel_configs: Obj[] }[];
    };
    const job = doc.scrape_configs[0]!;
    const sources = job.relabel_configs.map((r) => (r.source_labels as string[]).join(','));
    expect(sources).toEqual(
      expect.arrayContaining([
        '__meta_kubernetes_pod_annotation_prometheus_io_scrape',
        '__meta_kubernetes_pod_ip,__meta_kubernetes_pod_annotation_prometheus_io_port',
      ]),
    );
  });

  it('Fluent Bit and Vector label by event, type and reason code, and read the records as JSON', () => {
    const fluentBit = yamlDocs(join(DEPLOY, 'fluent-bit/fluent-bit.yaml'))[0] as {
      pipeline: { filters: Obj[]; outputs: Obj[] };
    };
    const loki = fluentBit.pipeline.outputs.find((o) => o.name === 'loki')!;
    expect(String(loki.labels)).toMatch(/event=\$event, type=\$type, reason_code=\$reason\['code'\]/);
    expect(fluentBit.pipeline.outputs.map((o) => o.name)).toContain('es');
    expect(['on', true]).toContain(
      fluentBit.pipeline.filters.find((f) => f.name === 'kubernetes')?.merge_log,
    );

    const vector = yamlDocs(join(DEPLOY, 'vector/vector.yaml'))[0] as {
      transforms: Record<string, { source: string }>;
      sinks: Record<string, Obj>;
    };
    expect(vector.sinks.loki!.labels).toMatchObject({
      event: '{{ loki_event }}',
      type: '{{ loki_type }}',
      reason_code: '{{ loki_reason_code }}',
    });
    expect(vector.sinks.elasticsearch).toBeDefined();
    const source = vector.transforms.mqtt_tap_records!.source;
    expect(source).toMatch(/parse_json\(\.message\)/);
    expect(source).toMatch(/\.reason\.code/);
  });
});
