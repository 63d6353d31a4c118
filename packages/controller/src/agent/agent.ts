import type { HostActuator } from '@probegate/host';
import type { Logger } from 'pino';
import type { Arbiter } from '../arbiter/arbiter.js';
import { type ObservabilityServer, startObservabilityServer } from '../observability/http-server.js';
import { AgentMetrics } from '../observability/metrics.js';
import { WorkQueue } from '../queue/work-queue.js';
import { HostBatcher } from '../reconcile/host-batcher.js';
import type { EventSink, PairSource, StatusSink } from '../reconcile/ports.js';
import { gateOf, Reconciler } from '../reconcile/reconciler.js';
import { BackgroundStatusWriter } from './background-status-writer.js';
import { forwardMethods } from './forward-methods.js';

export interface AgentOptions {
  node: string;
  source: PairSource;
  arbiter: Arbiter;
  actuator: HostActuator;
  status: StatusSink;
  events: EventSink;
  log: Logger;
  /** Sources with finalizers (Kubernetes) clean up through them. */
  finalizers: boolean;
  metrics?: AgentMetrics;
  /** Serve /metrics, /healthz, /readyz on this port (0: any free port; undefined: don't serve). */
  metricsPort?: number;
  metricsHost?: string;
  /**
   * Concurrent reconciles (default 1024). They wait mostly on the shared kernel write and on
   * Consul (its own bounded socket pool), so a mass failover of 1,000 pairs rides on a few
   * batched kernel writes. With 256, the pairs went through in waves of 256, each waiting for
   * a kernel write and a lock release: 1,000 pairs took four waves.
   */
  workers?: number;
  /**
   * Safety net: re-evaluate every pair with nothing scheduled this often (default 5 min, like the
   * informer's re-list), in case an event was missed. Timers and lease renewals do not depend on
   * it: each reconcile schedules the pair's next timer, renewLeases renews every open gate's
   * lease, and a watchdog reconciles any open gate whose renewal is overdue.
   */
  resyncMs?: number;
  /** Lease of an open gate when no pair says otherwise. */
  defaultLeaseSeconds?: number;
  /**
   * A pair's status is written once it has not changed for this long (default 2,000 ms; at the
   * latest 4x this after its first change): the kernel and the lock go first, reporting after.
   * Long enough for the peer's half of a failover too: with 1 s, the releasing node's statuses
   * went out while the peer was still acquiring 1,000 locks, and slowed it (3.9 s instead of 1.1).
   */
  statusQuietMs?: number;
}

/** The arbiter with its lock calls timed (where a slow failover spends its time). */
function timedArbiter(arbiter: Arbiter, metrics: AgentMetrics): Arbiter {
  return forwardMethods<Arbiter>(
    {
      watchHealth: (subscription, listener) => arbiter.watchHealth(subscription, listener),
      healthOf: (pair) => arbiter.healthOf(pair),
      acquire: (request) => metrics.timed('arbiter', 'acquire', () => arbiter.acquire(request)),
      release: (request) => metrics.timed('arbiter', 'release', () => arbiter.release(request)),
      watchLock: (pair, listener) => arbiter.watchLock(pair, listener),
      lockOf: (pair) => arbiter.lockOf(pair),
      readRecord: (pair) => arbiter.readRecord(pair),
      reachability: () => arbiter.reachability(),
      onReachabilityChange: (listener) => arbiter.onReachabilityChange(listener),
      close: () => arbiter.close(),
    },
    arbiter,
  );
}

/** The status sink with its writes timed. */
function timedStatus(status: StatusSink, metrics: AgentMetrics): StatusSink {
  return forwardMethods<StatusSink>(
    {
      writeStatus: (pair, fragment, what) =>
        metrics.timed('status', 'write', () => status.writeStatus(pair, fragment, what)),
      ...(status.currentStatus ? { currentStatus: (pair) => status.currentStatus?.(pair) } : {}),
      ...(status.refreshStatus
        ? { refreshStatus: (pair) => status.refreshStatus?.(pair) ?? Promise.resolve() }
        : {}),
      addFinalizer: (pair) => status.addFinalizer(pair),
      removeFinalizer: (pair) => status.removeFinalizer(pair),
    },
    status,
  );
}

/**
 * The probegate agent on one node: pairs from a source, decisions from core, the kernel through
 * the host actuator, Consul through the arbiter, all driven by one work queue.
 */
export class Agent {
  readonly metrics: AgentMetrics;
  private readonly queue = new WorkQueue<string>({
    baseDelayMs: 200,
    maxDelayMs: 30_000,
    ratePerSecond: 200,
    burst: 500,
  });
  private readonly host: HostBatcher;
  private readonly statusWriter: BackgroundStatusWriter;
  private readonly reconciler: Reconciler;
  private workers: Promise<void>[] = [];
  /** Reconciles running now (a kernel write waits for those that will still join it). */
  private reconciling = 0;
  private resyncTimer: NodeJS.Timeout | undefined;
  private leaseTimer: NodeJS.Timeout | undefined;
  private renewTimer: NodeJS.Timeout | undefined;
  private server: ObservabilityServer | undefined;
  private started = false;

  constructor(private readonly options: AgentOptions) {
    this.metrics = options.metrics ?? new AgentMetrics();
    this.statusWriter = new BackgroundStatusWriter(timedStatus(options.status, this.metrics), {
      quietMs: options.statusQuietMs ?? 2_000,
      onFailure: (key, error, retryInMs) => {
        this.metrics.errors.inc({ pair: key, stage: 'status' });
        const conflict = (error as { code?: number })?.code === 409;
        // A conflict is the guard working (the status changed meanwhile): routine, not a warning.
        options.log[conflict ? 'debug' : 'warn'](
          { err: error, pair: key, node: options.node, retryInMs },
          'status write failed; deciding the pair again',
        );
        this.queue.addAfter(key, retryInMs);
      },
    });
    this.host = new HostBatcher(options.actuator, () => this.leaseSeconds(), Date.now, this.metrics, {
      busy: () => this.reconciling,
    });
    this.reconciler = new Reconciler(
      {
        node: options.node,
        source: options.source,
        arbiter: timedArbiter(options.arbiter, this.metrics),
        host: this.host,
        status: this.statusWriter,
        events: options.events,
        metrics: this.metrics,
        log: options.log,
        finalizers: options.finalizers,
      },
      (key) => this.queue.add(key),
    );
  }

  /** The port /metrics is served on, once started. */
  get port(): number | undefined {
    return this.server?.port;
  }

  readiness(): { ready: boolean; reasons: string[] } {
    const reasons: string[] = [];
    if (!this.started) reasons.push('agent: starting');
    if (!this.options.source.healthy) reasons.push('pairs: source not synced or watch failing');
    const reach = this.options.arbiter.reachability();
    if (!reach.reachable)
      reasons.push(`arbiter: unreachable${reach.lastError ? ` (${reach.lastError.message})` : ''}`);
    if (!this.host.healthy) reasons.push(`host: last kernel apply failed (${String(this.host.error)})`);
    return { ready: reasons.length === 0, reasons };
  }

  async start(): Promise<void> {
    const { options } = this;
    const log = options.log;
    if (options.metricsPort !== undefined) {
      this.server = await startObservabilityServer({
        port: options.metricsPort,
        ...(options.metricsHost ? { host: options.metricsHost } : {}),
        registry: this.metrics.registry,
        readiness: [
          {
            name: 'agent',
            check: () => {
              const r = this.readiness();
              return r.ready ? { ok: true } : { ok: false, reason: r.reasons.join('; ') };
            },
          },
        ],
      });
      log.info({ port: this.server.port }, 'serving /metrics /healthz /readyz');
    }
    options.source.onChange((key) => this.queue.add(key));
    await options.source.start();
    await this.adoptKernelState();
    for (let i = 0; i < (options.workers ?? 1024); i++) this.workers.push(this.work());
    for (const key of options.source.keys()) this.queue.add(key);
    this.resyncTimer = setInterval(() => this.resync(), options.resyncMs ?? 300_000);
    this.resyncTimer.unref?.();
    this.leaseTimer = setInterval(
      () => this.renewOverdueLeases(),
      Math.min(10_000, (this.leaseSeconds() * 1000) / 3),
    );
    this.leaseTimer.unref?.();
    this.renewTimer = setInterval(() => this.renewLeases(), 1_000);
    this.renewTimer.unref?.();
    this.started = true;
    log.info(
      { node: options.node, pairs: options.source.keys().length, backend: options.actuator.backend },
      'agent started',
    );
  }

  /**
   * A restarted agent must not close gates it left open before it has decided about them:
   * every known pair starts from what the kernel has, and only pairs that no longer exist go.
   */
  private async adoptKernelState(): Promise<void> {
    const { source, log } = this.options;
    const byId = new Map<string, string>();
    await this.host.observe((id) => byId.get(id));
    for (const key of source.keys()) {
      const pair = source.get(key);
      if (!pair) continue;
      const open = this.host.observedOf(key)?.gate === 'Open';
      this.host.set(key, gateOf(pair, open));
      if (open) log.info({ pair: key, node: this.options.node }, 'adopting open gate left by a previous run');
    }
    // One write for everything: every pair gets its DROP rules (a pair with no rules would let
    // probes through), open gates stay open, and pairs that no longer exist are removed.
    await this.host.flush();
  }

  /**
   * Re-evaluating 1,000 pairs costs CPU on an idle node: only pairs with nothing scheduled are
   * added (a pair waiting for a timer is re-evaluated when it fires).
   */
  private resync(): void {
    for (const key of new Set([...this.options.source.keys(), ...this.reconciler.managedKeys()])) {
      if (!this.queue.isPending(key)) this.queue.add(key);
    }
    this.metrics.queueDepth.set(this.queue.length);
  }

  /**
   * Leases are renewed here, for every open gate at once, in one kernel write when the first
   * comes due: a pair does not need a reconcile of its own every half lease (at 1,000 pairs that
   * was 67 reconciles a second on the active node, most of its idle CPU).
   */
  private renewLeases(): void {
    const due = this.host.renewalDueAt();
    if (due === undefined || due > Date.now()) return;
    this.host.flush().catch((error: unknown) => {
      this.options.log.warn({ err: error, node: this.options.node }, 'renewing gate leases failed');
    });
  }

  /**
   * An open gate whose renewal is overdue (its scheduled reconcile was lost or is stuck behind a
   * failure) is reconciled now, well before the lease runs out and the gate closes by itself.
   */
  private renewOverdueLeases(): void {
    const now = Date.now();
    const halfLeaseMs = (this.leaseSeconds() * 1000) / 2;
    for (const key of this.options.source.keys()) {
      const observed = this.host.observedOf(key);
      if (observed?.gate !== 'Open' || observed.leaseExpiresAt === undefined) continue;
      if (observed.leaseExpiresAt - now < halfLeaseMs - 1_000 && !this.queue.isPending(key))
        this.queue.add(key);
    }
  }

  private async work(): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      const stopTimer = this.metrics.reconcileDuration.startTimer();
      this.reconciling++;
      try {
        const result = await this.reconciler.reconcile(key);
        this.queue.forget(key);
        // Timers of the rules only: lease renewals are renewLeases' (one write for every open gate).
        const again = result.requeueAfterMs;
        if (again !== undefined) this.queue.addAfter(key, again);
        stopTimer({ result: 'success' });
      } catch (error) {
        const retryInMs = this.queue.addRateLimited(key);
        stopTimer({ result: 'error' });
        this.options.log.warn(
          { err: error, pair: key, node: this.options.node, retryInMs },
          'reconcile failed',
        );
      } finally {
        this.reconciling--;
        this.queue.done(key);
        this.metrics.queueDepth.set(this.queue.length);
      }
    }
  }

  private leaseSeconds(): number {
    let lease = this.options.defaultLeaseSeconds ?? 30;
    for (const key of this.options.source.keys()) {
      const seconds = this.options.source.get(key)?.spec.timing.gateLeaseSeconds;
      if (seconds !== undefined && seconds < lease) lease = seconds;
    }
    return lease;
  }

  /**
   * Stops watching and reconciling, lets the reconcile in progress finish, and leaves the host
   * as it is: the gate lease keeps an active node serving across a quick restart.
   */
  async stop(): Promise<void> {
    clearInterval(this.resyncTimer);
    clearInterval(this.leaseTimer);
    clearInterval(this.renewTimer);
    this.queue.shutDown();
    await Promise.allSettled(this.workers);
    // The last statuses go out if the API server answers soon; a stuck one does not hold the stop.
    await Promise.race([this.statusWriter.drain(), new Promise((r) => setTimeout(r, 2_000).unref())]);
    this.reconciler.close();
    await this.options.source.stop();
    await this.options.arbiter.close();
    await this.server?.close();
    this.started = false;
    this.options.log.info({ node: this.options.node }, 'agent stopped; host state left in place');
  }
}
