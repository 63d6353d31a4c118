import { KubeConfig } from '@kubernetes/client-node';
import { type BackendChoice, createHostActuator, ExecaCommandRunner } from '@probegate/host';
import { Agent } from '../agent/agent.js';
import { ConsulArbiter } from '../arbiter/consul-arbiter.js';
import { resolveConsulConnection } from '../arbiter/consul-config.js';
import { promArbiterMetrics } from '../arbiter/metrics.js';
import { ConsulStatusSink } from '../file/consul-status-sink.js';
import { FilePairSource } from '../file/file-source.js';
import { FailoverPairApi } from '../kube/failover-pair-api.js';
import { KubernetesPairSource } from '../kube/kubernetes-source.js';
import { KubernetesEventSink, KubernetesStatusSink } from '../kube/kubernetes-status-sink.js';
import { AgentMetrics } from '../observability/metrics.js';
import type { EventSink } from '../reconcile/ports.js';
import { CONSUL_FLAGS, consulFlagValues } from './consul-flags.js';
import { createLogger } from './logger.js';
import { type Flags, parseCommand, portFlag, required, UsageError, usage } from './options.js';

export const AGENT_FLAGS = {
  node: {
    type: 'string',
    env: 'PROBEGATE_NODE_NAME',
    help: 'this node: the Kubernetes node name or VM host name the pairs use',
  },
  'node-ip': { type: 'string', env: 'PROBEGATE_NODE_IP', help: 'this node address (informative, logged)' },
  'pairs-file': {
    type: 'string',
    env: 'PROBEGATE_PAIRS_FILE',
    help: 'VM mode: YAML file of FailoverPair manifests (no Kubernetes)',
  },
  kubeconfig: {
    type: 'string',
    env: 'KUBECONFIG',
    help: 'Kubernetes mode: kubeconfig (default: in-cluster)',
  },
  'watch-namespace': {
    type: 'string',
    env: 'PROBEGATE_WATCH_NAMESPACE',
    help: 'watch one namespace only (default: all)',
  },
  'metrics-port': {
    type: 'string',
    env: 'PROBEGATE_METRICS_PORT',
    default: '9402',
    help: 'port of /metrics /healthz /readyz',
  },
  'metrics-host': {
    type: 'string',
    env: 'PROBEGATE_METRICS_HOST',
    default: '0.0.0.0',
    help: 'address to serve metrics on',
  },
  backend: {
    type: 'string',
    env: 'PROBEGATE_BACKEND',
    default: 'auto',
    help: 'auto | iptables-nft | iptables-legacy | nftables',
  },
  netns: {
    type: 'string',
    env: 'PROBEGATE_NETNS',
    help: 'drive the firewall and lo of this network namespace instead of the own one (tests, benchmarks)',
  },
  'log-level': {
    type: 'string',
    env: 'PROBEGATE_LOG_LEVEL',
    default: 'info',
    help: 'trace | debug | info | warn | error',
  },
  'lock-delay': {
    type: 'string',
    env: 'PROBEGATE_LOCK_DELAY',
    default: '3s',
    help: "Consul lock-delay of this node's session; an active node that cannot reach Consul stops serving before it ends",
  },
  'session-ttl': {
    type: 'string',
    env: 'PROBEGATE_SESSION_TTL',
    default: '16s',
    help: "TTL of this node's Consul session (10s-86400s): a dead agent's locks go 2 x TTL after its last renewal; keep 2 x TTL + lock-delay above the gate lease",
  },
  ...CONSUL_FLAGS,
} as const satisfies Flags;

const SUMMARY = `Runs the probegate agent on this node: keeps the probe gate and VIP of every FailoverPair naming
this node in line with Consul's verdict. Kubernetes mode watches FailoverPair resources; VM mode
(--pairs-file) reads them from a file and reloads it on change or SIGHUP.`;

export async function agentCommand(argv: string[]): Promise<number> {
  const { values, help } = parseCommand(argv, AGENT_FLAGS);
  if (help) {
    process.stdout.write(usage('agent', SUMMARY, AGENT_FLAGS));
    return 0;
  }
  const node = required(values.node, 'node', AGENT_FLAGS.node);
  const metricsPort = portFlag(values['metrics-port'], 'metrics-port');
  const backend = values.backend as BackendChoice;
  if (!['auto', 'iptables-nft', 'iptables-legacy', 'nftables'].includes(backend)) {
    throw new UsageError(
      `--backend: '${backend}' is not one of auto, iptables-nft, iptables-legacy, nftables`,
    );
  }
  const log = createLogger(values['log-level'] ?? 'info').child({ node });
  const connection = resolveConsulConnection(consulFlagValues(values));
  const metrics = new AgentMetrics();
  const arbiter = new ConsulArbiter({
    connection,
    node,
    lockDelay: values['lock-delay'] ?? '3s',
    sessionTtl: values['session-ttl'] ?? '16s',
    metrics: promArbiterMetrics(metrics.registry),
    onError: (error) => log.warn({ kind: error.kind, operation: error.operation }, error.message),
  });
  const netns = values.netns;
  if (netns !== undefined && !/^[A-Za-z0-9_.-]{1,64}$/.test(netns))
    throw new UsageError(`--netns: '${netns}' is not a namespace name`);
  const runner = new ExecaCommandRunner(netns ? ['ip', 'netns', 'exec', netns] : [], {
    onCommand: (timing) => {
      metrics.observeHostCommand(timing);
      log.debug(
        { argv: timing.argv, ms: Math.round(timing.durationMs * 10) / 10, standby: timing.standby },
        'kernel command',
      );
    },
  });
  const actuator = await createHostActuator({ backend, runner });
  const pairsFile = values['pairs-file'];
  let agent: Agent;
  if (pairsFile) {
    const noEvents: EventSink = { normal: () => {}, warning: () => {} };
    agent = new Agent({
      node,
      log,
      metrics,
      finalizers: false,
      source: new FilePairSource(pairsFile, node, log, metrics),
      arbiter,
      actuator,
      status: new ConsulStatusSink(connection, node),
      events: noEvents,
      metricsPort,
      metricsHost: values['metrics-host'] ?? '0.0.0.0',
    });
  } else {
    const kubeConfig = new KubeConfig();
    if (values.kubeconfig) kubeConfig.loadFromFile(values.kubeconfig);
    else kubeConfig.loadFromDefault();
    const api = new FailoverPairApi(kubeConfig, node);
    const namespace = values['watch-namespace'];
    agent = new Agent({
      node,
      log,
      metrics,
      finalizers: true,
      source: new KubernetesPairSource(api, node, log, metrics, namespace ? { namespace } : {}),
      arbiter,
      actuator,
      status: new KubernetesStatusSink(api, node),
      events: new KubernetesEventSink(api, log),
      metricsPort,
      metricsHost: values['metrics-host'] ?? '0.0.0.0',
    });
  }
  log.info(
    { mode: pairsFile ? 'file' : 'kubernetes', nodeIp: values['node-ip'], consul: connection.address },
    'starting',
  );
  await agent.start();
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, 'stopping; the host keeps its state and the gate lease covers the restart');
      // A stuck call must not keep a rolling update waiting.
      const deadline = setTimeout(() => resolve(0), 4_500);
      deadline.unref();
      agent.stop().then(
        () => resolve(0),
        (error: unknown) => {
          log.error({ err: error }, 'error while stopping');
          resolve(0);
        },
      );
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}
