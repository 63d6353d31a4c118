// Failback Manual vs Automatic: with Manual, the secondary keeps serving after the primary
// recovers, until a switchover is requested. (Automatic is proven in failover.test.ts.)
import { component, requireRoot } from '@probegate/testenv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runScenario } from '../src/scenario.js';
import { E2eStack } from '../src/stack.js';

const MANUAL = { failback: 'Manual' as const, timing: { failbackDelaySeconds: 2, gateLeaseSeconds: 8 } };
let stack: E2eStack;

beforeAll(async () => {
  requireRoot();
  component('consul');
  stack = await E2eStack.start({ pairs: [MANUAL] });
  await stack.waitForActive('vm1', 90_000);
});

afterAll(async () => {
  await stack?.destroy();
});

describe('failback Manual', () => {
  it('keeps the secondary serving after the primary recovers, until a switchover moves it back', async () => {
    const result = await runScenario(stack, async () => {
      const stoppedAt = Date.now();
      await stack.web.vm1.stop();
      await stack.client.firstAnswerFrom('vm2', stoppedAt);
      await stack.web.vm1.start();
      await stack.waitForWebHealth({ vm1: 'passing', vm2: 'passing' });
      const recoveredAt = Date.now();
      // Well past failbackDelaySeconds + hold-down: Automatic would have moved back by now.
      await stack.slb.rounds(8);
      const after = stack.client.events.filter((e) => e.ok && e.t >= recoveredAt);
      expect(after.length).toBeGreaterThan(20);
      expect(new Set(after.map((e) => e.who))).toEqual(new Set(['vm2']));
      expect(stack.slb.healthy()).toEqual(['vm2']);
      expect((await stack.leader())?.holder).toBe('vm2');
      stack.writePairs([{ ...MANUAL, switchoverTo: 'vm1' }]);
      await stack.waitForActive('vm1');
    });
    expect(result.report.answeredBy.vm1).toBeGreaterThan(0);
  });
});
