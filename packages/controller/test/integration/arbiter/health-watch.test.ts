import { type ConsulAgent, startConsulDev } from '@probegate/testenv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConsulArbiter } from '../../../src/arbiter/consul-arbiter.js';
import type { PairHealthView } from '../../../src/arbiter/types.js';
import { eventually, failCheck, passCheck, registerTtlService } from './consul-http.js';

let agent: ConsulAgent;
const arbiters: ConsulArbiter[] = [];

beforeAll(async () => {
  agent = await startConsulDev({ nodeName: 'vm1' });
  await registerTtlService(agent.httpAddr, {
    id: 'web-a',
    name: 'web',
    address: '198.18.0.1',
    tags: ['blue'],
  });
  await registerTtlService(agent.httpAddr, {
    id: 'web-b',
    name: 'web',
    address: '198.18.0.2',
    tags: ['green'],
  });
});
afterAll(async () => {
  await Promise.all(arbiters.map((a) => a.close()));
  await agent?.stop();
});

function arbiter(requests?: string[]) {
  const a = new ConsulArbiter({
    connection: { address: agent.httpAddr },
    node: 'vm1',
    // Health only: this node's session and peers' liveness are proven in lock-liveness.test.ts.
    liveness: false,
    onRequest: (op) => requests?.push(op),
  });
  arbiters.push(a);
  return a;
}

const members = {
  primary: { node: 'a', address: '198.18.0.1' },
  secondary: { node: 'b', address: '198.18.0.2' },
};
const statuses = (v: PairHealthView | undefined) => (v ? [v.primary.status, v.secondary.status] : undefined);

describe('health watch on a real Consul agent (blocking queries)', () => {
  it('emits the initial view, then each check change within milliseconds, with index and read time', async () => {
    const views: PairHealthView[] = [];
    const a = arbiter();
    a.watchHealth({ pair: { namespace: 'ns', name: 'p1' }, target: { service: 'web' }, members }, (v) =>
      views.push(v),
    );
    await eventually(
      'initial view',
      () => views.length,
      (n) => n === 1,
    );
    expect(statuses(views[0])).toEqual(['passing', 'passing']);
    expect(views[0]?.primary.index).toBeGreaterThan(0);

    const before = Date.now();
    await failCheck(agent.httpAddr, 'web-b');
    await eventually(
      'critical view',
      () => views.length,
      (n) => n === 2,
      5_000,
    );
    const reaction = Date.now() - before;
    expect(statuses(views[1])).toEqual(['passing', 'critical']);
    expect(views[1]?.secondary.index).toBeGreaterThan(views[0]?.secondary.index ?? 0);
    expect(views[1]?.secondary.readAt).toBeGreaterThanOrEqual(before);
    // Event-driven: far below any poll period.
    expect(reaction).toBeLessThan(1_000);

    await passCheck(agent.httpAddr, 'web-b');
    await eventually(
      'passing again',
      () => statuses(views.at(-1)),
      (s) => s?.[1] === 'passing',
      5_000,
    );
    expect(statuses(a.healthOf({ namespace: 'ns', name: 'p1' }))).toEqual(['passing', 'passing']);
  });

  it('shares one blocking query between all pairs using the same service, datacenter and tag', async () => {
    const requests: string[] = [];
    const a = arbiter(requests);
    const seen: Record<string, PairHealthView[]> = { p1: [], p2: [], p3: [] };
    for (const name of ['p1', 'p2', 'p3']) {
      a.watchHealth({ pair: { namespace: 'ns', name }, target: { service: 'web' }, members }, (v) =>
        seen[name]?.push(v),
      );
    }
    await eventually('three initial views', () => Object.values(seen).every((v) => v.length === 1), Boolean);
    await failCheck(agent.httpAddr, 'web-a');
    await eventually(
      'all pairs see the change',
      () => Object.values(seen).every((v) => v.length === 2),
      Boolean,
    );
    // One watch: the initial read plus one more answer per change, whatever the number of pairs.
    const healthCalls = requests.filter((r) => r === 'health.service').length;
    expect(healthCalls).toBeLessThanOrEqual(4);
    expect(seen.p3?.[1]?.primary.status).toBe('critical');
    await passCheck(agent.httpAddr, 'web-a');
  });

  it('filters by tag and maps members by explicit Consul node name', async () => {
    const a = arbiter();
    const views: PairHealthView[] = [];
    a.watchHealth(
      {
        pair: { namespace: 'ns', name: 'tagged' },
        target: { service: 'web', tag: 'green' },
        members: {
          // By node name, both addresses belong to node vm1; only the green instance is in the answer.
          primary: { node: 'a', address: '203.0.113.9', consulNode: 'vm1' },
          secondary: { node: 'b', address: '198.18.0.1' },
        },
      },
      (v) => views.push(v),
    );
    await eventually(
      'view',
      () => views.length,
      (n) => n === 1,
    );
    expect(statuses(views[0])).toEqual(['passing', 'missing']);
    await failCheck(agent.httpAddr, 'web-b');
    await eventually(
      'green critical',
      () => statuses(views.at(-1))?.[0],
      (s) => s === 'critical',
    );
    await passCheck(agent.httpAddr, 'web-b');
  });

  it('a listener that throws neither stops the watch nor keeps other pairs from their views', async () => {
    const reported: unknown[] = [];
    const a = new ConsulArbiter({
      connection: { address: agent.httpAddr },
      node: 'vm1',
      // Health only: this node's session and peers' liveness are proven in lock-liveness.test.ts.
      liveness: false,
      onListenerError: (e) => reported.push(e),
    });
    arbiters.push(a);
    const good: PairHealthView[] = [];
    a.watchHealth({ pair: { namespace: 'ns', name: 'buggy' }, target: { service: 'web' }, members }, () => {
      throw new Error('reconcile bug');
    });
    a.watchHealth({ pair: { namespace: 'ns', name: 'fine' }, target: { service: 'web' }, members }, (v) =>
      good.push(v),
    );
    await eventually(
      'initial view',
      () => good.length,
      (n) => n === 1,
    );
    await failCheck(agent.httpAddr, 'web-a');
    await eventually(
      'next view despite the bug',
      () => good.length,
      (n) => n === 2,
    );
    expect(reported.length).toBeGreaterThanOrEqual(2);
    await passCheck(agent.httpAddr, 'web-a');
  });

  it('reports a service nobody registered as missing for both members', async () => {
    const a = arbiter();
    const views: PairHealthView[] = [];
    a.watchHealth({ pair: { namespace: 'ns', name: 'ghost' }, target: { service: 'ghost' }, members }, (v) =>
      views.push(v),
    );
    await eventually(
      'view',
      () => views.length,
      (n) => n === 1,
    );
    expect(statuses(views[0])).toEqual(['missing', 'missing']);
    expect(a.reachability().reachable).toBe(true);
  });

  it('rejects an invalid service name, member or pair name, naming the field and value', () => {
    const a = arbiter();
    expect(() =>
      a.watchHealth(
        { pair: { namespace: 'ns', name: 'bad' }, target: { service: 'no spaces' }, members },
        () => {},
      ),
    ).toThrow("consul.service: 'no spaces'");
    expect(() =>
      a.watchHealth(
        {
          pair: { namespace: 'ns', name: 'bad' },
          target: { service: 'web' },
          members: { ...members, secondary: { node: '', address: '198.18.0.2' } },
        },
        () => {},
      ),
    ).toThrow("members.secondary.node: ''");
    expect(() =>
      a.watchHealth(
        { pair: { namespace: 'bad/ns', name: 'x' }, target: { service: 'web' }, members },
        () => {},
      ),
    ).toThrow("pair.namespace: 'bad/ns'");
  });
});
