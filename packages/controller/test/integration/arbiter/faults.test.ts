import { type ConsulAgent, startConsulDev } from '@probegate/testenv';
import { Registry } from 'prom-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { defaultBackoff } from '../../../src/arbiter/backoff.js';
import { ConsulArbiter } from '../../../src/arbiter/consul-arbiter.js';
import { ArbiterError } from '../../../src/arbiter/errors.js';
import { promArbiterMetrics } from '../../../src/arbiter/metrics.js';
import type { PairHealthView, Reachability } from '../../../src/arbiter/types.js';
import { eventually } from './consul-http.js';
import { FaultInjector, type FaultMode } from './fault-injector.js';

const pair = { namespace: 'ns', name: 'p' };
const target = { service: 'web' };
const members = {
  primary: { node: 'vm1', address: '198.18.0.1' },
  secondary: { node: 'vm2', address: '198.18.0.2' },
};

let injector: FaultInjector;
const arbiters: ConsulArbiter[] = [];
beforeAll(async () => {
  injector = await new FaultInjector().start();
});
afterEach(async () => {
  await Promise.all(arbiters.splice(0).map((a) => a.close()));
});
afterAll(async () => {
  await injector?.stop();
});

function arbiterAt(address: string, registry = new Registry(), requests?: { n: number; session: number }) {
  const a = new ConsulArbiter({
    connection: { address },
    node: 'vm1',
    // Health only: this node's session and peers' liveness are proven in lock-liveness.test.ts.
    liveness: false,
    consulNode: 'vm1',
    requestTimeoutMs: 400,
    timing: { wait: '1s' },
    metrics: promArbiterMetrics(registry),
    onRequest: (operation) => {
      // The session's renewals run at a fixed pace (counted apart): the watches must back off.
      if (requests && operation.startsWith('session.')) requests.session += 1;
      else if (requests) requests.n += 1;
    },
  });
  arbiters.push(a);
  return { arbiter: a, registry };
}

const errorCount = async (registry: Registry, kind: string) => {
  const metric = await registry.getSingleMetric('probegate_arbiter_errors_total')?.get();
  return metric?.values.filter((v) => v.labels.kind === kind).reduce((sum, v) => sum + v.value, 0) ?? 0;
};

describe('bad answers from Consul: a clear error, a metric, unreachable, no crash, no busy loop', () => {
  it.each<[FaultMode, string, RegExp]>([
    ['acl-denied', 'acl-denied', /ACL denied.*HTTP 403.*Permission denied/],
    ['server-error', 'server-error', /server error.*HTTP 500.*No cluster leader/],
    ['malformed-json', 'malformed-response', /malformed response.*decode/],
    ['not-an-array', 'malformed-response', /malformed response: expected a JSON array/],
    ['hang', 'timeout', /timed out/],
  ])('%s', async (mode, kind, message) => {
    injector.mode = mode;
    const { arbiter, registry } = arbiterAt(injector.address);
    const changes: Reachability[] = [];
    arbiter.onReachabilityChange((r) => changes.push(r));
    const views: PairHealthView[] = [];
    const started = Date.now();
    arbiter.watchHealth({ pair, target, members }, (v) => views.push(v));

    const down = await eventually(
      'unreachable',
      () => arbiter.reachability(),
      (r) => !r.reachable,
      15_000,
    );
    expect(down.lastError?.kind).toBe(kind);
    expect(down.lastError?.message).toMatch(message);
    expect(await errorCount(registry, kind)).toBeGreaterThanOrEqual(2);
    expect((await registry.metrics()).includes('probegate_arbiter_reachable 0')).toBe(true);
    // Backoff, not a busy loop: a handful of calls in the time it took.
    const elapsed = Date.now() - started;
    expect(injector.requestsSince(started)).toBeLessThanOrEqual(2 + Math.ceil(elapsed / 100));
    expect(injector.requestsSince(started)).toBeLessThanOrEqual(10);
    expect(views).toEqual([]);

    // Direct calls fail with the same clear error instead of throwing something obscure.
    if (mode !== 'hang') {
      await expect(arbiter.readRecord(pair)).rejects.toSatisfy(
        (e: unknown) => e instanceof ArbiterError && e.kind === kind,
      );
    }

    injector.mode = 'ok';
    await eventually('reachable again', () => arbiter.reachability().reachable, Boolean, 15_000);
    await eventually(
      'a view once Consul answers',
      () => views.length,
      (n) => n === 1,
      15_000,
    );
    expect(views[0]?.primary.status).toBe('passing');
    expect(changes.map((c) => c.reachable)).toEqual([false, true]);
  });

  it('acquire against a denying ACL fails with the ACL error and the lock is not assumed', async () => {
    injector.mode = 'acl-denied';
    const { arbiter } = arbiterAt(injector.address);
    await expect(arbiter.acquire({ pair, target, reason: 'x' })).rejects.toThrow(/ACL denied/);
    injector.mode = 'ok';
  });
});

/** Most calls a watch can make in `ms` when every call fails at once: the backoff schedule's floor. */
function maxCallsInOutage(ms: number): number {
  let t = 0;
  let calls = 1;
  for (let attempt = 1; ; attempt++) {
    const ceiling = Math.min(defaultBackoff.maxMs, defaultBackoff.baseMs * 2 ** (attempt - 1));
    t += Math.max(ceiling * (1 - defaultBackoff.jitter), 100);
    if (t > ms) return calls;
    calls += 1;
  }
}

describe('a 10 s outage of the real agent', () => {
  let agent: ConsulAgent;
  afterAll(async () => {
    await agent?.stop();
  });

  it('makes a bounded number of requests, marks unreachable, and recovers when the agent is back', async () => {
    agent = await startConsulDev({ nodeName: 'vm1' });
    const requests = { n: 0, session: 0 };
    const { arbiter } = arbiterAt(agent.httpAddr, new Registry(), requests);
    const health: PairHealthView[] = [];
    arbiter.watchHealth({ pair, target, members }, (v) => health.push(v));
    arbiter.watchLock(pair, () => {});
    await eventually(
      'first view',
      () => health.length,
      (n) => n === 1,
    );

    agent.kill('SIGKILL');
    await eventually('agent gone', () => agent.daemon.exited, Boolean);
    const before = requests.n;
    const sessionBefore = requests.session;
    const outageStart = Date.now();
    await eventually(
      'unreachable',
      () => arbiter.reachability().reachable,
      (r) => !r,
      5_000,
    );
    await new Promise((r) => setTimeout(r, 10_000 - (Date.now() - outageStart)));
    const during = requests.n - before;
    const bound = 2 * maxCallsInOutage(10_000);
    console.log(
      `requests during a 10 s outage (2 watches): ${during}, bound from the backoff schedule: ${bound}`,
    );
    expect(during).toBeGreaterThanOrEqual(4);
    expect(during).toBeLessThanOrEqual(bound);
    expect(bound).toBeLessThanOrEqual(16);
    // Renewals: one at a time, every 500 ms at most, even while each one fails.
    const renewals = requests.session - sessionBefore;
    expect(renewals).toBeGreaterThanOrEqual(5);
    expect(renewals).toBeLessThanOrEqual(10_000 / 500 + 1);
    expect(arbiter.reachability().lastError?.kind).toBe('unreachable');

    await agent.restart();
    // Within the backoff cap (5 s) plus a margin.
    await eventually('reachable again', () => arbiter.reachability().reachable, Boolean, 8_000);
  }, 60_000);
});

describe('the node session when Consul is down at start', () => {
  let agent: ConsulAgent;
  afterAll(async () => {
    await agent?.stop();
  });
  it('is made once the agent is back, without any acquire asking for it', async () => {
    agent = await startConsulDev({ nodeName: 'vm1' });
    agent.kill('SIGKILL');
    await eventually('agent gone', () => agent.daemon.exited, Boolean);
    const arbiter = new ConsulArbiter({
      connection: { address: agent.httpAddr },
      node: 'vm1',
      consulNode: 'vm1',
      requestTimeoutMs: 400,
      timing: { wait: '1s' },
    });
    arbiters.push(arbiter);
    arbiter.watchHealth({ pair, target, members }, () => {});
    await new Promise((r) => setTimeout(r, 1_500)); // the first tries fail
    await agent.restart();
    const sessions = await eventually(
      'the probegate:vm1 session',
      async () => (await (await fetch(`${agent.httpAddr}/v1/session/node/vm1`)).json()) as { Name: string }[],
      (list) => list.some((s) => s.Name === 'probegate:vm1'),
      20_000,
    );
    expect(sessions.filter((s) => s.Name === 'probegate:vm1')).toHaveLength(1);
  }, 60_000);
});
