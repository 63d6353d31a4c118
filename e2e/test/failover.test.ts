// End-to-end failovers in VM mode: real probegate agent processes in two VM namespaces, real
// Consul (server + client agents), real kernels, the SLB emulator probing from one source address.
import { component, liveNamespaces, requireRoot } from '@probegate/testenv';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { restoreEverything } from '../src/baseline-state.js';
import { runScenario } from '../src/scenario.js';
import { E2eStack } from '../src/stack.js';

const LEASE_SECONDS = 8;
const PAIRS = [{ timing: { gateLeaseSeconds: LEASE_SECONDS } }];
let stack: E2eStack;

beforeAll(async () => {
  requireRoot();
  component('consul');
  stack = await E2eStack.start({ pairs: PAIRS });
  await stack.waitForActive('vm1', 90_000);
});

afterAll(async () => {
  const namespaces = Object.values(stack?.topology ?? {}).flatMap((v) =>
    typeof v === 'string' ? [v] : typeof v === 'object' && v ? Object.values(v) : [],
  );
  await stack?.destroy();
  // No leftovers: every namespace of the topology is gone.
  expect(liveNamespaces().filter((ns) => namespaces.includes(ns))).toEqual([]);
});

beforeEach(async () => {
  await restoreEverything(stack, PAIRS);
});

const answeredBy = (from: number, to = Date.now()) =>
  new Set(stack.client.events.filter((e) => e.ok && e.t >= from && e.t <= to).map((e) => e.who));

describe('VM mode failover behind the emulated SLB', () => {
  it('follows the original four health states: both -> primary, one -> that one, none -> nobody', async () => {
    await runScenario(stack, async () => {
      expect((await stack.leader())?.holder).toBe('vm1');
      await stack.web.vm1.stop(); // only the secondary healthy
      await stack.waitForActive('vm2');
      await stack.web.vm1.start();
      await stack.web.vm2.stop(); // only the primary healthy
      await stack.waitForActive('vm1');
      await stack.web.vm1.stop(); // none healthy
      const noneSince = await stack.waitForActive(undefined);
      await stack.slb.rounds(2);
      expect(answeredBy(noneSince + 1_000)).toEqual(new Set());
      await stack.web.vm1.start();
      await stack.web.vm2.start(); // both healthy again
      await stack.waitForActive('vm1');
    });
  });

  it('fails over when the primary web server stops, and fails back automatically', async () => {
    const result = await runScenario(stack, async () => {
      const stoppedAt = Date.now();
      await stack.web.vm1.stop();
      const firstVm2 = (await stack.client.firstAnswerFrom('vm2', stoppedAt)).t;
      // Floor: Consul check interval + emulator threshold x interval (+ lock-delay); generous bound.
      expect(firstVm2 - stoppedAt).toBeLessThan(15_000);
      expect((await stack.leader())?.holder).toBe('vm2');
      expect(await stack.vipBound('vm2')).toBe(true);
      expect(await stack.vipBound('vm1')).toBe(false);
      await stack.web.vm1.start();
      await stack.waitForActive('vm1');
    });
    expect(result.report.answeredBy.vm2).toBeGreaterThan(0);
    expect(result.report.answeredBy.vm1).toBeGreaterThan(0);
  });

  it('a quick agent restart on the active node causes no failover', async () => {
    const result = await runScenario(stack, async () => {
      await stack.agents.vm1.stop();
      stack.agents.vm1.start();
      await stack.agents.vm1.started();
      await stack.slb.rounds(4);
    });
    const vm1Probes = stack.slb.probes.filter((p) => p.backend === 'vm1' && p.t >= result.from);
    expect(vm1Probes.length).toBeGreaterThan(3);
    expect(vm1Probes.every((p) => p.ok)).toBe(true);
    expect(result.report.answeredBy.vm2 ?? 0).toBe(0);
    expect((await stack.leader())?.holder).toBe('vm1');
  });

  it('kill -9 of the active agent: its gate lease closes the gate, and the standby takes over only after that', async () => {
    let killedAt = 0;
    let closedAt = 0;
    let vm2ServedAt = 0;
    const result = await runScenario(stack, async () => {
      killedAt = Date.now();
      await stack.agents.vm1.kill9();
      closedAt = await waitForProbe('vm1', false, killedAt, (LEASE_SECONDS + 5) * 1_000);
      // Its session is no longer renewed: Consul frees the lock 2 x TTL (20 s) later, plus the lock-delay.
      vm2ServedAt = (await stack.client.firstAnswerFrom('vm2', killedAt, 60_000)).t;
      stack.agents.vm1.start();
      await stack.agents.vm1.started();
      await stack.waitForActive('vm1', 60_000);
    });
    // The kernel lease alone closed the gate: no later than the lease plus one probe interval.
    expect(closedAt - killedAt).toBeLessThanOrEqual(LEASE_SECONDS * 1_000 + 2 * stack.slb.intervalMs);
    const vm2Open = stack.slb.probes.filter((p) => p.backend === 'vm2' && p.ok && p.t >= killedAt);
    expect(vm2Open.length).toBeGreaterThan(0);
    expect(vm2Open.every((p) => p.t >= closedAt)).toBe(true);
    expect(vm2ServedAt).toBeGreaterThan(closedAt);
    expect(result.report.bothProbeHealthyMs).toBe(0);
  });

  it('the Consul client agent dying on the active node moves service to the peer', async () => {
    await runScenario(stack, async () => {
      const at = Date.now();
      await stack.consul.vm1.stop('SIGKILL');
      await stack.client.firstAnswerFrom('vm2', at, 45_000);
      stack.consul.vm1.start();
      await stack.waitForWebHealth({ vm1: 'passing', vm2: 'passing' }, 60_000);
      await stack.waitForActive('vm1', 60_000);
    });
  });

  // vm1 cannot renew its session: it stops serving within 2/3 of the lock-delay, before Consul frees
  // its lock (serf failure detection + lock-delay) for vm2.
  it('takes vm1 off the network (link down): vm2 serves, vm1 takes over again when it is back', async () => {
    await runScenario(stack, async () => {
      const at = Date.now();
      await stack.topology.setVmLink('vm1', false);
      await stack.client.firstAnswerFrom('vm2', at, 45_000);
      await stack.topology.setVmLink('vm1', true);
      await stack.waitForActive('vm1', 60_000);
    });
  });

  it('a partition between vm1 and the Consul server never gives two active nodes', async () => {
    await runScenario(stack, async () => {
      await stack.topology.partitionFromConsulServer('vm1', true);
      await stack.slb.rounds(10);
      await stack.topology.partitionFromConsulServer('vm1', false);
      await stack.waitForActive('vm1', 60_000);
    });
  });

  it('flapping primary health does not bounce the pair (hold-down and failback delay hold)', async () => {
    const result = await runScenario(stack, async () => {
      const at = Date.now();
      await stack.web.vm1.stop();
      await stack.client.firstAnswerFrom('vm2', at);
      const before = (await stack.leader())?.transitions;
      const flapFrom = Date.now();
      for (let i = 0; i < 4; i++) {
        await stack.web.vm1.start();
        await sleep(1_000);
        await stack.web.vm1.stop();
        await sleep(2_000);
      }
      expect(answeredBy(flapFrom)).toEqual(new Set(['vm2']));
      expect((await stack.leader())?.transitions).toEqual(before);
      await stack.web.vm1.start();
      await stack.waitForActive('vm1');
    });
    expect(result.report.answeredBy.vm2).toBeGreaterThan(10);
  });

  it('a manual switchover moves service to the requested node and back', async () => {
    await runScenario(stack, async () => {
      stack.writePairs([{ ...PAIRS[0], switchoverTo: 'vm2' }]);
      await stack.waitForActive('vm2');
      expect((await stack.leader())?.holder).toBe('vm2');
      stack.writePairs([{ ...PAIRS[0], switchoverTo: 'vm1' }]);
      await stack.waitForActive('vm1');
    });
  });

  it('deleting the pair leaves both hosts clean', async () => {
    stack.writePairs([]);
    for (const vm of ['vm1', 'vm2'] as const) {
      await waitUntil(`the pair's rules and VIP gone on ${vm}`, async () => {
        return (await stack.pairRules(vm)).length === 0 && !(await stack.vipBound(vm));
      });
    }
    // Nothing gates the probes any more: the emulator sees both backends.
    await stack.slb.waitForHealthy(['vm1', 'vm2']);
    // Uninstalling: stop the agents, `probegate cleanup` removes the last trace (main chain, hook).
    for (const vm of ['vm1', 'vm2'] as const) {
      await stack.agents[vm].stop();
      await stack.cleanupHost(vm);
      expect(await stack.ruleset(vm)).not.toMatch(/probegate/i);
    }
  });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${stack.agentLogs()}`);
    await sleep(200);
  }
}

/** Time of the first probe of `backend` with result `ok` sent after `since`. */
async function waitForProbe(
  backend: 'vm1' | 'vm2',
  ok: boolean,
  since: number,
  timeoutMs: number,
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const hit = stack.slb.probes.find((p) => p.backend === backend && p.ok === ok && p.t >= since);
    if (hit) return hit.t;
    if (Date.now() > deadline)
      throw new Error(`no ${ok ? 'successful' : 'failed'} probe of ${backend} within ${timeoutMs} ms`);
    await stack.slb.rounds(1);
  }
}
