/** Retry delays for calls that failed: exponential, capped, with jitter so that agents do not retry in step. */
export interface BackoffPolicy {
  baseMs: number;
  maxMs: number;
  /** Fraction of each delay that is random (0: none, 1: full jitter). */
  jitter: number;
}

export const defaultBackoff: BackoffPolicy = { baseMs: 250, maxMs: 5_000, jitter: 0.5 };

/** Delay before retry number `attempt` (1 = first retry after the first failure). */
export function backoffDelay(
  attempt: number,
  policy: BackoffPolicy,
  random: () => number = Math.random,
): number {
  if (!Number.isInteger(attempt) || attempt < 1)
    throw new Error(`backoff attempt must be an integer >= 1, got ${attempt}`);
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(attempt - 1, 30));
  const fixed = ceiling * (1 - policy.jitter);
  return Math.round(fixed + ceiling * policy.jitter * random());
}

/** How long to wait before the next call so that successive calls are at least `minIntervalMs` apart. */
export function rateLimitDelay(
  lastStartedAt: number | undefined,
  now: number,
  minIntervalMs: number,
): number {
  if (lastStartedAt === undefined) return 0;
  return Math.max(0, lastStartedAt + minIntervalMs - now);
}
