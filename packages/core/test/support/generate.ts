// Generated decision inputs shared by tests and the benchmark.
import type {
  DecisionInput,
  DecisionPolicy,
  HealthStatus,
  MemberHealth,
  MemberRole,
} from '../../src/index.js';
import { initialMemory } from '../../src/index.js';

export const PRIMARY_NODE = 'vm1';
export const SECONDARY_NODE = 'vm2';

export function makePolicy(overrides: Partial<DecisionPolicy> = {}): DecisionPolicy {
  return {
    primaryNode: PRIMARY_NODE,
    secondaryNode: SECONDARY_NODE,
    failback: 'Automatic',
    arbitration: 'Lock',
    holdDownMs: 10_000,
    failbackDelayMs: 30_000,
    arbiterGraceMs: 15_000,
    arbiterUnreachable: 'Hold',
    gateLeaseMs: 30_000,
    warningIsHealthy: false,
    hasVip: true,
    ...overrides,
  };
}

export function health(status: HealthStatus, readAt = 0, index = 1): MemberHealth {
  return { status, index, readAt };
}

/** A deterministic pseudo-random generator (mulberry32) so generated inputs are reproducible. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const STATUSES: readonly HealthStatus[] = ['passing', 'passing', 'passing', 'warning', 'critical', 'missing'];

/** A mutable input the benchmark updates in place (now, memory) between decisions. */
export type MutableDecisionInput = { -readonly [K in keyof DecisionInput]: DecisionInput[K] };

/** `count` pairs with random policies, health, lock and host states. */
export function generatePairs(count: number, seed = 42): MutableDecisionInput[] {
  const random = seededRandom(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const pairs: MutableDecisionInput[] = [];
  for (let i = 0; i < count; i++) {
    const self: MemberRole = random() < 0.5 ? 'primary' : 'secondary';
    const policy = makePolicy({
      primaryNode: `node-${i}-a`,
      secondaryNode: `node-${i}-b`,
      failback: random() < 0.5 ? 'Automatic' : 'Manual',
      arbitration: random() < 0.5 ? 'Lock' : 'Health',
      holdDownMs: pick([0, 5_000, 10_000]),
      arbiterUnreachable: random() < 0.5 ? 'Hold' : 'Demote',
      warningIsHealthy: random() < 0.3,
      hasVip: random() < 0.8,
    });
    const holder = pick([undefined, policy.primaryNode, policy.secondaryNode]);
    pairs.push({
      policy,
      self,
      health: { primary: health(pick(STATUSES)), secondary: health(pick(STATUSES)) },
      arbiter: { reachable: random() < 0.9, lastContactAt: 0 },
      lock: { holder, ownSessionValid: random() < 0.95 },
      observed: {
        gate: random() < 0.5 ? 'Open' : 'Closed',
        vip: random() < 0.5 ? 'Bound' : 'Unbound',
        gateLeaseExpiresAt: 60_000,
      },
      memory: initialMemory(),
      requests: random() < 0.1 ? { switchoverTo: policy.secondaryNode } : {},
      now: 0,
    });
  }
  return pairs;
}
