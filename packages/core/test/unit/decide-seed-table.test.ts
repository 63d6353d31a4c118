// The original script's four cases, from both members' points of view, in both
// arbitration modes.
import { describe, expect, it } from 'vitest';
import {
  type ArbitrationMode,
  decide,
  type HealthStatus,
  initialMemory,
  type MemberRole,
  type MemberState,
  type ReasonCode,
} from '../../src/index.js';
import { health, makePolicy, PRIMARY_NODE, SECONDARY_NODE } from '../support/generate.js';
import { PairSimulation, steady } from '../support/pair-simulation.js';

interface SeedCase {
  readonly name: string;
  readonly primary: HealthStatus;
  readonly secondary: HealthStatus;
  readonly expected: Record<MemberRole, MemberState>;
  readonly reason: ReasonCode;
}

const seedCases: readonly SeedCase[] = [
  {
    name: 'both healthy: primary active, secondary standby',
    primary: 'passing',
    secondary: 'passing',
    expected: { primary: 'Active', secondary: 'Standby' },
    reason: 'BothHealthy',
  },
  {
    name: 'only primary healthy',
    primary: 'passing',
    secondary: 'critical',
    expected: { primary: 'Active', secondary: 'Standby' },
    reason: 'OnlyPrimaryHealthy',
  },
  {
    name: 'only secondary healthy',
    primary: 'critical',
    secondary: 'passing',
    expected: { primary: 'Standby', secondary: 'Active' },
    reason: 'OnlySecondaryHealthy',
  },
  {
    name: 'none healthy: both standby',
    primary: 'critical',
    secondary: 'critical',
    expected: { primary: 'Standby', secondary: 'Standby' },
    reason: 'NoHealthyMember',
  },
];

const modes: readonly ArbitrationMode[] = ['Lock', 'Health'];
const table = modes.flatMap((mode) =>
  seedCases.flatMap((seedCase) =>
    (['primary', 'secondary'] as const).map((self) => [mode, seedCase.name, self, seedCase] as const),
  ),
);

describe('seed table: one decision', () => {
  it.each(table)('%s mode, %s, seen by the %s', (mode, _name, self, seedCase) => {
    const policy = makePolicy({ arbitration: mode });
    const activeRole = (['primary', 'secondary'] as const).find(
      (role) => seedCase.expected[role] === 'Active',
    );
    const holder =
      activeRole === undefined ? undefined : activeRole === 'primary' ? PRIMARY_NODE : SECONDARY_NODE;
    const decision = decide({
      policy,
      self,
      health: { primary: health(seedCase.primary), secondary: health(seedCase.secondary) },
      arbiter: { reachable: true, lastContactAt: 0 },
      // Lock mode: the lock already settled on the member that should serve.
      lock: { holder, ownSessionValid: seedCase[self] !== 'critical' },
      observed: { gate: 'Closed', vip: 'Unbound', gateLeaseExpiresAt: undefined },
      memory: initialMemory(),
      requests: {},
      now: 0,
    });
    expect(decision.desired.role).toBe(seedCase.expected[self]);
    expect(decision.reason).toBe(seedCase.reason);
    expect(decision.target).toBe(activeRole);
    if (seedCase.expected[self] === 'Active') {
      expect(decision.desired).toEqual({ role: 'Active', gate: 'Open', vip: 'Bound' });
      expect(decision.steps).toEqual(['bindVip', 'openGate']);
      expect(decision.lockAction).toBe(mode === 'Lock' ? 'keep' : 'none');
    } else {
      expect(decision.desired).toEqual({ role: 'Standby', gate: 'Closed', vip: 'Unbound' });
      expect(decision.steps).toEqual([]);
    }
    expect(decision.explanation).toContain(self === 'primary' ? PRIMARY_NODE : SECONDARY_NODE);
  });
});

describe('seed table: both members from a cold start until settled', () => {
  it.each(modes.flatMap((mode) => seedCases.map((seedCase) => [mode, seedCase.name, seedCase] as const)))(
    '%s mode, %s',
    (mode, _name, seedCase) => {
      const simulation = new PairSimulation(makePolicy({ arbitration: mode }));
      const results = simulation.run(steady(3, seedCase.primary, seedCase.secondary));
      const last = results.at(-1);
      if (last === undefined) throw new Error('no ticks');
      expect(last.primary.decision.desired.role).toBe(seedCase.expected.primary);
      expect(last.secondary.decision.desired.role).toBe(seedCase.expected.secondary);
      expect(last.primary.decision.reason).toBe(seedCase.reason);
      expect(last.secondary.decision.reason).toBe(seedCase.reason);
      // The serving member's host ends up open and bound; the other closed and unbound.
      for (const role of ['primary', 'secondary'] as const) {
        const serving = seedCase.expected[role] === 'Active';
        expect(simulation.host[role].gate).toBe(serving ? 'Open' : 'Closed');
        expect(simulation.host[role].vip).toBe(serving ? 'Bound' : 'Unbound');
      }
      if (mode === 'Lock') {
        const holder =
          seedCase.expected.primary === 'Active'
            ? PRIMARY_NODE
            : seedCase.expected.secondary === 'Active'
              ? SECONDARY_NODE
              : undefined;
        expect(simulation.lockHolder).toBe(holder);
      }
    },
  );
});
