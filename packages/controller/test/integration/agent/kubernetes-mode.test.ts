import { resolve } from 'node:path';
import { CustomObjectsApi } from '@kubernetes/client-node';
import type { FailoverPairStatus } from '@probegate/core';
import { createHostActuator, ExecaCommandRunner } from '@probegate/host';
import {
  type ConsulCluster,
  destroyNamespace,
  failCheck,
  type KubeApi,
  passCheck,
  registerTtlService,
  requireRoot,
  startConsulCluster,
  startKubeApi,
  waitFor,
} from '@probegate/testenv';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agent } from '../../../src/agent/agent.js';
import { GROUP, installCrd, nodeKernel, PLURAL, pairManifest, startKubeAgent, VERSION } from './harness.js';

// Two "nodes" (vm1, vm2): each a network namespace whose kernel its agent drives, a Consul client
// agent, and the shared real API server. The agents run the full reconcile loop.
let api: KubeApi;
let cluster: ConsulCluster;
let objects: CustomObjectsApi;
const kernels: Record<string, string> = {};
const agents: Record<string, Agent> = {};
const NAME = 'web';
const CLI = resolve(import.meta.dirname, '../../../src/cli/main.ts');

const getPair = async () =>
  (await objects.getNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    namespace: 'default',
    plural: PLURAL,
    name: NAME,
  })) as { metadata: { finalizers?: string[] }; status?: FailoverPairStatus };

/** Gate and VIP of the pair as the node's kernel has them. */
async function kernelState(node: string) {
  const ns = kernels[node] as string;
  const actuator = await createHostActuator({
    backend: 'iptables-nft',
    // Only observes: no processes started ahead.
    runner: new ExecaCommandRunner(['ip', 'netns', 'exec', ns], { standby: false }),
  });
  const observed = await actuator.observe();
  const pair = [...observed.pairs.values()].find((p) => p.key === `default/${NAME}`);
  return {
    gate: pair?.gate ?? 'Absent',
    vipBound: observed.vips.includes('198.18.100.10'),
    rules: observed.pairs.size,
  };
}

const activeNodeIs = (node: string) =>
  waitFor(
    async () => {
      const status = (await getPair()).status;
      const members = status?.members ?? [];
      const serving = members.find((m) => m.node === node);
      const others = members.filter((m) => m.node !== node);
      const settled =
        status?.activeNode === node &&
        members.length === 2 &&
        serving?.state === 'Active' &&
        serving.gate === 'Open' &&
        others.every((m) => m.state === 'Standby' && m.gate === 'Closed');
      return settled ? status : undefined;
    },
    { what: `status: ${node} active and open, the other standby and closed`, timeoutMs: 30_000 },
  );

beforeAll(async () => {
  requireRoot();
  api = await startKubeApi({ watchCache: false });
  const kc = api.kubeConfig();
  await installCrd(kc);
  objects = kc.makeApiClient(CustomObjectsApi);
  cluster = await startConsulCluster({
    server: { addr: '127.0.2.2' },
    clients: [
      { name: 'vm1', addr: '127.0.2.3' },
      { name: 'vm2', addr: '127.0.2.4' },
    ],
  });
  for (const node of ['vm1', 'vm2']) {
    const consul = cluster.client(node);
    await registerTtlService(consul.httpAddr, { id: `web-${node}`, name: 'web', address: consul.bindAddr });
    kernels[node] = (await nodeKernel(node)).ns;
  }
  for (const node of ['vm1', 'vm2']) {
    agents[node] = await startKubeAgent({
      node,
      kubeConfig: api.kubeConfig(),
      consulAddr: cluster.client(node).httpAddr,
      ns: kernels[node] as string,
    });
  }
}, 240_000);

afterAll(async () => {
  await Promise.allSettled(Object.values(agents).map((a) => a.stop()));
  await Promise.allSettled(Object.values(kernels).map((ns) => destroyNamespace(ns)));
  await cluster?.stop();
  await api?.stop();
});

describe('agents reconciling a FailoverPair against the real API server, Consul and kernel', () => {
  it('creating a pair makes the primary Active (gate open, VIP bound) and the secondary Standby', async () => {
    await objects.createNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: 'default',
      plural: PLURAL,
      body: pairManifest(NAME),
    });
    const status = await activeNodeIs('vm1');
    expect(status.members?.find((m) => m.node === 'vm1')).toMatchObject({
      state: 'Active',
      gate: 'Open',
      vip: 'Bound',
    });
    expect(status.members?.find((m) => m.node === 'vm2')).toMatchObject({ state: 'Standby', gate: 'Closed' });
    expect(await kernelState('vm1')).toMatchObject({ gate: 'Open', vipBound: true });
    expect(await kernelState('vm2')).toMatchObject({ gate: 'Closed', vipBound: false });
    expect((await getPair()).metadata.finalizers?.sort()).toEqual([
      'probegate.io/node.vm1',
      'probegate.io/node.vm2',
    ]);
  });

  it('Consul health of the primary turning critical moves activity to the secondary', async () => {
    await failCheck(cluster.client('vm1').httpAddr, 'web-vm1');
    const status = await activeNodeIs('vm2');
    expect(status.lastTransition).toMatchObject({ from: 'vm1', to: 'vm2' });
    expect(status.transitions).toBeGreaterThanOrEqual(2);
    expect(status.members?.find((m) => m.node === 'vm1')).toMatchObject({
      state: 'Standby',
      consulHealth: 'critical',
    });
    await waitFor(async () => (await kernelState('vm2')).gate === 'Open', { what: 'vm2 gate open' });
    expect(await kernelState('vm1')).toMatchObject({ gate: 'Closed', vipBound: false });
    expect(await kernelState('vm2')).toMatchObject({ gate: 'Open', vipBound: true });
  });

  it('keeps the readable lock record in Consul KV naming the active node', async () => {
    const res = await fetch(`${cluster.server.httpAddr}/v1/kv/probegate/default/${NAME}/leader?raw`);
    const record = (await res.json()) as { holder: string; transitions: unknown[] };
    expect(record.holder).toBe('vm2');
    expect(record.transitions.length).toBeGreaterThanOrEqual(2);
  });

  it('fails back automatically once the primary is healthy again for the failback delay', async () => {
    await passCheck(cluster.client('vm1').httpAddr, 'web-vm1');
    await activeNodeIs('vm1');
    await waitFor(async () => (await kernelState('vm1')).gate === 'Open', { what: 'vm1 gate open again' });
    expect(await kernelState('vm2')).toMatchObject({ gate: 'Closed', vipBound: false });
  });

  it('survives an API server restart and an etcd compaction (410 Gone) and still sees changes', async () => {
    await api.restartApiServer();
    await api.compactEtcd();
    await objects.patchNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: 'default',
      plural: PLURAL,
      name: NAME,
      body: [{ op: 'replace', path: '/spec/probe/ports', value: [9090] }],
    });
    await waitFor(
      async () => {
        const ns = kernels.vm1 as string;
        const actuator = await createHostActuator({
          backend: 'iptables-nft',
          // Only observes: no processes started ahead.
          runner: new ExecaCommandRunner(['ip', 'netns', 'exec', ns], { standby: false }),
        });
        const pair = [...(await actuator.observe()).pairs.values()].find((p) => p.key === `default/${NAME}`);
        return pair?.ports.includes(9090) && pair.gate === 'Open';
      },
      { what: 'vm1 kernel to gate port 9090 after restart + compaction', timeoutMs: 60_000 },
    );
  });

  it('`probegate status` lists the pair with its active node, and `probegate switchover` moves it', async () => {
    const cli = (...args: string[]) =>
      execa(process.execPath, [
        '--conditions=probegate-source',
        '--import',
        'tsx',
        CLI,
        ...args,
        '--kubeconfig',
        api.kubeconfigPath,
      ]);
    const status = JSON.parse((await cli('status', '-o', 'json')).stdout) as {
      pair: string;
      activeNode: string;
    }[];
    expect(status).toEqual([expect.objectContaining({ pair: `default/${NAME}`, activeNode: 'vm1' })]);
    await cli('switchover', `default/${NAME}`, '--to', 'vm2');
    await activeNodeIs('vm2');
    expect(await kernelState('vm1')).toMatchObject({ gate: 'Closed', vipBound: false });
    await cli('switchover', `default/${NAME}`, '--clear');
    await activeNodeIs('vm1');
  });

  it('refuses invalid pairs at the API server with the CEL messages', async () => {
    const bad = pairManifest('bad', {
      primary: { node: 'vm1', address: '127.0.2.3' },
      secondary: { node: 'vm1', address: '127.0.2.4' },
    });
    const error = await objects
      .createNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        namespace: 'default',
        plural: PLURAL,
        body: bad,
      })
      .then(
        () => undefined,
        (e: { code?: number; body?: string }) => e,
      );
    expect(error?.code).toBe(422);
    expect(String(error?.body)).toMatch(/node/i);
  });

  it('deleting the pair runs the finalizer: gates closed, VIP unbound, lock released, object gone', async () => {
    await objects.deleteNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: 'default',
      plural: PLURAL,
      name: NAME,
    });
    await waitFor(
      async () => {
        try {
          await getPair();
          return false;
        } catch (error) {
          return (error as { code?: number }).code === 404;
        }
      },
      { what: 'the pair to be gone (both finalizers removed)', timeoutMs: 30_000 },
    );
    for (const node of ['vm1', 'vm2']) {
      expect(await kernelState(node)).toEqual({ gate: 'Absent', vipBound: false, rules: 0 });
    }
    const res = await fetch(`${cluster.server.httpAddr}/v1/kv/probegate/default/${NAME}/leader`);
    const entries = res.status === 404 ? [] : ((await res.json()) as { Session?: string }[]);
    expect(entries.every((e) => !e.Session)).toBe(true);
  });
});
