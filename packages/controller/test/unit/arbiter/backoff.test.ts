import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { backoffDelay, defaultBackoff, rateLimitDelay } from '../../../src/arbiter/backoff.js';

describe('backoffDelay', () => {
  const noJitter = { baseMs: 100, maxMs: 1_000, jitter: 0 };
  it.each([
    [1, 100],
    [2, 200],
    [3, 400],
    [4, 800],
    [5, 1_000],
    [50, 1_000],
  ])('without jitter, retry %i waits %i ms', (attempt, expected) => {
    expect(backoffDelay(attempt, noJitter)).toBe(expected);
  });

  it('stays within [ceiling * (1 - jitter), ceiling] and never exceeds the cap', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 100 }),
        fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }),
        (attempt, r) => {
          const delay = backoffDelay(attempt, defaultBackoff, () => r);
          const ceiling = Math.min(defaultBackoff.maxMs, defaultBackoff.baseMs * 2 ** (attempt - 1));
          expect(delay).toBeGreaterThanOrEqual(Math.floor(ceiling * (1 - defaultBackoff.jitter)));
          expect(delay).toBeLessThanOrEqual(ceiling);
        },
      ),
    );
  });

  it('spreads retries of different agents apart (jitter)', () => {
    const delays = new Set(Array.from({ length: 20 }, () => backoffDelay(5, defaultBackoff)));
    expect(delays.size).toBeGreaterThan(1);
  });

  it.each([0, -1, 1.5])('rejects attempt %s naming the value', (attempt) => {
    expect(() => backoffDelay(attempt, defaultBackoff)).toThrow(String(attempt));
  });
});

describe('rateLimitDelay', () => {
  it.each([
    [undefined, 1_000, 100, 0],
    [1_000, 1_000, 100, 100],
    [1_000, 1_040, 100, 60],
    [1_000, 1_100, 100, 0],
    [1_000, 5_000, 100, 0],
  ])('last start %s, now %i, min interval %i -> wait %i', (last, now, min, expected) => {
    expect(rateLimitDelay(last, now, min)).toBe(expected);
  });
});
