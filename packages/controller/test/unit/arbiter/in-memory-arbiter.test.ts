import { describe, expect, it } from 'vitest';
import { ArbiterError } from '../../../src/arbiter/errors.js';
import { InMemoryConsul } from '../../../src/arbiter/in-memory-arbiter.js';
import type { LockView, PairHealthView } from '../../../src/arbiter/types.js';

const pair = { namespace: 'prod', name: 'web' };
const target = { service: 'web' };
const members = {
  primary: { node: 'vm1', address: '10.0.0.1' },
  secondary: { node: 'vm2', address: '10.0.0.2' },
};

function world() {
  let now = 1_000;
  const consul = new InMemoryConsul({ now: () => now });
  consul.setHealth(target, 'vm1', 'passing');
  consul.setHealth(target, 'vm2', 'passing');
  return { consul, vm1: consul.arbiterFor('vm1'), vm2: consul.arbiterFor('vm2'), tick: () => (now += 1_000) };
}

describe('InMemoryArbiter (fake for reconcile-loop tests)', () => {
  it('emits the health view at once and on each status change', () => {
    const { consul, vm1 } = world();
    const views: PairHealthView[] = [];
    vm1.watchHealth({ pair, target, members }, (v) => views.push(v));
    consul.setHealth(target, 'vm2', 'critical');
    consul.setHealth({ service: 'other' }, 'vm2', 'passing');
    expect(views.map((v) => [v.primary.status, v.secondary.status])).toEqual([
      ['passing', 'passing'],
      ['passing', 'critical'],
    ]);
    expect(vm1.healthOf(pair)?.secondary.status).toBe('critical');
  });

  it('lets one node hold the lock; the other gets it once the holder releases', async () => {
    const { vm1, vm2 } = world();
    expect(await vm1.acquire({ pair, target, reason: 'primary healthy' })).toBe(true);
    expect(await vm2.acquire({ pair, target, reason: 'try' })).toBe(false);
    expect(vm2.lockOf(pair)).toMatchObject({ holder: 'vm1', ownSessionValid: false });
    expect(vm1.lockOf(pair)).toMatchObject({ holder: 'vm1', ownSessionValid: true });
    await vm1.release({ pair, target, reason: 'maintenance' });
    expect(await vm2.acquire({ pair, target, reason: 'vm1 gone' })).toBe(true);
    const record = await vm2.readRecord(pair);
    expect(record?.holder).toBe('vm2');
    expect(record?.transitions.map((t) => [t.from, t.to])).toEqual([
      [null, 'vm1'],
      ['vm1', null],
      [null, 'vm2'],
    ]);
  });

  it('a critical check keeps the lock (hand-over is a release); an invalidated session frees it', async () => {
    const { consul, vm1, vm2 } = world();
    const views: LockView[] = [];
    vm2.watchLock(pair, (v) => views.push(v));
    await vm1.acquire({ pair, target, reason: 'start' });
    consul.setHealth(target, 'vm1', 'critical');
    expect(vm1.lockOf(pair)).toMatchObject({ holder: 'vm1', ownSessionValid: true, confirmed: true });
    consul.invalidateSessions('vm1');
    expect(views.map((v) => v.holder)).toEqual([undefined, 'vm1', undefined]);
    expect(await vm2.acquire({ pair, target, reason: 'vm1 gone' })).toBe(true);
    expect((await vm2.readRecord(pair))?.transitions.map((t) => [t.from, t.to, t.reason])).toEqual([
      [null, 'vm1', 'start'],
      ['vm1', null, 'session invalidated'],
      [null, 'vm2', 'vm1 gone'],
    ]);
  });

  it('an unconfirmed holder and a dead agent show in the views', async () => {
    const { consul, vm1, vm2 } = world();
    await vm1.acquire({ pair, target, reason: 'start' });
    consul.setConfirmed('vm1', false);
    expect(vm1.lockOf(pair)).toMatchObject({ holder: 'vm1', ownSessionValid: true, confirmed: false });
    expect(vm2.lockOf(pair)?.confirmed).toBeUndefined();
    consul.setAgentAlive('vm1', false);
    const views: boolean[] = [];
    vm2.watchHealth({ pair, target, members }, (v) => views.push(v.primary.agentAlive ?? true));
    expect(views).toEqual([false]);
  });

  it('an unreachable arbiter throws ArbiterError and notifies reachability listeners', async () => {
    const { consul, vm1 } = world();
    const states: boolean[] = [];
    vm1.onReachabilityChange((s) => states.push(s.reachable));
    consul.setReachable(false);
    await expect(vm1.acquire({ pair, target, reason: 'x' })).rejects.toBeInstanceOf(ArbiterError);
    expect(vm1.reachability().reachable).toBe(false);
    consul.setReachable(true);
    expect(states).toEqual([false, true]);
    expect(vm1.calls.acquire).toBe(1);
  });

  it('close() stops the notifications', async () => {
    const { consul, vm1 } = world();
    const views: PairHealthView[] = [];
    vm1.watchHealth({ pair, target, members }, (v) => views.push(v));
    await vm1.close();
    consul.setHealth(target, 'vm1', 'critical');
    expect(views).toHaveLength(1);
  });
});
