import { type ConsulCluster, startConsulCluster } from '@probegate/testenv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConsulArbiter } from '../../../src/arbiter/consul-arbiter.js';
import type { LockView, PairHealthView } from '../../../src/arbiter/types.js';
import {
  eventually,
  failCheck,
  kvSession,
  nodeSessions,
  passCheck,
  registerTtlService,
} from './consul-http.js';

// A Consul server and two client agents (vm1, vm2) on their own loopback addresses, each with its own
// probegate arbiter talking to its local agent, as on two VMs.
let cluster: ConsulCluster;
const arbiters: Record<string, ConsulArbiter> = {};
const views: Record<string, LockView[]> = { vm1: [], vm2: [] };
const health: Record<string, PairHealthView[]> = { vm1: [], vm2: [] };
const members = {
  primary: { node: 'vm1', address: '127.0.1.3' },
  secondary: { node: 'vm2', address: '127.0.1.4' },
};
// lock-delay 2s (renewals every 500 ms: a holder stops serving 1.5 s after its last confirmation);
// TTL 10s: Consul frees a dead agent's locks 20 s after its last renewal.
const arbiterFor = (node: string, httpAddr: string) =>
  new ConsulArbiter({ connection: { address: httpAddr }, node, lockDelay: '2s', sessionTtl: '10s' });
const pair = { namespace: 'prod', name: 'app' };
const target = { service: 'app' };
const key = 'probegate/prod/app/leader';
const last = (node: string) => views[node]?.at(-1);

beforeAll(async () => {
  cluster = await startConsulCluster({
    server: { addr: '127.0.1.2' },
    clients: [
      { name: 'vm1', addr: '127.0.1.3' },
      { name: 'vm2', addr: '127.0.1.4' },
    ],
  });
  for (const node of ['vm1', 'vm2']) {
    const agent = cluster.client(node);
    await registerTtlService(agent.httpAddr, { id: `app-${node}`, name: 'app', address: agent.bindAddr });
    const arbiter = arbiterFor(node, agent.httpAddr);
    arbiters[node] = arbiter;
    arbiter.watchLock(pair, (v) => views[node]?.push(v));
    arbiter.watchHealth({ pair, target, members }, (v) => health[node]?.push(v));
  }
  // Both registrations reached the catalog (anti-entropy) before the tests start.
  await eventually(
    'both instances in the catalog',
    async () => (await (await fetch(`${cluster.server.httpAddr}/v1/health/service/app`)).json()) as unknown[],
    (list) => list.length === 2,
  );
});

afterAll(async () => {
  await Promise.all(Object.values(arbiters).map((a) => a.close()));
  await cluster?.stop();
});

const arbiter = (node: string): ConsulArbiter => {
  const a = arbiters[node];
  if (!a) throw new Error(`no arbiter for ${node}`);
  return a;
};

describe('strict session lock across two Consul client agents', () => {
  it('only one node holds the lock; both see who it is', async () => {
    expect(await arbiter('vm1').acquire({ pair, target, reason: 'primary healthy' })).toBe(true);
    expect(await arbiter('vm2').acquire({ pair, target, reason: 'standby tries' })).toBe(false);
    await eventually(
      'vm1 sees itself holding',
      () => last('vm1'),
      (v) => v?.holder === 'vm1' && v.ownSessionValid,
    );
    await eventually(
      'vm2 sees vm1 holding',
      () => last('vm2'),
      (v) => v?.holder === 'vm1' && !v.ownSessionValid,
    );
  });

  it('each node sees whether the peer agent lives (its session)', async () => {
    for (const node of ['vm1', 'vm2']) {
      await eventually(
        `${node} sees both agents alive`,
        () => health[node]?.at(-1),
        (v) => v?.primary.agentAlive === true && v.secondary.agentAlive === true,
      );
    }
  });

  it('vm1 hands over by releasing: vm2 takes the lock at once, without waiting for the lock-delay', async () => {
    await failCheck(cluster.client('vm1').httpAddr, 'app-vm1');
    await eventually(
      'vm2 sees vm1 critical',
      () => health.vm2?.at(-1),
      (v) => v?.primary.status === 'critical',
    );
    // A critical service check no longer invalidates the session: vm1 still holds, confirmed.
    expect(arbiter('vm1').lockOf(pair)).toMatchObject({
      holder: 'vm1',
      ownSessionValid: true,
      confirmed: true,
    });
    const releasedAt = Date.now();
    await arbiter('vm1').release({ pair, target, reason: 'primary critical' });
    await eventually(
      'vm2 acquires',
      () => arbiter('vm2').acquire({ pair, target, reason: 'primary critical' }),
      (ok) => ok,
      5_000,
    );
    const handover = Date.now() - releasedAt;
    console.log(`release -> acquire by the peer: ${handover} ms (lock-delay 2000 ms)`);
    expect(handover).toBeLessThan(1_000);
    await eventually(
      'vm1 sees vm2',
      () => last('vm1'),
      (v) => v?.holder === 'vm2' && !v.ownSessionValid,
    );
    await passCheck(cluster.client('vm1').httpAddr, 'app-vm1');
    expect(await arbiter('vm1').acquire({ pair, target, reason: 'primary healthy again' })).toBe(false);
  });

  it('the probegate agent on vm2 dies (renewals stop): peers see it gone and Consul frees its lock 2 x TTL later', async () => {
    const stoppedAt = Date.now();
    await arbiter('vm2').close();
    await eventually(
      'vm1 sees vm2 agent gone',
      () => health.vm1?.at(-1),
      (v) => v?.secondary.agentAlive === false,
      40_000,
    );
    await eventually(
      'vm1 sees the lock free',
      () => last('vm1'),
      (v) => v !== undefined && v.holder === undefined,
      10_000,
    );
    const freedAfter = Date.now() - stoppedAt;
    console.log(`agent stopped -> lock free: ${freedAfter} ms (2 x TTL = 20000 ms)`);
    // Not before the TTL: the session was not invalidated by anything else.
    expect(freedAfter).toBeGreaterThanOrEqual(10_000);
    // A new agent on vm2 makes a new session: alive again.
    views.vm2 = [];
    const again = arbiterFor('vm2', cluster.client('vm2').httpAddr);
    arbiters.vm2 = again;
    again.watchLock(pair, (v) => views.vm2?.push(v));
    again.watchHealth({ pair, target, members }, (v) => health.vm2?.push(v));
    await eventually(
      'vm1 sees vm2 alive again',
      () => health.vm1?.at(-1),
      (v) => v?.secondary.agentAlive === true,
    );
    await eventually(
      'vm1 acquires',
      () => arbiter('vm1').acquire({ pair, target, reason: 'vm2 agent died' }),
      (ok) => ok,
      10_000,
    );
  }, 90_000);

  it("vm1's Consul agent hangs: vm1 stops serving (unconfirmed) before vm2 can take the lock", async () => {
    await eventually(
      'vm1 holds, confirmed',
      () => last('vm1'),
      (v) => v?.holder === 'vm1' && v.ownSessionValid && v.confirmed === true,
    );
    const stoppedAt = Date.now();
    cluster.client('vm1').kill('SIGSTOP');
    try {
      const unconfirmed = await eventually(
        'vm1 sees its lock unconfirmed',
        () => last('vm1'),
        (v) => v?.confirmed === false,
        5_000,
      );
      const unconfirmedAfter = Date.now() - stoppedAt;
      expect(unconfirmed?.holder).toBe('vm1');
      await eventually(
        'vm2 acquires once Consul declared vm1 failed and the lock-delay passed',
        () => arbiter('vm2').acquire({ pair, target, reason: 'vm1 unreachable' }),
        (ok) => ok,
        60_000,
      );
      const takenAfter = Date.now() - stoppedAt;
      console.log(
        `vm1 agent stopped: unconfirmed after ${unconfirmedAfter} ms, vm2 took the lock after ${takenAfter} ms`,
      );
      expect(unconfirmedAfter).toBeLessThanOrEqual(2_000);
      expect(unconfirmedAfter).toBeLessThan(takenAfter);
    } finally {
      cluster.client('vm1').kill('SIGCONT');
    }
    await eventually(
      'vm1 sees vm2 holding',
      () => last('vm1'),
      (v) => v?.holder === 'vm2' && !v.ownSessionValid,
      30_000,
    );
  }, 120_000);

  it("vm2's agent dies: serfHealth goes critical, the lock is freed, and vm1 takes it", async () => {
    const vm2Session = await kvSession(cluster.server.httpAddr, key);
    expect(vm2Session).toBeDefined();
    cluster.client('vm2').kill('SIGKILL');
    // Failure detection by gossip takes a few seconds.
    await eventually(
      'vm1 sees the lock free',
      () => last('vm1'),
      (v) => v !== undefined && v.holder === undefined,
      60_000,
    );
    await eventually(
      'vm1 acquires',
      () => arbiter('vm1').acquire({ pair, target, reason: 'vm2 failed' }),
      (ok) => ok,
      15_000,
    );
    await eventually(
      'vm1 holds it',
      () => last('vm1'),
      (v) => v?.holder === 'vm1' && v.ownSessionValid,
    );
    const sessions = (await (await fetch(`${cluster.server.httpAddr}/v1/session/list`)).json()) as {
      ID: string;
    }[];
    expect(sessions.map((s) => s.ID)).not.toContain(vm2Session);

    const record = await arbiter('vm1').readRecord(pair);
    expect(record?.holder).toBe('vm1');
    // vm1 may also have recorded its own loss in between (a compare-and-set that can lose the race).
    const takes = record?.transitions.filter((t) => t.to !== null).map((t) => [t.to, t.reason]);
    expect(takes).toEqual([
      ['vm1', 'primary healthy'],
      ['vm2', 'primary critical'],
      ['vm1', 'vm2 agent died'],
      ['vm2', 'vm1 unreachable'],
      ['vm1', 'vm2 failed'],
    ]);
  }, 120_000);

  it("vm2's agent comes back with a new session; vm1's agent stops gracefully and vm2 takes the lock", async () => {
    const vm2 = cluster.client('vm2');
    await vm2.restart();
    await registerTtlService(vm2.httpAddr, { id: 'app-vm2', name: 'app', address: vm2.bindAddr });
    await passCheck(vm2.httpAddr, 'app-vm2');
    await eventually(
      'vm2 arbiter reachable again',
      () => arbiter('vm2').reachability().reachable,
      Boolean,
      15_000,
    );
    expect(await arbiter('vm2').acquire({ pair, target, reason: 'vm2 back' })).toBe(false);

    cluster.client('vm1').kill('SIGTERM');
    await eventually(
      'vm2 sees the lock free',
      () => last('vm2'),
      (v) => v !== undefined && v.holder === undefined,
      60_000,
    );
    await eventually(
      'vm2 acquires',
      () => arbiter('vm2').acquire({ pair, target, reason: 'vm1 left' }),
      (ok) => ok,
      15_000,
    );
    await eventually(
      'vm2 holds it',
      () => last('vm2'),
      (v) => v?.holder === 'vm2' && v.ownSessionValid,
    );
    // The session that died with the old agent was replaced, not leaked: one probegate session on vm2.
    const sessions = await nodeSessions(vm2.httpAddr, 'vm2');
    expect(sessions.map((s) => s.Name)).toEqual(['probegate:vm2']);
    expect(await kvSession(vm2.httpAddr, key)).toBe(sessions[0]?.ID);
  }, 120_000);
});
