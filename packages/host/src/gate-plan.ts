import { type GateOp, type GateSnapshot, type JumpRule, openUntil } from './gate-model.js';
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
  /** When the shared lease runs out after the plan is written; undefined when no pair is Active. */
  leaseExpiresAt?: Date;
}

/**
 * The lease is renewed only when less than half of it remains (or it reaches further
 * than configured), so steady-state applies write nothing.
 */
export function leaseNeedsRenewal(expiresAt: Date | undefined, now: Date, leaseSeconds: number): boolean {
  if (expiresAt === undefined) return true;
  const remaining = (expiresAt.getTime() - now.getTime()) / 1000;
  return remaining < leaseSeconds / 2 || remaining > leaseSeconds + 1;
}

export function leaseEnd(now: Date, leaseSeconds: number): Date {
  return new Date((Math.floor(now.getTime() / 1000) + leaseSeconds) * 1000);
}

const tupleKey = (cidr: string, port: number): string => `${cidr} ${port}`;

/**
 * Pure: the operations that turn the observed gate into the desired one.
 *
 * Every open gate jumps to one node-wide lease rule, so a renewal rewrites that one rule whatever
 * the number of open gates; opening or closing a gate adds or deletes the pair's open rule (and
 * sets the lease when it is missing or due).
 */
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

  // The shared lease: written before the open rules that jump to it.
  const shared = snapshot.lease;
  const anyActive = desired.some((d) => d.active);
  const renew =
    anyActive &&
    (!shared.canonical ||
      shared.rule === undefined ||
      leaseNeedsRenewal(shared.rule.expiresAt, now, leaseSeconds));
  const sharedLive = shared.rule !== undefined && shared.rule.expiresAt.getTime() > now.getTime();
  let lease: Date | undefined;
  if (renew) {
    lease = leaseEnd(now, leaseSeconds);
    ops.push({ op: 'set-lease', expiresAt: lease });
  } else if (anyActive) {
    lease = shared.rule?.expiresAt;
  } else if (!shared.canonical) {
    // Nothing open to keep: a broken lease chain is simply emptied.
    ops.push({ op: 'set-lease' });
  }

  const wanted = new Set(desired.map((d) => d.id));
  for (const d of desired) {
    const seen = snapshot.pairs.get(d.id);
    const wasOpen = seen !== undefined && openUntil(snapshot, seen, now) !== undefined;
    const opened = (): void => {
      if (lease) changes.push({ kind: 'gate-opened', key: d.key, leaseExpiresAt: lease });
    };

    if (seen === undefined || !seen.chainExists) {
      ops.push({ op: 'create-pair', id: d.id, key: d.key, open: d.active });
      changes.push({ kind: 'pair-added', key: d.key });
      if (d.active) opened();
    } else if (!seen.canonical) {
      // Rewritten whole in this transaction: a gate that should stay open never closes in between.
      const drop = { packets: seen.drop?.packets ?? 0, bytes: seen.drop?.bytes ?? 0 };
      ops.push({ op: 'reset-pair', id: d.id, key: d.key, open: d.active, drop });
      changes.push({ kind: 'pair-repaired', key: d.key });
      if (d.active && !wasOpen) opened();
      else if (!d.active && wasOpen) changes.push({ kind: 'gate-closed', key: d.key });
    } else if (d.active && !seen.open) {
      ops.push({ op: 'open-gate', id: d.id, key: d.key });
      opened();
    } else if (d.active && renew && lease) {
      changes.push(
        sharedLive
          ? { kind: 'lease-renewed', key: d.key, leaseExpiresAt: lease }
          : { kind: 'gate-opened', key: d.key, leaseExpiresAt: lease },
      );
    } else if (!d.active && seen.open) {
      ops.push({ op: 'delete-rule', ref: seen.open.ref });
      if (wasOpen) changes.push({ kind: 'gate-closed', key: d.key });
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
  const plan: GatePlan = { ops: [...ops, ...deletes, ...chains], changes };
  if (lease) plan.leaseExpiresAt = lease;
  return plan;
}
