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
  lease?: { expiresAt: Date; ref: RuleRef };
  drop?: PacketCount & { ref: RuleRef };
  /** The pair chain is exactly [lease?, drop]; anything else gets rewritten. */
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
  /**
   * Token rewritten in the same transaction as every write (nftables). When the kernel
   * still holds the token of our last write, nothing else has written since.
   */
  generation?: string;
}

/** What the backend has to write, in this order, in one transaction. */
export type GateOp =
  | { op: 'create-main' }
  | { op: 'add-hook' }
  | { op: 'delete-rule'; ref: RuleRef }
  | { op: 'create-pair'; id: string; key: string; lease?: Date }
  | { op: 'reset-pair'; id: string; key: string; lease?: Date; drop: PacketCount }
  | { op: 'set-lease'; id: string; key: string; expiresAt: Date; replace?: RuleRef }
  | { op: 'add-jump'; id: string; key: string; cidr: string; port: number }
  | { op: 'delete-pair'; id: string }
  /** Stamps the transaction with a new generation token (and moves the iptables hook that carries it). */
  | { op: 'set-generation'; generation: string; replace?: RuleRef };

export function emptySnapshot(): GateSnapshot {
  return { mainExists: false, hooks: [], foreign: [], pairs: new Map() };
}

/** Sum of jump counters minus drops: what the lease rule let through (its own counter resets on renewal). */
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

/**
 * The snapshot after `ops` were written, for the ops a flip or a renewal produces
 * (lease changes); undefined for anything else, which forces a full read next time.
 */
export interface RefMaker {
  lease(id: string, key: string, expiresAt: Date): RuleRef;
  hook(generation: string): RuleRef;
}

export function projectSnapshot(
  before: GateSnapshot,
  ops: readonly GateOp[],
  refs: RefMaker,
): GateSnapshot | undefined {
  const pairs = new Map(before.pairs);
  let hooks = before.hooks;
  let generation = before.generation;
  for (const o of ops) {
    if (o.op === 'set-generation') {
      if (hooks.length !== 1) return undefined;
      hooks = [refs.hook(o.generation)];
      generation = o.generation;
    } else if (o.op === 'set-lease') {
      const p = pairs.get(o.id);
      if (!p) return undefined;
      pairs.set(o.id, { ...p, lease: { expiresAt: o.expiresAt, ref: refs.lease(o.id, o.key, o.expiresAt) } });
    } else if (o.op === 'delete-rule') {
      const entry = [...pairs.values()].find((p) => p.lease?.ref === o.ref);
      if (!entry) return undefined;
      const { lease: _closed, ...rest } = entry;
      pairs.set(entry.id, rest);
    } else {
      return undefined;
    }
  }
  const after: GateSnapshot = { ...before, pairs, hooks };
  if (generation !== undefined) after.generation = generation;
  return after;
}
