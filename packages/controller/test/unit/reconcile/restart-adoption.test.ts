import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { Arbiter } from '../../../src/arbiter/arbiter.js';
import { AgentMetrics } from '../../../src/observability/metrics.js';
import { HostBatcher } from '../../../src/reconcile/host-batcher.js';
import type { PairSource } from '../../../src/reconcile/ports.js';
import { gateOf, Reconciler } from '../../../src/reconcile/reconciler.js';
import { pairObject, quietEvents, SharedStatus, twoNodes } from './fakes.js';

const KEY = 'default/web';
const target = { service: 'web' };

/** The arbiter of a process that has just started: no health or lock answer until `answer()`. */
function notYetAnswered(arbiter: Arbiter) {
  let answered = false;
  const wrapped: Arbiter = Object.assign(Object.create(arbiter) as Arbiter, {
    healthOf: (pair: Parameters<Arbiter['healthOf']>[0]) => (answered ? arbiter.healthOf(pair) : undefined),
    lockOf: (pair: Parameters<Arbiter['lockOf']>[0]) => (answered ? arbiter.lockOf(pair) : undefined),
  });
  return {
    arbiter: wrapped,
    answer: () => {
      answered = true;
    },
  };
}

/** vm1 serves; then its agent restarts: a new reconciler on the same host, session and lock. */
async function restartedVm1() {
  const env = twoNodes();
  env.consul.setHealth(target, 'vm1', 'passing');
  env.consul.setHealth(target, 'vm2', 'passing');
  env.setPair(pairObject());
  await env.settle();
  const vm1 = env.node('vm1');
  expect(vm1.host.isOpen(KEY)).toBe(true);

  let now = Date.now();
  const clock = () => now;
  const pair = pairObject();
  const source: PairSource = {
    get: (key) => (key === KEY ? { ...pair, status: env.shared.status } : undefined),
    keys: () => [KEY],
    invalid: () => [],
    onChange: () => {},
    start: async () => {},
    stop: async () => {},
    healthy: true,
  };
  // What the agent does first: adopt the open gate the kernel has (Agent.adoptKernelState).
  const host = new HostBatcher(vm1.host, () => 30, clock);
  host.set(KEY, gateOf(pair, true));
  await host.flush();
  const writesBefore = vm1.host.writes;
  const { arbiter, answer } = notYetAnswered(vm1.arbiter);
  const reconciler = new Reconciler(
    {
      node: 'vm1',
      source,
      arbiter,
      host,
      status: new SharedStatus().sinkFor(),
      events: quietEvents,
      metrics: new AgentMetrics({ defaultMetrics: false }),
      log: pino({ level: 'silent' }),
      now: clock,
      finalizers: false,
    },
    () => {},
  );
  return {
    reconciler,
    vm1,
    answer,
    advance: (ms: number) => {
      now += ms;
    },
    writesSince: () => vm1.host.writes - writesBefore,
  };
}

describe('a restarted agent keeps the gate it adopted until the arbiter has answered', () => {
  it('before the first answers: no decision, no kernel write, asked again soon', async () => {
    const { reconciler, vm1, writesSince } = await restartedVm1();
    const result = await reconciler.reconcile(KEY);
    expect(result.requeueAfterMs).toBeGreaterThan(0);
    expect(result.requeueAfterMs).toBeLessThanOrEqual(100);
    expect(vm1.host.isOpen(KEY)).toBe(true);
    expect(writesSince()).toBe(0);
  });

  it('once the arbiter answers: decides with what it says (still active, the gate never closed)', async () => {
    const { reconciler, vm1, answer, advance, writesSince } = await restartedVm1();
    await reconciler.reconcile(KEY);
    advance(50);
    answer();
    await reconciler.reconcile(KEY);
    expect(vm1.host.isOpen(KEY)).toBe(true);
    expect(writesSince()).toBe(0);
  });

  it('an arbiter that never answers: after the wait the pair is decided as before (Consul unreachable)', async () => {
    const { reconciler, vm1, advance } = await restartedVm1();
    advance(2_500);
    const result = await reconciler.reconcile(KEY);
    // Lock mode cannot confirm the lock without Consul: the gate closes (strict), as it always did.
    expect(vm1.host.isOpen(KEY)).toBe(false);
    expect(result.requeueAfterMs ?? 0).not.toBe(100);
  });
});
