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
  createTopology,
  isWrite,
  kernelState,
  PROBE_PORT,
  PROBE_SOURCE,
  probe,
  SERVICE_PORT,
  type Topology,
  VIP,
  VIP2,
  viaVip,
  waitFor,
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

  it('closes the gate by itself when the lease runs out with no agent running', async () => {
    topo = await createTopology(backend);
    const t = topo;
    await t.actuator.apply([pair(true, { vip: undefined })], { now: new Date(), leaseSeconds: 3 });
    expect(await probe(t)).toBe('probe-ok');
    // Nothing of ours runs now: only the kernel's clock can close the gate.
    await waitFor('the probe to be dropped after lease expiry', async () => (await probe(t)) === undefined);
    const seen = await t.actuator.observe();
    expect(seen.pairs.get(pairId('shop/web'))?.gate).toBe('Closed');
    // The next apply renews the lease and opens the gate again.
    const again = await t.actuator.apply([pair(true, { vip: undefined })], {
      now: new Date(),
      leaseSeconds: 3,
    });
    expect(again.changes.map((c) => c.kind)).toEqual(['gate-opened']);
    expect(await probe(t)).toBe('probe-ok');
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
