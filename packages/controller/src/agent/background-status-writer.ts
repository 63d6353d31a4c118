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
}

interface PendingWrite {
  pair: PairObject;
  fragment: StatusFragment;
  what: { member: boolean; pair: boolean };
}

const isNotFound = (error: unknown) => (error as { code?: number })?.code === 404;

/**
 * Status is reporting, not actuation: a reconcile hands its status to this writer and goes on.
 * On a real API server a status write takes from milliseconds to seconds under load (1,000
 * pairs flipping make thousands of them), and a reconcile waiting for it keeps the pair's next
 * step (opening the gate once the lock is held) waiting too. Per pair only the latest status is
 * kept (an older one still waiting is replaced), one write per pair is in flight, and a failed
 * write (a 409 when the status changed meanwhile) sends the pair back to be decided again.
 */
export class BackgroundStatusWriter implements StatusSink {
  private readonly pending = new Map<string, PendingWrite>();
  private readonly inFlight = new Set<string>();
  private readonly backoff: ExponentialBackoff<string>;
  private readonly concurrency: number;
  private idle: (() => void)[] = [];

  constructor(
    private readonly sink: StatusSink,
    private readonly options: BackgroundStatusWriterOptions,
  ) {
    this.concurrency = options.concurrency ?? 16;
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
    this.pending.set(pair.key, { pair, fragment, what });
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

  /** Resolves once nothing waits and nothing is in flight (shutdown, tests). */
  drain(): Promise<void> {
    if (this.backlog === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  private pump(): void {
    if (this.inFlight.size >= this.concurrency) return;
    for (const [key, write] of this.pending) {
      if (this.inFlight.has(key)) continue;
      this.pending.delete(key);
      this.inFlight.add(key);
      void this.write(key, write).finally(() => {
        this.inFlight.delete(key);
        this.pump();
        if (this.backlog === 0) for (const resolve of this.idle.splice(0)) resolve();
      });
      if (this.inFlight.size >= this.concurrency) return;
    }
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
