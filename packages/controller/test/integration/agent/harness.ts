// Builds real agents for integration tests: each "node" is a network namespace whose kernel the
// agent drives, a Consul client agent it talks to, and (Kubernetes mode) the real API server.
import type { KubeConfig } from '@kubernetes/client-node';
import { createHostActuator, ExecaCommandRunner, type HostActuator } from '@probegate/host';
import { createNamespace } from '@probegate/testenv';
import { pino } from 'pino';
import { Agent } from '../../../src/agent/agent.js';
import { ConsulArbiter } from '../../../src/arbiter/consul-arbiter.js';
import { FailoverPairApi } from '../../../src/kube/failover-pair-api.js';
import { KubernetesPairSource } from '../../../src/kube/kubernetes-source.js';
import { KubernetesEventSink, KubernetesStatusSink } from '../../../src/kube/kubernetes-status-sink.js';
import { GROUP, installFailoverPairCrd, PLURAL, VERSION } from '../kube/api-server.js';

// The FailoverPair CRD and its coordinates, shared with the kube tests (and the agent bench).
export { GROUP, installFailoverPairCrd as installCrd, PLURAL, VERSION };

export const testLogger = () => pino({ level: process.env.PROBEGATE_TEST_LOG ?? 'silent' });

/** A namespace standing in for a node's kernel, and an actuator driving it. */
export async function nodeKernel(
  prefix: string,
): Promise<{ ns: string; actuator: () => Promise<HostActuator> }> {
  const ns = await createNamespace(prefix);
  return {
    ns,
    actuator: () =>
      createHostActuator({
        backend: 'iptables-nft',
        runner: new ExecaCommandRunner(['ip', 'netns', 'exec', ns]),
      }),
  };
}

export interface KubeAgentOptions {
  node: string;
  kubeConfig: KubeConfig;
  consulAddr: string;
  ns: string;
}

export async function startKubeAgent(options: KubeAgentOptions): Promise<Agent> {
  const log = testLogger().child({ node: options.node });
  const api = new FailoverPairApi(options.kubeConfig, options.node);
  const agent = new Agent({
    node: options.node,
    log,
    finalizers: true,
    source: new KubernetesPairSource(api, options.node, log, undefined, { relistEveryMs: 60_000 }),
    arbiter: new ConsulArbiter({
      connection: { address: options.consulAddr },
      node: options.node,
      lockDelay: '1s',
    }),
    actuator: await createHostActuator({
      backend: 'iptables-nft',
      runner: new ExecaCommandRunner(['ip', 'netns', 'exec', options.ns]),
    }),
    status: new KubernetesStatusSink(api, options.node),
    events: new KubernetesEventSink(api, log),
    metricsPort: 0,
    metricsHost: '127.0.0.1',
    resyncMs: 2_000,
  });
  await agent.start();
  return agent;
}

export function pairManifest(name: string, overrides: Record<string, unknown> = {}) {
  return {
    apiVersion: `${GROUP}/${VERSION}`,
    kind: 'FailoverPair',
    metadata: { name, namespace: 'default' },
    spec: {
      vip: '198.18.100.10',
      probe: { ports: [8080], sourceCIDRs: ['198.18.0.16/32'] },
      consul: { service: 'web' },
      primary: { node: 'vm1', address: '127.0.2.3' },
      secondary: { node: 'vm2', address: '127.0.2.4' },
      timing: { holdDownSeconds: 1, failbackDelaySeconds: 2, arbiterGraceSeconds: 5, gateLeaseSeconds: 20 },
      ...overrides,
    },
  };
}
