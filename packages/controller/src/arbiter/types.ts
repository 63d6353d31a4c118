// Views the arbiter hands to the decision logic. Shapes follow the health/lock view types planned for
// @probegate/core, so they can be swapped for core's own once it exports them.

/** Health of one pair member as Consul sees it; `missing` when no instance maps to the member. */
export type HealthStatus = 'passing' | 'warning' | 'critical' | 'missing';

/** Identifies a FailoverPair (Kubernetes namespace/name, or file-mode group/name). */
export interface PairKey {
  namespace: string;
  name: string;
}

/** Where a pair's health comes from. */
export interface HealthTarget {
  service: string;
  datacenter?: string;
  tag?: string;
}

/** A pair member and how it maps to a Consul service instance (by address unless consulNode is set). */
export interface PairMember {
  node: string;
  address: string;
  consulNode?: string;
}

export interface MemberHealth {
  node: string;
  status: HealthStatus;
}

export interface HealthView {
  members: MemberHealth[];
  /** Consul's X-Consul-Index of the read this view comes from. */
  index: number;
  /** When the read completed (ms since the epoch). */
  readAt: number;
}

/** One entry of the readable lock history. */
export interface LockTransition {
  from: string | null;
  to: string | null;
  reason: string;
  at: string;
}

/** The JSON record kept in KV next to the lock, readable with `consul kv get`. */
export interface LockRecord {
  pair: string;
  holder: string | null;
  since: string;
  reason: string;
  transitions: LockTransition[];
}

export interface LockView {
  /** Node holding the lock, or null when free. */
  holder: string | null;
  /** True when this node's session exists and is the one holding the lock. */
  ownSessionValid: boolean;
  index: number;
  readAt: number;
  record?: LockRecord;
}

export interface Reachability {
  reachable: boolean;
  lastError?: { kind: string; message: string; at: number };
  lastContactAt?: number;
}

export type Unsubscribe = () => void;
