import type { FailoverPairStatus, MemberStatus } from '@probegate/core';
import type { InvalidPair, PairObject } from './pair.js';

/** Where pairs come from (Kubernetes informer cache, pairs file). */
export interface PairSource {
  get(key: string): PairObject | undefined;
  keys(): string[];
  invalid(): InvalidPair[];
  /** Called with a key whenever that pair was added, changed or removed. */
  onChange(listener: (key: string) => void): void;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Listed and watching (readiness). */
  readonly healthy: boolean;
}

/** Pair-level status fields: written by the node that serves (or that must say nobody does). */
export type PairLevelStatus = Pick<
  FailoverPairStatus,
  'activeNode' | 'lastTransition' | 'transitions' | 'conditions' | 'observedGeneration'
>;

/**
 * What one node publishes: always its own member entry; sometimes the pair-level fields, then
 * guarded by the resourceVersion they were computed from, so a node acting on a stale view can
 * never overwrite what the serving node wrote meanwhile.
 */
export interface StatusFragment {
  member: MemberStatus;
  pair?: { fields: PairLevelStatus; basedOnResourceVersion: string | undefined };
}

/** Where status goes (Kubernetes status subresource, Consul KV) and the finalizer bookkeeping. */
export interface StatusSink {
  /** Writes the member entry and/or pair-level fields; a stale guard fails with a conflict. */
  writeStatus(
    pair: PairObject,
    fragment: StatusFragment,
    what: { member: boolean; pair: boolean },
  ): Promise<void>;
  /** The status as this sink last published it, where the pair object carries none (VM mode). */
  currentStatus?(pair: PairObject): FailoverPairStatus | undefined;
  /**
   * Re-reads the pair-level status the other member may have written (VM mode: each node otherwise
   * knows only its own writes), so a transition names the node that served before.
   */
  refreshStatus?(pair: PairObject): Promise<void>;
  addFinalizer(pair: PairObject): Promise<void>;
  removeFinalizer(pair: PairObject): Promise<void>;
}

export interface EventSink {
  /** A normal event (role transitions); best effort, never throws. */
  normal(pair: PairObject, reason: string, message: string): void;
  /** A warning event (errors); best effort, never throws. */
  warning(pair: PairObject, reason: string, message: string): void;
}
