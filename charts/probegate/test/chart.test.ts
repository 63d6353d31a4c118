import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { resolveConsulConnection } from '../../../packages/controller/src/arbiter/consul-config.js';
import { AGENT_FLAGS } from '../../../packages/controller/src/cli/agent-command.js';
import { parseCommand } from '../../../packages/controller/src/cli/options.js';
import { failoverPairCrd } from '../../../packages/controller/src/kube/crd.js';
import { AGENT_PERMISSIONS } from '../../../packages/controller/src/kube/permissions.js';
import {
  chartDir,
  cleanupHelm,
  helm,
  type Manifest,
  NAMESPACE,
  one,
  only,
  parseManifests,
  render,
  renderNotes,
  valuesFile,
} from './support/helm.js';
import { validateManifest } from './support/kubernetes-schemas.js';

const ciDir = join(chartDir, 'ci');
const valueSets = readdirSync(ciDir)
  .filter((name) => name.endsWith('-values.yaml'))
  .sort();
const ci = (name: string) => join(ciDir, name);

interface Container {
  name: string;
  args?: string[];
  env?: Array<{ name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } }>;
  securityContext?: Record<string, unknown> & { capabilities?: { add?: string[]; drop?: string[] } };
  volumeMounts?: Array<{ name: string; mountPath: string; readOnly?: boolean }>;
  livenessProbe?: { httpGet?: { path: string; port: string | number } };
  readinessProbe?: { httpGet?: { path: string; port: string | number } };
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  ports?: Array<{ name: string; containerPort: number }>;
}
interface PodSpec {
  hostNetwork?: boolean;
  dnsPolicy?: string;
  priorityClassName?: string;
  nodeSelector?: Record<string, string>;
  tolerations?: unknown[];
  affinity?: unknown;
  containers: Container[];
  volumes?: Array<{
    name: string;
    hostPath?: { path: string; type?: string };
    secret?: { secretName: string };
  }>;
}

function podSpec(manifests: Manifest[]): PodSpec {
  const daemonSet = one(manifests, 'DaemonSet') as Manifest & { spec: { template: { spec: PodSpec } } };
  return daemonSet.spec.template.spec;
}

function agent(manifests: Manifest[]): Container {
  const container = podSpec(manifests).containers.find((c) => c.name === 'agent');
  if (!container) throw new Error('no agent container rendered');
  return container;
}

function env(container: Container): Map<string, string> {
  return new Map(
    (container.env ?? []).map((entry) => [
      entry.name,
      entry.value ?? `fieldRef:${entry.valueFrom?.fieldRef?.fieldPath}`,
    ]),
  );
}

type Rule = { apiGroups: string[]; resources: string[]; verbs: string[] };

/** The (group, resource, verb) triples a Role or ClusterRole grants. */
function grants(role: Manifest): string[] {
  return ((role.rules as Rule[]) ?? [])
    .flatMap((rule) =>
      rule.apiGroups.flatMap((group) =>
        rule.resources.flatMap((resource) => rule.verbs.map((verb) => `${group}|${resource}|${verb}`)),
      ),
    )
    .sort();
}

const agentCalls = AGENT_PERMISSIONS.map((p) => `${p.apiGroup}|${p.resource}|${p.verb}`).sort();

afterAll(cleanupHelm);

describe('helm lint', () => {
  it.each(['(defaults)', ...valueSets])('passes --strict with %s', async (set) => {
    const files = set === '(defaults)' ? [] : ['-f', ci(set)];
    const result = await helm(['lint', chartDir, '--strict', ...files]);
    expect(result.exitCode, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toContain('0 chart(s) failed');
  });
});

describe('rendered manifests', () => {
  it.each(['(defaults)', ...valueSets])(
    'are each valid against the Kubernetes schema of their kind, with %s',
    async (set) => {
      const manifests = await render(set === '(defaults)' ? [] : [ci(set)]);
      expect(manifests.length).toBeGreaterThanOrEqual(6);
      const problems = (await Promise.all(manifests.map(validateManifest))).flat();
      expect(problems).toEqual([]);
    },
  );

  it('the validation refuses a broken manifest (typo, wrong type, missing field)', async () => {
    const [daemonSet] = only(await render(), 'DaemonSet');
    const broken = structuredClone(daemonSet) as Manifest & { spec: { template: { spec: PodSpec } } };
    const container = broken.spec.template.spec.containers[0] as Container & Record<string, unknown>;
    container.imagePullPolcy = 'Always';
    (container.ports as unknown as Array<Record<string, unknown>>)[0] = {
      name: 'metrics',
      containerPort: 'x',
    };
    const problems = await validateManifest(broken);
    expect(problems.join('\n')).toMatch(/unknown field .*imagePullPolcy/);
    expect(problems.join('\n')).toMatch(/containerPort must be integer/);
    const service = structuredClone(one(await render(), 'Service')) as Manifest & {
      spec: Record<string, unknown>;
    };
    delete (service.spec.ports as Array<Record<string, unknown>>)[0]?.port;
    expect((await validateManifest(service)).join('\n')).toMatch(/port/);
  });

  it('the defaults render the CRD, ServiceAccount, RBAC, metrics Service and DaemonSet, no monitoring CRs', async () => {
    const kinds = (await render()).map((m) => m.kind).sort();
    expect(kinds).toEqual([
      'ClusterRole',
      'ClusterRoleBinding',
      'CustomResourceDefinition',
      'DaemonSet',
      'Service',
      'ServiceAccount',
    ]);
  });

  it('the CRD shipped with the chart is the one generated from core', async () => {
    const crd = one(await render(), 'CustomResourceDefinition');
    expect(crd).toEqual(failoverPairCrd());
  });
});

describe('DaemonSet for AKS node pools', () => {
  let manifests: Manifest[];
  beforeAll(async () => {
    manifests = await render();
  });

  it('runs on the host network with cluster DNS', () => {
    expect(podSpec(manifests).hostNetwork).toBe(true);
    expect(podSpec(manifests).dnsPolicy).toBe('ClusterFirstWithHostNet');
  });

  it('holds only NET_ADMIN and NET_RAW, unprivileged, read-only root filesystem', () => {
    const security = agent(manifests).securityContext;
    expect(security?.capabilities).toEqual({ drop: ['ALL'], add: ['NET_ADMIN', 'NET_RAW'] });
    expect(security?.privileged).toBe(false);
    expect(security?.allowPrivilegeEscalation).toBe(false);
    expect(security?.readOnlyRootFilesystem).toBe(true);
  });

  it("mounts the node's xtables lock", () => {
    const volume = podSpec(manifests).volumes?.find((v) => v.hostPath?.path === '/run/xtables.lock');
    expect(volume?.hostPath?.type).toBe('FileOrCreate');
    const mount = agent(manifests).volumeMounts?.find((m) => m.name === volume?.name);
    expect(mount?.mountPath).toBe('/run/xtables.lock');
  });

  it('takes the node name and IP from the downward API and starts `probegate agent` in Kubernetes mode', () => {
    const vars = env(agent(manifests));
    expect(vars.get('PROBEGATE_NODE_NAME')).toBe('fieldRef:spec.nodeName');
    expect(vars.get('PROBEGATE_NODE_IP')).toBe('fieldRef:status.hostIP');
    expect(vars.has('PROBEGATE_PAIRS_FILE')).toBe(false);
    expect(vars.get('CONSUL_HTTP_ADDR')).toBe('$(PROBEGATE_NODE_IP):8500');
    expect(agent(manifests).args).toEqual(['agent']);
  });

  it('probes /healthz and /readyz on the metrics port and sets resources', () => {
    const container = agent(manifests);
    expect(container.livenessProbe?.httpGet).toEqual({ path: '/healthz', port: 'metrics' });
    expect(container.readinessProbe?.httpGet).toEqual({ path: '/readyz', port: 'metrics' });
    expect(container.ports).toEqual([{ name: 'metrics', containerPort: 9402, protocol: 'TCP' }]);
    expect(container.resources?.requests).toMatchObject({
      cpu: expect.any(String),
      memory: expect.any(String),
    });
    expect(container.resources?.limits?.memory).toBeDefined();
  });

  it('rolls one node at a time with system-node-critical priority', () => {
    const daemonSet = one(manifests, 'DaemonSet') as Manifest & { spec: { updateStrategy: unknown } };
    expect(daemonSet.spec.updateStrategy).toEqual({
      type: 'RollingUpdate',
      rollingUpdate: { maxUnavailable: 1 },
    });
    expect(podSpec(manifests).priorityClassName).toBe('system-node-critical');
  });

  it('takes nodeSelector, tolerations, affinity and a watched namespace from values', async () => {
    const custom = await render([ci('tolerations-values.yaml')]);
    const spec = podSpec(custom);
    expect(spec.nodeSelector).toEqual({
      'kubernetes.io/os': 'linux',
      'kubernetes.azure.com/agentpool': 'web',
    });
    expect(spec.tolerations).toHaveLength(2);
    expect(spec.affinity).toHaveProperty('nodeAffinity');
    expect(spec.priorityClassName).toBeUndefined();
    const vars = env(agent(custom));
    expect(vars.get('PROBEGATE_WATCH_NAMESPACE')).toBe('web');
    expect(vars.get('PROBEGATE_METRICS_PORT')).toBe('9502');
    expect(agent(custom).args).toEqual(['agent', '--log-level=debug']);
    expect(
      (one(custom, 'DaemonSet').spec as { template: { spec: { containers: Array<{ image: string }> } } })
        .template.spec.containers[0]?.image,
    ).toBe(
      'myregistry.azurecr.io/probegate@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef',
    );
  });
});

describe('Consul settings', () => {
  it('reads the address, TLS CA and ACL token from values and Secrets, the token as a file', async () => {
    const manifests = await render([ci('consul-tls-values.yaml')]);
    const container = agent(manifests);
    const vars = env(container);
    expect(vars.get('CONSUL_HTTP_ADDR')).toBe('https://consul-server.consul.svc:8501');
    expect(vars.get('CONSUL_HTTP_SSL')).toBe('true');
    expect(vars.get('CONSUL_TLS_SERVER_NAME')).toBe('server.dc1.consul');
    expect(vars.get('CONSUL_CACERT')).toBe('/etc/probegate/consul-ca/tls.crt');
    expect(vars.get('CONSUL_HTTP_TOKEN_FILE')).toBe('/etc/probegate/consul-token/token');
    expect(vars.has('CONSUL_HTTP_TOKEN')).toBe(false);
    const volumes = podSpec(manifests).volumes ?? [];
    expect(volumes.map((v) => v.secret?.secretName).filter(Boolean)).toEqual([
      'consul-ca-cert',
      'probegate-consul-token',
    ]);
    for (const name of ['consul-ca', 'consul-token']) {
      expect(container.volumeMounts?.find((m) => m.name === name)?.readOnly).toBe(true);
    }
  });

  it("defaults to the node's Consul agent on 8501 when only TLS is on", async () => {
    const manifests = await render([valuesFile({ consul: { tls: { enabled: true } } })]);
    expect(env(agent(manifests)).get('CONSUL_HTTP_ADDR')).toBe('$(PROBEGATE_NODE_IP):8501');
  });
});

describe("the agent's command line", () => {
  /** The container's environment as the kubelet builds it: downward API filled in, $(VAR) expanded. */
  function kubeletEnv(container: Container): Record<string, string> {
    const downward: Record<string, string> = { 'spec.nodeName': 'aks-web-0', 'status.hostIP': '10.240.0.4' };
    const env: Record<string, string> = {};
    for (const entry of container.env ?? []) {
      const field = entry.valueFrom?.fieldRef?.fieldPath;
      env[entry.name] = field
        ? (downward[field] ?? '')
        : (entry.value ?? '').replaceAll(/\$\(([A-Z_]+)\)/g, (_all, name: string) => env[name] ?? '');
    }
    return env;
  }

  it.each(['(defaults)', ...valueSets])(
    'the CLI parses the DaemonSet args and env with %s (flags and variables it knows)',
    async (set) => {
      const container = agent(await render(set === '(defaults)' ? [] : [ci(set)]));
      const [command, ...argv] = container.args ?? [];
      expect(command).toBe('agent');
      const env = kubeletEnv(container);
      const { values } = parseCommand(argv, AGENT_FLAGS, env);
      expect(values.node).toBe('aks-web-0');
      expect(values['node-ip']).toBe('10.240.0.4');
      expect(values['pairs-file']).toBeUndefined();
      expect(values['metrics-port']).toBe(String(container.ports?.[0]?.containerPort));
      expect(['auto', 'iptables-nft', 'iptables-legacy', 'nftables']).toContain(values.backend);
      // Files (CA, token) live in the pod; the address and scheme are what the chart decides.
      const { CONSUL_CACERT: _ca, CONSUL_HTTP_TOKEN_FILE: _token, ...withoutFiles } = env;
      const address = resolveConsulConnection({}, withoutFiles).address;
      expect(address).toMatch(
        set === 'consul-tls-values.yaml' ? /^https:\/\/consul-server/ : /^http:\/\/10\.240\.0\.4:8500$/,
      );
    },
  );
});

describe('least-privilege RBAC', () => {
  it('the ClusterRole grants exactly the calls in AGENT_PERMISSIONS (no call missing, no grant unused)', async () => {
    const manifests = await render();
    expect(grants(one(manifests, 'ClusterRole'))).toEqual(agentCalls);
    const binding = one(manifests, 'ClusterRoleBinding') as Manifest & {
      roleRef: { name: string };
      subjects: Array<{ name: string; namespace: string }>;
    };
    expect(binding.roleRef.name).toBe(one(manifests, 'ClusterRole').metadata.name);
    expect(binding.subjects).toEqual([
      { kind: 'ServiceAccount', name: one(manifests, 'ServiceAccount').metadata.name, namespace: NAMESPACE },
    ]);
    expect(agentCalls.length).toBeGreaterThan(0);
  });

  it('with one watched namespace, a Role in that namespace grants the same calls and nothing is cluster-wide', async () => {
    const manifests = await render([ci('tolerations-values.yaml')]);
    expect(only(manifests, 'ClusterRole')).toEqual([]);
    expect(only(manifests, 'ClusterRoleBinding')).toEqual([]);
    const role = one(manifests, 'Role');
    expect(role.metadata.namespace).toBe('web');
    expect(grants(role)).toEqual(agentCalls);
    expect(one(manifests, 'RoleBinding').metadata.namespace).toBe('web');
  });

  it('no wildcard anywhere', async () => {
    for (const set of valueSets) {
      const manifests = await render([ci(set)]);
      for (const role of [...only(manifests, 'ClusterRole'), ...only(manifests, 'Role')]) {
        expect(grants(role).join(' ')).not.toContain('*');
      }
    }
  });
});

describe('NOTES.txt', () => {
  it('tells how to create a first FailoverPair and watch it', async () => {
    const notes = await renderNotes();
    expect(notes).toContain('kind: FailoverPair');
    expect(notes).toContain('kubectl get failoverpairs -A -w');
    expect(notes).toContain('rollout status daemonset/pg-probegate');
    // The FailoverPair in the notes is itself a valid manifest once the placeholders are filled.
    const example = /cat <<'YAML'.*\n([\s\S]*?)\n\s*YAML/.exec(notes)?.[1];
    expect(example).toBeDefined();
    const pair = parse(
      (example ?? '')
        .replaceAll('<node-1 IP>', '10.0.0.4')
        .replaceAll('<node-2 IP>', '10.0.0.5')
        .replaceAll('<node-1>', 'aks-web-1')
        .replaceAll('<node-2>', 'aks-web-2'),
    ) as { spec: unknown };
    const { validateFailoverPairSpec } = await import('@probegate/core');
    expect(validateFailoverPairSpec(pair.spec)).toMatchObject({ ok: true });
  });
});

describe('NOTES.txt with one watched namespace', () => {
  it('applies the example in that namespace and watches only it', async () => {
    const notes = await renderNotes([ci('tolerations-values.yaml')]);
    expect(notes).toContain('kubectl apply -n web -f -');
    expect(notes).toContain('kubectl get failoverpairs -n web -w');
  });
});

describe('parseManifests', () => {
  it('skips empty documents', () => {
    expect(
      parseManifests('---\n# only a comment\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n'),
    ).toHaveLength(1);
  });
});
