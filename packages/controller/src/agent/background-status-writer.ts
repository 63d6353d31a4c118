import { ExponentialBackoff } from '../queue/backoff.js';
import type { PairObject } from '../reconcile/pair.js';
import type { StatusFragment, StatusSink } from '../reconcile/ports.js';

export interface BackgroundStatusWriterOptions {
  /** Writes in flight at once (default 16): more only lengthens the API server's queue. */
  concurrency?: number;
  /** A write failed: reconcile the pair again after `retryInMs`, from a fresh view. */
  onFailure: (key: string, error: unknown, retryInMs: number) => void;
  baseDelayMs?: number;
  maxDelayMs?: number;
  /**
   * A pair's status is written once it has stayed the same for this long (default 0: at once)...
   */
  quietMs?: number;
  /** ...or this long after it first changed, whichever comes first (default 4 × quietMs). */
  maxHoldMs?: number;
  now?: () => number;
}

interface PendingWrite {
  pair: PairObject;
  fragment: StatusFragment;
  what: { member: boolean; pair: boolean };
  /** When this pair's status first changed and when it last changed, since its last write. */
  firstAt: number;
  lastAt: number;
}

const isNotFound = (error: unknown) => (error as { code?: number })?.code === 404;

/**
 * Status is reporting, not actuation: a reconcile hands its status to this writer and goes on.
 * On a real API server a status write takes from milliseconds to seconds under load (1,000
 * pairs flipping make thousands of them), and a reconcile waiting for it keeps the pair's next
 * step (opening the gate once the lock is held) waiting too. Per pair only the latest status is
 * kept (an older one still waiting is replaced), one write per pair is in flight, and a failed
 * write (a 409 when the status changed meanwhile) sends the pair back to be decided again.
 *
 * With `quietMs`, a status waits until it has settled: a failover changes a pair's status two or
 * three times within a second (lock, VIP, gate), and the API server's work for each write (on
 * both nodes, with the watch events it sends back) took the CPU the failover itself needed: at
 * 1,000 pairs a mass failover took twice as long with status written at once.
 */
export class BackgroundStatusWriter implements StatusSink {
  private readonly pending = new Map<string, PendingWrite>();
  private readonly inFlight = new Set<string>();
  private readonly backoff: ExponentialBackoff<string>;
  private readonly concurrency: number;
  private readonly quietMs: number;
  private readonly maxHoldMs: number;
  private readonly now: () => number;
  /** Wakes pump() when the next held status is due. */
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Number.POSITIVE_INFINITY;
  /** Set by drain(): everything waiting goes now. */
  private draining = false;
  private idle: (() => void)[] = [];

  constructor(
    private readonly sink: StatusSink,
    private readonly options: BackgroundStatusWriterOptions,
  ) {
    this.concurrency = options.concurrency ?? 16;
    this.quietMs = options.quietMs ?? 0;
    this.maxHoldMs = options.maxHoldMs ?? 4 * this.quietMs;
    this.now = options.now ?? Date.now;
    this.backoff = new ExponentialBackoff(options.baseDelayMs ?? 500, options.maxDelayMs ?? 30_000);
    if (sink.currentStatus) this.currentStatus = (pair) => sink.currentStatus?.(pair);
    if (sink.refreshStatus) this.refreshStatus = (pair) => sink.refreshStatus?.(pair) ?? Promise.resolve();
  }

  currentStatus?: StatusSink['currentStatus'];
  refreshStatus?: StatusSink['refreshStatus'];

  /** Writes waiting or in flight. */
  get backlog(): number {
    return this.pending.size + this.inFlight.size;
  }

  writeStatus(
    pair: PairObject,
    fragment: StatusFragment,
    what: { member: boolean; pair: boolean },
  ): Promise<void> {
    const now = this.now();
    const firstAt = this.pending.get(pair.key)?.firstAt ?? now;
    this.pending.set(pair.key, { pair, fragment, what, firstAt, lastAt: now });
    this.pump();
    return Promise.resolve();
  }

  addFinalizer(pair: PairObject): Promise<void> {
    return this.sink.addFinalizer(pair);
  }

  /** The pair is being let go: a status still waiting would only be written to a dying object. */
  removeFinalizer(pair: PairObject): Promise<void> {
    this.pending.delete(pair.key);
    this.backoff.forget(pair.key);
    return this.sink.removeFinalizer(pair);
  }

  /** Writes everything waiting, held or not, and resolves once nothing is left (shutdown, tests). */
  drain(): Promise<void> {
    if (this.backlog === 0) return Promise.resolve();
    this.draining = true;
    this.pump();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  /** When a waiting status may be written: once settled, or held long enough. */
  private dueAt(write: PendingWrite): number {
    if (this.draining) return Number.NEGATIVE_INFINITY;
    return Math.min(write.lastAt + this.quietMs, write.firstAt + this.maxHoldMs);
  }

  private pump(): void {
    if (this.inFlight.size >= this.concurrency) return;
    const now = this.now();
    let next = Number.POSITIVE_INFINITY;
    for (const [key, write] of this.pending) {
      if (this.inFlight.has(key)) continue;
      const due = this.dueAt(write);
      if (due > now) {
        next = Math.min(next, due);
        continue;
      }
      this.pending.delete(key);
      this.inFlight.add(key);
      void this.write(key, write).finally(() => {
        this.inFlight.delete(key);
        this.pump();
        if (this.backlog === 0) {
          this.draining = false;
          for (const resolve of this.idle.splice(0)) resolve();
        }
      });
      if (this.inFlight.size >= this.concurrency) return;
    }
    if (next < Number.POSITIVE_INFINITY) this.wakeAt(next);
  }

  private wakeAt(at: number): void {
    if (this.timer && this.timerAt <= at) return;
    clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.timerAt = Number.POSITIVE_INFINITY;
        this.pump();
      },
      Math.max(0, at - this.now()),
    );
    this.timer.unref?.();
  }

  private async write(key: string, { pair, fragment, what }: PendingWrite): Promise<void> {
    try {
      await this.sink.writeStatus(pair, fragment, what);
      this.backoff.forget(key);
    } catch (error) {
      if (isNotFound(error)) return; // the object is gone: nothing to report on
      // A newer status for the pair supersedes the failed one; it is decided again either way.
      this.options.onFailure(key, error, this.backoff.next(key));
    }
  }
}
