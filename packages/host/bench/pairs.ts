import type { PairGate } from '../src/index.js';

/** n pairs with distinct probe ports and VIPs; every other one Active. */
export function benchPairs(n: number): PairGate[] {
  return Array.from({ length: n }, (_, i) => ({
    key: `bench/pair-${i}`,
    sourceCIDRs: ['198.18.0.16/32'],
    ports: [10_000 + i],
    vip: `198.19.${Math.floor(i / 250)}.${(i % 250) + 1}`,
    active: i % 2 === 0,
  }));
}
