// Two members deciding on the same, consistent inputs: one Consul (health view and a
// single lock that at most one node holds), each member with its own host state.
// Used by behaviour tests and property tests.
import {
  type Decision,
  type DecisionMemory,
  type DecisionPolicy,
  decide,
  type HealthStatus,
  initialMemory,
  type MemberRole,
  type ObservedLocalState,
  type OperatorRequests,
  type PairHealthView,
} from '../../src/index.js';

export interface Tick {
  /** Milliseconds since the previous tick. */
  readonly advanceMs: number;
  readonly primary: HealthStatus;
  readonly secondary: HealthStatus;
  /** Whether both members can reach Consul (they see the same arbiter). */
  readonly arbiterReachable?: boolean;
  readonly requests?: OperatorRequests;
  /** A node outside the pair grabs the free lock (misconfiguration, another tool). */
  readonly strangerTakesFreeLock?: boolean;
}

export interface MemberTickResult {
  readonly decision: Decision;
  /** The view the member decided on. */
  readonly view: PairHealthView;
  readonly holdsLockWhenDeciding: boolean;
}

export interface TickResult {
  readonly now: number;
  readonly primary: MemberTickResult;
  readonly secondary: MemberTickResult;
  readonly lockHolder: string | undefined;
}

const ROLES: readonly MemberRole[] = ['primary', 'secondary'];

export class PairSimulation {
  now: number;
  lockHolder: string | undefined;
  private lastContactAt: number;
  private frozenView: PairHealthView | undefined;
  private frozenHolder: string | undefined;
  private index = 0;
  readonly memory: Record<MemberRole, DecisionMemory>;
  readonly host: Record<MemberRole, ObservedLocalState>;

  constructor(
    readonly policy: DecisionPolicy,
    start = 1_000_000,
  ) {
    this.now = start;
    this.lastContactAt = start;
    this.lockHolder = undefined;
    this.memory = { primary: initialMemory(), secondary: initialMemory() };
    const closed: ObservedLocalState = { gate: 'Closed', vip: 'Unbound', gateLeaseExpiresAt: undefined };
    this.host = { primary: closed, secondary: closed };
  }

  nodeOf(role: MemberRole): string {
    return role === 'primary' ? this.policy.primaryNode : this.policy.secondaryNode;
  }

  step(tick: Tick): TickResult {
    this.now += tick.advanceMs;
    const reachable = tick.arbiterReachable ?? true;
    this.index++;
    const liveView: PairHealthView = {
      primary: { status: tick.primary, index: this.index, readAt: this.now },
      secondary: { status: tick.secondary, index: this.index, readAt: this.now },
    };
    if (reachable) {
      this.lastContactAt = this.now;
      // Consul ties each session to its node's checks: a failing member loses its session and its lock.
      for (const role of ROLES) {
        if (this.lockHolder === this.nodeOf(role) && !sessionValid(tick[role])) this.lockHolder = undefined;
      }
      if (tick.strangerTakesFreeLock && this.lockHolder === undefined) this.lockHolder = 'stranger';
      this.frozenView = liveView;
      this.frozenHolder = this.lockHolder;
    }
    // Without Consul, members keep deciding on the last view they read.
    const view = reachable ? liveView : (this.frozenView ?? liveView);
    const holderSeen = reachable ? this.lockHolder : this.frozenHolder;

    const results = {} as Record<MemberRole, MemberTickResult>;
    for (const role of ROLES) {
      const decision = decide({
        policy: this.policy,
        self: role,
        health: view,
        arbiter: { reachable, lastContactAt: this.lastContactAt },
        lock: { holder: holderSeen, ownSessionValid: sessionValid(view[role].status) },
        observed: this.host[role],
        memory: this.memory[role],
        requests: tick.requests ?? {},
        now: this.now,
      });
      results[role] = { decision, view, holdsLockWhenDeciding: holderSeen === this.nodeOf(role) };
    }
    for (const role of ROLES) {
      const { decision } = results[role];
      this.memory[role] = decision.nextMemory;
      this.host[role] = applySteps(this.host[role], decision, this.now, this.policy);
      if (!reachable) continue;
      if (decision.lockAction === 'release' && this.lockHolder === this.nodeOf(role))
        this.lockHolder = undefined;
    }
    if (reachable) {
      for (const role of ROLES) {
        const { decision } = results[role];
        if (decision.lockAction === 'acquire' && this.lockHolder === undefined && sessionValid(tick[role])) {
          this.lockHolder = this.nodeOf(role);
        }
      }
    }
    return {
      now: this.now,
      primary: results.primary,
      secondary: results.secondary,
      lockHolder: this.lockHolder,
    };
  }

  run(ticks: readonly Tick[]): TickResult[] {
    return ticks.map((tick) => this.step(tick));
  }
}

function sessionValid(status: HealthStatus): boolean {
  return status !== 'critical' && status !== 'missing';
}

/** What the host adapter would do with the steps (lock steps are handled by the simulation). */
export function applySteps(
  host: ObservedLocalState,
  decision: Decision,
  now: number,
  policy: DecisionPolicy,
): ObservedLocalState {
  let { gate, vip, gateLeaseExpiresAt } = host;
  for (const step of decision.steps) {
    if (step === 'closeGate') {
      gate = 'Closed';
      gateLeaseExpiresAt = undefined;
    } else if (step === 'openGate') {
      gate = 'Open';
      gateLeaseExpiresAt = now + policy.gateLeaseMs;
    } else if (step === 'bindVip') vip = 'Bound';
    else if (step === 'unbindVip') vip = 'Unbound';
  }
  return { gate, vip, gateLeaseExpiresAt };
}

/** Who is desired active after a tick: a role, undefined for nobody, 'both' for a violation. */
export function servingMember(result: TickResult): MemberRole | 'both' | undefined {
  const primary = result.primary.decision.desired.role === 'Active';
  const secondary = result.secondary.decision.desired.role === 'Active';
  if (primary && secondary) return 'both';
  if (primary) return 'primary';
  if (secondary) return 'secondary';
  return undefined;
}

/** Repeats the same health for `count` ticks of `everyMs`. */
export function steady(
  count: number,
  primary: HealthStatus,
  secondary: HealthStatus,
  extra: Partial<Tick> = {},
  everyMs = 1000,
): Tick[] {
  return Array.from({ length: count }, () => ({ advanceMs: everyMs, primary, secondary, ...extra }));
}
