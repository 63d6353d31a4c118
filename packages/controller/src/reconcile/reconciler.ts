import {
  type Decision,
  type DecisionMemory,
  decide,
  type FailoverPairSpec,
  initialMemory,
  type LockView,
  type MemberRole,
  type PairHealthView,
  policyFromSpec,
  roleOfNode,
} from '@probegate/core';
import type { PairGate } from '@probegate/host';
import type { Logger } from 'pino';
import type { Arbiter } from '../arbiter/arbiter.js';
import type { HealthTarget, PairKey, Unsubscribe } from '../arbiter/types.js';
import type { AgentMetrics } from '../observability/metrics.js';
import type { HostBatcher, LocalObservation } from './host-batcher.js';
import { namesNode, nodeFinalizer, type PairObject, splitPairKey } from './pair.js';
import type { EventSink, PairSource, StatusSink } from './ports.js';
import { statusChanges, statusFragment } from './status.js';

/** What a reconcile asks of the work queue (controller-runtime style). */
export interface ReconcileResult {
  requeueAfterMs?: number;
}

export interface ReconcilerDeps {
  node: string;
  source: PairSource;
  arbiter: Arbiter;
  host: HostBatcher;
  status: StatusSink;
  events: EventSink;
  metrics: AgentMetrics;
  log: Logger;
  now?: () => number;
  /** Whether sources carry finalizers (Kubernetes) or not (pairs file). */
  finalizers: boolean;
}

/** Per pair, what this node keeps between reconciles. */
interface PairRuntime {
  memory: DecisionMemory;
  subscription: string;
  unsubscribe: Unsubscribe[];
  target: HealthTarget;
  lockMode: boolean;
  lastReason?: string;
  /** Role, gate and VIP gauges as last set (bits 0, 1, 2). */
  gauges?: number;
}

const UNKNOWN_LOCAL: LocalObservation = { gate: 'Closed', vip: 'Unbound', leaseExpiresAt: undefined };
/** Retry soon when the lock could not be taken (another holder may be letting go). */
const LOCK_RETRY_MS = 1_000;
/**
 * A pair's first decision waits (at most this long after start) for the arbiter's first answers,
 * as a controller waits for its caches to sync: a restarted agent that decided before them took
 * Consul for unreachable and closed the open gate it had just adopted, for the ~40 ms until the
 * answers came. Meanwhile the host keeps what the kernel has (the adopted gate and its lease).
 */
const FIRST_ANSWERS_WAIT_MS = 2_000;
const FIRST_ANSWERS_POLL_MS = 100;

/**
 * One reconcile of one pair on this node: observe (host, arbiter) -> core.decide -> actuate in
 * break-before-make order (close gate, unbind VIP, release lock / acquire lock, bind VIP, open
 * gate) -> publish status. Deleted pairs, and pairs that no longer name this node, are torn down.
 */
export class Reconciler {
  private readonly runtime = new Map<string, PairRuntime>();
  private readonly now: () => number;
  private readonly startedAt: number;

  constructor(
    private readonly deps: ReconcilerDeps,
    private readonly enqueue: (key: string) => void,
  ) {
    this.now = deps.now ?? Date.now;
    this.startedAt = this.now();
  }

  /** Keys this node currently manages (for periodic resync). */
  managedKeys(): string[] {
    return [...this.runtime.keys()];
  }

  async reconcile(key: string): Promise<ReconcileResult> {
    const { node, source } = this.deps;
    const pair = source.get(key);
    if (!pair || pair.deleting || !namesNode(pair.spec, node)) {
      await this.teardown(key, pair);
      return {};
    }
    const self = roleOfNode(policyFromSpec(pair.spec), node) as MemberRole;
    if (this.deps.finalizers && !pair.finalizers.includes(nodeFinalizer(node))) {
      await this.stage(pair, 'status', () => this.deps.status.addFinalizer(pair));
    }
    const runtime = this.ensureRuntime(pair);
    if (!runtime.memory.started && !this.arbiterAnswered(pair, runtime)) {
      if (this.now() - this.startedAt < FIRST_ANSWERS_WAIT_MS)
        return { requeueAfterMs: FIRST_ANSWERS_POLL_MS };
    }
    let decision = this.decideFor(pair, self, runtime, this.now());
    let executed = await this.execute(pair, runtime, decision);
    if (executed && decision.lockAction === 'acquire') {
      // Consul just granted the lock: bind and open now, not after the watch has reported it.
      this.record(pair, runtime, decision, decision.nextMemory, true);
      runtime.memory = decision.nextMemory;
      decision = this.decideFor(pair, self, runtime, this.now(), JUST_ACQUIRED(node));
      executed = await this.execute(pair, runtime, decision);
    }
    const memory = executed ? decision.nextMemory : runtime.memory;
    this.record(pair, runtime, decision, memory, executed);
    runtime.memory = memory;
    await this.publish(pair, self, decision, executed);
    const requeue = executed ? decision.requeueAfterMs : LOCK_RETRY_MS;
    return requeue === undefined ? {} : { requeueAfterMs: Math.max(requeue, 50) };
  }

  /**
   * The arbiter has told this node what it needs for a first decision: the pair's health and, in
   * Lock mode, its lock as seen with this node's session settled (a lock recorded as this node's
   * is recognised as held once the session left by the previous run is adopted).
   */
  private arbiterAnswered(pair: PairObject, runtime: PairRuntime): boolean {
    const { arbiter, node } = this.deps;
    const pk = splitPairKey(pair.key);
    if (arbiter.healthOf(pk) === undefined) return false;
    if (!runtime.lockMode) return true;
    const lock = arbiter.lockOf(pk);
    return lock !== undefined && (lock.holder !== node || lock.ownSessionValid);
  }

  private decideFor(
    pair: PairObject,
    self: MemberRole,
    runtime: PairRuntime,
    now: number,
    lockOverride?: LockView,
  ): Decision {
    const { arbiter } = this.deps;
    const pk = splitPairKey(pair.key);
    const health = arbiter.healthOf(pk);
    const lock = lockOverride ?? arbiter.lockOf(pk);
    const reach = arbiter.reachability();
    const observed = this.deps.host.observedOf(pair.key) ?? UNKNOWN_LOCAL;
    return decide({
      policy: policyFromSpec(pair.spec),
      self,
      health: health ?? UNKNOWN_HEALTH,
      // No health answer yet counts as unreachable: Hold keeps the state through the grace.
      arbiter: {
        reachable: reach.reachable && health !== undefined,
        lastContactAt: reach.lastContactAt ?? this.startedAt,
      },
      lock: lock
        ? {
            holder: lock.holder,
            ownSessionValid: lock.ownSessionValid,
            ...(lock.confirmed === undefined ? {} : { confirmed: lock.confirmed }),
          }
        : NO_LOCK,
      observed: {
        gate: observed.gate,
        vip: pair.spec.vip === undefined ? 'Unbound' : observed.vip,
        gateLeaseExpiresAt: observed.leaseExpiresAt,
      },
      memory: runtime.memory,
      requests: pair.requests,
      now,
    });
  }

  /** Runs the decision's steps in their order; false when the lock could not be taken. */
  private async execute(pair: PairObject, runtime: PairRuntime, decision: Decision): Promise<boolean> {
    const { host, arbiter } = this.deps;
    const pk = splitPairKey(pair.key);
    const request = { pair: pk, target: runtime.target, reason: decision.reason };
    const steps = new Set(decision.steps);
    if (steps.has('closeGate') || steps.has('unbindVip')) {
      host.set(pair.key, gateOf(pair, false));
      await this.stage(pair, 'actuate', () => host.flush());
    }
    if (steps.has('releaseLock')) await this.stage(pair, 'arbiter', () => arbiter.release(request));
    if (steps.has('acquireLock')) {
      const acquired = await this.stage(pair, 'arbiter', () => arbiter.acquire(request));
      if (!acquired) {
        host.set(pair.key, gateOf(pair, false));
        await this.stage(pair, 'actuate', () => host.flush());
        return false;
      }
    }
    const active = decision.desired.role === 'Active';
    const wasSet = host.has(pair.key);
    host.set(pair.key, gateOf(pair, active));
    if (steps.has('bindVip') || steps.has('openGate') || !wasSet) {
      await this.stage(pair, 'actuate', () => host.flush());
    }
    return true;
  }

  private record(
    pair: PairObject,
    runtime: PairRuntime,
    decision: Decision,
    memory: DecisionMemory,
    executed: boolean,
  ): void {
    const { metrics, node, log, events } = this.deps;
    const before = runtime.memory.role;
    const after = memory.role;
    const observed = this.deps.host.observedOf(pair.key) ?? UNKNOWN_LOCAL;
    const role = after === 'Active' ? 1 : 0;
    const gate = observed.gate === 'Open' ? 1 : 0;
    const vip = observed.vip === 'Bound' ? 1 : 0;
    // Setting a labelled gauge hashes its labels: 3 of them per reconcile were ~5% of a mass failover's CPU.
    const gauges = role | (gate << 1) | (vip << 2);
    if (runtime.gauges !== gauges) {
      metrics.role.set({ pair: pair.key, node }, role);
      metrics.gateOpen.set({ pair: pair.key }, gate);
      metrics.vipBound.set({ pair: pair.key }, vip);
      runtime.gauges = gauges;
    }
    const fields = { pair: pair.key, node, reason: decision.reason, role: after };
    if (runtime.memory.started && before !== after) {
      metrics.transitions.inc({ pair: pair.key, from: before, to: after, reason: decision.reason });
      log.info({ ...fields, from: before, steps: decision.steps }, decision.explanation);
      events.normal(
        pair,
        after === 'Active' ? 'BecameActive' : 'BecameStandby',
        `${node}: ${decision.explanation}`,
      );
    } else if (runtime.lastReason !== decision.reason) {
      log.info(fields, decision.explanation);
    }
    if (!executed) log.warn(fields, 'lock is held elsewhere; staying Standby and retrying');
    runtime.lastReason = decision.reason;
  }

  private async publish(
    pair: PairObject,
    self: MemberRole,
    decision: Decision,
    executed: boolean,
  ): Promise<void> {
    const { arbiter, node } = this.deps;
    const health = arbiter.healthOf(splitPairKey(pair.key));
    const peer = self === 'primary' ? 'secondary' : 'primary';
    const peerStatus = health?.[peer].status;
    const effective: Decision = executed
      ? decision
      : { ...decision, desired: { role: 'Standby', gate: 'Closed', vip: 'Unbound' } };
    const fragmentFrom = () => {
      const current = pair.status ?? this.deps.status.currentStatus?.(pair);
      const fragment = statusFragment({
        pair: current === pair.status ? pair : { ...pair, status: current },
        node,
        self,
        ownHealth: health?.[self].status ?? 'unknown',
        decision: effective,
        observed: this.deps.host.observedOf(pair.key) ?? UNKNOWN_LOCAL,
        arbiterReachable: arbiter.reachability().reachable,
        peerHealthy: peerStatus === 'passing' || (peerStatus === 'warning' && pair.spec.warningIsHealthy),
        now: this.now(),
      });
      return { fragment, changes: statusChanges(current, fragment) };
    };
    let { fragment, changes } = fragmentFrom();
    if (changes.pair && !pair.status && this.deps.status.refreshStatus) {
      // Pair-level fields change only on a transition: worth one read of what the peer wrote.
      await this.stage(pair, 'status', () => this.deps.status.refreshStatus?.(pair) ?? Promise.resolve());
      ({ fragment, changes } = fragmentFrom());
    }
    if (!changes.member && !changes.pair) return;
    await this.stage(pair, 'status', () => this.deps.status.writeStatus(pair, fragment, changes));
  }

  private ensureRuntime(pair: PairObject): PairRuntime {
    const { arbiter, node } = this.deps;
    const target = targetOf(pair.spec);
    const subscription = JSON.stringify([
      target,
      pair.spec.primary,
      pair.spec.secondary,
      pair.spec.arbitration,
    ]);
    const existing = this.runtime.get(pair.key);
    if (existing && existing.subscription === subscription) return existing;
    for (const unsubscribe of existing?.unsubscribe ?? []) unsubscribe();
    const pk: PairKey = splitPairKey(pair.key);
    const requeue = () => this.enqueue(pair.key);
    const lockMode = pair.spec.arbitration === 'Lock';
    const unsubscribe = [
      arbiter.watchHealth(
        {
          pair: pk,
          target,
          members: { primary: memberOf(pair.spec, 'primary'), secondary: memberOf(pair.spec, 'secondary') },
        },
        requeue,
      ),
    ];
    if (lockMode) unsubscribe.push(arbiter.watchLock(pk, requeue));
    const activeNode = pair.status?.activeNode;
    const hint = activeNode ? roleOfNode(policyFromSpec(pair.spec), activeNode) : undefined;
    const runtime: PairRuntime = {
      memory: existing?.memory ?? initialMemory(hint),
      subscription,
      unsubscribe,
      target,
      lockMode,
    };
    this.runtime.set(pair.key, runtime);
    this.deps.log.debug({ pair: pair.key, node }, 'watching arbiter for pair');
    return runtime;
  }

  /** Closes the gate, unbinds the VIP, gives the lock back, then lets go of the pair. */
  private async teardown(key: string, pair: PairObject | undefined): Promise<void> {
    const { host, arbiter, node, metrics, status, log } = this.deps;
    const runtime = this.runtime.get(key);
    if (host.has(key)) {
      host.set(key, undefined);
      await host.flush();
    }
    if (runtime?.lockMode) {
      await arbiter.release({ pair: splitPairKey(key), target: runtime.target, reason: 'PairRemoved' });
    }
    for (const unsubscribe of runtime?.unsubscribe ?? []) unsubscribe();
    if (runtime) {
      this.runtime.delete(key);
      metrics.forgetPair(key, node);
      log.info({ pair: key, node }, 'pair no longer managed here; host state cleaned');
    }
    if (this.deps.finalizers && pair?.finalizers.includes(nodeFinalizer(node))) {
      await status.removeFinalizer(pair);
    }
  }

  /** Runs one stage, counting its errors by stage for metrics before rethrowing. */
  private async stage<T>(pair: PairObject, stage: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      this.deps.metrics.errors.inc({ pair: pair.key, stage });
      this.deps.events.warning(pair, 'ReconcileError', `${this.deps.node} ${stage}: ${String(error)}`);
      throw error;
    }
  }

  /** Stops every arbiter watch (shutdown); the host is left as it is. */
  close(): void {
    for (const runtime of this.runtime.values()) for (const unsubscribe of runtime.unsubscribe) unsubscribe();
  }
}

const UNKNOWN_HEALTH: PairHealthView = {
  primary: { status: 'missing', index: 0, readAt: 0 },
  secondary: { status: 'missing', index: 0, readAt: 0 },
};
const NO_LOCK: LockView = { holder: undefined, ownSessionValid: false };
/** The lock as an acquire that Consul just granted leaves it. */
const JUST_ACQUIRED = (node: string): LockView => ({ holder: node, ownSessionValid: true, confirmed: true });

export const targetOf = (spec: FailoverPairSpec): HealthTarget => ({
  service: spec.consul.service,
  ...(spec.consul.datacenter ? { datacenter: spec.consul.datacenter } : {}),
  ...(spec.consul.tag ? { tag: spec.consul.tag } : {}),
});

function memberOf(spec: FailoverPairSpec, role: MemberRole) {
  const member = spec[role];
  const byName = spec.consul.memberMapping === 'ByNodeName';
  return {
    node: member.node,
    address: member.address,
    ...(byName && member.consulNode ? { consulNode: member.consulNode } : {}),
  };
}

/** What the host should hold for a pair on this node. */
export function gateOf(pair: PairObject, active: boolean): PairGate {
  const { spec } = pair;
  return {
    key: pair.key,
    sourceCIDRs: [...spec.probe.sourceCIDRs],
    ports: [...spec.probe.ports],
    ...(spec.vip ? { vip: spec.vip } : {}),
    active,
  };
}
