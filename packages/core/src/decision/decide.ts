/*
 * decide(): who serves, what this member does about it. Pure: a function of its input
 * only (time included), no I/O, no clock, deterministic.
 *
 * Terms. usable(m): m's Consul health is passing (or warning with warningIsHealthy),
 * m's agent is not known to be gone, and m is not in maintenance. stable(m): usable for at least holdDown without a break.
 * current: who serves now; Health mode: the result of this same rule last time (both
 * members compute it from the same view, so they agree); Lock mode: the lock holder.
 *
 * Who should serve (the target); first matching row wins:
 *
 * | #  | situation                                              | target                               | reason                      |
 * |----|--------------------------------------------------------|--------------------------------------|-----------------------------|
 * | 1  | Consul unreachable, within arbiterGrace                | current, if still usable, else none  | ArbiterUnreachableHold      |
 * | 2  | Consul unreachable past grace, arbiterUnreachable=Hold | current, if still usable, else none  | ArbiterUnreachableHold      |
 * | 3  | Consul unreachable past grace, arbiterUnreachable=Demote | none                               | ArbiterUnreachableDemote    |
 * | 4  | switchover requested to a usable member                | that member (no hold-down)           | Switchover                  |
 * | 5  | current=secondary usable, primary usable, Automatic    | primary once it has been usable for failbackDelay and holdDown has passed since the last transition, else secondary | FailbackToPrimary / FailbackPending |
 * | 6  | current=secondary usable, primary usable, Manual       | secondary                            | FailbackManual              |
 * | 7  | current usable                                         | current                              | BothHealthy / Only<Role>Healthy / Maintenance |
 * | 8  | (current none or unusable) both stable                 | primary                              | BothHealthy                 |
 * | 9  | only one stable                                        | that one                             | Only<Role>Healthy / Maintenance |
 * | 10 | some usable, none stable yet                           | none (requeue when one is)           | HoldDown                    |
 * | 11 | none usable                                            | none                                 | NoHealthyMember / Maintenance |
 *
 * The seed's table is rows 7-11 with holdDown 0: both healthy -> primary; only one
 * healthy -> that one; none -> nobody. A member that stops being usable loses the
 * target at once (break is never delayed); only promotions wait.
 *
 * This member:
 * - Health: Active iff target = self.
 * - Lock: Active iff target = self and it holds the lock (holder = self, own session valid)
 *   and Consul confirmed that session within the lock-delay (else LockUnconfirmed: standby,
 *   lock kept, no release: a partitioned holder must stop serving before a peer can take over).
 *   target = self, lock free -> acquire, stay Standby until held; held by another node ->
 *   wait (LockHeldByPeer); target != self and holding -> release after closing the gate
 *   and unbinding the VIP. Consul unreachable -> never acquire.
 * - Steps: only what differs from the observed host state, in break-before-make order
 *   (closeGate, unbindVip, releaseLock, acquireLock, bindVip, openGate); an open gate is
 *   renewed (openGate) once half of its lease has passed. requeueAfterMs is the next timer of
 *   the rules; renewGateAfterMs apart, as an agent may renew every gate in one write instead.
 */
import { nodeOfRole, roleOfNode } from './policy.js';
import { REASON_TEXT, type ReasonCode } from './reasons.js';
import {
  STEP_ACQUIRE_LOCK,
  STEP_BIND_VIP,
  STEP_CLOSE_GATE,
  STEP_OPEN_GATE,
  STEP_RELEASE_LOCK,
  STEP_UNBIND_VIP,
  stepsFor,
} from './steps.js';
import type {
  Decision,
  DecisionInput,
  DecisionMemory,
  DecisionPolicy,
  DesiredLocalState,
  LockAction,
  MemberHealth,
  MemberRole,
  OperatorRequests,
} from './types.js';

const ACTIVE_WITH_VIP: DesiredLocalState = Object.freeze({ role: 'Active', gate: 'Open', vip: 'Bound' });
const ACTIVE_WITHOUT_VIP: DesiredLocalState = Object.freeze({ role: 'Active', gate: 'Open', vip: 'Unbound' });
const STANDBY: DesiredLocalState = Object.freeze({ role: 'Standby', gate: 'Closed', vip: 'Unbound' });

const OUTCOME_ACTIVE = ': active';
const OUTCOME_STANDBY = ': standby';
const OUTCOME_ACQUIRING = ': standby, acquiring the lock before serving';
const OUTCOME_RELEASING = ': standby, releasing the lock';
const OUTCOME_WAITING = ': standby until the lock is released';
const OUTCOME_NO_ARBITER = ': standby, cannot take the lock while Consul is unreachable';
const OUTCOME_UNCONFIRMED = ': standby until Consul confirms its session';

function isUsableHealth(health: MemberHealth, warningIsHealthy: boolean): boolean {
  if (health.agentAlive === false) return false;
  return health.status === 'passing' || (warningIsHealthy && health.status === 'warning');
}

function inMaintenance(requests: OperatorRequests, node: string): boolean {
  const maintenance = requests.maintenance;
  return maintenance !== undefined && maintenance.length > 0 && maintenance.includes(node);
}

interface TargetChoice {
  readonly role: MemberRole | undefined;
  readonly reason: ReasonCode;
  /** When a timer will change the choice (ms from now); Infinity: no timer. */
  readonly waitMs: number;
}

function choice(
  role: MemberRole | undefined,
  reason: ReasonCode,
  waitMs = Number.POSITIVE_INFINITY,
): TargetChoice {
  return { role, reason, waitMs };
}

function chooseTarget(
  policy: DecisionPolicy,
  current: MemberRole | undefined,
  primaryUsable: boolean,
  secondaryUsable: boolean,
  primaryUsableSince: number,
  secondaryUsableSince: number,
  primaryMaintenance: boolean,
  secondaryMaintenance: boolean,
  switchoverTo: MemberRole | undefined,
  lastTransitionAt: number | undefined,
  now: number,
): TargetChoice {
  // Row 4: an explicit request wins over preference and hold-down, never over health.
  if (switchoverTo === 'primary' && primaryUsable) return choice('primary', 'Switchover');
  if (switchoverTo === 'secondary' && secondaryUsable) return choice('secondary', 'Switchover');

  if (current === 'secondary' && secondaryUsable) {
    if (primaryUsable) {
      if (policy.failback === 'Manual') return choice('secondary', 'FailbackManual');
      const sinceTransition =
        lastTransitionAt === undefined ? Number.POSITIVE_INFINITY : now - lastTransitionAt;
      const waitMs = Math.max(
        policy.failbackDelayMs - (now - primaryUsableSince),
        policy.holdDownMs - sinceTransition,
      );
      if (waitMs <= 0) return choice('primary', 'FailbackToPrimary');
      return choice('secondary', 'FailbackPending', waitMs);
    }
    return choice('secondary', primaryMaintenance ? 'Maintenance' : 'OnlySecondaryHealthy');
  }
  if (current === 'primary' && primaryUsable) {
    if (secondaryUsable) return choice('primary', 'BothHealthy');
    return choice('primary', secondaryMaintenance ? 'Maintenance' : 'OnlyPrimaryHealthy');
  }

  // Nobody usable serves: promote a stable member, primary first.
  const primaryWait = primaryUsable
    ? policy.holdDownMs - (now - primaryUsableSince)
    : Number.POSITIVE_INFINITY;
  const secondaryWait = secondaryUsable
    ? policy.holdDownMs - (now - secondaryUsableSince)
    : Number.POSITIVE_INFINITY;
  const primaryStable = primaryWait <= 0;
  const secondaryStable = secondaryWait <= 0;
  if (primaryStable && secondaryStable) return choice('primary', 'BothHealthy');
  if (primaryStable) {
    return choice('primary', secondaryMaintenance ? 'Maintenance' : 'OnlyPrimaryHealthy', secondaryWait);
  }
  if (secondaryStable) {
    return choice('secondary', primaryMaintenance ? 'Maintenance' : 'OnlySecondaryHealthy', primaryWait);
  }
  if (primaryUsable || secondaryUsable) {
    return choice(undefined, 'HoldDown', Math.min(primaryWait, secondaryWait));
  }
  return choice(undefined, primaryMaintenance || secondaryMaintenance ? 'Maintenance' : 'NoHealthyMember');
}

/** The decision of one member. See the table at the top of this file. */
export function decide(input: DecisionInput): Decision {
  const { policy, self, health, arbiter, lock, observed, requests, now } = input;
  const memory = input.memory;
  const selfNode = self === 'primary' ? policy.primaryNode : policy.secondaryNode;

  const primaryMaintenance = inMaintenance(requests, policy.primaryNode);
  const secondaryMaintenance = inMaintenance(requests, policy.secondaryNode);
  const primaryUsable = !primaryMaintenance && isUsableHealth(health.primary, policy.warningIsHealthy);
  const secondaryUsable = !secondaryMaintenance && isUsableHealth(health.secondary, policy.warningIsHealthy);

  const gateLeaseValid = observed.gateLeaseExpiresAt === undefined || observed.gateLeaseExpiresAt > now;
  const gateOpen = observed.gate === 'Open' && gateLeaseValid;

  // Usable streaks. On the first decision there is no history: a member usable now is
  // taken as just stable (promotable at once), not as long-healthy (no instant failback).
  let primaryUsableSince: number | undefined;
  let secondaryUsableSince: number | undefined;
  let rememberedActive = memory.active;
  if (memory.started) {
    primaryUsableSince = primaryUsable ? (memory.primaryUsableSince ?? now) : undefined;
    secondaryUsableSince = secondaryUsable ? (memory.secondaryUsableSince ?? now) : undefined;
  } else {
    primaryUsableSince = primaryUsable ? now - policy.holdDownMs : undefined;
    secondaryUsableSince = secondaryUsable ? now - policy.holdDownMs : undefined;
    if (gateOpen) rememberedActive = self; // adopt what the kernel says after a restart
  }

  const current = policy.arbitration === 'Lock' ? roleOfNode(policy, lock.holder) : rememberedActive;

  // Who should serve.
  let chosen: TargetChoice;
  if (!arbiter.reachable) {
    const elapsed = now - arbiter.lastContactAt;
    const withinGrace = elapsed < policy.arbiterGraceMs;
    if (withinGrace || policy.arbiterUnreachable === 'Hold') {
      const currentUsable =
        current === 'primary' ? primaryUsable : current === 'secondary' ? secondaryUsable : false;
      chosen = choice(
        currentUsable ? current : undefined,
        'ArbiterUnreachableHold',
        withinGrace ? policy.arbiterGraceMs - elapsed : Number.POSITIVE_INFINITY,
      );
    } else {
      chosen = choice(undefined, 'ArbiterUnreachableDemote');
    }
  } else {
    const switchoverTo = roleOfNode(policy, requests.switchoverTo);
    chosen = chooseTarget(
      policy,
      current,
      primaryUsable,
      secondaryUsable,
      primaryUsableSince ?? now,
      secondaryUsableSince ?? now,
      primaryMaintenance,
      secondaryMaintenance,
      switchoverTo,
      memory.lastTransitionAt,
      now,
    );
  }
  const target = chosen.role;
  let reason = chosen.reason;
  const waitMs = chosen.waitMs;

  // What this member does.
  let active = false;
  let lockAction: LockAction = 'none';
  let outcome = OUTCOME_STANDBY;
  if (policy.arbitration === 'Health') {
    active = target === self;
  } else {
    const heldBySelf = lock.holder === selfNode;
    const holding = heldBySelf && lock.ownSessionValid;
    if (holding && lock.confirmed === false) {
      // Another node may get the lock once the lock-delay passes: stop serving now, keep the lock.
      reason = 'LockUnconfirmed';
      outcome = OUTCOME_UNCONFIRMED;
    } else if (target === self) {
      if (holding) {
        active = true;
        lockAction = 'keep';
      } else if (!arbiter.reachable) {
        outcome = OUTCOME_NO_ARBITER;
      } else if (lock.holder === undefined || heldBySelf) {
        lockAction = 'acquire';
        outcome = OUTCOME_ACQUIRING;
      } else {
        reason = 'LockHeldByPeer';
        outcome = OUTCOME_WAITING;
      }
    } else if (heldBySelf) {
      lockAction = 'release';
      outcome = OUTCOME_RELEASING;
    }
  }
  if (active) outcome = OUTCOME_ACTIVE;

  // Steps from the observed state, break before make.
  let mask = 0;
  let renewInMs = Number.POSITIVE_INFINITY;
  if (active) {
    if (policy.hasVip && observed.vip !== 'Bound') mask |= STEP_BIND_VIP;
    if (!gateOpen) {
      mask |= STEP_OPEN_GATE;
    } else if (observed.gateLeaseExpiresAt !== undefined) {
      const renewIn = observed.gateLeaseExpiresAt - policy.gateLeaseMs / 2 - now;
      if (renewIn <= 0) mask |= STEP_OPEN_GATE;
      else renewInMs = renewIn;
    }
  } else {
    if (observed.gate === 'Open') mask |= STEP_CLOSE_GATE;
    if (observed.vip === 'Bound') mask |= STEP_UNBIND_VIP;
    if (lockAction === 'release') mask |= STEP_RELEASE_LOCK;
    else if (lockAction === 'acquire') mask |= STEP_ACQUIRE_LOCK;
  }

  // Memory for next time.
  const nextActive = policy.arbitration === 'Lock' ? current : target;
  const changed = nextActive !== rememberedActive;
  const role = active ? 'Active' : 'Standby';
  let nextMemory: DecisionMemory = memory;
  if (
    changed ||
    !memory.started ||
    nextActive !== memory.active ||
    role !== memory.role ||
    primaryUsableSince !== memory.primaryUsableSince ||
    secondaryUsableSince !== memory.secondaryUsableSince
  ) {
    nextMemory = {
      started: true,
      active: nextActive,
      lastTransitionAt: changed ? now : memory.lastTransitionAt,
      primaryUsableSince,
      secondaryUsableSince,
      transitions: changed ? memory.transitions + 1 : memory.transitions,
      role,
    };
  }

  return {
    desired: active ? (policy.hasVip ? ACTIVE_WITH_VIP : ACTIVE_WITHOUT_VIP) : STANDBY,
    lockAction,
    steps: stepsFor(mask),
    reason,
    explanation: `${REASON_TEXT[reason]} -> ${selfNode}${outcome}`,
    target,
    nextMemory,
    requeueAfterMs: waitMs === Number.POSITIVE_INFINITY ? undefined : Math.max(0, Math.ceil(waitMs)),
    renewGateAfterMs: renewInMs === Number.POSITIVE_INFINITY ? undefined : Math.ceil(renewInMs),
  };
}

/** Node name that should serve according to a decision (for status and logs). */
export function targetNode(policy: DecisionPolicy, decision: Pick<Decision, 'target'>): string | undefined {
  return decision.target === undefined ? undefined : nodeOfRole(policy, decision.target);
}
