import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  emptySnapshot,
  type GateOp,
  type GateSnapshot,
  projectSnapshot,
  type RuleRef,
  type SnapshotPair,
} from '../../src/gate-model.js';
import { type DesiredPair, leaseEnd, leaseNeedsRenewal, planGate } from '../../src/gate-plan.js';

const NOW = new Date('2026-11-25T04:00:00Z');
const LEASE = 30;
let handles = 1000;

/** Reference model of a backend: applies ops to a snapshot the way the kernel would. */
function simulate(before: GateSnapshot, ops: readonly GateOp[]): GateSnapshot {
  const s: GateSnapshot = structuredClone(before);
  const sameRef = (a: RuleRef, b: RuleRef) => a.chain === b.chain && a.handle === b.handle;
  const ref = (chain: string): RuleRef => ({ chain, handle: handles++ });
  for (const o of ops) {
    switch (o.op) {
      case 'create-main':
        s.mainExists = true;
        break;
      case 'add-hook':
        s.hooks.push(ref('INPUT'));
        break;
      case 'delete-rule': {
        s.hooks = s.hooks.filter((h) => !sameRef(h, o.ref));
        s.foreign = s.foreign.filter((f) => !sameRef(f, o.ref));
        for (const p of s.pairs.values()) {
          p.jumps = p.jumps.filter((j) => !sameRef(j.ref, o.ref));
          if (p.lease && sameRef(p.lease.ref, o.ref)) p.lease = undefined;
        }
        break;
      }
      case 'create-pair':
      case 'reset-pair': {
        const old = s.pairs.get(o.id);
        const p: SnapshotPair = {
          id: o.id,
          key: o.key,
          chainExists: true,
          jumps: old?.jumps ?? [],
          canonical: true,
          drop: { packets: 0, bytes: 0, ref: ref(o.id), ...(o.op === 'reset-pair' ? o.drop : {}) },
        };
        if (o.lease) p.lease = { expiresAt: o.lease, ref: ref(o.id) };
        s.pairs.set(o.id, p);
        break;
      }
      case 'set-lease': {
        const p = s.pairs.get(o.id);
        if (!p?.chainExists) throw new Error(`set-lease on missing chain ${o.id}`);
        if (o.replace && !(p.lease && sameRef(p.lease.ref, o.replace)))
          throw new Error('replacing a rule that is not there');
        p.lease = { expiresAt: o.expiresAt, ref: ref(o.id) };
        break;
      }
      case 'add-jump': {
        const p = s.pairs.get(o.id);
        if (!p?.chainExists) throw new Error(`jump to missing chain ${o.id}`);
        p.jumps.push({ cidr: o.cidr, port: o.port, packets: 0, bytes: 0, ref: ref('MAIN') });
        break;
      }
      case 'delete-pair': {
        const p = s.pairs.get(o.id);
        if (p && p.jumps.length > 0) throw new Error(`deleting chain ${o.id} still referenced`);
        s.pairs.delete(o.id);
        break;
      }
    }
  }
  return s;
}

const desiredArb = fc.uniqueArray(fc.integer({ min: 0, max: 9 }), { maxLength: 6 }).chain((ids) =>
  fc.tuple(
    ...ids.map((i) =>
      fc
        .record({
          cidrs: fc.uniqueArray(fc.constantFrom('10.0.0.0/8', '168.63.129.16/32', '198.18.0.16/32'), {
            minLength: 1,
            maxLength: 2,
          }),
          ports: fc.uniqueArray(
            fc.integer({ min: 1, max: 4 }).map((p) => p * 1000 + i),
            { minLength: 1, maxLength: 2 },
          ),
          active: fc.boolean(),
        })
        .map((r): DesiredPair => ({ id: `id${i}`, key: `ns/p${i}`, ...r })),
    ),
  ),
);

/** A messy kernel: some earlier desired state, plus duplicates, strays and broken chains. */
const messArb = fc.record({
  earlier: desiredArb,
  earlierAgo: fc.integer({ min: 0, max: 120 }),
  duplicateHooks: fc.integer({ min: 0, max: 2 }),
  foreign: fc.integer({ min: 0, max: 2 }),
  duplicateJumps: fc.boolean(),
  brokenChain: fc.boolean(),
});

type Mess = typeof messArb extends fc.Arbitrary<infer T> ? T : never;

function messyKernel(m: Mess): GateSnapshot {
  const earlierNow = new Date(NOW.getTime() - m.earlierAgo * 1000);
  let s = simulate(emptySnapshot(), planGate(emptySnapshot(), m.earlier, earlierNow, LEASE).ops);
  s = structuredClone(s);
  for (let i = 0; i < m.duplicateHooks; i++) s.hooks.push({ chain: 'INPUT', handle: handles++ });
  for (let i = 0; i < m.foreign; i++) s.foreign.push({ chain: 'MAIN', handle: handles++ });
  const first = [...s.pairs.values()][0];
  if (first && m.duplicateJumps && first.jumps[0])
    first.jumps.push({ ...first.jumps[0], ref: { chain: 'MAIN', handle: handles++ } });
  if (first && m.brokenChain) first.canonical = false;
  return s;
}

describe('planGate', () => {
  it('converges: after applying the plan, planning again yields nothing to do', () => {
    fc.assert(
      fc.property(messArb, desiredArb, (mess, desired) => {
        const kernel = messyKernel(mess);
        const after = simulate(kernel, planGate(kernel, desired, NOW, LEASE).ops);
        const again = planGate(after, desired, NOW, LEASE);
        expect(again.ops).toEqual([]);
        expect(again.changes).toEqual([]);
      }),
    );
  });

  it('reaches exactly the desired gate: one hook, wanted pairs only, open exactly when active', () => {
    fc.assert(
      fc.property(messArb, desiredArb, (mess, desired) => {
        const kernel = messyKernel(mess);
        const after = simulate(kernel, planGate(kernel, desired, NOW, LEASE).ops);
        expect(after.hooks).toHaveLength(1);
        expect(after.foreign).toEqual([]);
        expect([...after.pairs.keys()].sort()).toEqual(desired.map((d) => d.id).sort());
        for (const d of desired) {
          const p = after.pairs.get(d.id);
          const tuples = (p?.jumps ?? []).map((j) => `${j.cidr} ${j.port}`).sort();
          expect(tuples).toEqual(d.cidrs.flatMap((c) => d.ports.map((port) => `${c} ${port}`)).sort());
          const open = p?.lease !== undefined && p.lease.expiresAt > NOW;
          expect(open).toBe(d.active);
          if (d.active) expect(leaseNeedsRenewal(p?.lease?.expiresAt, NOW, LEASE)).toBe(false);
        }
      }),
    );
  });

  it('never deletes a pair chain before the jumps into it', () => {
    fc.assert(
      fc.property(messArb, desiredArb, (mess, desired) => {
        const kernel = messyKernel(mess);
        // simulate() throws when a chain is deleted while still referenced.
        expect(() => simulate(kernel, planGate(kernel, desired, NOW, LEASE).ops)).not.toThrow();
      }),
    );
  });

  it('renews a lease only when less than half remains', () => {
    const pair: DesiredPair = { id: 'a', key: 'ns/a', cidrs: ['10.0.0.0/8'], ports: [80], active: true };
    const opened = simulate(emptySnapshot(), planGate(emptySnapshot(), [pair], NOW, LEASE).ops);
    const at = (s: number) => new Date(NOW.getTime() + s * 1000);
    expect(planGate(opened, [pair], at(14), LEASE).ops).toEqual([]);
    const renewal = planGate(opened, [pair], at(16), LEASE);
    expect(renewal.changes).toEqual([
      { kind: 'lease-renewed', key: 'ns/a', leaseExpiresAt: leaseEnd(at(16), LEASE) },
    ]);
    const reopened = planGate(opened, [pair], at(31), LEASE);
    expect(reopened.changes).toEqual([
      { kind: 'gate-opened', key: 'ns/a', leaseExpiresAt: leaseEnd(at(31), LEASE) },
    ]);
    // A shorter configured lease takes effect at once instead of honouring a longer old one.
    expect(planGate(opened, [pair], NOW, 5).changes.map((c) => c.kind)).toEqual(['lease-renewed']);
  });

  it('renews leases with less than 3/4 left whenever it writes a lease anyway, so they end together', () => {
    const pair = (id: string): DesiredPair => ({
      id,
      key: `ns/${id}`,
      cidrs: ['10.0.0.0/8'],
      ports: [80],
      active: true,
    });
    const at = (s: number) => new Date(NOW.getTime() + s * 1000);
    const opened = simulate(emptySnapshot(), planGate(emptySnapshot(), [pair('a')], NOW, LEASE).ops);
    // Opening b at 10 s: a has 20 s of 30 left, so it is renewed in the same write.
    const both = planGate(opened, [pair('a'), pair('b')], at(10), LEASE);
    expect(both.changes).toEqual([
      { kind: 'lease-renewed', key: 'ns/a', leaseExpiresAt: leaseEnd(at(10), LEASE) },
      { kind: 'pair-added', key: 'ns/b' },
      { kind: 'gate-opened', key: 'ns/b', leaseExpiresAt: leaseEnd(at(10), LEASE) },
    ]);
    // Opening b at 5 s: a has 25 s left and is left alone.
    const early = planGate(opened, [pair('a'), pair('b')], at(5), LEASE);
    expect(early.changes.map((c) => c.kind)).toEqual(['pair-added', 'gate-opened']);
    // Nothing to write at all: nothing is renewed early.
    expect(planGate(opened, [pair('a')], at(10), LEASE).ops).toEqual([]);
  });

  it('reports closing only a gate that was really open', () => {
    const active: DesiredPair = { id: 'a', key: 'ns/a', cidrs: ['10.0.0.0/8'], ports: [80], active: true };
    const opened = simulate(emptySnapshot(), planGate(emptySnapshot(), [active], NOW, LEASE).ops);
    const standby = { ...active, active: false };
    expect(planGate(opened, [standby], NOW, LEASE).changes).toEqual([{ kind: 'gate-closed', key: 'ns/a' }]);
    const expired = new Date(NOW.getTime() + 60_000);
    const lapsed = planGate(opened, [standby], expired, LEASE);
    expect(lapsed.changes).toEqual([]);
    expect(lapsed.ops.map((o) => o.op)).toEqual(['delete-rule']);
  });
});

describe('projectSnapshot', () => {
  const refs = {
    lease: (id: string) => ({ chain: `lease-${id}` }),
    hook: (g: string) => ({ chain: `hook-${g}` }),
  };
  const active: DesiredPair = { id: 'a', key: 'ns/a', cidrs: ['10.0.0.0/8'], ports: [80], active: true };
  const opened = simulate(emptySnapshot(), planGate(emptySnapshot(), [active], NOW, LEASE).ops);

  it('predicts the kernel after a flip or renewal, so planning again finds nothing', () => {
    for (const [desired, at] of [
      [{ ...active, active: false }, NOW],
      [active, new Date(NOW.getTime() + 20_000)],
    ] as const) {
      const plan = planGate(opened, [desired], at, LEASE);
      const stamp: GateOp = { op: 'set-generation', generation: 'ab', replace: opened.hooks[0] };
      const projected = projectSnapshot(opened, [...plan.ops, stamp], refs);
      expect(projected).toBeDefined();
      expect(projected?.generation).toBe('ab');
      expect(projected?.hooks).toEqual([{ chain: 'hook-ab' }]);
      expect(planGate(projected as GateSnapshot, [desired], at, LEASE).ops).toEqual([]);
    }
  });

  it('refuses to predict structural changes (those force a full read)', () => {
    const other: DesiredPair = { ...active, id: 'b', key: 'ns/b', ports: [81] };
    expect(projectSnapshot(opened, planGate(opened, [active, other], NOW, LEASE).ops, refs)).toBeUndefined();
    expect(projectSnapshot(opened, planGate(opened, [], NOW, LEASE).ops, refs)).toBeUndefined();
  });
});
