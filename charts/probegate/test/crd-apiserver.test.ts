// The chart's CRD on a real Kubernetes API server (etcd + apiextensions-apiserver): the example
// pairs are accepted and defaulted, bad ones are refused with the schema's and CEL rules' messages.
import { readdirSync, readFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import {
  ApiextensionsV1Api,
  CustomObjectsApi,
  loadAllYaml,
  loadYaml,
  PatchStrategy,
  setHeaderOptions,
  type V1CustomResourceDefinition,
} from '@kubernetes/client-node';
import { failoverPairSpecCelValidations } from '@probegate/core';
import { type KubeApi, startKubeApi, waitFor } from '@probegate/testenv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chartDir, repoRoot } from './support/helm.js';

const group = 'probegate.io';
const version = 'v1alpha1';
const plural = 'failoverpairs';
const crdFile = join(chartDir, 'crds/failoverpairs.probegate.io.yaml');

interface Pair {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; [key: string]: unknown };
  spec: Record<string, unknown>;
  status?: Record<string, unknown>;
}

/** Every FailoverPair the repository ships as an example (chart examples and the VM pairs file). */
function examplePairs(): Array<{ file: string; pair: Pair }> {
  const files = [
    ...readdirSync(join(repoRoot, 'examples'))
      .filter((name) => name.endsWith('.yaml'))
      .map((name) => join(repoRoot, 'examples', name)),
    join(repoRoot, 'packaging/vm/pairs.example.yaml'),
  ];
  return files.flatMap((file) =>
    (loadAllYaml(readFileSync(file, 'utf8')) as Pair[])
      .filter((doc) => doc?.kind === 'FailoverPair')
      .map((pair) => ({ file: file.slice(repoRoot.length + 1), pair })),
  );
}

const validSpec = () => ({
  vip: '198.18.0.100',
  probe: { ports: [8080] },
  consul: { service: 'web' },
  primary: { node: 'node-a', address: '198.18.0.4' },
  secondary: { node: 'node-b', address: '198.18.0.5' },
});

function pair(name: string, spec: Record<string, unknown>): Pair {
  return {
    apiVersion: `${group}/${version}`,
    kind: 'FailoverPair',
    metadata: { name, namespace: 'default' },
    spec,
  };
}

type Failure = { code?: number; body?: string };

/** The API server's message in a failed call (the body is a JSON Status). */
function messageOf(failure: Failure | undefined): string {
  try {
    return String((JSON.parse(String(failure?.body)) as { message?: string }).message);
  } catch {
    return String(failure?.body);
  }
}

describe('the chart CRD on a real API server', () => {
  let api: KubeApi;
  let objects: CustomObjectsApi;

  const create = (body: Pair) =>
    objects.createNamespacedCustomObject({
      group,
      version,
      namespace: body.metadata.namespace ?? 'default',
      plural,
      body,
      // What `kubectl apply` does by default: unknown fields are errors, not silently pruned.
      fieldValidation: 'Strict',
    }) as Promise<Pair>;

  const refusal = (body: Pair): Promise<Failure | undefined> =>
    create(body).then(
      () => undefined,
      (error: unknown) => error as Failure,
    );

  beforeAll(async () => {
    api = await startKubeApi();
    const kc = api.kubeConfig();
    // loadYaml turns the wire keys (x-kubernetes-validations) into model keys the client keeps.
    const crd = loadYaml<V1CustomResourceDefinition>(readFileSync(crdFile, 'utf8'));
    const extensions = kc.makeApiClient(ApiextensionsV1Api);
    await extensions.createCustomResourceDefinition({ body: crd });
    objects = kc.makeApiClient(CustomObjectsApi);
    await waitFor(
      async () => {
        const stored = await extensions.readCustomResourceDefinition({ name: 'failoverpairs.probegate.io' });
        return (
          stored.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True') ?? false
        );
      },
      { what: 'the FailoverPair CRD to be established' },
    );
    await waitFor(
      async () => {
        await objects.listNamespacedCustomObject({ group, version, namespace: 'default', plural });
        return true;
      },
      { what: 'failoverpairs to be served' },
    );
  });

  afterAll(async () => {
    await api?.stop();
  });

  it('is stored with every CEL rule, the list-map keys, and structural (not NonStructuralSchema)', async () => {
    const stored = await api
      .kubeConfig()
      .makeApiClient(ApiextensionsV1Api)
      .readCustomResourceDefinition({ name: 'failoverpairs.probegate.io' });
    const schema = stored.spec.versions[0]?.schema?.openAPIV3Schema;
    expect(schema?.properties?.spec?.x_kubernetes_validations?.map((v) => v.rule)).toEqual(
      failoverPairSpecCelValidations().map((v) => v.rule),
    );
    expect(schema?.properties?.status?.properties?.members?.x_kubernetes_list_map_keys).toEqual(['node']);
    expect(stored.spec.names.shortNames).toEqual(['fp']);
    const conditions = stored.status?.conditions ?? [];
    expect(conditions.find((c) => c.type === 'NonStructuralSchema')).toBeUndefined();
    expect(conditions.find((c) => c.type === 'NamesAccepted')?.status).toBe('True');
  });

  const examples = examplePairs();

  it('there are examples to apply', () => {
    expect(examples.length).toBeGreaterThanOrEqual(4);
  });

  it.each(examples.map(({ file, pair }, index) => [`${file} (${pair.metadata.name})`, pair, index] as const))(
    'accepts the example %s',
    async (_label, example, index) => {
      // One namespace per example: two files may name their pair alike.
      const namespace = `example-${index}`;
      const created = await create({ ...example, metadata: { ...example.metadata, namespace } });
      expect(created.metadata.name).toBe(example.metadata.name);
    },
  );

  it('fills in the defaults (Azure probe source, Lock, Automatic failback, timers)', async () => {
    const created = await create(pair('defaults', validSpec()));
    expect(created.spec).toMatchObject({
      probe: { ports: [8080], protocol: 'TCP', sourceCIDRs: ['168.63.129.16/32'] },
      consul: { service: 'web', memberMapping: 'ByAddress' },
      failback: 'Automatic',
      arbitration: 'Lock',
      warningIsHealthy: false,
      timing: {
        holdDownSeconds: 10,
        failbackDelaySeconds: 30,
        arbiterGraceSeconds: 15,
        arbiterUnreachable: 'Hold',
        gateLeaseSeconds: 30,
      },
    });
  });

  const withSpec = (change: (spec: ReturnType<typeof validSpec> & Record<string, unknown>) => void) => {
    const spec = validSpec() as ReturnType<typeof validSpec> & Record<string, unknown>;
    change(spec);
    return spec;
  };

  // [case, spec, what the API server must say]
  const refused: Array<[string, Record<string, unknown>, RegExp]> = [
    [
      'the same node twice',
      withSpec((s) => {
        s.secondary.node = 'node-a';
      }),
      /spec\.secondary\.node: Invalid value.*primary\.node and secondary\.node must be different nodes/,
    ],
    [
      'the same address twice',
      withSpec((s) => {
        s.secondary.address = '198.18.0.4';
      }),
      /primary\.address and secondary\.address must be different addresses/,
    ],
    [
      'a member address that is not an IP',
      withSpec((s) => {
        s.primary.address = '198.18.0.300';
      }),
      /spec\.primary\.address.*(must be of type ipv4|must be an IPv4 address)/,
    ],
    [
      'an IPv6 VIP',
      withSpec((s) => {
        s.vip = 'fd00::1';
      }),
      /spec\.vip.*(must be of type ipv4|must be an IPv4 address|may not be longer)/,
    ],
    [
      'the VIP equal to a member address',
      withSpec((s) => {
        s.vip = '198.18.0.5';
      }),
      /vip must differ from the member addresses/,
    ],
    [
      'probe port 0',
      withSpec((s) => {
        s.probe.ports = [0];
      }),
      /spec\.probe\.ports\[0\].*should be greater than or equal to 1/,
    ],
    [
      'probe port 70000',
      withSpec((s) => {
        s.probe.ports = [70000];
      }),
      /spec\.probe\.ports\[0\].*should be less than or equal to 65535/,
    ],
    [
      'a port listed twice',
      withSpec((s) => {
        s.probe.ports = [8080, 8080];
      }),
      /spec\.probe\.ports\[1\]: Duplicate value: 8080/,
    ],
    [
      'a probe source that is not a CIDR',
      withSpec((s) => {
        (s.probe as Record<string, unknown>).sourceCIDRs = ['168.63.129.16/33'];
      }),
      /spec\.probe\.sourceCIDRs.*(must be of type cidr|must be IPv4 CIDR blocks)/,
    ],
    [
      'an unknown field (a typo)',
      withSpec((s) => {
        (s.probe as Record<string, unknown>).prots = [8080];
      }),
      /unknown field "spec\.probe\.prots"/,
    ],
    [
      'an unsupported failback policy',
      withSpec((s) => {
        s.failback = 'Sometimes';
      }),
      /spec\.failback: Unsupported value: "Sometimes"/,
    ],
    [
      'ByNodeName without consulNode',
      withSpec((s) => {
        (s.consul as Record<string, unknown>).memberMapping = 'ByNodeName';
      }),
      /primary\.consulNode is required when consul\.memberMapping is ByNodeName/,
    ],
    [
      'a gate lease shorter than 5 s',
      withSpec((s) => {
        s.timing = { gateLeaseSeconds: 1 };
      }),
      /spec\.timing\.gateLeaseSeconds.*should be greater than or equal to 5/,
    ],
    [
      'no consul service',
      withSpec((s) => {
        delete (s as Record<string, unknown>).consul;
      }),
      /spec\.consul: Required value/,
    ],
  ];

  it.each(refused)('refuses %s with a message naming the field', async (label, spec, message) => {
    const failure = await refusal(pair(`bad-${label.replaceAll(/[^a-z0-9]+/g, '-')}`.slice(0, 60), spec));
    expect(failure, `${label} was accepted`).toBeDefined();
    expect([400, 422]).toContain(failure?.code);
    expect(messageOf(failure)).toMatch(message);
  });

  it('keeps each member entry of the status when the two agents apply theirs (list-map by node)', async () => {
    await create(pair('status', validSpec()));
    const apply = (node: string, state: string) =>
      objects.patchNamespacedCustomObjectStatus(
        {
          group,
          version,
          namespace: 'default',
          plural,
          name: 'status',
          body: {
            apiVersion: `${group}/${version}`,
            kind: 'FailoverPair',
            metadata: { name: 'status', namespace: 'default' },
            status: {
              members: [
                {
                  node,
                  role: node === 'node-a' ? 'Primary' : 'Secondary',
                  consulHealth: 'passing',
                  state,
                  gate: state === 'Active' ? 'Open' : 'Closed',
                  vip: state === 'Active' ? 'Bound' : 'Unbound',
                  since: '2026-01-01T00:00:00Z',
                },
              ],
            },
          },
          fieldManager: `probegate-${node}`,
          force: true,
        },
        setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply),
      );
    await apply('node-a', 'Active');
    await apply('node-b', 'Standby');
    const stored = (await objects.getNamespacedCustomObject({
      group,
      version,
      namespace: 'default',
      plural,
      name: 'status',
    })) as Pair;
    const members = (stored.status?.members ?? []) as Array<{ node: string; state: string }>;
    expect(members.map((m) => `${m.node}:${m.state}`).sort()).toEqual(['node-a:Active', 'node-b:Standby']);
  });

  it('`kubectl get fp` shows ACTIVE, PRIMARY, SECONDARY, VIP, TRANSITIONS, AGE', async () => {
    const table = await getTable(api, `/apis/${group}/${version}/namespaces/default/${plural}/defaults`);
    const shown = table.columnDefinitions.filter((c) => c.priority === 0).map((c) => c.name.toUpperCase());
    expect(shown).toEqual(['NAME', 'ACTIVE', 'PRIMARY', 'SECONDARY', 'VIP', 'TRANSITIONS', 'AGE']);
    const cells = table.rows[0]?.cells ?? [];
    expect(cells.slice(0, 5)).toEqual(['defaults', null, 'node-a', 'node-b', '198.18.0.100']);
  });
});

interface Table {
  columnDefinitions: Array<{ name: string; priority: number }>;
  rows: Array<{ cells: unknown[] }>;
}

function getTable(api: KubeApi, path: string): Promise<Table> {
  return getJson(api, path, 'application/json;as=Table;v=v1;g=meta.k8s.io') as Promise<Table>;
}

/** A GET with the test client certificate; for responses the typed client cannot ask for. */
async function getJson(api: KubeApi, path: string, accept = 'application/json'): Promise<unknown> {
  const options: Parameters<typeof request>[1] = { method: 'GET', headers: { Accept: accept } };
  await api.kubeConfig().applyToHTTPSOptions(options);
  return new Promise((resolve, reject) => {
    const req = request(`${api.server}${path}`, options, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => {
        try {
          if (res.statusCode !== 200) throw new Error(`GET ${path}: HTTP ${res.statusCode} ${body}`);
          resolve(JSON.parse(body));
        } catch (error) {
          reject(error);
        }
      });
    });
    req.on('error', reject);
    req.end();
  });
}
