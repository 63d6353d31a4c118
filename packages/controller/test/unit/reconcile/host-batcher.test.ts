import type { PairGate } from '@probegate/host';
import { describe, expect, it } from 'vitest';
import { HostBatcher } from '../../../src/reconcile/host-batcher.js';
import { FakeHost } from './fakes.js';

const gate = (key: string, active: boolean): PairGate => ({
  key,
  sourceCIDRs: ['198.18.0.16/32'],
  ports: [8080],
  active,
});

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
});
