import { setTimeout as sleep } from 'node:timers/promises';
import { type BackoffPolicy, backoffDelay, defaultBackoff, rateLimitDelay } from './backoff.js';
import { nextBlockingIndex, parseWait } from './blocking-index.js';
import type { Blocking, BlockingQuery } from './consul-client.js';
import { type ArbiterError, classifyError } from './errors.js';

export interface BlockingWatchTiming {
  /** Longest a blocking query may wait on the server (Go duration, e.g. "30s"). */
  wait: string;
  /** Minimum time between the starts of two successive calls. */
  minIntervalMs: number;
  backoff: BackoffPolicy;
}

/** Default for listener bugs: a process warning on stderr, never an uncaught exception. */
export function reportListenerError(error: unknown): void {
  process.emitWarning(
    `probegate arbiter listener threw: ${error instanceof Error ? error.stack : String(error)}`,
  );
}

export const defaultWatchTiming: BlockingWatchTiming = {
  wait: '30s',
  minIntervalMs: 100,
  backoff: defaultBackoff,
};

/**
 * Runs one blocking query again and again: the next call waits for a change after the last index,
 * successive calls are rate-limited, failures back off with jitter. Emits each answer whose index moved.
 */
export class BlockingWatch<T> {
  private readonly abort = new AbortController();
  private readonly waitMs: number;
  private running: Promise<void> | undefined;

  constructor(
    private readonly fetch: (query: BlockingQuery) => Promise<Blocking<T>>,
    private readonly onValue: (value: T, index: bigint, readAt: number) => void,
    private readonly onError: (error: ArbiterError) => void,
    private readonly timing: BlockingWatchTiming = defaultWatchTiming,
    private readonly onListenerError: (error: unknown) => void = reportListenerError,
  ) {
    this.waitMs = parseWait(timing.wait);
  }

  start(): void {
    this.running ??= this.loop();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.running;
  }

  private async pause(ms: number): Promise<void> {
    if (ms <= 0) return;
    await sleep(ms, undefined, { signal: this.abort.signal }).catch(() => undefined);
  }

  private async loop(): Promise<void> {
    const { signal } = this.abort;
    let index: bigint | undefined;
    let lastReturned: bigint | undefined;
    let lastStartedAt: number | undefined;
    let failures = 0;
    while (!signal.aborted) {
      await this.pause(rateLimitDelay(lastStartedAt, Date.now(), this.timing.minIntervalMs));
      if (signal.aborted) break;
      lastStartedAt = Date.now();
      try {
        const query: BlockingQuery = { wait: this.timing.wait, waitMs: this.waitMs, signal };
        if (index !== undefined) query.index = index;
        const result = await this.fetch(query);
        failures = 0;
        index = nextBlockingIndex(index, result.index);
        if (lastReturned === undefined || result.index !== lastReturned) {
          lastReturned = result.index ?? 0n;
          this.deliver(() => this.onValue(result.value, lastReturned ?? 0n, Date.now()));
        }
      } catch (raw) {
        if (signal.aborted) break;
        failures += 1;
        const error = classifyError('watch', raw);
        this.deliver(() => this.onError(error));
        await this.pause(backoffDelay(failures, this.timing.backoff));
      }
    }
  }

  // A throwing listener must neither end the watch nor crash the process.
  private deliver(fn: () => void): void {
    try {
      fn();
    } catch (error) {
      this.onListenerError(error);
    }
  }
}
