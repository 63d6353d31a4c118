import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  emptySnapshot,
  type GateOp,
  type GateSnapshot,
  openUntil,
  projectSnapshot,
  type RuleRef,
  type SnapshotPair,
} from '../../src/gate-model.js';
import { type DesiredPair, leaseEnd, leaseNeedsRenewal, planGate } from '../../src/gate-plan.js';

const NOW = new Date('2026-11-25T04:00:00Z');
const LEASE = 30;
let handles = 1000;

/**
 * Reference model of a backend: applies ops to a snapshot the way the kernel would, and refuses
 * what the kernel refuses (a jump to a missing chain, deleting a missing rule or a chain still
 * jumped to).
 */
function simulate(before: GateSnapshot, ops: readonly GateOp[]): GateSnapshot {
  const s: GateSnapshot = structuredClone(before);
  const sameRef = (a: RuleRef, b: RuleRef) => a.chain === b.chain && a.handle === b.handle;
  const ref = (chain: string): RuleRef => ({ chain, handle: handles++ });
  const openRule = (id: string) => {
    if (!s.lease.chainExists) throw new Error(`open rule of ${id} jumps to a missing lease chain`);
    return { ref: ref(`open-${id}`) };
  };
  for (const o of ops) {
    switch (o.op) {
      case 'create-main':
        s.mainExists = true;
        break;
      case 'add-hook':
        s.hooks.push(ref('INPUT'));
        break;
      case 'delete-rule': {
        let found = 0;
        const keep = (r: RuleRef) => {
          if (!sameRef(r, o.ref)) return true;
          found++;
          return false;
        };
        s.hooks = s.hooks.filter(keep);
        s.foreign = s.foreign.filter(keep);
        for (const p of s.pairs.values()) {
          p.jumps = p.jumps.filter((j) => keep(j.ref));
          if (p.open && !keep(p.open.ref)) p.open = undefined;
        }
        if (found !== 1) throw new Error(`deleting a rule that is not there: ${JSON.stringify(o.ref)}`);
        break;
      }
      case 'set-lease':
        s.lease = { chainExists: true, canonical: true };
        if (o.expiresAt) s.lease.rule = { expiresAt: o.expiresAt, ref: ref('LEASE') };
        break;
      case 'create-pair':
      case 'reset-pair': {
        if (o.op === 'create-pair' && s.pairs.get(o.id)?.chainExists) throw new Error(`chain ${o.id} exists`);
        const old = s.pairs.get(o.id);
        const p: SnapshotPair = {
          id: o.id,
          key: o.key,
          chainExists: true,
          jumps: old?.jumps ?? [],
          canonical: true,
          drop: { packets: 0, bytes: 0, ref: ref(o.id), ...(o.op === 'reset-pair' ? o.drop : {}) },
        };
        if (o.open) p.open = openRule(o.id);
        s.pairs.set(o.id, p);
        break;
      }
      case 'open-gate': {
        const p = s.pairs.get(o.id);
        if (!p?.chainExists) throw new Error(`open rule in missing chain ${o.id}`);
        if (p.open) throw new Error(`second open rule in ${o.id}`);
        p.open = openRule(o.id);
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
      case 'set-generation':
        s.generation = o.generation;
        break;
    }
  }
  return s;
}

/** The gates open at `at`, by key. */
const openKeys = (s: GateSnapshot, at = NOW): string[] =>
  [...s.pairs.values()]
    .filter((p) => openUntil(s, p, at) !== undefined)
    .map((p) => p.key ?? p.id)
    .sort();

/** What the previous version left: no shared lease, each open gate with a lease rule of its own. */
function previousLayout(s: GateSnapshot): GateSnapshot {
  const old = structuredClone(s);
  for (const p of old.pairs.values()) {
    // A closed gate was [drop] then as now; an open one had its own lease rule in front.
    if (p.open) {
      if (old.lease.rule) p.legacyLease = old.lease.rule.expiresAt;
      p.open = undefined;
      p.canonical = false;
    }
  }
  old.lease = { chainExists: false, canonical: true };
  return old;
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
  /** Left by the previous version: a lease rule per open gate, no shared lease. */
  previous: fc.boolean(),
  /** A stray rule in the shared lease chain, or its lease rule deleted by hand. */
  lease: fc.constantFrom('ok', 'stray', 'emptied'),
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
  if (m.previous) s = previousLayout(s);
  if (s.lease.chainExists && m.lease === 'stray') s.lease.canonical = false;
  if (s.lease.chainExists && m.lease === 'emptied') s.lease.rule = undefined;
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
        const plan = planGate(kernel, desired, NOW, LEASE);
        const after = simulate(kernel, plan.ops);
        expect(after.hooks).toHaveLength(1);
        expect(after.foreign).toEqual([]);
        expect([...after.pairs.keys()].sort()).toEqual(desired.map((d) => d.id).sort());
        expect(openKeys(after)).toEqual(
          desired
            .filter((d) => d.active)
            .map((d) => d.key)
            .sort(),
        );
        for (const d of desired) {
          const p = after.pairs.get(d.id);
          const tuples = (p?.jumps ?? []).map((j) => `${j.cidr} ${j.port}`).sort();
          expect(tuples).toEqual(d.cidrs.flatMap((c) => d.ports.map((port) => `${c} ${port}`)).sort());
          // The new layout only: an open rule while Active, no lease of the pair's own.
          expect(p?.canonical).toBe(true);
          expect(p?.legacyLease).toBeUndefined();
          expect(p?.open !== undefined).toBe(d.active);
        }
        if (desired.some((d) => d.active)) {
          expect(after.lease.canonical).toBe(true);
          expect(leaseNeedsRenewal(after.lease.rule?.expiresAt, NOW, LEASE)).toBe(false);
          expect(plan.leaseExpiresAt).toEqual(after.lease.rule?.expiresAt);
        } else {
          expect(plan.leaseExpiresAt).toBeUndefined();
        }
      }),
    );
  });

  it('reports exactly the gates that opened, closed or had their lease renewed', () => {
    fc.assert(
      fc.property(messArb, desiredArb, (mess, desired) => {
        const kernel = messyKernel(mess);
        const { ops, changes } = planGate(kernel, desired, NOW, LEASE);
        const after = simulate(kernel, ops);
        const wasOpen = new Set(openKeys(kernel));
        const keysOf = (kind: string) =>
          changes
            .filter((c) => c.kind === kind)
            .map((c) => ('key' in c ? c.key : ''))
            .sort();
        const isDesired = (key: string) => desired.some((d) => d.key === key);
        expect(keysOf('gate-opened')).toEqual(openKeys(after).filter((k) => !wasOpen.has(k)));
        expect(keysOf('gate-closed')).toEqual(
          [...wasOpen].filter((k) => isDesired(k) && !openKeys(after).includes(k)).sort(),
        );
        const renewed = changes.filter((c) => c.kind === 'lease-renewed');
        for (const c of renewed) expect(wasOpen.has(c.key) && openKeys(after).includes(c.key)).toBe(true);
        for (const c of changes)
          if (c.kind === 'gate-opened' || c.kind === 'lease-renewed')
            expect(c.leaseExpiresAt).toEqual(after.lease.rule?.expiresAt);
      }),
    );
  });

  it('orders writes safely: the lease chain before jumps to it, jumps deleted before their chain', () => {
    fc.assert(
      fc.property(messArb, desiredArb, (mess, desired) => {
        const kernel = messyKernel(mess);
        // simulate() throws on a jump to a missing chain, a missing rule, or a chain still referenced.
        expect(() => simulate(kernel, planGate(kernel, desired, NOW, LEASE).ops)).not.toThrow();
      }),
    );
  });

  it('renews the shared lease only when less than half remains', () => {
    const pair: DesiredPair = { id: 'a', key: 'ns/a', cidrs: ['10.0.0.0/8'], ports: [80], active: true };
    const opened = simulate(emptySnapshot(), planGate(emptySnapshot(), [pair], NOW, LEASE).ops);
    const at = (s: number) => new Date(NOW.getTime() + s * 1000);
    expect(planGate(opened, [pair], at(14), LEASE).ops).toEqual([]);
    const renewal = planGate(opened, [pair], at(16), LEASE);
    expect(renewal.ops).toEqual([{ op: 'set-lease', expiresAt: leaseEnd(at(16), LEASE) }]);
    expect(renewal.changes).toEqual([
      { kind: 'lease-renewed', key: 'ns/a', leaseExpiresAt: leaseEnd(at(16), LEASE) },
    ]);
    const reopened = planGate(opened, [pair], at(31), LEASE);
    expect(reopened.ops).toEqual([{ op: 'set-lease', expiresAt: leaseEnd(at(31), LEASE) }]);
    expect(reopened.changes).toEqual([
      { kind: 'gate-opened', key: 'ns/a', leaseExpiresAt: leaseEnd(at(31), LEASE) },
    ]);
    // A shorter configured lease takes effect at once instead of honouring a longer old one.
    expect(planGate(opened, [pair], NOW, 5).changes.map((c) => c.kind)).toEqual(['lease-renewed']);
  });

  it.each([1, 10, 1000])('renews %i open gates by writing exactly one lease rule', (n) => {
    const pairs = Array.from(
      { length: n },
      (_, i): DesiredPair => ({
        id: `id${i}`,
        key: `ns/p${i}`,
        cidrs: ['10.0.0.0/8'],
        ports: [i + 1],
        active: true,
      }),
    );
    const standby: DesiredPair = {
      id: 'sb',
      key: 'ns/sb',
      cidrs: ['10.0.0.0/8'],
      ports: [9999],
      active: false,
    };
    const start = planGate(emptySnapshot(), [...pairs, standby], NOW, LEASE);
    expect(start.ops.filter((o) => o.op === 'set-lease')).toHaveLength(1);
    const opened = simulate(emptySnapshot(), start.ops);
    const later = new Date(NOW.getTime() + 20_000);
    const renewal = planGate(opened, [...pairs, standby], later, LEASE);
    expect(renewal.ops).toEqual([{ op: 'set-lease', expiresAt: leaseEnd(later, LEASE) }]);
    expect(renewal.changes).toHaveLength(n);
    expect(renewal.changes.every((c) => c.kind === 'lease-renewed')).toBe(true);
    expect(renewal.leaseExpiresAt).toEqual(leaseEnd(later, LEASE));
  });

  it('opens a gate by adding its open rule alone while the shared lease runs, renewing it when due', () => {
    const pair = (id: string, active = true): DesiredPair => ({
      id,
      key: `ns/${id}`,
      cidrs: ['10.0.0.0/8'],
      ports: [80],
      active,
    });
    const at = (s: number) => new Date(NOW.getTime() + s * 1000);
    const opened = simulate(
      emptySnapshot(),
      planGate(emptySnapshot(), [pair('a'), pair('b', false)], NOW, LEASE).ops,
    );
    // At 10 s the lease has 20 s of 30 left: b joins it as it is.
    const early = planGate(opened, [pair('a'), pair('b')], at(10), LEASE);
    expect(early.ops).toEqual([{ op: 'open-gate', id: 'b', key: 'ns/b' }]);
    expect(early.changes).toEqual([
      { kind: 'gate-opened', key: 'ns/b', leaseExpiresAt: leaseEnd(NOW, LEASE) },
    ]);
    // At 20 s the lease is due: renewed in the same write, for a as well.
    const due = planGate(opened, [pair('a'), pair('b')], at(20), LEASE);
    expect(due.ops).toEqual([
      { op: 'set-lease', expiresAt: leaseEnd(at(20), LEASE) },
      { op: 'open-gate', id: 'b', key: 'ns/b' },
    ]);
    expect(due.changes).toEqual([
      { kind: 'lease-renewed', key: 'ns/a', leaseExpiresAt: leaseEnd(at(20), LEASE) },
      { kind: 'gate-opened', key: 'ns/b', leaseExpiresAt: leaseEnd(at(20), LEASE) },
    ]);
    // Closing deletes the open rule alone; the lease stays for the others.
    const close = planGate(opened, [pair('a', false), pair('b', false)], at(10), LEASE);
    expect(close.ops.map((o) => o.op)).toEqual(['delete-rule']);
    expect(close.leaseExpiresAt).toBeUndefined();
  });

  it('migrates the previous per-pair lease layout in one write, keeping open gates open', () => {
    const pairs: DesiredPair[] = [
      { id: 'a', key: 'ns/a', cidrs: ['10.0.0.0/8'], ports: [80], active: true },
      { id: 'b', key: 'ns/b', cidrs: ['10.0.0.0/8'], ports: [81], active: false },
      { id: 'c', key: 'ns/c', cidrs: ['10.0.0.0/8'], ports: [82], active: true },
    ];
    const old = previousLayout(simulate(emptySnapshot(), planGate(emptySnapshot(), pairs, NOW, LEASE).ops));
    expect(openKeys(old)).toEqual(['ns/a', 'ns/c']);
    const later = new Date(NOW.getTime() + 5_000);
    const plan = planGate(old, pairs, later, LEASE);
    // The open gates are rewritten (their lease rule replaced by an open rule); b was [drop] then too.
    expect(plan.ops).toEqual([
      { op: 'set-lease', expiresAt: leaseEnd(later, LEASE) },
      { op: 'reset-pair', id: 'a', key: 'ns/a', open: true, drop: { packets: 0, bytes: 0 } },
      { op: 'reset-pair', id: 'c', key: 'ns/c', open: true, drop: { packets: 0, bytes: 0 } },
    ]);
    expect(plan.changes).toEqual([
      { kind: 'pair-repaired', key: 'ns/a' },
      { kind: 'pair-repaired', key: 'ns/c' },
    ]);
    const after = simulate(old, plan.ops);
    expect(openKeys(after, later)).toEqual(['ns/a', 'ns/c']);
    expect(planGate(after, pairs, later, LEASE).ops).toEqual([]);
    // A standby-only node of the previous version already has the new layout: nothing to write.
    const standby = pairs.map((p) => ({ ...p, active: false }));
    const idle = simulate(emptySnapshot(), planGate(emptySnapshot(), standby, NOW, LEASE).ops);
    expect(planGate(previousLayout(idle), standby, NOW, LEASE).ops).toEqual([]);
  });

  it('repairs the shared lease chain: a stray rule is removed, a missing lease rule is written', () => {
    const pair: DesiredPair = { id: 'a', key: 'ns/a', cidrs: ['10.0.0.0/8'], ports: [80], active: true };
    const opened = simulate(emptySnapshot(), planGate(emptySnapshot(), [pair], NOW, LEASE).ops);
    const stray = { ...opened, lease: { ...opened.lease, canonical: false } };
    expect(planGate(stray, [pair], NOW, LEASE).ops).toEqual([
      { op: 'set-lease', expiresAt: leaseEnd(NOW, LEASE) },
    ]);
    expect(planGate(stray, [{ ...pair, active: false }], NOW, LEASE).ops.map((o) => o.op)).toEqual([
      'set-lease',
      'delete-rule',
    ]);
    const emptied: GateSnapshot = { ...opened, lease: { chainExists: true, canonical: true } };
    const refill = planGate(emptied, [pair], NOW, LEASE);
    expect(refill.ops).toEqual([{ op: 'set-lease', expiresAt: leaseEnd(NOW, LEASE) }]);
    expect(refill.changes).toEqual([
      { kind: 'gate-opened', key: 'ns/a', leaseExpiresAt: leaseEnd(NOW, LEASE) },
    ]);
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
    open: (id: string) => ({ chain: `open-${id}` }),
    lease: (at: Date) => ({ chain: `lease-${at.getTime()}` }),
    hook: (g: string) => ({ chain: `hook-${g}` }),
  };
  const active: DesiredPair = { id: 'a', key: 'ns/a', cidrs: ['10.0.0.0/8'], ports: [80], active: true };
  const other: DesiredPair = { ...active, id: 'b', key: 'ns/b', ports: [81], active: false };
  const opened = simulate(emptySnapshot(), planGate(emptySnapshot(), [active, other], NOW, LEASE).ops);
  const stamp = (s: GateSnapshot): GateOp => ({
    op: 'set-generation',
    generation: 'ab',
    replace: s.hooks[0],
  });

  it('predicts the kernel after a flip or renewal, so planning again finds nothing', () => {
    for (const [desired, at] of [
      [[{ ...active, active: false }, other], NOW],
      [[active, other], new Date(NOW.getTime() + 20_000)],
      [[active, { ...other, active: true }], NOW],
      [[active, { ...other, active: true }], new Date(NOW.getTime() + 20_000)],
    ] as const) {
      const plan = planGate(opened, desired, at, LEASE);
      const projected = projectSnapshot(opened, [...plan.ops, stamp(opened)], refs);
      expect(projected).toBeDefined();
      expect(projected?.generation).toBe('ab');
      expect(projected?.hooks).toEqual([{ chain: 'hook-ab' }]);
      expect(planGate(projected as GateSnapshot, desired, at, LEASE).ops).toEqual([]);
    }
  });

  it('projects every flip and renewal of a settled gate exactly as the kernel ends up', () => {
    const flipArb = fc.record({
      actives: fc.array(fc.boolean(), { minLength: 10, maxLength: 10 }),
      seconds: fc.integer({ min: 0, max: 60 }),
    });
    fc.assert(
      fc.property(messArb, desiredArb, flipArb, (mess, desired, flip) => {
        const kernel = messyKernel(mess);
        const settled = simulate(kernel, planGate(kernel, desired, NOW, LEASE).ops);
        const next = desired.map((d, i) => ({ ...d, active: flip.actives[i] ?? d.active }));
        const at = new Date(NOW.getTime() + flip.seconds * 1000);
        const plan = planGate(settled, next, at, LEASE);
        const ops = [...plan.ops, stamp(settled)];
        const projected = projectSnapshot(settled, ops, refs);
        expect(projected).toBeDefined();
        const real = simulate(settled, ops);
        expect(openKeys(projected as GateSnapshot, at)).toEqual(openKeys(real, at));
        expect(projected?.lease.rule?.expiresAt).toEqual(real.lease.rule?.expiresAt);
        expect(planGate(projected as GateSnapshot, next, at, LEASE).ops).toEqual([]);
      }),
    );
  });

  it('refuses to predict structural changes (those force a full read)', () => {
    const third: DesiredPair = { ...active, id: 'c', key: 'ns/c', ports: [82] };
    expect(
      projectSnapshot(opened, planGate(opened, [active, other, third], NOW, LEASE).ops, refs),
    ).toBeUndefined();
    expect(projectSnapshot(opened, planGate(opened, [], NOW, LEASE).ops, refs)).toBeUndefined();
    const old = previousLayout(opened);
    expect(projectSnapshot(old, planGate(old, [active, other], NOW, LEASE).ops, refs)).toBeUndefined();
  });
});
