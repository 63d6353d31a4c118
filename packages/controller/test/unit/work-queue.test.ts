import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ExponentialBackoff, TokenBucket } from '../../src/queue/backoff.js';
import { WorkQueue } from '../../src/queue/work-queue.js';

describe('WorkQueue', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('tells whether a key is pending: waiting, in progress or scheduled', async () => {
    const q = new WorkQueue<string>();
    expect(q.isPending('a')).toBe(false);
    q.add('a');
    expect(q.isPending('a')).toBe(true);
    const key = await q.get();
    expect(q.isPending('a')).toBe(true);
    q.done(key as string);
    expect(q.isPending('a')).toBe(false);
    q.addAfter('a', 1_000);
    expect(q.isPending('a')).toBe(true);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(await q.get()).toBe('a');
    q.done('a');
    expect(q.isPending('a')).toBe(false);
  });

  it('hands out a key added many times only once', async () => {
    const q = new WorkQueue<string>();
    for (const key of ['a', 'b', 'a', 'a', 'b']) q.add(key);
    expect(q.length).toBe(2);
    expect(await q.get()).toBe('a');
    expect(await q.get()).toBe('b');
    expect(q.length).toBe(0);
  });

  it('never gives a key to two workers: re-added while processing, it comes back after done', async () => {
    const q = new WorkQueue<string>();
    q.add('a');
    const key = await q.get();
    q.add('a');
    expect(q.length).toBe(0);
    q.done(key as string);
    expect(q.length).toBe(1);
    expect(await q.get()).toBe('a');
  });

  it('wakes a waiting worker when a key arrives', async () => {
    const q = new WorkQueue<string>();
    const next = q.get();
    q.add('x');
    expect(await next).toBe('x');
  });

  it('backs off a failing key exponentially up to the cap', () => {
    const q = new WorkQueue<string>({
      baseDelayMs: 100,
      maxDelayMs: 1_000,
      ratePerSecond: 1_000,
      burst: 1_000,
    });
    const delays = [1, 2, 3, 4, 5, 6].map(() => q.addRateLimited('a'));
    expect(delays).toEqual([100, 200, 400, 800, 1_000, 1_000]);
    q.forget('a');
    expect(q.addRateLimited('a')).toBe(100);
  });

  it('delivers a delayed key when its time comes, keeping the earliest schedule', async () => {
    const q = new WorkQueue<string>();
    q.addAfter('a', 500);
    q.addAfter('a', 2_000);
    vi.advanceTimersByTime(499);
    expect(q.length).toBe(0);
    vi.advanceTimersByTime(1);
    expect(q.length).toBe(1);
    vi.advanceTimersByTime(5_000);
    expect(q.length).toBe(1);
  });

  it('releases waiting workers with undefined on shutdown and ignores later adds', async () => {
    const q = new WorkQueue<string>();
    const next = q.get();
    q.shutDown();
    expect(await next).toBeUndefined();
    q.add('a');
    expect(q.length).toBe(0);
  });

  it('property: whatever the adds, each distinct key waits at most once', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom('a', 'b', 'c', 'd'), { maxLength: 50 }), (keys) => {
        const q = new WorkQueue<string>();
        for (const key of keys) q.add(key);
        expect(q.length).toBe(new Set(keys).size);
      }),
    );
  });
});

describe('TokenBucket', () => {
  it.each([
    { rate: 10, burst: 2, takes: 3, expectLastWait: 100 },
    { rate: 1, burst: 1, takes: 2, expectLastWait: 1_000 },
    { rate: 5, burst: 5, takes: 5, expectLastWait: 0 },
  ])(
    'rate $rate/s burst $burst: take #$takes waits $expectLastWait ms',
    ({ rate, burst, takes, expectLastWait }) => {
      const bucket = new TokenBucket(rate, burst, 0);
      let wait = 0;
      for (let i = 0; i < takes; i++) wait = bucket.reserve(0);
      expect(wait).toBe(expectLastWait);
    },
  );

  it('refills with time', () => {
    const bucket = new TokenBucket(10, 1, 0);
    expect(bucket.reserve(0)).toBe(0);
    expect(bucket.reserve(0)).toBe(100);
    expect(bucket.reserve(1_000)).toBe(0);
  });
});

describe('ExponentialBackoff', () => {
  it('counts failures per key independently', () => {
    const b = new ExponentialBackoff<string>(10, 10_000);
    b.next('a');
    b.next('a');
    b.next('b');
    expect([b.failuresOf('a'), b.failuresOf('b'), b.failuresOf('c')]).toEqual([2, 1, 0]);
  });
});
