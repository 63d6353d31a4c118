// Kubernetes mode end to end: the agents in both VM namespaces watch FailoverPair objects on the
// real API server (etcd + apiextensions-apiserver, reached through a tunnel), write status, and
// clean the hosts through their finalizers when the pair is deleted.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ApiextensionsV1Api,
  CustomObjectsApi,
  loadYaml,
  type V1CustomResourceDefinition,
} from '@kubernetes/client-node';
import { component, type KubeApi, requireRoot, startKubeApi, waitFor } from '@probegate/testenv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { failoverPairCrdYaml } from '../../packages/controller/src/kube/crd.js';
import { pairManifest } from '../src/pairs.js';
import { ensureProbegateBuilt, ProbegateAgentProcess } from '../src/probegate-agent.js';
import { runScenario } from '../src/scenario.js';
import { E2eStack } from '../src/stack.js';
import { type Tunnel, tunnelFrom } from '../src/tunnel.js';

const API = { group: 'probegate.io', version: 'v1alpha1', plural: 'failoverpairs', namespace: 'default' };
const IN_VM_API_PORT = 6443;
let kube: KubeApi;
let stack: E2eStack;
const tunnels: Tunnel[] = [];

beforeAll(async () => {
  requireRoot();
  component('consul');
  kube = await startKubeApi();
  const kc = kube.kubeConfig();
  await kc
    .makeApiClient(ApiextensionsV1Api)
    .createCustomResourceDefinition({ body: loadYaml<V1CustomResourceDefinition>(failoverPairCrdYaml()) });
  const objects = kc.makeApiClient(CustomObjectsApi);
  await waitFor(
    async () => {
      await objects.listClusterCustomObject({ group: API.group, version: API.version, plural: API.plural });
      return true;
    },
    { what: 'failoverpairs to be served' },
  );
  stack = await E2eStack.start({ agents: false });
  const apiPort = Number(new URL(kube.server).port);
  await ensureProbegateBuilt();
  for (const vm of ['vm1', 'vm2'] as const) {
    tunnels.push(await tunnelFrom(stack.topology.vm[vm], IN_VM_API_PORT, apiPort));
    const kubeconfig = join(stack.dir, `${vm}.kubeconfig`);
    writeFileSync(
      kubeconfig,
      readFileSync(kube.kubeconfigPath, 'utf8').replaceAll(
        kube.server,
        `https://127.0.0.1:${IN_VM_API_PORT}`,
      ),
    );
    stack.agents[vm] = new ProbegateAgentProcess(vm, stack.topology.vm[vm], { kubeconfig });
    stack.agents[vm].start();
  }
  await Promise.all([stack.agents.vm1.started(), stack.agents.vm2.started()]);
  await objects.createNamespacedCustomObject({
    ...API,
    body: pairManifest({ timing: { gateLeaseSeconds: 8 } }),
  });
  await stack.waitForActive('vm1', 90_000);
});

afterAll(async () => {
  await stack?.destroy();
  for (const t of tunnels) await t.close();
  await kube?.stop();
});

const readPair = async () =>
  (await kube
    .kubeConfig()
    .makeApiClient(CustomObjectsApi)
    .getNamespacedCustomObject({ ...API, name: 'web' })) as {
    status?: { activeNode?: string; members?: { node: string; state: string }[] };
    metadata: { finalizers?: string[] };
  };

describe('Kubernetes mode against the real API server', () => {
  it('fails over when the primary web server stops, and reports it in the FailoverPair status', async () => {
    await runScenario(stack, async () => {
      expect((await readPair()).metadata.finalizers?.length).toBe(2);
      const at = Date.now();
      await stack.web.vm1.stop();
      await stack.client.firstAnswerFrom('vm2', at);
      await waitFor(async () => (await readPair()).status?.activeNode === 'vm2', {
        what: 'status.activeNode to be vm2',
      });
      await stack.web.vm1.start();
      await stack.waitForActive('vm1');
      await waitFor(async () => (await readPair()).status?.activeNode === 'vm1', {
        what: 'status.activeNode to be vm1 again',
      });
    });
  });

  it('deleting the FailoverPair cleans both hosts through the finalizers, then the object goes', async () => {
    await kube
      .kubeConfig()
      .makeApiClient(CustomObjectsApi)
      .deleteNamespacedCustomObject({ ...API, name: 'web' });
    await waitFor(
      async () => {
        try {
          await readPair();
          return false;
        } catch {
          return true;
        }
      },
      { what: 'the FailoverPair to be gone (finalizers removed)', timeoutMs: 30_000 },
    );
    for (const vm of ['vm1', 'vm2'] as const) {
      expect(await stack.pairRules(vm)).toEqual([]);
      expect(await stack.vipBound(vm)).toBe(false);
    }
  });
});
