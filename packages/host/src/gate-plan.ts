import type { GateOp, GateSnapshot, JumpRule } from './gate-model.js';
import type { Change } from './types.js';

export interface DesiredPair {
  id: string;
  key: string;
  cidrs: string[];
  ports: number[];
  active: boolean;
}

export interface GatePlan {
  ops: GateOp[];
  changes: Change[];
}

/**
 * A lease is renewed only when less than half of it remains (or it reaches further
 * than configured), so steady-state applies write nothing.
 */
export function leaseNeedsRenewal(expiresAt: Date | undefined, now: Date, leaseSeconds: number): boolean {
  if (expiresAt === undefined) return true;
  const remaining = (expiresAt.getTime() - now.getTime()) / 1000;
  return remaining < leaseSeconds / 2 || remaining > leaseSeconds + 1;
}

/**
 * When a plan writes some lease anyway, every lease with less than this share left is renewed
 * with it. Leases then end together and come due together: with 1,000 open gates the agent renews
 * them in one kernel write per half lease, instead of one write for each second in which some
 * lease happened to be opened.
 */
export const LEASE_ALIGN_SHARE = 0.75;

const leaseDueSoon = (expiresAt: Date | undefined, now: Date, leaseSeconds: number): boolean =>
  expiresAt === undefined || (expiresAt.getTime() - now.getTime()) / 1000 < leaseSeconds * LEASE_ALIGN_SHARE;

export function leaseEnd(now: Date, leaseSeconds: number): Date {
  return new Date((Math.floor(now.getTime() / 1000) + leaseSeconds) * 1000);
}

const tupleKey = (cidr: string, port: number): string => `${cidr} ${port}`;

/** Pure: the operations that turn the observed gate into the desired one. */
export function planGate(
  snapshot: GateSnapshot,
  desired: readonly DesiredPair[],
  now: Date,
  leaseSeconds: number,
): GatePlan {
  const ops: GateOp[] = [];
  const changes: Change[] = [];
  const late: GateOp[] = [];

  if (!snapshot.mainExists) ops.push({ op: 'create-main' });
  if (snapshot.hooks.length === 0) {
    ops.push({ op: 'add-hook' });
    changes.push({ kind: 'hook-added' });
  }
  for (const extra of snapshot.hooks.slice(1)) ops.push({ op: 'delete-rule', ref: extra });
  for (const ref of snapshot.foreign) late.push({ op: 'delete-rule', ref });

  const wanted = new Set(desired.map((d) => d.id));
  const writesLease = desired.some(
    (d) => d.active && leaseNeedsRenewal(snapshot.pairs.get(d.id)?.lease?.expiresAt, now, leaseSeconds),
  );
  const renew = writesLease ? leaseDueSoon : leaseNeedsRenewal;
  const end = leaseEnd(now, leaseSeconds);
  for (const d of desired) {
    const seen = snapshot.pairs.get(d.id);
    const lease = d.active
      ? renew(seen?.lease?.expiresAt, now, leaseSeconds) ||
        leaseNeedsRenewal(seen?.lease?.expiresAt, now, leaseSeconds)
        ? end
        : seen?.lease?.expiresAt
      : undefined;

    if (seen === undefined || !seen.chainExists) {
      ops.push(
        lease
          ? { op: 'create-pair', id: d.id, key: d.key, lease }
          : { op: 'create-pair', id: d.id, key: d.key },
      );
      changes.push({ kind: 'pair-added', key: d.key });
      if (lease) changes.push({ kind: 'gate-opened', key: d.key, leaseExpiresAt: lease });
    } else if (!seen.canonical) {
      const drop = { packets: seen.drop?.packets ?? 0, bytes: seen.drop?.bytes ?? 0 };
      ops.push(
        lease
          ? { op: 'reset-pair', id: d.id, key: d.key, lease, drop }
          : { op: 'reset-pair', id: d.id, key: d.key, drop },
      );
      changes.push({ kind: 'pair-repaired', key: d.key });
    } else if (lease && lease !== seen.lease?.expiresAt) {
      ops.push(
        seen.lease
          ? { op: 'set-lease', id: d.id, key: d.key, expiresAt: lease, replace: seen.lease.ref }
          : { op: 'set-lease', id: d.id, key: d.key, expiresAt: lease },
      );
      const leaseLive = seen.lease !== undefined && seen.lease.expiresAt.getTime() > now.getTime();
      changes.push(
        leaseLive
          ? { kind: 'lease-renewed', key: d.key, leaseExpiresAt: lease }
          : { kind: 'gate-opened', key: d.key, leaseExpiresAt: lease },
      );
    } else if (!lease && seen.lease) {
      ops.push({ op: 'delete-rule', ref: seen.lease.ref });
      if (seen.lease.expiresAt.getTime() > now.getTime()) changes.push({ kind: 'gate-closed', key: d.key });
    }

    // Jumps: keep one rule per wanted (cidr, port), drop duplicates and strays.
    const want = new Set(d.cidrs.flatMap((c) => d.ports.map((p) => tupleKey(c, p))));
    const kept = new Set<string>();
    const stale: JumpRule[] = [];
    for (const j of seen?.jumps ?? []) {
      const k = tupleKey(j.cidr, j.port);
      if (want.has(k) && !kept.has(k)) kept.add(k);
      else stale.push(j);
    }
    const missing = [...want].filter((k) => !kept.has(k));
    for (const k of missing) {
      const [cidr = '', port = '0'] = k.split(' ');
      ops.push({ op: 'add-jump', id: d.id, key: d.key, cidr, port: Number(port) });
    }
    for (const j of stale) late.push({ op: 'delete-rule', ref: j.ref });
    if (seen?.chainExists && (missing.length > 0 || stale.length > 0)) {
      changes.push({ kind: 'match-changed', key: d.key });
    }
  }

  for (const [id, seen] of snapshot.pairs) {
    if (wanted.has(id)) continue;
    for (const j of seen.jumps) late.push({ op: 'delete-rule', ref: j.ref });
    if (seen.chainExists) late.push({ op: 'delete-pair', id });
    changes.push(seen.key ? { kind: 'pair-removed', id, key: seen.key } : { kind: 'pair-removed', id });
  }
  // Deletions last: a pair chain can only go once nothing jumps to it.
  const deletes = late.filter((o) => o.op === 'delete-rule');
  const chains = late.filter((o) => o.op === 'delete-pair');
  return { ops: [...ops, ...deletes, ...chains], changes };
}
