// Property-based: for any sequence of inputs observed consistently by both members
// (same health view, one lock at most one node holds, same arbiter reachability,
// same requests), the safety properties hold at every step.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BREAK_STEPS,
  type DecisionPolicy,
  type HealthStatus,
  isBreakBeforeMake,
  MAKE_STEPS,
  type MemberRole,
} from '../../src/index.js';
import { makePolicy, PRIMARY_NODE, SECONDARY_NODE } from '../support/generate.js';
import { PairSimulation, servingMember, steady, type Tick } from '../support/pair-simulation.js';

const statusArb = fc.constantFrom<HealthStatus>('passing', 'passing', 'warning', 'critical', 'missing');

const policyArb: fc.Arbitrary<DecisionPolicy> = fc
  .record({
    arbitration: fc.constantFrom('Lock' as const, 'Health' as const),
    failback: fc.constantFrom('Automatic' as const, 'Manual' as const),
    holdDownMs: fc.constantFrom(0, 2_000, 10_000),
    failbackDelayMs: fc.constantFrom(0, 5_000, 30_000),
    arbiterGraceMs: fc.constantFrom(0, 5_000, 15_000),
    arbiterUnreachable: fc.constantFrom('Hold' as const, 'Demote' as const),
    gateLeaseMs: fc.constantFrom(5_000, 30_000),
    warningIsHealthy: fc.boolean(),
    hasVip: fc.boolean(),
  })
  .map((overrides) => makePolicy(overrides));

const requestsArb = fc.oneof(
  { weight: 6, arbitrary: fc.constant({}) },
  { weight: 2, arbitrary: fc.record({ switchoverTo: fc.constantFrom(PRIMARY_NODE, SECONDARY_NODE, 'vm9') }) },
  {
    weight: 2,
    arbitrary: fc.record({
      maintenance: fc.subarray([PRIMARY_NODE, SECONDARY_NODE]),
    }),
  },
);

const tickArb: fc.Arbitrary<Tick> = fc.record({
  advanceMs: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 20_000 })),
  primary: statusArb,
  secondary: statusArb,
  arbiterReachable: fc.oneof(
    { weight: 4, arbitrary: fc.constant(true) },
    { weight: 1, arbitrary: fc.constant(false) },
  ),
  requests: requestsArb,
  strangerTakesFreeLock: fc.oneof(
    { weight: 19, arbitrary: fc.constant(false) },
    { weight: 1, arbitrary: fc.constant(true) },
  ),
});

/** Runs the sequence and calls `check` after every tick. */
function forEveryTick(
  check: (result: ReturnType<PairSimulation['step']>, policy: DecisionPolicy, role: MemberRole) => void,
) {
  return fc.property(policyArb, fc.array(tickArb, { minLength: 1, maxLength: 150 }), (policy, ticks) => {
    const simulation = new PairSimulation(policy);
    for (const tick of ticks) {
      const result = simulation.step(tick);
      check(result, policy, 'primary');
      check(result, policy, 'secondary');
    }
  });
}

const RUNS = { numRuns: 1000 };

describe('safety properties of decide()', () => {
  it('never both desired Active', () => {
    fc.assert(
      fc.property(policyArb, fc.array(tickArb, { minLength: 1, maxLength: 150 }), (policy, ticks) => {
        const simulation = new PairSimulation(policy);
        for (const tick of ticks) {
          const result = simulation.step(tick);
          const bothActive =
            result.primary.decision.desired.role === 'Active' &&
            result.secondary.decision.desired.role === 'Active';
          expect(bothActive).toBe(false);
          // The host state the steps produce never has both gates open either.
          expect(simulation.host.primary.gate === 'Open' && simulation.host.secondary.gate === 'Open').toBe(
            false,
          );
        }
      }),
      RUNS,
    );
  });

  it('a member whose own check is critical (or missing) is never desired Active', () => {
    fc.assert(
      forEveryTick((result, _policy, role) => {
        const { decision, view } = result[role];
        if (view[role].status === 'critical' || view[role].status === 'missing') {
          expect(decision.desired.role).toBe('Standby');
        }
      }),
      RUNS,
    );
  });

  it('steps are always break-before-make and match the desired state', () => {
    fc.assert(
      forEveryTick((result, _policy, role) => {
        const { decision } = result[role];
        expect(isBreakBeforeMake(decision.steps)).toBe(true);
        if (decision.desired.role === 'Active') {
          expect(decision.steps.every((step) => MAKE_STEPS.has(step) && step !== 'acquireLock')).toBe(true);
        } else {
          expect(decision.steps.every((step) => BREAK_STEPS.has(step) || step === 'acquireLock')).toBe(true);
        }
      }),
      RUNS,
    );
  });

  it('Lock mode: Active only while holding the lock', () => {
    fc.assert(
      forEveryTick((result, policy, role) => {
        const member = result[role];
        if (policy.arbitration === 'Lock' && member.decision.desired.role === 'Active') {
          expect(member.holdsLockWhenDeciding).toBe(true);
        }
      }),
      RUNS,
    );
  });

  it('Health mode: both members always agree on who should serve', () => {
    fc.assert(
      forEveryTick((result, policy) => {
        if (policy.arbitration === 'Health') {
          expect(result.primary.decision.target).toBe(result.secondary.decision.target);
        }
      }),
      RUNS,
    );
  });
});

// Safety alone would be met by never serving: whatever happened before, once the
// inputs settle the pair must serve again.
describe('liveness of decide()', () => {
  const settledCases = [
    ['both healthy: the primary serves (or the secondary with Manual failback)', 'passing', 'passing'],
    ['only the secondary healthy: it serves', 'critical', 'passing'],
    ['only the primary healthy: it serves', 'passing', 'missing'],
  ] as const;

  it.each(settledCases)('after any history, %s', (_name, primary, secondary) => {
    fc.assert(
      fc.property(policyArb, fc.array(tickArb, { maxLength: 100 }), (policy, history) => {
        const simulation = new PairSimulation(policy);
        simulation.run(history);
        if (simulation.lockHolder === 'stranger') simulation.lockHolder = undefined; // it lets go
        const settled = simulation.run(steady(60, primary, secondary)).at(-1);
        if (settled === undefined) throw new Error('no ticks');
        const who = servingMember(settled);
        if (primary === 'passing' && secondary === 'passing') {
          if (policy.failback === 'Automatic') expect(who).toBe('primary');
          else expect(who === 'primary' || who === 'secondary').toBe(true);
        } else {
          expect(who).toBe(primary === 'passing' ? 'primary' : 'secondary');
        }
        if (policy.arbitration === 'Lock') {
          expect(simulation.lockHolder).toBe(who === 'primary' ? PRIMARY_NODE : SECONDARY_NODE);
        }
        expect(simulation.host[who as MemberRole].gate).toBe('Open');
      }),
      { numRuns: 300 },
    );
  });
});
