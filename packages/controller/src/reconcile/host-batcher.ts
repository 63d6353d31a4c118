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

/** When a kernel write starts (see HostBatcher.coalesce). */
export interface GatherOptions {
  /** Flushes must stop coming for this long (default 5 ms)... */
  quietMs: number;
  /** ...but the write starts at the latest this long after the first flush (default 500 ms). */
  maxWaitMs: number;
  /** Reconciles running now: the write waits until each of them waits for it (default: none). */
  busy: () => number;
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
  /** Flush calls not answered yet. */
  private waiting = 0;
  private readonly gatherOptions: GatherOptions;
  private queued: Promise<void> | undefined;
  private lastError: unknown;
  private earliestLeaseEnd: number | undefined;
  private lastApplyOk = true;

  constructor(
    private readonly actuator: HostActuator,
    private readonly leaseSeconds: () => number,
    private readonly now: () => number = Date.now,
    private readonly metrics?: AgentMetrics,
    gather: Partial<GatherOptions> = {},
  ) {
    this.gatherOptions = { quietMs: 5, maxWaitMs: 500, busy: () => 0, ...gather };
  }

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
    this.waiting++;
    const write = this.metrics ? this.metrics.timed('host', 'flush', () => this.coalesce()) : this.coalesce();
    const settled = () => {
      this.waiting--;
    };
    write.then(settled, settled);
    return write;
  }

  /**
   * A write does not start at the first flush but once flushes stop coming in for a moment
   * (`quietMs`) and every reconcile still running waits for this write (`busy()`), or at the
   * latest `maxWaitMs` after the first flush: the reconciles that one Consul answer (a lock
   * transaction of 64 pairs) or one health event resumes, and those whose lock calls are still
   * on the way, all go into that one write. Starting at the first flush sent 1 pair in the first
   * write and made the rest wait for a second one; a write of 1,000 pairs takes the better part
   * of a second, so each extra write in a mass failover adds that much to it. A lone flip waits
   * for nothing.
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

  private gather(): Promise<void> {
    const { quietMs, maxWaitMs, busy } = this.gatherOptions;
    const started = Date.now();
    return new Promise<void>((resolve) => {
      let seen = this.joined;
      const check = (first: boolean) => {
        const quiet = this.joined === seen;
        seen = this.joined;
        const running = busy();
        // At the first look only when the running reconciles are known (and all wait for this write).
        const allWaiting = this.waiting >= running && (!first || running > 0);
        if ((quiet && allWaiting) || Date.now() - started >= maxWaitMs) return resolve();
        setTimeout(() => check(false), quietMs);
      };
      // The first look comes after this turn of the event loop, not after quietMs: a lone flip
      // (every running reconcile already waits for it) is written at once, and a failover's reconciles
      // resumed by the same Consul answer have joined by then.
      setImmediate(() => check(true));
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
