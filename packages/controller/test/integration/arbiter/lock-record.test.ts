import { type ConsulAgent, component, startConsulDev } from '@probegate/testenv';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConsulArbiter } from '../../../src/arbiter/consul-arbiter.js';
import { ConsulClient } from '../../../src/arbiter/consul-client.js';
import { ArbiterError } from '../../../src/arbiter/errors.js';
import { LockTransactions } from '../../../src/arbiter/lock-transactions.js';
import type { LockView } from '../../../src/arbiter/types.js';
import {
  createSession,
  eventually,
  failCheck,
  kvSession,
  nodeSessions,
  passCheck,
  registerTtlService,
} from './consul-http.js';

let agent: ConsulAgent;
const arbiters: ConsulArbiter[] = [];
const target = { service: 'db' };

beforeAll(async () => {
  agent = await startConsulDev({ nodeName: 'vm1' });
  await registerTtlService(agent.httpAddr, { id: 'db1', name: 'db', address: '198.18.0.1' });
});
afterAll(async () => {
  await Promise.all(arbiters.map((a) => a.close()));
  await agent?.stop();
});

const arbiter = (
  options: { historyLength?: number; lockDelay?: string; onRequest?: (op: string) => void } = {},
) => {
  const a = new ConsulArbiter({
    connection: { address: agent.httpAddr },
    node: 'vm1',
    lockDelay: '1s',
    ...options,
  });
  arbiters.push(a);
  return a;
};

/** What anyone on the machine sees with the Consul CLI. */
async function consulKvGet(key: string): Promise<unknown> {
  const { stdout } = await execa(component('consul'), ['kv', 'get', `-http-addr=${agent.httpAddr}`, key]);
  return JSON.parse(stdout);
}

describe('session lock on a real Consul agent', () => {
  it('acquires with one node session (serfHealth, TTL, release) and writes a readable record', async () => {
    const a = arbiter();
    const pair = { namespace: 'prod', name: 'db' };
    expect(await a.acquire({ pair, target, reason: 'primary healthy' })).toBe(true);

    const sessions = await nodeSessions(agent.httpAddr, 'vm1');
    expect(sessions).toHaveLength(1);
    expect(sessions[0]).toMatchObject({
      Name: 'probegate:vm1',
      NodeChecks: ['serfHealth'],
      Behavior: 'release',
      TTL: '16s',
      LockDelay: 1e9,
    });
    expect(await kvSession(agent.httpAddr, 'probegate/prod/db/leader')).toBe(sessions[0]?.ID);

    expect(await consulKvGet('probegate/prod/db/leader')).toMatchObject({
      pair: 'prod/db',
      holder: 'vm1',
      reason: 'primary healthy',
      transitions: [{ from: null, to: 'vm1', reason: 'primary healthy' }],
    });

    // Acquiring again is idempotent: same session, no new history.
    expect(await a.acquire({ pair, target, reason: 'again' })).toBe(true);
    expect((await a.readRecord(pair))?.transitions).toHaveLength(1);

    await a.release({ pair, target, reason: 'maintenance' });
    expect(await kvSession(agent.httpAddr, 'probegate/prod/db/leader')).toBeUndefined();
    expect(await consulKvGet('probegate/prod/db/leader')).toMatchObject({
      holder: null,
      reason: 'maintenance',
      transitions: [{ to: 'vm1' }, { from: 'vm1', to: null, reason: 'maintenance' }],
    });
  });

  it('keeps only the last N transitions in the record', async () => {
    const a = arbiter({ historyLength: 3 });
    const pair = { namespace: 'prod', name: 'history' };
    for (let i = 0; i < 4; i++) {
      expect(await a.acquire({ pair, target, reason: `take ${i}` })).toBe(true);
      await a.release({ pair, target, reason: `give ${i}` });
    }
    const record = await a.readRecord(pair);
    expect(record?.transitions.map((t) => t.reason)).toEqual(['give 2', 'take 3', 'give 3']);
  });

  it('watches the lock: the holder loses it when Consul invalidates its session, and takes it again with a new one', async () => {
    const a = arbiter();
    const pair = { namespace: 'prod', name: 'watched' };
    const views: LockView[] = [];
    a.watchLock(pair, (v) => views.push(v));
    await eventually(
      'first lock view',
      () => views.length,
      (n) => n >= 1,
    );
    expect(views[0]).toMatchObject({ holder: undefined, ownSessionValid: false });

    expect(await a.acquire({ pair, target, reason: 'healthy' })).toBe(true);
    await eventually(
      'held view',
      () => views.at(-1),
      (v) => v?.holder === 'vm1' && v.ownSessionValid,
    );

    // A service check going critical no longer costs the lock (the agent hands over by releasing).
    await failCheck(agent.httpAddr, 'db1');
    await new Promise((r) => setTimeout(r, 300));
    expect(a.lockOf(pair)).toMatchObject({ holder: 'vm1', ownSessionValid: true, confirmed: true });
    await passCheck(agent.httpAddr, 'db1');

    const [session] = await nodeSessions(agent.httpAddr, 'vm1');
    await fetch(`${agent.httpAddr}/v1/session/destroy/${session?.ID}`, { method: 'PUT' });
    await eventually(
      'released view',
      () => views.at(-1),
      (v) => v !== undefined && v.holder === undefined && !v.ownSessionValid,
    );
    expect(await kvSession(agent.httpAddr, 'probegate/prod/watched/leader')).toBeUndefined();
    // The record says so too, for anyone reading it with `consul kv get`.
    const lost = await eventually(
      'record shows the loss',
      () => consulKvGet('probegate/prod/watched/leader'),
      (r) => (r as { holder: string | null }).holder === null,
    );
    expect(lost).toMatchObject({ reason: expect.stringMatching(/session invalidated/) });
    // lock-delay (1s) applies after an invalidation; acquisition succeeds once it has passed.
    await eventually(
      're-acquired',
      () => a.acquire({ pair, target, reason: 'healthy again' }),
      (ok) => ok,
      10_000,
    );
    await eventually(
      'held again',
      () => views.at(-1),
      (v) => v?.holder === 'vm1' && v.ownSessionValid,
    );
    expect(a.lockOf(pair)?.record?.reason).toBe('healthy again');
    // A new session replaced the destroyed one: still exactly one.
    const now = await nodeSessions(agent.httpAddr, 'vm1');
    expect(now).toHaveLength(1);
    expect(now[0]?.ID).not.toBe(session?.ID);
  });

  it('reuses its session by name after a restart, keeps the lock, and destroys stale duplicates', async () => {
    const pair = { namespace: 'prod', name: 'restart' };
    const first = arbiter();
    expect(await first.acquire({ pair, target, reason: 'start' })).toBe(true);
    const [session] = await nodeSessions(agent.httpAddr, 'vm1');
    await first.close();

    // A leaked duplicate of the same name (e.g. from a crash mid-create).
    const leaked = await createSession(agent.httpAddr, {
      Name: 'probegate:vm1',
      Checks: ['serfHealth'],
      Behavior: 'release',
    });

    const second = arbiter();
    const views: LockView[] = [];
    second.watchLock(pair, (v) => views.push(v));
    // Before any acquire, the restarted agent already recognises the lock as its own.
    await eventually(
      'own lock seen',
      () => views.at(-1),
      (v) => v?.holder === 'vm1' && v.ownSessionValid,
    );
    expect(await second.acquire({ pair, target, reason: 'after restart' })).toBe(true);
    const after = await nodeSessions(agent.httpAddr, 'vm1');
    expect(after.map((s) => s.ID)).toEqual([session?.ID]);
    expect(after.map((s) => s.ID)).not.toContain(leaked);
    expect(await kvSession(agent.httpAddr, 'probegate/prod/restart/leader')).toBe(session?.ID);
  });

  it('takes 100 locks in one event-loop turn with two transactions; one held elsewhere answers false', async () => {
    const calls: string[] = [];
    const a = arbiter({ onRequest: (op) => calls.push(op) });
    const other = await createSession(agent.httpAddr, { Name: 'someone-else', Checks: ['serfHealth'] });
    const held = await fetch(`${agent.httpAddr}/v1/kv/probegate/bulk/p7/leader?acquire=${other}`, {
      method: 'PUT',
      body: '{}',
    });
    expect(await held.json()).toBe(true);
    await a.acquire({ pair: { namespace: 'bulk', name: 'warm-up' }, target, reason: 'session made' });
    calls.length = 0;
    const pairs = Array.from({ length: 100 }, (_, i) => ({ namespace: 'bulk', name: `p${i}` }));
    // As the reconciler does: the lock views come from the prefix watch, so acquires need no read.
    for (const pair of pairs) a.watchLock(pair, () => {});
    await eventually('lock views', () => pairs.every((pair) => a.lockOf(pair) !== undefined), Boolean);
    calls.length = 0;
    const taken = await Promise.all(pairs.map((pair) => a.acquire({ pair, target, reason: 'mass' })));
    expect(taken.filter((t) => !t)).toHaveLength(1);
    expect(taken[7]).toBe(false);
    // p7 is seen held in the watched view (no call); the other 99 go as 64 + 35 operations.
    expect(calls.filter((c) => c === 'kv.txn')).toHaveLength(2);
    expect(await kvSession(agent.httpAddr, 'probegate/bulk/p8/leader')).toBeDefined();
    expect(await kvSession(agent.httpAddr, 'probegate/bulk/p7/leader')).toBe(other);
    await eventually(
      'views show the 99 locks held',
      () => pairs.filter((pair) => a.lockOf(pair)?.ownSessionValid).length,
      (n) => n === 99,
    );
    calls.length = 0;
    await Promise.all(pairs.map((pair) => a.release({ pair, target, reason: 'done' })));
    expect(calls.filter((c) => c === 'kv.txn').length).toBeLessThanOrEqual(2);
    expect(await kvSession(agent.httpAddr, 'probegate/bulk/p8/leader')).toBeUndefined();
  });

  it('a transaction Consul rolls back goes again without the refused operation', async () => {
    const calls: string[] = [];
    const client = new ConsulClient({
      connection: { address: agent.httpAddr },
      onRequest: (op) => calls.push(op),
    });
    try {
      const mine = await createSession(agent.httpAddr, { Name: 'txn-test', Checks: ['serfHealth'] });
      const other = await createSession(agent.httpAddr, { Name: 'txn-other', Checks: ['serfHealth'] });
      const held = await fetch(`${agent.httpAddr}/v1/kv/probegate/txn/k3?acquire=${other}`, {
        method: 'PUT',
        body: '{}',
      });
      expect(await held.json()).toBe(true);
      const txns = new LockTransactions(client);
      const keys = Array.from({ length: 10 }, (_, i) => `probegate/txn/k${i}`);
      const results = await Promise.all(
        keys.map((key) => txns.submit({ verb: 'lock', key, value: '{"n":1}', session: mine })),
      );
      expect(results).toEqual(keys.map((k) => k !== 'probegate/txn/k3'));
      expect(calls).toEqual(['kv.txn', 'kv.txn']);
      expect(await kvSession(agent.httpAddr, 'probegate/txn/k9')).toBe(mine);
      expect(await kvSession(agent.httpAddr, 'probegate/txn/k3')).toBe(other);
      // A session Consul does not know is an error the caller can act on (make a new session).
      await expect(
        txns.submit({
          verb: 'lock',
          key: 'probegate/txn/x',
          value: '{}',
          session: '00000000-0000-4000-8000-000000000000',
        }),
      ).rejects.toSatisfy((e: unknown) => e instanceof ArbiterError && e.kind === 'rejected');
    } finally {
      client.close();
    }
  });

  it('answers false when another session holds the lock, and does not touch it on release', async () => {
    const pair = { namespace: 'prod', name: 'foreign' };
    const other = await createSession(agent.httpAddr, { Name: 'someone-else', Checks: ['serfHealth'] });
    const put = await fetch(`${agent.httpAddr}/v1/kv/probegate/prod/foreign/leader?acquire=${other}`, {
      method: 'PUT',
      body: JSON.stringify({ pair: 'prod/foreign', holder: 'vm2', since: 'x', reason: 'r', transitions: [] }),
    });
    expect(await put.json()).toBe(true);
    const a = arbiter();
    expect(await a.acquire({ pair, target, reason: 'try' })).toBe(false);
    await a.release({ pair, target, reason: 'not mine' });
    expect(await kvSession(agent.httpAddr, 'probegate/prod/foreign/leader')).toBe(other);
    const views: LockView[] = [];
    a.watchLock(pair, (v) => views.push(v));
    await eventually(
      'view',
      () => views.at(-1),
      (v) => v?.holder === 'vm2' && !v.ownSessionValid,
    );
  });
});
