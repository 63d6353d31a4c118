import type {
  HealthTarget,
  LockRecord,
  LockView,
  PairHealthView,
  PairKey,
  PairMembers,
  Reachability,
  Unsubscribe,
} from './types.js';

/** What a pair's health is watched for: its Consul target and the members to map instances onto. */
export interface HealthSubscription {
  pair: PairKey;
  target: HealthTarget;
  members: PairMembers;
}

/** Taking or giving back a pair's lock on behalf of this node. */
export interface LockRequest {
  pair: PairKey;
  /** The health target whose instance on this node the lock is tied to (it is lost when that turns critical). */
  target: HealthTarget;
  reason: string;
}

/**
 * The arbiter port: who is healthy, and who may be active. The Consul adapter implements it for real,
 * InMemoryArbiter for tests of the reconcile loop.
 */
export interface Arbiter {
  /** Calls `listener` with the pair's health view now (if known) and on every change of a member's status. */
  watchHealth(subscription: HealthSubscription, listener: (view: PairHealthView) => void): Unsubscribe;
  /** Latest health view of a watched pair, or undefined before the first answer. */
  healthOf(pair: PairKey): PairHealthView | undefined;
  /** Takes the pair's lock for this node; false when another node holds it or this node may not. */
  acquire(request: LockRequest): Promise<boolean>;
  /** Gives the lock back if this node holds it; a no-op otherwise. */
  release(request: LockRequest): Promise<void>;
  /** Calls `listener` with the pair's lock view now (if known) and on every change. */
  watchLock(pair: PairKey, listener: (view: LockView) => void): Unsubscribe;
  lockOf(pair: PairKey): LockView | undefined;
  /** The readable record (holder, since, reason, history), read fresh. */
  readRecord(pair: PairKey): Promise<LockRecord | undefined>;
  reachability(): Reachability;
  onReachabilityChange(listener: (state: Reachability) => void): Unsubscribe;
  /** Stops all watches; the lock and this node's session are left in place for the next start. */
  close(): Promise<void>;
}
