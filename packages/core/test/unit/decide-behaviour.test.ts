// Policies over time: failback, hold-down against flapping, arbiter loss, switchover,
// maintenance, lease renewal, restarts. Two members decide on the same inputs.
import { describe, expect, it } from 'vitest';
import {
  type ArbitrationMode,
  type DecisionPolicy,
  decide,
  type HealthStatus,
  initialMemory,
  type MemberRole,
} from '../../src/index.js';
import { health, makePolicy, PRIMARY_NODE, SECONDARY_NODE } from '../support/generate.js';
import {
  PairSimulation,
  servingMember,
  steady,
  type Tick,
  type TickResult,
} from '../support/pair-simulation.js';

const modes: readonly ArbitrationMode[] = ['Lock', 'Health'];

function serving(results: readonly TickResult[]): (MemberRole | 'both' | undefined)[] {
  return results.map(servingMember);
}

/** Changes of the serving member, ignoring the gaps with nobody serving (a failover is one change). */
function handovers(results: readonly TickResult[]): number {
  let last: MemberRole | 'both' | undefined;
  let count = 0;
  for (const who of serving(results)) {
    if (who === undefined) continue;
    if (last !== undefined && who !== last) count++;
    last = who;
  }
  return count;
}

/** Changes of the desired state of either member (each gate open/close counts). */
function roleChanges(results: readonly TickResult[]): number {
  let count = 0;
  for (let i = 1; i < results.length; i++) {
    const previous = results[i - 1] as TickResult;
    const current = results[i] as TickResult;
    for (const role of ['primary', 'secondary'] as const) {
      if (previous[role].decision.desired.role !== current[role].decision.desired.role) count++;
    }
  }
  return count;
}

function settle(simulation: PairSimulation, extra: Partial<Tick> = {}): TickResult[] {
  return simulation.run(steady(3, 'passing', 'passing', extra));
}

function flapping(seconds: number, role: MemberRole, other: HealthStatus): Tick[] {
  return Array.from({ length: seconds }, (_, second) => {
    const status: HealthStatus = second % 2 === 0 ? 'critical' : 'passing';
    return {
      advanceMs: 1000,
      primary: role === 'primary' ? status : other,
      secondary: role === 'secondary' ? status : other,
    };
  });
}

describe.each(modes)('%s mode', (mode) => {
  const policyWith = (overrides: Partial<DecisionPolicy> = {}) =>
    makePolicy({ arbitration: mode, ...overrides });

  describe('failback', () => {
    it('Automatic: the primary takes over again once healthy for the failback delay', () => {
      const simulation = new PairSimulation(policyWith({ failback: 'Automatic', failbackDelayMs: 30_000 }));
      settle(simulation);
      const failover = simulation.run(steady(5, 'critical', 'passing'));
      expect(servingMember(failover.at(-1) as TickResult)).toBe('secondary');

      const recovered = simulation.run(steady(28, 'passing', 'passing'));
      expect(serving(recovered).every((who) => who === 'secondary')).toBe(true);
      const pending = (recovered.at(-1) as TickResult).secondary.decision;
      expect(pending.reason).toBe('FailbackPending');
      expect(pending.requeueAfterMs).toBe(3000); // primary usable since 28 s before
      const failback = simulation.run(steady(6, 'passing', 'passing'));
      expect(servingMember(failback.at(-1) as TickResult)).toBe('primary');
      expect(failback.some((result) => result.secondary.decision.reason === 'FailbackToPrimary')).toBe(true);
    });

    it('Manual: the secondary keeps serving while healthy', () => {
      const simulation = new PairSimulation(policyWith({ failback: 'Manual' }));
      settle(simulation);
      simulation.run(steady(5, 'critical', 'passing'));
      const later = simulation.run(steady(600, 'passing', 'passing'));
      expect(serving(later).every((who) => who === 'secondary')).toBe(true);
      expect((later.at(-1) as TickResult).primary.decision.reason).toBe('FailbackManual');
      // ...and hands back when it fails.
      const back = simulation.run(steady(3, 'passing', 'critical'));
      expect(servingMember(back.at(-1) as TickResult)).toBe('primary');
    });
  });

  describe('hold-down against flapping', () => {
    it('a primary flipping every second for a minute causes one failover, no failback', () => {
      const simulation = new PairSimulation(policyWith({ holdDownMs: 10_000, failbackDelayMs: 30_000 }));
      const before = settle(simulation).at(-1) as TickResult;
      const minute = [before, ...simulation.run(flapping(60, 'primary', 'passing'))];
      expect(serving(minute).includes('both')).toBe(false);
      expect(handovers(minute)).toBe(1);
      expect(servingMember(minute.at(-1) as TickResult)).toBe('secondary');
      expect(roleChanges(minute)).toBe(2); // primary off, secondary on
      // Lock mode: one tick without service while the secondary takes the lock.
      expect(minute.filter((result) => servingMember(result) === undefined).length).toBe(
        mode === 'Lock' ? 1 : 0,
      );
    });

    it('a lone member flipping every second is promoted at most once, then waits for stability', () => {
      const simulation = new PairSimulation(policyWith({ holdDownMs: 10_000 }));
      const before = simulation.run(steady(3, 'critical', 'passing')).at(-1) as TickResult;
      expect(servingMember(before)).toBe('secondary');
      const minute = [before, ...simulation.run(flapping(60, 'secondary', 'critical'))];
      // Off once at its first failure, never on again: a 1 s streak never reaches 10 s.
      expect(roleChanges(minute)).toBe(1);
      expect(minute.slice(1).every((result) => servingMember(result) === undefined)).toBe(true);
      const waiting = (minute.at(-1) as TickResult).secondary.decision;
      expect(waiting.reason).toBe('HoldDown');
      expect(waiting.requeueAfterMs).toBe(10_000);
    });

    it('without hold-down (the seed) the same signal disrupts the service', () => {
      const simulation = new PairSimulation(policyWith({ holdDownMs: 0, failbackDelayMs: 0 }));
      const before = settle(simulation).at(-1) as TickResult;
      const minute = [before, ...simulation.run(flapping(60, 'primary', 'passing'))];
      if (mode === 'Health') {
        expect(handovers(minute)).toBeGreaterThanOrEqual(50); // back and forth every second
      } else {
        // Each failback releases the lock, the primary fails again before taking it: nobody serves.
        expect(minute.filter((result) => servingMember(result) === undefined).length).toBeGreaterThanOrEqual(
          50,
        );
      }
    });

    it('a member that stays healthy for the hold-down is promoted', () => {
      const simulation = new PairSimulation(policyWith({ holdDownMs: 10_000 }));
      simulation.run(steady(3, 'critical', 'critical'));
      const rising = simulation.run(steady(9, 'critical', 'passing'));
      expect(serving(rising).every((who) => who === undefined)).toBe(true);
      const risen = simulation.run(steady(3, 'critical', 'passing'));
      expect(servingMember(risen.at(-1) as TickResult)).toBe('secondary');
    });
  });

  describe('arbiter unreachable', () => {
    it('Hold keeps the last state through the grace and after it', () => {
      const simulation = new PairSimulation(
        policyWith({ arbiterGraceMs: 15_000, arbiterUnreachable: 'Hold' }),
      );
      settle(simulation);
      const outage = simulation.run(steady(60, 'passing', 'passing', { arbiterReachable: false }));
      expect(serving(outage).every((who) => who === 'primary')).toBe(true);
      const first = outage[0] as TickResult;
      expect(first.primary.decision.reason).toBe('ArbiterUnreachableHold');
      // Decide again when the grace ends (the active member may need to earlier, to renew its lease).
      expect(first.secondary.decision.requeueAfterMs).toBe(14_000);
      expect(first.primary.decision.requeueAfterMs).toBeLessThanOrEqual(14_000);
      expect((outage.at(-1) as TickResult).primary.decision.steps).not.toContain('closeGate');
    });

    it('Demote holds through the grace, then stands by', () => {
      const simulation = new PairSimulation(
        policyWith({ arbiterGraceMs: 15_000, arbiterUnreachable: 'Demote' }),
      );
      settle(simulation);
      const outage = simulation.run(steady(30, 'passing', 'passing', { arbiterReachable: false }));
      expect(serving(outage.slice(0, 14)).every((who) => who === 'primary')).toBe(true);
      const demoted = outage.findIndex((result) => servingMember(result) === undefined);
      expect(demoted).toBe(14); // 15 s after the last contact
      const decision = (outage[demoted] as TickResult).primary.decision;
      expect(decision.reason).toBe('ArbiterUnreachableDemote');
      expect(decision.steps).toEqual(
        mode === 'Lock' ? ['closeGate', 'unbindVip', 'releaseLock'] : ['closeGate', 'unbindVip'],
      );
      expect(serving(outage.slice(demoted)).every((who) => who === undefined)).toBe(true);
      // Consul back: the pair serves again.
      const back = settle(simulation);
      expect(servingMember(back.at(-1) as TickResult)).toBe('primary');
    });

    it('the standby never promotes itself while Consul is unreachable', () => {
      const simulation = new PairSimulation(policyWith({ arbiterUnreachable: 'Hold' }));
      settle(simulation);
      // The primary fails while Consul is unreachable: nobody can know; the last view holds.
      const outage = simulation.run(steady(40, 'critical', 'passing', { arbiterReachable: false }));
      expect(outage.every((result) => result.secondary.decision.desired.role === 'Standby')).toBe(true);
      expect(outage.every((result) => result.secondary.decision.lockAction !== 'acquire')).toBe(true);
    });
  });

  describe('switchover', () => {
    it('moves service to the requested node and keeps it there while requested', () => {
      const simulation = new PairSimulation(policyWith({ failback: 'Automatic' }));
      settle(simulation);
      const moved = simulation.run(
        steady(90, 'passing', 'passing', { requests: { switchoverTo: SECONDARY_NODE } }),
      );
      expect(serving(moved).includes('both')).toBe(false);
      expect(serving(moved.slice(3)).every((who) => who === 'secondary')).toBe(true);
      expect((moved.at(-1) as TickResult).secondary.decision.reason).toBe('Switchover');
      // Request withdrawn: automatic failback returns to the primary.
      const after = simulation.run(steady(5, 'passing', 'passing'));
      expect(servingMember(after.at(-1) as TickResult)).toBe('primary');
    });

    it('with Manual failback the switched-to node keeps serving after the request ends', () => {
      const simulation = new PairSimulation(policyWith({ failback: 'Manual' }));
      settle(simulation);
      simulation.run(steady(5, 'passing', 'passing', { requests: { switchoverTo: SECONDARY_NODE } }));
      const after = simulation.run(steady(120, 'passing', 'passing'));
      expect(serving(after).every((who) => who === 'secondary')).toBe(true);
    });

    it('is ignored when the requested node is unhealthy or not a member', () => {
      for (const switchoverTo of [SECONDARY_NODE, 'vm9']) {
        const simulation = new PairSimulation(policyWith());
        settle(simulation);
        const results = simulation.run(steady(5, 'passing', 'critical', { requests: { switchoverTo } }));
        expect(serving(results).every((who) => who === 'primary')).toBe(true);
      }
    });
  });

  describe('maintenance', () => {
    it('a node in maintenance hands over to its healthy peer', () => {
      const simulation = new PairSimulation(policyWith());
      settle(simulation);
      const results = simulation.run(
        steady(5, 'passing', 'passing', { requests: { maintenance: [PRIMARY_NODE] } }),
      );
      expect(servingMember(results.at(-1) as TickResult)).toBe('secondary');
      expect((results.at(-1) as TickResult).secondary.decision.reason).toBe('Maintenance');
      expect((results[0] as TickResult).primary.decision.steps.slice(0, 2)).toEqual([
        'closeGate',
        'unbindVip',
      ]);
    });

    it('both in maintenance: nobody serves', () => {
      const simulation = new PairSimulation(policyWith());
      settle(simulation);
      const results = simulation.run(
        steady(3, 'passing', 'passing', { requests: { maintenance: [PRIMARY_NODE, SECONDARY_NODE] } }),
      );
      expect(servingMember(results.at(-1) as TickResult)).toBe(undefined);
      expect((results.at(-1) as TickResult).primary.decision.reason).toBe('Maintenance');
    });
  });

  it('warning counts as healthy only when warningIsHealthy', () => {
    for (const warningIsHealthy of [false, true]) {
      const simulation = new PairSimulation(policyWith({ warningIsHealthy }));
      const results = simulation.run(steady(3, 'warning', 'passing'));
      expect(servingMember(results.at(-1) as TickResult)).toBe(warningIsHealthy ? 'primary' : 'secondary');
    }
  });

  it('a restarted serving member keeps serving (no failover on a rolling update)', () => {
    const simulation = new PairSimulation(policyWith({ failback: 'Manual' }));
    settle(simulation);
    simulation.run(steady(5, 'critical', 'passing'));
    simulation.run(steady(40, 'passing', 'passing'));
    // Both agents restart: memory is lost, the kernel state and the published active remain.
    simulation.memory.secondary = initialMemory();
    simulation.memory.primary = initialMemory('secondary');
    const results = simulation.run(steady(60, 'passing', 'passing'));
    expect(serving(results).every((who) => who === 'secondary')).toBe(true);
  });
});

describe('single decisions', () => {
  const base = {
    self: 'primary' as const,
    health: { primary: health('passing'), secondary: health('passing') },
    arbiter: { reachable: true, lastContactAt: 0 },
    requests: {},
    now: 100_000,
  };

  it('demotes in break-before-make order: close gate, unbind VIP, release lock', () => {
    const decision = decide({
      ...base,
      policy: makePolicy(),
      lock: { holder: PRIMARY_NODE, ownSessionValid: true },
      observed: { gate: 'Open', vip: 'Bound', gateLeaseExpiresAt: 120_000 },
      memory: initialMemory(),
      requests: { maintenance: [PRIMARY_NODE] },
    });
    expect(decision.desired.role).toBe('Standby');
    expect(decision.lockAction).toBe('release');
    expect(decision.steps).toEqual(['closeGate', 'unbindVip', 'releaseLock']);
  });

  it('promotes in order: acquire the lock first, then bind the VIP and open the gate', () => {
    const free = decide({
      ...base,
      policy: makePolicy(),
      lock: { holder: undefined, ownSessionValid: true },
      observed: { gate: 'Closed', vip: 'Unbound', gateLeaseExpiresAt: undefined },
      memory: initialMemory(),
    });
    expect(free.desired.role).toBe('Standby');
    expect(free.lockAction).toBe('acquire');
    expect(free.steps).toEqual(['acquireLock']);
    const held = decide({
      ...base,
      policy: makePolicy(),
      lock: { holder: PRIMARY_NODE, ownSessionValid: true },
      observed: { gate: 'Closed', vip: 'Unbound', gateLeaseExpiresAt: undefined },
      memory: free.nextMemory,
    });
    expect(held.desired.role).toBe('Active');
    expect(held.steps).toEqual(['bindVip', 'openGate']);
  });

  it('waits while another node holds the lock', () => {
    const decision = decide({
      ...base,
      policy: makePolicy(),
      lock: { holder: 'someone-else', ownSessionValid: true },
      observed: { gate: 'Closed', vip: 'Unbound', gateLeaseExpiresAt: undefined },
      memory: initialMemory(),
    });
    expect(decision).toMatchObject({ reason: 'LockHeldByPeer', lockAction: 'none', steps: [] });
    expect(decision.desired.role).toBe('Standby');
  });

  it('a held lock that Consul has not confirmed within the lock-delay: stop serving, keep the lock', () => {
    const input = {
      ...base,
      policy: makePolicy(),
      observed: { gate: 'Open' as const, vip: 'Bound' as const, gateLeaseExpiresAt: 120_000 },
      memory: initialMemory('primary'),
    };
    const unconfirmed = decide({
      ...input,
      lock: { holder: PRIMARY_NODE, ownSessionValid: true, confirmed: false },
    });
    expect(unconfirmed).toMatchObject({ reason: 'LockUnconfirmed', lockAction: 'none' });
    expect(unconfirmed.desired.role).toBe('Standby');
    expect(unconfirmed.steps).toEqual(['closeGate', 'unbindVip']);
    const confirmedAgain = decide({
      ...input,
      observed: { gate: 'Closed', vip: 'Unbound', gateLeaseExpiresAt: undefined },
      lock: { holder: PRIMARY_NODE, ownSessionValid: true, confirmed: true },
      memory: unconfirmed.nextMemory,
    });
    expect(confirmedAgain.desired.role).toBe('Active');
    expect(confirmedAgain.steps).toEqual(['bindVip', 'openGate']);
  });

  it.each(modes)('%s mode: a healthy primary whose agent is gone is passed over', (mode) => {
    const decision = decide({
      ...base,
      self: 'secondary',
      health: { primary: { ...health('passing'), agentAlive: false }, secondary: health('passing') },
      policy: makePolicy({ arbitration: mode }),
      lock: { holder: undefined, ownSessionValid: true },
      observed: { gate: 'Closed', vip: 'Unbound', gateLeaseExpiresAt: undefined },
      memory: initialMemory('primary'),
    });
    expect(decision.target).toBe('secondary');
    expect(decision.reason).toBe('OnlySecondaryHealthy');
    expect(mode === 'Lock' ? decision.lockAction : decision.desired.role).toBe(
      mode === 'Lock' ? 'acquire' : 'Active',
    );
  });

  it('without a VIP only the gate is driven', () => {
    const decision = decide({
      ...base,
      policy: makePolicy({ hasVip: false, arbitration: 'Health' }),
      lock: { holder: undefined, ownSessionValid: false },
      observed: { gate: 'Closed', vip: 'Unbound', gateLeaseExpiresAt: undefined },
      memory: initialMemory(),
    });
    expect(decision.desired).toEqual({ role: 'Active', gate: 'Open', vip: 'Unbound' });
    expect(decision.steps).toEqual(['openGate']);
  });

  it('renews the gate lease once half of it has passed', () => {
    const policy = makePolicy({ gateLeaseMs: 30_000 });
    const input = {
      ...base,
      policy,
      lock: { holder: PRIMARY_NODE, ownSessionValid: true },
      memory: initialMemory(),
    };
    const fresh = decide({ ...input, observed: { gate: 'Open', vip: 'Bound', gateLeaseExpiresAt: 130_000 } });
    expect(fresh.steps).toEqual([]);
    expect(fresh.renewGateAfterMs).toBe(15_000);
    // The renewal is no timer of the rules: a later one (e.g. a failback delay) is never hidden by it.
    expect(fresh.requeueAfterMs).toBeUndefined();
    const half = decide({ ...input, observed: { gate: 'Open', vip: 'Bound', gateLeaseExpiresAt: 114_000 } });
    expect(half.steps).toEqual(['openGate']);
    const expired = decide({
      ...input,
      observed: { gate: 'Open', vip: 'Bound', gateLeaseExpiresAt: 99_000 },
    });
    expect(expired.steps).toEqual(['openGate']);
  });

  it('is deterministic and leaves its input untouched', () => {
    const input = {
      ...base,
      policy: makePolicy(),
      lock: { holder: SECONDARY_NODE, ownSessionValid: true },
      observed: { gate: 'Open' as const, vip: 'Bound' as const, gateLeaseExpiresAt: 110_000 },
      memory: initialMemory(),
    };
    const frozen = structuredClone(input);
    deepFreeze(input);
    expect(decide(input)).toEqual(decide(input));
    expect(input).toEqual(frozen);
  });
});

describe('Lock mode never goes Active without the lock', () => {
  it('holds over every combination of lock, health, host and arbiter state', () => {
    const statuses: HealthStatus[] = ['passing', 'warning', 'critical', 'missing'];
    let checked = 0;
    let active = 0;
    for (const self of ['primary', 'secondary'] as const) {
      const selfNode = self === 'primary' ? PRIMARY_NODE : SECONDARY_NODE;
      for (const holder of [undefined, PRIMARY_NODE, SECONDARY_NODE, 'stranger']) {
        for (const ownSessionValid of [true, false]) {
          for (const confirmed of [undefined, true, false]) {
            for (const primary of statuses) {
              for (const secondary of statuses) {
                for (const reachable of [true, false]) {
                  for (const gate of ['Open', 'Closed'] as const) {
                    for (const memory of [
                      initialMemory(),
                      initialMemory('primary'),
                      initialMemory('secondary'),
                    ]) {
                      const decision = decide({
                        policy: makePolicy({ arbitration: 'Lock', warningIsHealthy: true }),
                        self,
                        health: { primary: health(primary), secondary: health(secondary) },
                        arbiter: { reachable, lastContactAt: 0 },
                        lock: { holder, ownSessionValid, ...(confirmed === undefined ? {} : { confirmed }) },
                        observed: { gate, vip: 'Unbound', gateLeaseExpiresAt: undefined },
                        memory,
                        requests: {},
                        now: 5_000,
                      });
                      checked++;
                      if (decision.desired.role === 'Active') {
                        active++;
                        expect(holder).toBe(selfNode);
                        expect(ownSessionValid).toBe(true);
                        expect(confirmed).not.toBe(false);
                      }
                      if (decision.lockAction === 'acquire') {
                        expect(reachable).toBe(true);
                        expect(holder === undefined || holder === selfNode).toBe(true);
                      }
                    }
                  }
                }
              }
            }
          }
        }
      }
    }
    expect(checked).toBe(2 * 4 * 2 * 3 * 4 * 4 * 2 * 2 * 3);
    expect(active).toBeGreaterThan(0);
  });
});

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
