// The monitoring objects refer to what the agent really exposes: every metric and label used by an
// alert or a dashboard panel is registered by the agent's own metric code.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { promArbiterMetrics } from '../../../packages/controller/src/arbiter/metrics.js';
import { AgentMetrics } from '../../../packages/controller/src/observability/metrics.js';
import { chartDir, cleanupHelm, type Manifest, one, render } from './support/helm.js';

interface MetricInfo {
  type: string;
  labels: Set<string>;
}

/** Metric name -> type and label names, from the agent's registries (series names included). */
async function agentMetrics(): Promise<Map<string, MetricInfo>> {
  const agent = new AgentMetrics({ defaultMetrics: false });
  const arbiterRegistry = new Registry();
  promArbiterMetrics(arbiterRegistry);
  const found = new Map<string, MetricInfo>();
  for (const registry of [agent.registry, arbiterRegistry]) {
    for (const { name } of registry.getMetricsAsArray()) {
      const metric = registry.getSingleMetric(name);
      if (!metric) continue;
      const labels = new Set((metric as unknown as { labelNames: string[] }).labelNames ?? []);
      const type = String((await metric.get()).type);
      found.set(name, { type, labels });
      if (type === 'histogram') {
        found.set(`${name}_bucket`, { type, labels: new Set([...labels, 'le']) });
        found.set(`${name}_sum`, { type, labels });
        found.set(`${name}_count`, { type, labels });
      }
    }
  }
  return found;
}

// Labels Prometheus adds to every scraped series (target labels), plus the chart's relabeling.
const TARGET_LABELS = new Set(['instance', 'job', 'namespace', 'pod', 'container', 'endpoint', 'service']);

interface Query {
  where: string;
  expr: string;
}

/** Problems of one PromQL query against the agent's metrics. */
function checkQuery({ where, expr }: Query, metrics: Map<string, MetricInfo>): string[] {
  const problems: string[] = [];
  const used = [...expr.matchAll(/\b(probegate_[a-z_]+)\b/g)].map((m) => m[1] as string);
  if (used.length === 0) problems.push(`${where}: uses no probegate metric`);
  const known = new Set<string>(TARGET_LABELS);
  for (const name of used) {
    const info = metrics.get(name);
    if (!info) problems.push(`${where}: ${name} is not exposed by the agent`);
    for (const label of info?.labels ?? []) known.add(label);
    if (info && /\b(rate|increase)\(\s*$/.test(expr.slice(0, expr.indexOf(name))) && info.type === 'gauge') {
      problems.push(`${where}: rate/increase of the gauge ${name}`);
    }
  }
  const labelsUsed = [
    ...[...expr.matchAll(/\bby \(([^)]*)\)/g)].flatMap((m) => (m[1] ?? '').split(',')),
    ...[...expr.matchAll(/\{([^}]*)\}/g)].flatMap((m) =>
      (m[1] ?? '').split(',').map((matcher) => matcher.split(/[=!~]/)[0] ?? ''),
    ),
  ]
    .map((label) => label.trim())
    .filter(Boolean);
  for (const label of labelsUsed) {
    if (!known.has(label)) problems.push(`${where}: label ${label} is on none of ${used.join(', ')}`);
  }
  let depth = 0;
  for (const char of expr.replaceAll(/"[^"]*"/g, '')) {
    depth += char === '(' ? 1 : char === ')' ? -1 : 0;
    if (depth < 0) break;
  }
  if (depth !== 0) problems.push(`${where}: unbalanced parentheses`);
  return problems;
}

type Rule = { alert?: string; expr: string; for?: string; labels?: Record<string, string> };
type Panel = {
  id: number;
  title: string;
  type: string;
  datasource?: { uid: string };
  targets?: Array<{ expr: string; refId: string }>;
};

let manifests: Manifest[];
let metrics: Map<string, MetricInfo>;
const dashboardFile = readFileSync(join(chartDir, 'dashboards/probegate.json'), 'utf8');
const dashboard = JSON.parse(dashboardFile) as {
  uid: string;
  panels: Panel[];
  templating: { list: unknown[] };
};

beforeAll(async () => {
  manifests = await render([join(chartDir, 'ci/monitoring-values.yaml')]);
  metrics = await agentMetrics();
});
afterAll(cleanupHelm);

function rules(): Rule[] {
  const rule = one(manifests, 'PrometheusRule') as Manifest & { spec: { groups: Array<{ rules: Rule[] }> } };
  return rule.spec.groups.flatMap((group) => group.rules);
}

describe('PrometheusRule', () => {
  it('alerts on no active member, two active members, arbiter unreachable and flapping', () => {
    expect(rules().map((r) => r.alert)).toEqual(
      expect.arrayContaining([
        'ProbegateNoActiveMember',
        'ProbegateTwoActiveMembers',
        'ProbegateArbiterUnreachable',
        'ProbegateFlapping',
      ]),
    );
    for (const rule of rules()) expect(rule.labels?.severity).toMatch(/^(critical|warning)$/);
  });

  it('uses only metrics and labels the agent exposes', () => {
    const problems = rules().flatMap((rule) =>
      checkQuery({ where: `alert ${rule.alert}`, expr: rule.expr }, metrics),
    );
    expect(problems).toEqual([]);
  });

  it('takes the flapping threshold and window from values', () => {
    const flapping = rules().find((rule) => rule.alert === 'ProbegateFlapping');
    expect(flapping?.expr).toContain('[30m]');
    expect(flapping?.expr).toMatch(/> 6$/);
  });

  it('the query check catches a metric or label the agent does not have', () => {
    expect(checkQuery({ where: 'x', expr: 'sum by (pair) (probegate_pair_roles) == 0' }, metrics)).toEqual([
      'x: probegate_pair_roles is not exposed by the agent',
      'x: label pair is on none of probegate_pair_roles',
    ]);
    expect(checkQuery({ where: 'y', expr: 'max by (zone) (probegate_gate_open)' }, metrics)).toEqual([
      'y: label zone is on none of probegate_gate_open',
    ]);
  });
});

describe('Grafana dashboard', () => {
  it('is shipped in a ConfigMap with the sidecar label, unchanged', () => {
    const configMap = one(manifests, 'ConfigMap') as Manifest & { data: Record<string, string> };
    expect(configMap.metadata.labels?.grafana_dashboard).toBe('1');
    expect(configMap.metadata.namespace).toBe('monitoring');
    expect(JSON.parse(configMap.data['probegate.json'] ?? '')).toEqual(dashboard);
  });

  it('has the role timeline, transitions, reconcile latency and probe packet panels', () => {
    const queries = dashboard.panels.flatMap((panel) => (panel.targets ?? []).map((t) => t.expr)).join('\n');
    expect(dashboard.panels.find((p) => p.title === 'Role timeline')?.type).toBe('state-timeline');
    expect(queries).toContain('probegate_pair_role');
    expect(queries).toContain('probegate_transitions_total');
    expect(queries).toContain('probegate_reconcile_duration_seconds_bucket');
    expect(queries).toMatch(/sum by \(pair, verdict\) \(rate\(probegate_probe_packets_total/);
  });

  it('queries only metrics and labels the agent exposes, through the selectable data source', () => {
    const problems = dashboard.panels.flatMap((panel) =>
      (panel.targets ?? []).flatMap((target) =>
        checkQuery({ where: `panel ${panel.title} ${target.refId}`, expr: target.expr }, metrics),
      ),
    );
    expect(problems).toEqual([]);
    // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax, not a JS template
    for (const panel of dashboard.panels) expect(panel.datasource?.uid).toBe('${datasource}');
    const ids = dashboard.panels.map((panel) => panel.id);
    expect(new Set(ids).size).toBe(ids.length);
  });
});

describe('scrape configuration', () => {
  it('the ServiceMonitor selects the metrics Service and its port', () => {
    const monitor = one(manifests, 'ServiceMonitor') as Manifest & {
      spec: { selector: { matchLabels: Record<string, string> }; endpoints: Array<{ port: string }> };
    };
    const service = one(manifests, 'Service') as Manifest & { spec: { ports: Array<{ name: string }> } };
    expect(service.metadata.labels).toMatchObject(monitor.spec.selector.matchLabels);
    expect(service.spec.ports.map((p) => p.name)).toContain(monitor.spec.endpoints[0]?.port);
    expect(monitor.metadata.labels?.release).toBe('kube-prometheus-stack');
  });

  it('the PodMonitor selects the agent pods and their metrics port', () => {
    const monitor = one(manifests, 'PodMonitor') as Manifest & {
      spec: {
        selector: { matchLabels: Record<string, string> };
        podMetricsEndpoints: Array<{ port: string }>;
      };
    };
    const daemonSet = one(manifests, 'DaemonSet') as Manifest & {
      spec: {
        template: {
          metadata: { labels: Record<string, string> };
          spec: { containers: Array<{ ports: Array<{ name: string }> }> };
        };
      };
    };
    expect(daemonSet.spec.template.metadata.labels).toMatchObject(monitor.spec.selector.matchLabels);
    expect(daemonSet.spec.template.spec.containers[0]?.ports.map((p) => p.name)).toContain(
      monitor.spec.podMetricsEndpoints[0]?.port,
    );
  });
});
