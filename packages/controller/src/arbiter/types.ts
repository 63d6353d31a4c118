// Views the arbiter hands to the decision logic: core's own types, extended where the arbiter knows more.
import type { LockView as CoreLockView, HealthStatus, MemberHealth, PairHealthView } from '@probegate/core';

export type { HealthStatus, MemberHealth, PairHealthView };

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

/** The two members of a pair. */
export interface PairMembers {
  primary: PairMember;
  secondary: PairMember;
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

/** core's LockView (holder, ownSessionValid: this node's session is valid and holds the lock) plus the read. */
export interface LockView extends CoreLockView {
  /** Consul's X-Consul-Index of the read this view comes from. */
  readonly index: number;
  /** When the read completed (ms since the epoch). */
  readonly readAt: number;
  readonly record?: LockRecord;
}

export interface Reachability {
  reachable: boolean;
  lastError?: { kind: string; message: string; at: number };
  lastContactAt?: number;
}

export type Unsubscribe = () => void;
