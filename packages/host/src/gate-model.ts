/** Backend-neutral picture of the probe gate, as read from the kernel. */

/** Where a rule lives, enough for the backend to delete or replace it. */
export interface RuleRef {
  chain: string;
  /** iptables: the rule text after `-A CHAIN ` as iptables-save printed it. */
  spec?: string;
  /** nftables: the rule handle. */
  handle?: number;
}

export interface PacketCount {
  packets: number;
  bytes: number;
}

export interface JumpRule extends PacketCount {
  cidr: string;
  port: number;
  ref: RuleRef;
}

export interface SnapshotPair {
  id: string;
  key?: string;
  chainExists: boolean;
  /** Rules in the main chain sending this pair's probes to its chain. */
  jumps: JumpRule[];
  /** The pair's open rule (a jump to the node's shared lease): present only while Active. */
  open?: { ref: RuleRef };
  /**
   * A lease rule of the pair's own, as the previous layout wrote it (one per open gate). The gate
   * is open until it runs out; the pair is not canonical and is rewritten at the next apply.
   */
  legacyLease?: Date;
  drop?: PacketCount & { ref: RuleRef };
  /** The pair chain is exactly [open?, drop]; anything else gets rewritten. */
  canonical: boolean;
}

/** The node-wide lease: one chain, one time-limited ACCEPT that every open rule jumps to. */
export interface SharedLease {
  /** The lease chain exists (iptables PROBEGATE-LEASE; nftables lease). */
  chainExists: boolean;
  /** The lease rule, when there is one. */
  rule?: { expiresAt: Date; ref: RuleRef };
  /** The chain is empty or holds exactly the lease rule; anything else gets rewritten. */
  canonical: boolean;
}

export interface GateSnapshot {
  /** Main chain (iptables) or table (nftables) exists. */
  mainExists: boolean;
  /** Hook rules found (iptables: INPUT -> PROBEGATE; nftables: the base chain). */
  hooks: RuleRef[];
  /** Rules or chains in our space that we did not write: removed on apply. */
  foreign: RuleRef[];
  pairs: Map<string, SnapshotPair>;
  lease: SharedLease;
  /**
   * Token rewritten in the same transaction as every write. When the kernel still holds the
   * token of our last write, nothing else has written since.
   */
  generation?: string;
}

/** What the backend has to write, in this order, in one transaction. */
export type GateOp =
  | { op: 'create-main' }
  | { op: 'add-hook' }
  | { op: 'delete-rule'; ref: RuleRef }
  /**
   * Rewrites the shared lease chain: one lease rule until `expiresAt`, or empty without it.
   * Creates the chain when missing; comes before any open rule that jumps to it.
   */
  | { op: 'set-lease'; expiresAt?: Date }
  | { op: 'create-pair'; id: string; key: string; open: boolean }
  | { op: 'reset-pair'; id: string; key: string; open: boolean; drop: PacketCount }
  /** Adds the pair's open rule (the jump to the shared lease) in front of its drop. */
  | { op: 'open-gate'; id: string; key: string }
  | { op: 'add-jump'; id: string; key: string; cidr: string; port: number }
  | { op: 'delete-pair'; id: string }
  /** Stamps the transaction with a new generation token (and moves the iptables hook that carries it). */
  | { op: 'set-generation'; generation: string; replace?: RuleRef };

export function emptySnapshot(): GateSnapshot {
  return {
    mainExists: false,
    hooks: [],
    foreign: [],
    pairs: new Map(),
    lease: { chainExists: false, canonical: true },
  };
}

/** When the pair's gate closes by itself, if it is open at `now` (shared lease, or a previous layout's own). */
export function openUntil(snapshot: GateSnapshot, pair: SnapshotPair, now: Date): Date | undefined {
  const shared = pair.open ? snapshot.lease.rule?.expiresAt : undefined;
  const live = [shared, pair.legacyLease].filter(
    (d): d is Date => d !== undefined && d.getTime() > now.getTime(),
  );
  return live.length === 0 ? undefined : new Date(Math.max(...live.map((d) => d.getTime())));
}

/** Sum of jump counters minus drops: what the open gate let through (the lease rule's counter is not used). */
export function acceptedOf(pair: SnapshotPair): PacketCount {
  const into = pair.jumps.reduce(
    (acc, j) => ({ packets: acc.packets + j.packets, bytes: acc.bytes + j.bytes }),
    {
      packets: 0,
      bytes: 0,
    },
  );
  return {
    packets: Math.max(0, into.packets - (pair.drop?.packets ?? 0)),
    bytes: Math.max(0, into.bytes - (pair.drop?.bytes ?? 0)),
  };
}

/** Where a backend's rules land after a write (for projectSnapshot). */
export interface RefMaker {
  open(id: string, key: string): RuleRef;
  lease(expiresAt: Date): RuleRef;
  hook(generation: string): RuleRef;
}

/**
 * The snapshot after `ops` were written, for the ops a flip or a renewal produces (open rules
 * added or deleted, the shared lease set); undefined for anything else, which forces a full read
 * next time.
 */
export function projectSnapshot(
  before: GateSnapshot,
  ops: readonly GateOp[],
  refs: RefMaker,
): GateSnapshot | undefined {
  const pairs = new Map(before.pairs);
  let hooks = before.hooks;
  let lease = before.lease;
  let generation = before.generation;
  for (const o of ops) {
    if (o.op === 'set-generation') {
      if (hooks.length !== 1) return undefined;
      hooks = [refs.hook(o.generation)];
      generation = o.generation;
    } else if (o.op === 'set-lease') {
      lease =
        o.expiresAt === undefined
          ? { chainExists: true, canonical: true }
          : {
              chainExists: true,
              canonical: true,
              rule: { expiresAt: o.expiresAt, ref: refs.lease(o.expiresAt) },
            };
    } else if (o.op === 'open-gate') {
      const p = pairs.get(o.id);
      if (!p?.canonical || p.open) return undefined;
      pairs.set(o.id, { ...p, open: { ref: refs.open(o.id, o.key) } });
    } else if (o.op === 'delete-rule') {
      const entry = [...pairs.values()].find((p) => p.open?.ref === o.ref);
      if (!entry) return undefined;
      const { open: _closed, ...rest } = entry;
      pairs.set(entry.id, rest);
    } else {
      return undefined;
    }
  }
  const after: GateSnapshot = { ...before, pairs, hooks, lease };
  if (generation !== undefined) after.generation = generation;
  return after;
}
