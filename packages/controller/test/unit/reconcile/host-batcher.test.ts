import type { PairGate } from '@probegate/host';
import { describe, expect, it } from 'vitest';
import { type GatherOptions, HostBatcher } from '../../../src/reconcile/host-batcher.js';
import { FakeHost } from './fakes.js';

const gate = (key: string, active: boolean): PairGate => ({
  key,
  sourceCIDRs: ['198.18.0.16/32'],
  ports: [8080],
  active,
});

/** A batcher on a fake host with the given gather timing (the clock stands still). */
function gatheringBatcher(gather: Partial<GatherOptions>) {
  const now = 1_000_000;
  const host = new FakeHost(() => now);
  return {
    host,
    batcher: new HostBatcher(
      host,
      () => 30,
      () => now,
      undefined,
      gather,
    ),
  };
}

describe('HostBatcher', () => {
  it('says when the first open lease reaches half its length, and one flush renews it', async () => {
    let now = 1_000_000;
    const host = new FakeHost(() => now);
    const batcher = new HostBatcher(
      host,
      () => 30,
      () => now,
    );
    expect(batcher.renewalDueAt()).toBeUndefined();
    batcher.set('ns/a', gate('ns/a', true));
    batcher.set('ns/b', gate('ns/b', false));
    await batcher.flush();
    expect(batcher.renewalDueAt()).toBe(1_000_000 + 15_000);
    now += 16_000;
    await batcher.flush();
    expect(batcher.renewalDueAt()).toBe(now + 15_000);
    expect(host.isOpen('ns/a')).toBe(true);
  });

  it('has nothing due once no gate is open', async () => {
    const now = 1_000_000;
    const batcher = new HostBatcher(
      new FakeHost(() => now),
      () => 30,
      () => now,
    );
    batcher.set('ns/a', gate('ns/a', true));
    await batcher.flush();
    batcher.set('ns/a', gate('ns/a', false));
    await batcher.flush();
    expect(batcher.renewalDueAt()).toBeUndefined();
  });

  it('puts every pair set and flushed in one turn of the event loop into one kernel write', async () => {
    const now = 1_000_000;
    const host = new FakeHost(() => now);
    const batcher = new HostBatcher(
      host,
      () => 30,
      () => now,
    );
    // Like 64 reconciles resumed by one lock transaction answer: each sets its pair and flushes.
    const keys = Array.from({ length: 64 }, (_, i) => `ns/p${i}`);
    await Promise.all(
      keys.map(async (key) => {
        await Promise.resolve();
        batcher.set(key, gate(key, true));
        await batcher.flush();
      }),
    );
    expect(host.applies).toBe(1);
    for (const key of keys) expect(host.isOpen(key)).toBe(true);
  });

  it('sends what was set while a write was running in one more write, not one per pair', async () => {
    const now = 1_000_000;
    const host = new FakeHost(() => now);
    const batcher = new HostBatcher(
      host,
      () => 30,
      () => now,
    );
    let writing: () => void = () => {};
    const started = new Promise<void>((resolve) => {
      writing = resolve;
    });
    const apply = host.apply.bind(host);
    host.apply = (pairs, options) => {
      writing();
      return apply(pairs, options);
    };
    batcher.set('ns/first', gate('ns/first', true));
    const first = batcher.flush();
    await started;
    const later = ['ns/a', 'ns/b', 'ns/c'].map((key) => {
      batcher.set(key, gate(key, true));
      return batcher.flush();
    });
    await Promise.all([first, ...later]);
    expect(host.applies).toBe(2);
    expect(host.isOpen('ns/c')).toBe(true);
  });

  it('waits for flushes to stop coming for a moment, so staggered lock answers share one write', async () => {
    const { host, batcher } = gatheringBatcher({ quietMs: 20, maxWaitMs: 1_000 });
    // Four transaction answers, 5 ms apart, each resuming 16 reconciles.
    const flushes: Promise<void>[] = [];
    for (let wave = 0; wave < 4; wave++) {
      for (let i = 0; i < 16; i++) {
        const key = `ns/w${wave}p${i}`;
        batcher.set(key, gate(key, true));
        flushes.push(batcher.flush());
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await Promise.all(flushes);
    expect(host.applies).toBe(1);
  });

  it('starts the write at maxWaitMs even while flushes keep coming', async () => {
    const { host, batcher } = gatheringBatcher({ quietMs: 20, maxWaitMs: 60 });
    const started = Date.now();
    let firstWriteAfter: number | undefined;
    const apply = host.apply.bind(host);
    host.apply = (pairs, options) => {
      firstWriteAfter ??= Date.now() - started;
      return apply(pairs, options);
    };
    const flushes: Promise<void>[] = [];
    for (let i = 0; i < 30; i++) {
      batcher.set(`ns/p${i}`, gate(`ns/p${i}`, true));
      flushes.push(batcher.flush());
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await Promise.all(flushes);
    expect(firstWriteAfter).toBeGreaterThanOrEqual(55);
    expect(firstWriteAfter).toBeLessThan(250);
    expect(host.applies).toBeGreaterThan(1);
  });

  it('writes a lone flip at once: it does not wait quietMs when no other reconcile runs', async () => {
    const { host, batcher } = gatheringBatcher({ quietMs: 10_000, maxWaitMs: 60_000, busy: () => 1 });
    batcher.set('ns/a', gate('ns/a', true));
    const written = batcher.flush().then(() => 'written');
    const timeout = new Promise((resolve) => setTimeout(() => resolve('still waiting'), 1_000));
    expect(await Promise.race([written, timeout])).toBe('written');
    expect(host.applies).toBe(1);
  });

  it('waits for reconciles still running (their lock answers on the way) to join, up to maxWaitMs', async () => {
    const now = 1_000_000;
    const host = new FakeHost(() => now);
    let running = 100;
    const batcher = new HostBatcher(
      host,
      () => 30,
      () => now,
      undefined,
      { quietMs: 5, maxWaitMs: 2_000, busy: () => running },
    );
    // 100 reconciles acquire locks; the answers come back 30 ms apart in 4 waves of 25.
    const flushes: Promise<void>[] = [];
    for (let wave = 0; wave < 4; wave++) {
      await new Promise((resolve) => setTimeout(resolve, 30));
      for (let i = 0; i < 25; i++) {
        const key = `ns/w${wave}p${i}`;
        batcher.set(key, gate(key, true));
        flushes.push(batcher.flush().finally(() => running--));
      }
    }
    await Promise.all(flushes);
    expect(host.applies).toBe(1);
  });
});
