// Inputs and outputs of decide(). Everything is plain data; time is a number of
// milliseconds (epoch) passed in, never read from a clock.
import type {
  ArbiterUnreachablePolicy,
  ArbitrationMode,
  FailbackPolicy,
} from '../schema/failover-pair-spec.js';
import type { ReasonCode } from './reasons.js';
import type { Step } from './steps.js';

/** Which member of the pair. */
export type MemberRole = 'primary' | 'secondary';

/** A member's identity, from the spec. */
export interface MemberIdentity {
  readonly role: MemberRole;
  readonly node: string;
  readonly address: string;
  readonly consulNode?: string;
}

/** Aggregated Consul health of a member's service instance; `missing`: no instance found. */
export type HealthStatus = 'passing' | 'warning' | 'critical' | 'missing';

export interface MemberHealth {
  readonly status: HealthStatus;
  /** Consul index (X-Consul-Index) of the response this came from. */
  readonly index: number;
  /** When it was read (ms). */
  readonly readAt: number;
  /**
   * Whether the member's probegate agent is alive (it keeps a Consul session renewed). A member whose
   * agent is gone cannot serve, however healthy its service: nobody would renew its gate or hold its
   * lock. undefined: not known, taken as alive.
   */
  readonly agentAlive?: boolean;
}

/** The same view of both members, as read from Consul by the deciding member. */
export interface PairHealthView {
  readonly primary: MemberHealth;
  readonly secondary: MemberHealth;
}

/** The Consul lock of the pair (Lock arbitration). */
export interface LockView {
  /** Node name of the holder, if anyone holds it. */
  readonly holder: string | undefined;
  /** Whether this member's own Consul session is valid (a lock held by an invalid session is not held). */
  readonly ownSessionValid: boolean;
  /**
   * For a lock this member holds: whether the Consul servers confirmed its session recently enough
   * that no other node can have taken the lock meanwhile (within the lock-delay). false: stop serving
   * until confirmed again. undefined: confirmed.
   */
  readonly confirmed?: boolean;
}

/** Whether Consul answered recently. The views above are the last known ones when it did not. */
export interface ArbiterView {
  readonly reachable: boolean;
  /** Last successful contact (ms). */
  readonly lastContactAt: number;
}

export type GateState = 'Open' | 'Closed';
export type VipState = 'Bound' | 'Unbound';
export type MemberState = 'Active' | 'Standby';

/** What the host reports right now (read back from the kernel, not remembered). */
export interface ObservedLocalState {
  readonly gate: GateState;
  readonly vip: VipState;
  /** When the open gate's lease runs out (ms); undefined when closed or unknown. */
  readonly gateLeaseExpiresAt: number | undefined;
}

export interface DesiredLocalState {
  readonly role: MemberState;
  readonly gate: GateState;
  readonly vip: VipState;
}

/** The decision-relevant part of the spec, in milliseconds (see policyFromSpec). */
export interface DecisionPolicy {
  readonly primaryNode: string;
  readonly secondaryNode: string;
  readonly failback: FailbackPolicy;
  readonly arbitration: ArbitrationMode;
  readonly holdDownMs: number;
  readonly failbackDelayMs: number;
  readonly arbiterGraceMs: number;
  readonly arbiterUnreachable: ArbiterUnreachablePolicy;
  readonly gateLeaseMs: number;
  readonly warningIsHealthy: boolean;
  /** Whether the pair has a VIP to bind. */
  readonly hasVip: boolean;
}

/** Operator requests. */
export interface OperatorRequests {
  /** While set, this node is preferred as the active member (if it is healthy). */
  readonly switchoverTo?: string | undefined;
  /** Nodes in maintenance: never active; the peer takes over if it can. */
  readonly maintenance?: readonly string[] | undefined;
}

/** The little state a member keeps between decisions; decide() returns the next one. */
export interface DecisionMemory {
  /** False until the first decision, which adopts the observed state. */
  readonly started: boolean;
  /** The member this one believes serves (Health: the shared rule's result; Lock: the lock holder). */
  readonly active: MemberRole | undefined;
  readonly lastTransitionAt: number | undefined;
  /** Start of the current uninterrupted healthy (and not in maintenance) stretch of each member. */
  readonly primaryUsableSince: number | undefined;
  readonly secondaryUsableSince: number | undefined;
  /** Changes of `active` seen by this member. */
  readonly transitions: number;
  /** This member's last desired state (what Hold keeps). */
  readonly role: MemberState;
}

export interface DecisionInput {
  readonly policy: DecisionPolicy;
  readonly self: MemberRole;
  readonly health: PairHealthView;
  readonly arbiter: ArbiterView;
  readonly lock: LockView;
  readonly observed: ObservedLocalState;
  readonly memory: DecisionMemory;
  readonly requests: OperatorRequests;
  /** Current time (ms). */
  readonly now: number;
}

export type LockAction = 'acquire' | 'release' | 'keep' | 'none';

export interface Decision {
  readonly desired: DesiredLocalState;
  readonly lockAction: LockAction;
  /** Ordered actions to reach `desired` from the observed state: always break before make. */
  readonly steps: readonly Step[];
  readonly reason: ReasonCode;
  /** One line for humans (status, logs, `probegate status`). */
  readonly explanation: string;
  /** Which member should serve according to the rules (undefined: none). */
  readonly target: MemberRole | undefined;
  readonly nextMemory: DecisionMemory;
  /** Decide again after this long even without new input: a timer of the rules (hold-down, failback delay, grace) will change the answer. */
  readonly requeueAfterMs: number | undefined;
  /** When the open gate's lease reaches half its length and wants renewing (openGate); undefined when closed. */
  readonly renewGateAfterMs?: number | undefined;
}
