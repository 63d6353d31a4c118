import { destroyAllNamespaces, execIn, mustExecIn } from '@probegate/testenv';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  type BackendName,
  createHostActuator,
  InvalidInputError,
  type PairGate,
  pairId,
} from '../../src/index.js';
import {
  addedRules,
  createTopology,
  isWrite,
  kernelState,
  PROBE_PORT,
  PROBE_SOURCE,
  probe,
  recording,
  SERVICE_PORT,
  type Topology,
  VIP,
  VIP2,
  viaVip,
  waitFor,
  writePreviousLayout,
} from './kernel-fixture.js';

const BACKENDS: BackendName[] = ['iptables-nft', 'iptables-legacy', 'nftables'];
const LEASE = 30;

const pair = (active: boolean, extra: Partial<PairGate> = {}): PairGate => ({
  key: 'shop/web',
  sourceCIDRs: [`${PROBE_SOURCE}/32`],
  ports: [PROBE_PORT],
  vip: VIP,
  active,
  ...extra,
});

afterAll(destroyAllNamespaces);

/** Probes to the service port, gated by a second pair. */
const probeService = (t: Topology) =>
  execIn(t.client, ['socat', '-T1', '-', `TCP:198.18.0.1:${SERVICE_PORT},connect-timeout=1`]).then((r) =>
    r.exitCode === 0 ? r.stdout.trim() : undefined,
  );

/** The kernel's own listing of our rules (iptables-save or nft list), to count them. */
async function listing(t: Topology, backend: BackendName): Promise<string> {
  const argv =
    backend === 'nftables'
      ? ['nft', 'list', 'table', 'inet', 'probegate']
      : [backend === 'iptables-legacy' ? 'iptables-legacy-save' : 'iptables-nft-save', '-t', 'filter'];
  return mustExecIn(t.node, argv);
}
const count = (text: string, re: RegExp): number => text.match(re)?.length ?? 0;
/** The rules, without the listing's timestamps and counters. */
const rulesOnly = (text: string): string =>
  text
    .split('\n')
    .filter((l) => !l.startsWith('#'))
    .map((l) => l.replace(/\[\d+:\d+\]/g, '[]').replace(/packets \d+ bytes \d+/g, 'packets bytes'))
    .join('\n');
/** The rules of the shared lease chain. */
const leaseChainRules = (text: string, backend: BackendName): string[] =>
  backend === 'nftables'
    ? (/chain lease \{([^}]*)\}/.exec(text)?.[1] ?? '')
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l !== '')
    : text.split('\n').filter((l) => l.startsWith('-A PROBEGATE-LEASE '));

describe.each(BACKENDS)('host actuator on %s', (backend) => {
  let topo: Topology | undefined;
  afterEach(async () => {
    await topo?.destroy();
    topo = undefined;
  });

  it('lets probes through and binds the VIP only while the pair is Active', async () => {
    topo = await createTopology(backend);
    const t = topo;
    expect(t.actuator.backend).toBe(backend);

    await t.actuator.apply([pair(true)], { now: new Date(), leaseSeconds: LEASE });
    expect(await probe(t)).toBe('probe-ok');
    expect(await viaVip(t)).toBe('service-ok');
    let seen = await t.actuator.observe();
    const id = pairId('shop/web');
    expect(seen.hooked).toBe(true);
    expect(seen.vips).toEqual([VIP]);
    expect(seen.pairs.get(id)).toMatchObject({ key: 'shop/web', gate: 'Open', ports: [PROBE_PORT] });
    expect(seen.pairs.get(id)?.counters.acceptedPackets).toBeGreaterThan(0);
    expect(seen.pairs.get(id)?.counters.droppedPackets).toBe(0);

    const result = await t.actuator.apply([pair(false)], { now: new Date(), leaseSeconds: LEASE });
    expect(result.changes.map((c) => c.kind).sort()).toEqual(['gate-closed', 'vip-unbound']);
    expect(await probe(t)).toBeUndefined();
    expect(await viaVip(t)).toBeUndefined();
    seen = await t.actuator.observe();
    expect(seen.vips).toEqual([]);
    expect(seen.pairs.get(id)?.gate).toBe('Closed');
    expect(seen.pairs.get(id)?.counters.droppedPackets).toBeGreaterThan(0);
    const acceptedBefore = seen.pairs.get(id)?.counters.acceptedPackets ?? 0;

    // Reopening keeps the counters counting (they are not reset by the lease rule).
    await t.actuator.apply([pair(true)], { now: new Date(), leaseSeconds: LEASE });
    expect(await probe(t)).toBe('probe-ok');
    seen = await t.actuator.observe();
    expect(seen.pairs.get(id)?.counters.acceptedPackets).toBeGreaterThan(acceptedBefore);
  });

  it('gates close by themselves when the shared lease runs out with no process running', async () => {
    topo = await createTopology(backend);
    const t = topo;
    const pairs = [
      pair(true, { vip: undefined }),
      pair(true, { key: 'shop/svc', vip: undefined, ports: [SERVICE_PORT] }),
      pair(true, { key: 'shop/c', vip: undefined, ports: [9300] }),
      pair(false, { key: 'shop/d', vip: undefined, ports: [9301] }),
    ];
    const opened = await t.actuator.apply(pairs, { now: new Date(), leaseSeconds: 3 });
    const lease = opened.pairs.get('shop/web')?.leaseExpiresAt;
    expect(lease).toBeDefined();
    for (const key of ['shop/web', 'shop/svc', 'shop/c'])
      expect(opened.pairs.get(key)).toEqual({ gate: 'Open', leaseExpiresAt: lease, vip: undefined });
    expect(await probe(t)).toBe('probe-ok');
    expect(await probeService(t)).toBe('service-ok');
    // Nothing of ours runs now (not even a process started ahead): only the kernel's clock can close the gates.
    await t.runner.close();
    await waitFor(
      'the probes to be dropped after the lease ran out',
      async () => (await probe(t)) === undefined,
    );
    expect(await probeService(t)).toBeUndefined();
    // Closed by the lease alone: every open rule is still there, the one lease rule has run out.
    const rules = await listing(t, backend);
    expect(count(rules, /probegate:shop\/[a-z]+:open/g)).toBe(3);
    expect(count(rules, /probegate:lease/g)).toBe(1);
    const seen = await t.actuator.observe();
    for (const key of ['shop/web', 'shop/svc', 'shop/c', 'shop/d']) {
      expect(seen.pairs.get(pairId(key))?.gate).toBe('Closed');
      expect(seen.pairs.get(pairId(key))?.leaseExpiresAt).toBeUndefined();
    }
    // The next apply renews the lease: every gate is open again in one write.
    const again = await t.actuator.apply(pairs, { now: new Date(), leaseSeconds: 3 });
    expect(again.changes.map((c) => `${c.kind} ${'key' in c ? c.key : ''}`).sort()).toEqual([
      'gate-opened shop/c',
      'gate-opened shop/svc',
      'gate-opened shop/web',
    ]);
    expect(await probe(t)).toBe('probe-ok');
    expect(await probeService(t)).toBe('service-ok');
  });

  it('a renewal rewrites one rule for N open gates', async () => {
    topo = await createTopology(backend);
    const t = topo;
    const runner = recording(t.newRunner());
    const actuator = await createHostActuator({ backend, runner });
    const others = Array.from({ length: 200 }, (_, i) =>
      pair(i % 4 !== 0, { key: `bulk/p${i}`, vip: undefined, ports: [20_000 + i] }),
    );
    const pairs = [pair(true), pair(true, { key: 'shop/svc', vip: VIP2, ports: [SERVICE_PORT] }), ...others];
    const open = pairs.filter((p) => p.active).length;
    await actuator.apply(pairs, { now: new Date(), leaseSeconds: LEASE });
    expect(count(await listing(t, backend), /:open/g)).toBe(open);
    await actuator.apply(pairs, { now: new Date(), leaseSeconds: LEASE }); // steady: nothing to write

    // Past half the lease: the agent's renewal.
    const later = new Date(Date.now() + LEASE * 600);
    const before = runner.scripts.length;
    const renewed = await actuator.apply(pairs, { now: later, leaseSeconds: LEASE });
    const expiry = new Date((Math.floor(later.getTime() / 1000) + LEASE) * 1000);
    expect(renewed.changes).toHaveLength(open);
    expect(
      renewed.changes.every(
        (c) => c.kind === 'lease-renewed' && c.leaseExpiresAt.getTime() === expiry.getTime(),
      ),
    ).toBe(true);
    const writes = runner.scripts.slice(before).filter((w) => isWrite(w.argv));
    expect(writes, JSON.stringify(writes)).toHaveLength(1);
    const script = writes[0]?.input ?? '';
    expect(addedRules(script), script).toHaveLength(1);
    expect(addedRules(script)[0]).toMatch(/probegate:lease/);
    expect(script.length, script).toBeLessThan(600);

    // Every gate runs on the new lease; the closed ones stay closed.
    const seen = await actuator.observe();
    for (const p of pairs) {
      const o = seen.pairs.get(pairId(p.key));
      expect(o?.gate).toBe(p.active ? 'Open' : 'Closed');
      if (p.active) expect(o?.leaseExpiresAt).toEqual(expiry);
    }
    expect(leaseChainRules(await listing(t, backend), backend)).toEqual([
      expect.stringMatching(/probegate:lease/),
    ]);
    expect(await probe(t)).toBe('probe-ok');
    expect(await probeService(t)).toBe('service-ok');
  });

  it('a node left with the previous per-pair lease layout is adopted and migrated without a gate closing', async () => {
    topo = await createTopology(backend);
    const t = topo;
    const leaseUntil = new Date(Math.floor(Date.now() / 1000) * 1000 + 20_000);
    await writePreviousLayout(t.node, backend, [
      { key: 'shop/web', port: PROBE_PORT, leaseUntil },
      { key: 'shop/svc', port: SERVICE_PORT },
    ]);
    expect(await probe(t)).toBe('probe-ok');
    expect(await probeService(t)).toBeUndefined();

    // The new version reads the old gates as they are: open until their own lease ends.
    const seen = await t.actuator.observe();
    expect(seen.pairs.get(pairId('shop/web'))).toMatchObject({ gate: 'Open', leaseExpiresAt: leaseUntil });
    expect(seen.pairs.get(pairId('shop/svc'))).toMatchObject({ gate: 'Closed' });
    const droppedBefore = seen.pairs.get(pairId('shop/web'))?.counters.droppedPackets;

    // Probes keep coming while the apply migrates: not one may be dropped.
    const pairs = [
      pair(true, { vip: undefined }),
      pair(false, { key: 'shop/svc', vip: undefined, ports: [SERVICE_PORT] }),
    ];
    let migrating = true;
    const probes: (string | undefined)[] = [];
    const prober = (async () => {
      while (migrating) probes.push(await probe(t));
    })();
    await new Promise((r) => setTimeout(r, 200));
    const migrated = await t.actuator.apply(pairs, { now: new Date(), leaseSeconds: LEASE });
    await new Promise((r) => setTimeout(r, 200));
    migrating = false;
    await prober;
    expect(probes.length).toBeGreaterThan(2);
    expect(
      probes.every((p) => p === 'probe-ok'),
      JSON.stringify(probes),
    ).toBe(true);
    expect(migrated.changes).toEqual([{ kind: 'pair-repaired', key: 'shop/web' }]);
    const lease = migrated.pairs.get('shop/web')?.leaseExpiresAt;
    expect(lease?.getTime()).toBeGreaterThan(leaseUntil.getTime());

    // The new layout, and nothing of the old one: no lease rule of a pair's own, one shared lease rule.
    const rules = await listing(t, backend);
    expect(count(rules, /probegate:shop\/[a-z]+:lease/g), rules).toBe(0);
    expect(count(rules, /probegate:lease/g), rules).toBe(1);
    expect(count(rules, /probegate:shop\/web:open/g), rules).toBe(1);
    expect(count(rules, /probegate:shop\/svc:open/g), rules).toBe(0);
    const after = await t.actuator.observe();
    expect(after.pairs.get(pairId('shop/web'))).toMatchObject({ gate: 'Open', leaseExpiresAt: lease });
    expect(after.pairs.get(pairId('shop/web'))?.counters.droppedPackets).toBe(droppedBefore);
    expect(await probe(t)).toBe('probe-ok');
    expect(await probeService(t)).toBeUndefined();

    // A second run adopts what the first left: nothing to write, nothing duplicated.
    const runner = t.newRunner();
    const second = await createHostActuator({ backend, runner });
    expect((await second.apply(pairs, { now: new Date(), leaseSeconds: LEASE })).changes).toEqual([]);
    expect(runner.history.filter(isWrite)).toEqual([]);
    expect(rulesOnly(await listing(t, backend))).toBe(rulesOnly(rules));

    // And cleanup removes every trace, the lease chain included.
    await second.cleanup();
    expect(await kernelState(t.node)).toBe(t.before);
  });

  it('repairs a stray rule in the shared lease chain (one that would keep gates open forever)', async () => {
    topo = await createTopology(backend);
    const t = topo;
    await t.actuator.apply([pair(true, { vip: undefined })], { now: new Date(), leaseSeconds: LEASE });
    if (backend === 'nftables') {
      await mustExecIn(t.node, ['nft', 'add', 'rule', 'inet', 'probegate', 'lease', 'accept']);
    } else {
      const bin = backend === 'iptables-legacy' ? 'iptables-legacy' : 'iptables-nft';
      await mustExecIn(t.node, [bin, '-w', '-A', 'PROBEGATE-LEASE', '-j', 'ACCEPT']);
    }
    const runner = t.newRunner();
    const restarted = await createHostActuator({ backend, runner });
    const repaired = await restarted.apply([pair(true, { vip: undefined })], {
      now: new Date(),
      leaseSeconds: LEASE,
    });
    expect(repaired.changes.map((c) => c.kind)).toEqual(['lease-renewed']);
    const rules = await listing(t, backend);
    expect(leaseChainRules(rules, backend), rules).toEqual([expect.stringMatching(/probegate:lease/)]);
    expect(await probe(t)).toBe('probe-ok');
    // Standby: the gate closes at once (its open rule goes), whatever the lease chain holds.
    await restarted.apply([pair(false, { vip: undefined })], { now: new Date(), leaseSeconds: LEASE });
    expect(await probe(t)).toBeUndefined();
  });

  it('drives several pairs and VIPs on one node independently', async () => {
    topo = await createTopology(backend);
    const t = topo;
    const a = pair(true, { key: 'shop/a', vip: VIP });
    const b = pair(true, { key: 'shop/b', vip: VIP2, ports: [SERVICE_PORT] });
    await t.actuator.apply([a, b], { now: new Date(), leaseSeconds: LEASE });
    expect((await t.actuator.observe()).vips.sort()).toEqual([VIP, VIP2]);
    await t.actuator.apply([a, { ...b, active: false }], { now: new Date(), leaseSeconds: LEASE });
    const seen = await t.actuator.observe();
    expect(seen.vips).toEqual([VIP]);
    expect(seen.pairs.get(pairId('shop/a'))?.gate).toBe('Open');
    expect(seen.pairs.get(pairId('shop/b'))?.gate).toBe('Closed');
    expect(await probe(t)).toBe('probe-ok');
    expect(await viaVip(t, VIP2)).toBeUndefined();
  });

  it('treats a second apply of the same state as a no-op that spawns no write process', async () => {
    topo = await createTopology(backend);
    const t = topo;
    const pairs = [pair(true), pair(false, { key: 'shop/b', vip: VIP2, ports: [9100, 9101] })];
    const first = await t.actuator.apply(pairs, { now: new Date(), leaseSeconds: LEASE });
    expect(first.changes.length).toBeGreaterThan(0);
    const stateAfterFirst = await kernelState(t.node);
    const spawnedBefore = t.runner.history.length;

    const second = await t.actuator.apply(pairs, { now: new Date(), leaseSeconds: LEASE });
    expect(second.changes).toEqual([]);
    expect(t.runner.history.slice(spawnedBefore).filter(isWrite)).toEqual([]);
    expect(await kernelState(t.node)).toBe(stateAfterFirst);
  });

  it('adopts what an earlier run left and removes pairs that no longer exist', async () => {
    topo = await createTopology(backend);
    const t = topo;
    const pairs = [
      pair(true),
      pair(false, { key: 'shop/b', vip: VIP2, ports: [9100] }),
      pair(true, { key: 'x/c', vip: undefined, ports: [9200] }),
    ];
    await t.actuator.apply(pairs, { now: new Date(), leaseSeconds: LEASE });

    // A new process: fresh runner, no memory of the first.
    const runner = t.newRunner();
    const restarted = await createHostActuator({ backend, runner });
    const adopted = await restarted.apply(pairs, { now: new Date(), leaseSeconds: LEASE });
    expect(adopted.changes).toEqual([]);
    expect(runner.history.filter(isWrite)).toEqual([]);

    const removed = await restarted.apply([pair(true)], { now: new Date(), leaseSeconds: LEASE });
    expect(removed.changes.map((c) => c.kind).sort()).toEqual(['pair-removed', 'pair-removed']);
    const seen = await restarted.observe();
    expect([...seen.pairs.keys()]).toEqual([pairId('shop/web')]);
    expect(await probe(t)).toBe('probe-ok');
  });

  it('notices when another run wrote in between, and re-reads instead of trusting its memory', async () => {
    topo = await createTopology(backend);
    const t = topo;
    const first = await createHostActuator({ backend, runner: t.runner });
    await first.apply([pair(true)], { now: new Date(), leaseSeconds: LEASE });
    await first.apply([pair(true)], { now: new Date(), leaseSeconds: LEASE }); // steady state
    const other = await createHostActuator({
      backend,
      runner: t.newRunner(),
    });
    await other.apply([pair(false)], { now: new Date(), leaseSeconds: LEASE });
    expect(await probe(t)).toBeUndefined();
    const back = await first.apply([pair(true)], { now: new Date(), leaseSeconds: LEASE });
    expect(back.changes.map((c) => c.kind).sort()).toEqual(['gate-opened', 'vip-bound']);
    expect(await probe(t)).toBe('probe-ok');
  });

  it('a flip written from memory (no read first) that finds the kernel changed re-reads and lands right', async () => {
    topo = await createTopology(backend);
    const t = topo;
    const first = await createHostActuator({ backend, runner: t.runner });
    await first.apply([pair(true)], { now: new Date(), leaseSeconds: LEASE });
    const other = await createHostActuator({
      backend,
      runner: t.newRunner(),
    });
    await other.apply([pair(false)], { now: new Date(), leaseSeconds: LEASE });
    // first still believes the gate open and the VIP bound: its close and unbind are refused, then re-planned.
    const closed = await first.apply([pair(false)], { now: new Date(), leaseSeconds: LEASE });
    expect(closed.changes).toEqual([]);
    expect(closed.pairs.get('shop/web')).toMatchObject({ gate: 'Closed', vip: 'Unbound' });
    expect(await probe(t)).toBeUndefined();
    const reopened = await first.apply([pair(true)], { now: new Date(), leaseSeconds: LEASE });
    expect(reopened.changes.map((c) => c.kind).sort()).toEqual(['gate-opened', 'vip-bound']);
    expect(await probe(t)).toBe('probe-ok');
    expect((await kernelState(t.node)).match(/probegate:gen:/g)?.length ?? 1).toBeLessThanOrEqual(1);
  });

  it('a flip spawns no read before its writes where the write checks the generation (iptables)', async () => {
    topo = await createTopology(backend);
    const t = topo;
    await t.actuator.apply([pair(false)], { now: new Date(), leaseSeconds: LEASE });
    await t.actuator.apply([pair(false)], { now: new Date(), leaseSeconds: LEASE }); // steady: token known
    const before = t.runner.history.length;
    await t.actuator.apply([pair(true)], { now: new Date(), leaseSeconds: LEASE });
    const spawned = t.runner.history.slice(before).map((argv) => argv.join(' '));
    // Bind the VIP, open the gate; nftables first reads its generation token.
    expect(spawned, spawned.join('\n')).toHaveLength(backend === 'nftables' ? 3 : 2);
    expect(spawned.at(-2)).toMatch(/^ip -batch/);
    expect(spawned.at(-1)).toMatch(/-restore|^nft .*-f/);
    expect(await probe(t)).toBe('probe-ok');
  });

  it("the first flip after a pair was added writes without a full read (a standby node's first failover)", async () => {
    topo = await createTopology(backend);
    const t = topo;
    await t.actuator.apply([pair(false)], { now: new Date(), leaseSeconds: LEASE }); // adds the pair
    const before = t.runner.history.length;
    await t.actuator.apply([pair(true)], { now: new Date(), leaseSeconds: LEASE });
    const flip = t.runner.history.slice(before).map((argv) => argv.join(' '));
    expect(
      flip.filter((line) => /-save|nft -j list/.test(line)),
      flip.join('\n'),
    ).toEqual([]);
    expect(flip).toHaveLength(backend === 'nftables' ? 3 : 2);
    expect(await probe(t)).toBe('probe-ok');
  });

  it('a flip does not wait for a due full read; the next lease renewal does it', async () => {
    topo = await createTopology(backend);
    const t = topo;
    const runner = t.newRunner();
    // resyncSeconds 0: the full read is due at once after every read.
    const actuator = await createHostActuator({ backend, runner, resyncSeconds: 0 });
    await actuator.apply([pair(false)], { now: new Date(), leaseSeconds: LEASE });
    await actuator.apply([pair(false)], { now: new Date(), leaseSeconds: LEASE });
    let before = runner.history.length;
    await actuator.apply([pair(true)], { now: new Date(), leaseSeconds: LEASE });
    const flip = runner.history.slice(before).map((argv) => argv.join(' '));
    expect(flip, flip.join('\n')).toHaveLength(backend === 'nftables' ? 4 : 2);
    expect(await probe(t)).toBe('probe-ok');

    before = runner.history.length;
    const later = new Date(Date.now() + LEASE * 750);
    const renewed = await actuator.apply([pair(true)], { now: later, leaseSeconds: LEASE });
    expect(renewed.changes.map((c) => c.kind)).toEqual(['lease-renewed']);
    const renewal = runner.history.slice(before).map((argv) => argv.join(' '));
    expect(
      renewal.some((line) => /-save|nft -j list table inet probegate$/.test(line)),
      renewal.join('\n'),
    ).toBe(true);
    expect(await probe(t)).toBe('probe-ok');
  });

  it('serves a VIP already on lo without our label, and never removes it', async () => {
    topo = await createTopology(backend);
    const t = topo;
    await mustExecIn(t.node, ['ip', 'addr', 'add', `${VIP2}/32`, 'dev', 'lo']);
    const b = pair(true, { key: 'shop/b', vip: VIP2 });
    const up = await t.actuator.apply([b], { now: new Date(), leaseSeconds: LEASE });
    expect(up.changes.map((c) => c.kind)).not.toContain('vip-bound');
    expect(await viaVip(t, VIP2)).toBe('service-ok');
    await t.actuator.apply([{ ...b, active: false }], { now: new Date(), leaseSeconds: LEASE });
    expect((await t.actuator.observe()).vips).toEqual([]);
    expect(await execIn(t.node, ['ip', '-4', 'addr', 'show', 'dev', 'lo'])).toMatchObject({
      stdout: expect.stringContaining(`${VIP2}/32`),
    });
  });

  it('leaves the namespace exactly as before after cleanup', async () => {
    topo = await createTopology(backend);
    const t = topo;
    await t.actuator.apply([pair(true), pair(true, { key: 'shop/b', vip: VIP2, ports: [9100] })], {
      now: new Date(),
      leaseSeconds: LEASE,
    });
    expect(await kernelState(t.node)).not.toBe(t.before);
    await t.actuator.cleanup();
    expect(await kernelState(t.node)).toBe(t.before);
    // Cleaning up twice is harmless.
    await t.actuator.cleanup();
    expect(await kernelState(t.node)).toBe(t.before);
  });

  it('rejects bad input before any command runs, naming the field and value', async () => {
    topo = await createTopology(backend);
    const t = topo;
    const cases: [PairGate, string, unknown][] = [
      [pair(true, { sourceCIDRs: ['198.18.0.300/32'] }), 'pairs[0].sourceCIDRs[0]', '198.18.0.300/32'],
      [pair(true, { sourceCIDRs: ['198.18.0.16/33'] }), 'pairs[0].sourceCIDRs[0]', '198.18.0.16/33'],
      [pair(true, { ports: [0] }), 'pairs[0].ports[0]', 0],
      [pair(true, { ports: [70000] }), 'pairs[0].ports[0]', 70000],
      [pair(true, { vip: '198.18.10' }), 'pairs[0].vip', '198.18.10'],
      [pair(true, { key: 'bad key; rm -rf /' }), 'pairs[0].key', 'bad key; rm -rf /'],
    ];
    const spawned = t.runner.spawned;
    for (const [input, field, value] of cases) {
      const err = await t.actuator
        .apply([input], { now: new Date(), leaseSeconds: LEASE })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InvalidInputError);
      expect(err).toMatchObject({ field, value });
      expect(String((err as Error).message)).toContain(field);
      expect(String((err as Error).message)).toContain(JSON.stringify(value));
    }
    expect(t.runner.spawned).toBe(spawned);
  });
});
