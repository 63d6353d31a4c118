// Reason codes of a decision (CamelCase, usable as Kubernetes condition/event reasons)
// and the sentence each stands for.

export const REASON_TEXT = {
  BothHealthy: 'both members are healthy: the primary serves',
  OnlyPrimaryHealthy: 'only the primary is healthy: it serves',
  OnlySecondaryHealthy: 'only the secondary is healthy: it serves',
  NoHealthyMember: 'no member is healthy: none serves',
  FailbackToPrimary: 'the primary has been healthy long enough: it takes over again (automatic failback)',
  FailbackPending: 'the primary is healthy again; the secondary serves until the failback delay has passed',
  FailbackManual: 'the secondary keeps serving (manual failback)',
  HoldDown: 'a member recovered only recently: waiting for the hold-down before promoting it',
  Switchover: 'switchover requested: the requested member serves',
  Maintenance: 'a member is in maintenance: the other one serves if it can',
  ArbiterUnreachableHold: 'Consul is unreachable: holding the last state',
  ArbiterUnreachableDemote: 'Consul has been unreachable longer than the grace: standing by',
  LockHeldByPeer:
    'this member should serve but the lock is still held by another node: waiting for its release',
  LockUnconfirmed:
    'this member holds the lock but Consul has not confirmed its session within the lock-delay: standing by until it does',
} as const;

export type ReasonCode = keyof typeof REASON_TEXT;

export const REASON_CODES = Object.keys(REASON_TEXT) as ReasonCode[];
