/** Desired state of one failover pair on this node. */
export interface PairGate {
  /** Stable identity, e.g. "namespace/name". */
  key: string;
  /** Probe sources, e.g. ["168.63.129.16/32"]. */
  sourceCIDRs: string[];
  /** TCP probe ports. */
  ports: number[];
  /** Frontend address bound as /32 on `lo` while the pair is Active here. */
  vip?: string;
  /** Active on this node: probes pass and the VIP is bound. */
  active: boolean;
}

export interface ApplyOptions {
  now: Date;
  /** How long an open gate stays open without renewal (kernel-enforced). */
  leaseSeconds: number;
}

export type GateState = 'Open' | 'Closed';
export type VipState = 'Bound' | 'Unbound';

export interface ProbeCounters {
  acceptedPackets: number;
  acceptedBytes: number;
  droppedPackets: number;
  droppedBytes: number;
}

/** What the kernel has for one pair. */
export interface ObservedPair {
  /** Short id used in chain names (see pairId). */
  id: string;
  /** Key recovered from the rule comment; absent when it did not fit a comment. */
  key?: string;
  gate: GateState;
  /** When the open gate closes by itself (absent when closed or never opened). */
  leaseExpiresAt?: Date;
  counters: ProbeCounters;
  /** Probe sources and ports the kernel gates for this pair. */
  sourceCIDRs: string[];
  ports: number[];
}

export interface ObservedState {
  backend: BackendName;
  /** The hook from INPUT (iptables) or the base chain (nftables) is in place. */
  hooked: boolean;
  /** Keyed by pair id. */
  pairs: Map<string, ObservedPair>;
  /** VIPs on `lo` carrying the probegate label. */
  vips: string[];
}

export type Change =
  | { kind: 'hook-added' }
  | { kind: 'pair-added'; key: string }
  | { kind: 'pair-removed'; id: string; key?: string }
  | { kind: 'match-changed'; key: string }
  | { kind: 'gate-opened'; key: string; leaseExpiresAt: Date }
  | { kind: 'lease-renewed'; key: string; leaseExpiresAt: Date }
  | { kind: 'gate-closed'; key: string }
  | { kind: 'pair-repaired'; key: string }
  | { kind: 'vip-bound'; vip: string }
  | { kind: 'vip-unbound'; vip: string };

export interface ApplyResult {
  changes: Change[];
  /** Observed state per desired pair key after the apply (gate, lease, VIP). */
  pairs: Map<string, { gate: GateState; leaseExpiresAt?: Date; vip: VipState | undefined }>;
}

export type BackendName = 'iptables-nft' | 'iptables-legacy' | 'nftables';
export type BackendChoice = BackendName | 'auto';

/** The host actuation port used by the controller. */
export interface HostActuator {
  readonly backend: BackendName;
  /** Reads what the kernel really has (never what was written before). */
  observe(): Promise<ObservedState>;
  /** Makes the kernel match the desired state of every pair on this node; returns what changed. */
  apply(pairs: readonly PairGate[], opts: ApplyOptions): Promise<ApplyResult>;
  /** Removes every trace: hook, chains/table, labelled VIPs. */
  cleanup(): Promise<void>;
}
