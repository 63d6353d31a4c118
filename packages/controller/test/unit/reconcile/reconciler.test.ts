import { describe, expect, it } from 'vitest';
import { MAINTENANCE_ANNOTATION, SWITCHOVER_ANNOTATION } from '../../../src/reconcile/pair.js';
import { pairObject, twoNodes } from './fakes.js';

const KEY = 'default/web';
const target = { service: 'web' };

async function started(spec = {}) {
  const env = twoNodes();
  env.consul.setHealth(target, 'vm1', 'passing');
  env.consul.setHealth(target, 'vm2', 'passing');
  env.setPair(pairObject(spec));
  await env.settle();
  return env;
}

const serving = (env: ReturnType<typeof twoNodes>) =>
  env.nodes.filter((n) => n.host.isOpen(KEY)).map((n) => n.node);

describe('Reconciler (in-memory ports)', () => {
  it.each([
    ['Lock', 'passing', 'passing', ['vm1']],
    ['Lock', 'passing', 'critical', ['vm1']],
    ['Lock', 'critical', 'passing', ['vm2']],
    ['Lock', 'critical', 'critical', []],
    ['Health', 'passing', 'passing', ['vm1']],
    ['Health', 'passing', 'critical', ['vm1']],
    ['Health', 'critical', 'passing', ['vm2']],
    ['Health', 'critical', 'critical', []],
  ] as const)('%s mode, vm1 %s / vm2 %s: gates open on %j', async (arbitration, h1, h2, expected) => {
    const env = twoNodes();
    env.consul.setHealth(target, 'vm1', h1);
    env.consul.setHealth(target, 'vm2', h2);
    env.setPair(pairObject({ arbitration }));
    await env.settle();
    expect(serving(env)).toEqual(expected);
    expect(env.shared.status.activeNode ?? '').toBe(expected[0] ?? '');
    expect(env.violations).toEqual([]);
  });

  it('publishes both member entries and the pair-level fields', async () => {
    const env = await started();
    const byNode = Object.fromEntries((env.shared.status.members ?? []).map((m) => [m.node, m]));
    expect(byNode.vm1).toMatchObject({ role: 'Primary', state: 'Active', gate: 'Open', vip: 'Bound' });
    expect(byNode.vm2).toMatchObject({ role: 'Secondary', state: 'Standby', gate: 'Closed', vip: 'Unbound' });
    expect(env.shared.status.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
    expect(env.node('vm1').host.vips()).toEqual(['198.18.100.10']);
  });

  it('fails over in break-before-make order and never has both gates open', async () => {
    const env = await started();
    env.consul.setHealth(target, 'vm1', 'critical');
    env.everyone(KEY);
    await env.settle();
    expect(serving(env)).toEqual(['vm2']);
    expect(env.shared.status.lastTransition).toMatchObject({ from: 'vm1', to: 'vm2' });
    expect(env.violations).toEqual([]);
  });

  it('a holder whose session Consul stops confirming closes its gate but keeps the lock', async () => {
    const env = await started();
    env.consul.setConfirmed('vm1', false);
    env.everyone(KEY);
    await env.settle();
    expect(serving(env)).toEqual([]);
    expect(env.node('vm1').host.vips()).toEqual([]);
    expect(env.node('vm1').arbiter.lockOf({ namespace: 'default', name: 'web' })?.holder).toBe('vm1');
    env.consul.setConfirmed('vm1', true);
    env.everyone(KEY);
    await env.settle();
    expect(serving(env)).toEqual(['vm1']);
    expect(env.violations).toEqual([]);
  });

  it('a healthy primary whose agent died is passed over once Consul frees its lock', async () => {
    const env = await started();
    // vm1's agent is killed: nothing reconciles there any more; its gate lease runs out.
    await env.node('vm1').arbiter.close();
    env.node('vm1').queue.clear();
    env.advance(60_000);
    expect(serving(env)).toEqual([]);
    env.consul.setAgentAlive('vm1', false);
    env.consul.invalidateSessions('vm1');
    env.node('vm1').queue.clear();
    await env.settle();
    expect(serving(env)).toEqual(['vm2']);
    expect(env.violations).toEqual([]);
  });

  it('writes nothing and spawns no kernel write in steady state', async () => {
    const env = await started();
    const writes = env.shared.writes;
    const hostWrites = env.nodes.map((n) => n.host.writes);
    for (let i = 0; i < 10; i++) {
      env.advance(1_000);
      env.everyone(KEY);
      await env.settle();
    }
    expect(env.shared.writes).toBe(writes);
    expect(env.nodes.map((n) => n.host.writes)).toEqual(hostWrites);
  });

  it('keeps the role, gate and VIP gauges of each node right across a failover', async () => {
    const env = await started();
    const gauges = async (node: string) => {
      const text = await env.node(node).metrics.registry.metrics();
      const value = (name: string) => Number(new RegExp(`^${name}\\{[^}]*\\} (\\d+)$`, 'm').exec(text)?.[1]);
      return [value('probegate_pair_role'), value('probegate_gate_open'), value('probegate_vip_bound')];
    };
    expect(await gauges('vm1')).toEqual([1, 1, 1]);
    expect(await gauges('vm2')).toEqual([0, 0, 0]);
    env.consul.setHealth(target, 'vm1', 'critical');
    env.everyone(KEY);
    await env.settle();
    expect(await gauges('vm1')).toEqual([0, 0, 0]);
    expect(await gauges('vm2')).toEqual([1, 1, 1]);
  });

  it('renews the open gate lease before it runs out, with no status write', async () => {
    const env = await started();
    const writes = env.shared.writes;
    for (let i = 0; i < 12; i++) {
      env.advance(5_000);
      env.everyone(KEY);
      await env.settle();
      expect(serving(env)).toEqual(['vm1']);
    }
    expect(env.node('vm1').host.writes).toBeGreaterThan(1);
    expect(env.shared.writes).toBe(writes);
  });

  it('moves activity on a switchover annotation, and back when it is cleared (Automatic failback)', async () => {
    const env = await started();
    env.setPair(pairObject({}, { [SWITCHOVER_ANNOTATION]: 'vm2' }));
    await env.settle();
    expect(serving(env)).toEqual(['vm2']);
    env.setPair(pairObject({}));
    await env.settle();
    expect(serving(env)).toEqual(['vm1']);
    expect(env.violations).toEqual([]);
  });

  it('moves activity away from a node in maintenance', async () => {
    const env = await started();
    env.setPair(pairObject({}, { [MAINTENANCE_ANNOTATION]: 'vm1' }));
    await env.settle();
    expect(serving(env)).toEqual(['vm2']);
    expect(env.violations).toEqual([]);
  });

  it('with Manual failback the secondary keeps serving after the primary recovers', async () => {
    const env = await started({ failback: 'Manual' });
    env.consul.setHealth(target, 'vm1', 'critical');
    env.everyone(KEY);
    await env.settle();
    env.consul.setHealth(target, 'vm1', 'passing');
    env.advance(60_000);
    env.everyone(KEY);
    await env.settle();
    expect(serving(env)).toEqual(['vm2']);
  });

  it('holds its state while Consul is unreachable (Hold) within the grace', async () => {
    const env = await started();
    env.consul.setReachable(false);
    env.advance(2_000);
    env.everyone(KEY);
    await env.settle();
    expect(serving(env)).toEqual(['vm1']);
  });

  it('tears the pair down when it is deleted: gate removed, VIP unbound, lock released', async () => {
    const env = await started();
    env.setPair(undefined);
    await env.settle();
    expect(env.nodes.map((n) => n.host.gates.size)).toEqual([0, 0]);
    expect(env.node('vm1').host.vips()).toEqual([]);
    expect(env.node('vm1').arbiter.lockOf({ namespace: 'default', name: 'web' })?.holder).toBeUndefined();
    expect(env.node('vm1').reconciler.managedKeys()).toEqual([]);
  });

  it('tears down on a node the pair no longer names', async () => {
    const env = await started();
    env.setPair(pairObject({ primary: { node: 'vm3', address: '198.18.0.13' } }));
    await env.settle();
    expect(env.node('vm1').host.gates.size).toBe(0);
    expect(env.node('vm1').reconciler.managedKeys()).toEqual([]);
  });
});
