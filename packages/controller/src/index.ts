export * from './agent/agent.js';
export * from './arbiter/index.js';
export { FilePairSource } from './file/file-source.js';
export { parsePairsFile } from './file/pairs-file.js';
export * from './kube/crd.js';
export { FailoverPairApi } from './kube/failover-pair-api.js';
export { KubernetesPairSource } from './kube/kubernetes-source.js';
export { AGENT_PERMISSIONS, permissionsUsed } from './kube/permissions.js';
export { AgentMetrics } from './observability/metrics.js';
