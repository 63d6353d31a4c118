import type {
  ApplyResult,
  GateState,
  HostActuator,
  ObservedState,
  PairGate,
  VipState,
} from '@probegate/host';
import type { AgentMetrics } from '../observability/metrics.js';

export interface LocalObservation {
  gate: GateState;
  vip: VipState;
  leaseExpiresAt: number | undefined;
}

/**
 * The host takes the desired state of every pair at once, in one atomic batch. Reconciles of
 * many pairs run concurrently; each sets its pair's entry and awaits the next flush, and flushes
 * coalesce: one apply in flight, at most one queued behind it carrying every change made since.
 * A mass failover of 1,000 pairs becomes a handful of kernel writes, not 1,000.
 */
export class HostBatcher {
  private readonly desired = new Map<string, PairGate>();
  private observed = new Map<string, LocalObservation>();
  private inFlight: Promise<void> | undefined;
  /** The apply in flight has not yet read `desired`: a flush now still rides on it. */
  private gathering = false;
  /** Flushes that joined the gathering write (to tell when they stop coming). */
  private joined = 0;
  private queued: Promise<void> | undefined;
  private lastError: unknown;
  private earliestLeaseEnd: number | undefined;
  private lastApplyOk = true;

  constructor(
    private readonly actuator: HostActuator,
    private readonly leaseSeconds: () => number,
    private readonly now: () => number = Date.now,
    private readonly metrics?: AgentMetrics,
    private readonly gatherTiming: { quietMs: number; maxWaitMs: number } = { quietMs: 5, maxWaitMs: 100 },
  ) {}

  /** Sets (or with undefined, removes) a pair's desired gate; takes effect at the next flush. */
  set(key: string, gate: PairGate | undefined): void {
    if (gate) this.desired.set(key, gate);
    else this.desired.delete(key);
  }

  has(key: string): boolean {
    return this.desired.has(key);
  }

  /** Gate/VIP/lease as the kernel reported at the last apply or observe. */
  observedOf(key: string): LocalObservation | undefined {
    return this.observed.get(key);
  }

  /**
   * When the first open gate's lease reaches half its length (the moment a renewal is due), as
   * of the last apply; undefined when no gate is open. One apply renews every lease due.
   */
  renewalDueAt(): number | undefined {
    return this.earliestLeaseEnd === undefined
      ? undefined
      : this.earliestLeaseEnd - (this.leaseSeconds() * 1000) / 2;
  }

  /** Whether the last kernel apply succeeded (readiness). */
  get healthy(): boolean {
    return this.lastApplyOk;
  }

  get error(): unknown {
    return this.lastError;
  }

  /** Reads the kernel (at start: adopt what a previous run left). */
  async observe(keyOfId: (id: string) => string | undefined): Promise<ObservedState> {
    const state = await this.actuator.observe();
    const vips = new Set(state.vips);
    const next = new Map<string, LocalObservation>();
    for (const pair of state.pairs.values()) {
      const key = pair.key ?? keyOfId(pair.id);
      if (!key) continue;
      const vip = this.desired.get(key)?.vip;
      next.set(key, {
        gate: pair.gate,
        vip: vip && vips.has(vip) ? 'Bound' : 'Unbound',
        leaseExpiresAt: pair.leaseExpiresAt?.getTime(),
      });
    }
    this.observed = next;
    return state;
  }

  /** Applies everything set so far; resolves when a kernel write that includes it has finished. */
  flush(): Promise<void> {
    return this.metrics ? this.metrics.timed('host', 'flush', () => this.coalesce()) : this.coalesce();
  }

  /**
   * A write does not start at the first flush but once flushes stop coming in for a moment
   * (`quietMs`, at most `maxWaitMs` after the first): the reconciles that one Consul answer (a
   * lock transaction of 64 pairs) or one health event resumes, and those the next few answers
   * resume, all go into that one write. Starting at the first flush sent 1 pair in the first
   * write and made the rest wait for a second one; a write of 1,000 pairs takes the better part
   * of a second, so each extra write in a mass failover adds that much to it.
   */
  private coalesce(): Promise<void> {
    if (!this.inFlight) {
      this.gathering = true;
      this.inFlight = this.gather()
        .then(() => this.applyNow())
        .finally(() => {
          this.inFlight = undefined;
        });
      return this.inFlight;
    }
    if (this.gathering) {
      this.joined++;
      return this.inFlight;
    }
    if (!this.queued) {
      this.queued = this.inFlight.then(
        () => this.takeQueued(),
        () => this.takeQueued(),
      );
    }
    return this.queued;
  }

  /** Resolves once no flush joined for quietMs, or maxWaitMs after it began. */
  private gather(): Promise<void> {
    const { quietMs, maxWaitMs } = this.gatherTiming;
    const rounds = Math.max(1, Math.ceil(maxWaitMs / quietMs));
    return new Promise<void>((resolve) => {
      let seen = this.joined;
      let round = 0;
      const check = () => {
        if (this.joined === seen || ++round >= rounds) return resolve();
        seen = this.joined;
        setTimeout(check, quietMs);
      };
      setTimeout(check, quietMs);
    });
  }

  private takeQueued(): Promise<void> {
    this.queued = undefined;
    return this.coalesce();
  }

  private async applyNow(): Promise<void> {
    this.gathering = false;
    const pairs = [...this.desired.values()];
    let result: ApplyResult;
    const apply = () =>
      this.actuator.apply(pairs, { now: new Date(this.now()), leaseSeconds: this.leaseSeconds() });
    try {
      result = await (this.metrics ? this.metrics.timed('host', 'apply', apply) : apply());
    } catch (error) {
      this.lastApplyOk = false;
      this.lastError = error;
      throw error;
    }
    this.lastApplyOk = true;
    this.lastError = undefined;
    const next = new Map<string, LocalObservation>();
    let earliest: number | undefined;
    for (const [key, state] of result.pairs) {
      const leaseExpiresAt = state.leaseExpiresAt?.getTime();
      if (leaseExpiresAt !== undefined && (earliest === undefined || leaseExpiresAt < earliest))
        earliest = leaseExpiresAt;
      next.set(key, { gate: state.gate, vip: state.vip ?? 'Unbound', leaseExpiresAt });
    }
    this.observed = next;
    this.earliestLeaseEnd = earliest;
  }
}
