import { stringify } from 'yaml';
import { PROBE_SOURCE_ADDR, VIP, VM1_ADDR, VM2_ADDR, WEB_PORT } from './addresses.js';

export interface E2ePairOptions {
  name?: string;
  namespace?: string;
  failback?: 'Automatic' | 'Manual';
  arbitration?: 'Lock' | 'Health';
  vip?: string;
  ports?: number[];
  /** Ask the pair to move to this node (probegate.io/switchover-to). */
  switchoverTo?: string;
  timing?: {
    holdDownSeconds?: number;
    failbackDelaySeconds?: number;
    arbiterGraceSeconds?: number;
    arbiterUnreachable?: 'Hold' | 'Demote';
    gateLeaseSeconds?: number;
  };
}

/** The FailoverPair of the e2e topology: vm1 primary, vm2 secondary, the web service arbitrates. */
export function pairManifest(options: E2ePairOptions = {}): Record<string, unknown> {
  return {
    apiVersion: 'probegate.io/v1alpha1',
    kind: 'FailoverPair',
    metadata: {
      name: options.name ?? 'web',
      namespace: options.namespace ?? 'default',
      ...(options.switchoverTo
        ? { annotations: { 'probegate.io/switchover-to': options.switchoverTo } }
        : {}),
    },
    spec: {
      vip: options.vip ?? VIP,
      probe: {
        ports: options.ports ?? [WEB_PORT],
        protocol: 'HTTP',
        sourceCIDRs: [`${PROBE_SOURCE_ADDR}/32`],
      },
      consul: { service: 'web' },
      primary: { node: 'vm1', address: VM1_ADDR },
      secondary: { node: 'vm2', address: VM2_ADDR },
      failback: options.failback ?? 'Automatic',
      arbitration: options.arbitration ?? 'Lock',
      timing: {
        holdDownSeconds: 1,
        failbackDelaySeconds: 2,
        arbiterGraceSeconds: 3,
        arbiterUnreachable: 'Demote',
        gateLeaseSeconds: 6,
        ...options.timing,
      },
    },
  };
}

/** A pairs file: FailoverPair manifests as multi-document YAML. */
export const pairsYaml = (manifests: readonly Record<string, unknown>[]): string =>
  manifests.map((m) => stringify(m)).join('---\n');
