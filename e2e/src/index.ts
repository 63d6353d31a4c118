// The e2e toolkit: topology, emulated load balancer, client, invariant checker and the whole stack.
export * from './addresses.js';
export { restoreEverything } from './baseline-state.js';
export { VipClient } from './client.js';
export { consulGet, NsConsulAgent, waitForCluster, webHealth } from './consul-agents.js';
export { type CheckChange, CheckWatcher } from './consul-watch.js';
export * from './invariant.js';
export { narrate } from './narrator.js';
export { type E2ePairOptions, pairManifest, pairsYaml } from './pairs.js';
export { failoverSvg } from './plot.js';
export {
  type AgentSource,
  ensureProbegateBuilt,
  ProbegateAgentProcess,
  probegateCommand,
} from './probegate-agent.js';
export { probegateStatus } from './probegate-status.js';
export { runScenario, type ScenarioResult } from './scenario.js';
export { SeedBaseline, type SeedGateEvent } from './seed-baseline.js';
export { SlbEmulator, type SlbEmulatorOptions } from './slb-emulator.js';
export { E2eStack, type StackOptions } from './stack.js';
export type * from './timeline.js';
export { createTopology, type Topology, type VmName } from './topology.js';
export { type Tunnel, tunnelInto } from './tunnel.js';
export { WebServer } from './web-server.js';
