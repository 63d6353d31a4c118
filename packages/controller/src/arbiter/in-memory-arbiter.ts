import type { Arbiter, HealthSubscription, LockRequest } from './arbiter.js';
import { ArbiterError } from './errors.js';
import { defaultHistoryLength, nextLockRecord, pairId } from './lock-record.js';
import type {
  HealthStatus,
  HealthTarget,
  LockRecord,
  LockView,
  PairHealthView,
  PairKey,
  Reachability,
  Unsubscribe,
} from './types.js';

const targetKey = (t: HealthTarget) => JSON.stringify([t.service, t.datacenter ?? '', t.tag ?? '']);

interface Lock {
  holder: string | null;
  record?: LockRecord;
}

/**
 * A shared in-memory stand-in for Consul, for tests of the reconcile loop: several nodes' arbiters
 * (arbiterFor) see the same health and locks. Health is set per member node; a node's "session" is
 * invalidated with invalidateSessions, which frees its locks as Consul's `release` behaviour does;
 * setConfirmed(false) plays a holder cut off from the servers, setAgentAlive(false) a dead agent.
 */
export class InMemoryConsul {
  private index = 1;
  private readonly statuses = new Map<string, Map<string, HealthStatus>>();
  private readonly locks = new Map<string, Lock>();
  private readonly validSessions = new Set<string>();
  private readonly unconfirmed = new Set<string>();
  private readonly agentAlive = new Map<string, boolean>();
  private reachable: Reachability = { reachable: true };
  private readonly changeListeners = new Set<() => void>();
  private readonly reachabilityListeners = new Set<(state: Reachability) => void>();
  private clock: () => number;

  constructor(options: { now?: () => number } = {}) {
    this.clock = options.now ?? Date.now;
  }

  arbiterFor(node: string): InMemoryArbiter {
    this.validSessions.add(node);
    return new InMemoryArbiter(this, node);
  }

  setHealth(target: HealthTarget, node: string, status: HealthStatus): void {
    const key = targetKey(target);
    const map = this.statuses.get(key) ?? new Map<string, HealthStatus>();
    map.set(node, status);
    this.statuses.set(key, map);
    // Sessions are tied to serfHealth only: a critical service check is handed over by a release.
    this.bump();
  }

  /** Whether Consul confirmed the node's session recently (false: a holder cut off from the servers). */
  setConfirmed(node: string, confirmed: boolean): void {
    if (confirmed) this.unconfirmed.delete(node);
    else this.unconfirmed.add(node);
    this.bump();
  }

  /** Whether the node's agent keeps its session (peers' liveness); unset nodes report no liveness. */
  setAgentAlive(node: string, alive: boolean): void {
    this.agentAlive.set(node, alive);
    this.bump();
  }

  /** The node's session dies (its Consul agent failed or the session expired): its locks are freed. */
  invalidateSessions(node: string): void {
    this.validSessions.delete(node);
    for (const [pair, lock] of this.locks) {
      if (lock.holder !== node) continue;
      // As the Consul adapter does, the record notes the loss.
      this.locks.set(pair, {
        holder: null,
        record: nextLockRecord(lock.record, pair, null, 'session invalidated', new Date(this.clock())),
      });
    }
    this.bump();
  }

  setReachable(reachable: boolean, message = 'in-memory arbiter set unreachable'): void {
    const now = this.clock();
    this.reachable = reachable
      ? { ...this.reachable, reachable, lastContactAt: now }
      : { ...this.reachable, reachable, lastError: { kind: 'unreachable', message, at: now } };
    for (const listener of this.reachabilityListeners) listener(this.reachable);
  }

  /** @internal used by InMemoryArbiter */
  state() {
    return {
      index: this.index,
      now: this.clock(),
      reachable: this.reachable,
      status: (target: HealthTarget, node: string): HealthStatus =>
        this.statuses.get(targetKey(target))?.get(node) ?? 'missing',
      lock: (pair: string): Lock => this.locks.get(pair) ?? { holder: null },
      sessionValid: (node: string) => this.validSessions.has(node),
      confirmed: (node: string) => !this.unconfirmed.has(node),
      agentAlive: (node: string) => this.agentAlive.get(node),
    };
  }

  /** @internal */
  assertReachable(operation: string): void {
    if (!this.reachable.reachable)
      throw new ArbiterError('unreachable', operation, 'in-memory arbiter is down');
  }

  /** @internal */
  takeLock(pair: string, node: string, reason: string): boolean {
    const lock = this.locks.get(pair) ?? { holder: null };
    if (lock.holder === node) return true;
    if (lock.holder !== null) return false;
    this.validSessions.add(node);
    this.locks.set(pair, {
      holder: node,
      record: nextLockRecord(lock.record, pair, node, reason, new Date(this.clock()), defaultHistoryLength),
    });
    this.bump();
    return true;
  }

  /** @internal */
  giveBack(pair: string, node: string, reason: string): void {
    const lock = this.locks.get(pair);
    if (!lock || lock.holder !== node) return;
    this.locks.set(pair, {
      holder: null,
      record: nextLockRecord(lock.record, pair, null, reason, new Date(this.clock()), defaultHistoryLength),
    });
    this.bump();
  }

  /** @internal */
  onChange(listener: () => void): Unsubscribe {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  /** @internal */
  onReachability(listener: (state: Reachability) => void): Unsubscribe {
    this.reachabilityListeners.add(listener);
    return () => this.reachabilityListeners.delete(listener);
  }

  private bump(): void {
    this.index += 1;
    for (const listener of this.changeListeners) listener();
  }
}

/** One node's view of an InMemoryConsul; it emits synchronously on every change. */
export class InMemoryArbiter implements Arbiter {
  private readonly unsubscribers = new Set<Unsubscribe>();
  private readonly healthSubs = new Map<string, HealthSubscription>();
  readonly calls = { acquire: 0, release: 0 };

  constructor(
    private readonly consul: InMemoryConsul,
    readonly node: string,
  ) {}

  watchHealth(subscription: HealthSubscription, listener: (view: PairHealthView) => void): Unsubscribe {
    const id = pairId(subscription.pair);
    this.healthSubs.set(id, subscription);
    let last: string | undefined;
    const emit = () => {
      const view = this.healthView(subscription);
      const key = JSON.stringify([view.primary.status, view.secondary.status]);
      if (key !== last) {
        last = key;
        listener(view);
      }
    };
    emit();
    return this.track(this.consul.onChange(emit));
  }

  healthOf(pair: PairKey): PairHealthView | undefined {
    const subscription = this.healthSubs.get(pairId(pair));
    return subscription ? this.healthView(subscription) : undefined;
  }

  async acquire(request: LockRequest): Promise<boolean> {
    this.calls.acquire += 1;
    this.consul.assertReachable('kv.acquire');
    return this.consul.takeLock(pairId(request.pair), this.node, request.reason);
  }

  async release(request: LockRequest): Promise<void> {
    this.calls.release += 1;
    this.consul.assertReachable('kv.release');
    this.consul.giveBack(pairId(request.pair), this.node, request.reason);
  }

  watchLock(pair: PairKey, listener: (view: LockView) => void): Unsubscribe {
    let last: string | undefined;
    const emit = () => {
      const view = this.lockView(pair);
      const key = JSON.stringify([view.holder, view.ownSessionValid, view.confirmed, view.record]);
      if (key !== last) {
        last = key;
        listener(view);
      }
    };
    emit();
    return this.track(this.consul.onChange(emit));
  }

  lockOf(pair: PairKey): LockView | undefined {
    return this.lockView(pair);
  }

  async readRecord(pair: PairKey): Promise<LockRecord | undefined> {
    this.consul.assertReachable('kv.get');
    return this.consul.state().lock(pairId(pair)).record;
  }

  reachability(): Reachability {
    return this.consul.state().reachable;
  }

  onReachabilityChange(listener: (state: Reachability) => void): Unsubscribe {
    return this.track(this.consul.onReachability(listener));
  }

  async close(): Promise<void> {
    for (const unsubscribe of this.unsubscribers) unsubscribe();
    this.unsubscribers.clear();
  }

  private healthView(subscription: HealthSubscription): PairHealthView {
    const state = this.consul.state();
    const { primary, secondary } = subscription.members;
    const at = { index: state.index, readAt: state.now };
    const member = (node: string) => {
      const alive = state.agentAlive(node);
      return {
        status: state.status(subscription.target, node),
        ...at,
        ...(alive === undefined ? {} : { agentAlive: alive }),
      };
    };
    return { primary: member(primary.node), secondary: member(secondary.node) };
  }

  private lockView(pair: PairKey): LockView {
    const state = this.consul.state();
    const lock = state.lock(pairId(pair));
    const own = lock.holder === this.node && state.sessionValid(this.node);
    return {
      holder: lock.holder ?? undefined,
      ownSessionValid: own,
      ...(own ? { confirmed: state.confirmed(this.node) } : {}),
      index: state.index,
      readAt: state.now,
      ...(lock.record ? { record: lock.record } : {}),
    };
  }

  private track(unsubscribe: Unsubscribe): Unsubscribe {
    this.unsubscribers.add(unsubscribe);
    return () => {
      unsubscribe();
      this.unsubscribers.delete(unsubscribe);
    };
  }
}
