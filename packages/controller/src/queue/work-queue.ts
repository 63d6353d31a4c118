import { ExponentialBackoff, TokenBucket } from './backoff.js';

export interface WorkQueueOptions {
  /** First retry delay after a failure. */
  baseDelayMs?: number;
  /** Cap of the per-key exponential backoff. */
  maxDelayMs?: number;
  /** Global rate limit over all retries. */
  ratePerSecond?: number;
  burst?: number;
  now?: () => number;
}

/**
 * A work queue in the manner of client-go's: a key waits at most once (dedup), is never handed
 * to two workers at once (a key re-added while processing is queued again when done), and
 * failed keys come back with per-key exponential backoff under a global rate limit.
 */
export class WorkQueue<K> {
  private readonly queue: K[] = [];
  private readonly queued = new Set<K>();
  private readonly processing = new Set<K>();
  private readonly dirtyWhileProcessing = new Set<K>();
  private readonly timers = new Map<K, { at: number; timer: NodeJS.Timeout }>();
  private readonly waiters: ((key: K | undefined) => void)[] = [];
  private readonly backoff: ExponentialBackoff<K>;
  private readonly bucket: TokenBucket;
  private readonly now: () => number;
  private shuttingDown = false;

  constructor(options: WorkQueueOptions = {}) {
    this.now = options.now ?? Date.now;
    this.backoff = new ExponentialBackoff(options.baseDelayMs ?? 200, options.maxDelayMs ?? 60_000);
    this.bucket = new TokenBucket(options.ratePerSecond ?? 50, options.burst ?? 100, this.now());
  }

  /** Number of keys waiting (not counting those being processed or scheduled for later). */
  get length(): number {
    return this.queue.length;
  }

  add(key: K): void {
    if (this.shuttingDown) return;
    if (this.processing.has(key)) {
      this.dirtyWhileProcessing.add(key);
      return;
    }
    if (this.queued.has(key)) return;
    const waiter = this.waiters.shift();
    if (waiter) {
      this.processing.add(key);
      waiter(key);
      return;
    }
    this.queued.add(key);
    this.queue.push(key);
  }

  /** Adds the key after `delayMs`; an earlier pending schedule for the key wins. */
  addAfter(key: K, delayMs: number): void {
    if (this.shuttingDown) return;
    if (delayMs <= 0) {
      this.add(key);
      return;
    }
    const at = this.now() + delayMs;
    const pending = this.timers.get(key);
    if (pending && pending.at <= at) return;
    if (pending) clearTimeout(pending.timer);
    const timer = setTimeout(() => {
      this.timers.delete(key);
      this.add(key);
    }, delayMs);
    timer.unref?.();
    this.timers.set(key, { at, timer });
  }

  /** After a failure: per-key backoff, and never faster than the global rate. */
  addRateLimited(key: K): number {
    const delay = Math.max(this.backoff.next(key), this.bucket.reserve(this.now()));
    this.addAfter(key, delay);
    return delay;
  }

  /** After a success: the key's backoff starts from the base again. */
  forget(key: K): void {
    this.backoff.forget(key);
  }

  /** Whether the key will be processed without being added again: waiting, in progress or scheduled. */
  isPending(key: K): boolean {
    return this.queued.has(key) || this.processing.has(key) || this.timers.has(key);
  }

  failuresOf(key: K): number {
    return this.backoff.failuresOf(key);
  }

  /** The next key to process, or undefined once the queue is shut down. */
  get(): Promise<K | undefined> {
    const key = this.queue.shift();
    if (key !== undefined) {
      this.queued.delete(key);
      this.processing.add(key);
      return Promise.resolve(key);
    }
    if (this.shuttingDown) return Promise.resolve(undefined);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Marks the key processed; if it was added meanwhile, it is queued again. */
  done(key: K): void {
    this.processing.delete(key);
    if (this.dirtyWhileProcessing.delete(key)) this.add(key);
  }

  shutDown(): void {
    this.shuttingDown = true;
    for (const { timer } of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    for (const waiter of this.waiters.splice(0)) waiter(undefined);
  }
}
