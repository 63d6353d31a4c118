// Scale: 200 pairs on the two VMs (the "web" pair plus 199 more, each with its own VIP and probe
// port, all arbitrated by the web service) fail over at once when vm1's web server stops.
import { component, requireRoot } from '@probegate/testenv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { E2ePairOptions } from '../src/pairs.js';
import { PortProber } from '../src/port-prober.js';
import { runScenario } from '../src/scenario.js';
import { E2eStack } from '../src/stack.js';
import { WebServer } from '../src/web-server.js';

const EXTRA = 199;
const ports = Array.from({ length: EXTRA }, (_, i) => 10_001 + i);
const pairs: E2ePairOptions[] = [
  { timing: { gateLeaseSeconds: 15 } },
  ...ports.map((port, i) => ({
    name: `p${String(i + 1).padStart(3, '0')}`,
    vip: `198.18.101.${i + 1}`,
    ports: [port],
    timing: { gateLeaseSeconds: 15 },
  })),
];
let stack: E2eStack;
let prober: PortProber;
const targets: WebServer[] = [];

const exactly = (active: 'vm1' | 'vm2') => (round: { backend: string; ok: boolean }[]) =>
  round.length === 2 * ports.length && round.every((p) => p.ok === (p.backend === active));

beforeAll(async () => {
  requireRoot();
  component('consul');
  stack = await E2eStack.start({ pairs });
  // Every pair's probe port answers on both VMs; only the gates decide what the SLB sees.
  for (const vm of ['vm1', 'vm2'] as const) {
    const target = new WebServer(stack.topology.vm[vm], vm, ports);
    await target.start();
    targets.push(target);
  }
  prober = new PortProber(stack.topology, ports);
  prober.start();
  await stack.waitForActive('vm1', 180_000);
  await prober.waitForRound('all 199 extra pairs active on vm1', Date.now(), exactly('vm1'), 180_000);
});

afterAll(async () => {
  await prober?.stop();
  for (const t of targets) await t.stop();
  await stack?.destroy();
});

describe('200 pairs', () => {
  it('all fail over at once when vm1 web stops, and converge with no pair ever open on both nodes', async () => {
    let stoppedAt = 0;
    let convergedAt = 0;
    const result = await runScenario(stack, async () => {
      stoppedAt = Date.now();
      await stack.web.vm1.stop();
      convergedAt = await prober.waitForRound(
        'all 199 extra pairs active on vm2',
        stoppedAt,
        exactly('vm2'),
        120_000,
      );
      await stack.client.firstAnswerFrom('vm2', stoppedAt);
    });
    const overlaps = [...prober.overlapByPort(result.from, result.to).entries()].filter(
      ([, ms]) => ms > prober.intervalMs,
    );
    expect(overlaps).toEqual([]);
    process.stdout.write(
      `200 pairs converged on vm2 ${convergedAt - stoppedAt} ms after vm1's web server stopped\n`,
    );
    expect(convergedAt - stoppedAt).toBeLessThan(60_000);
  });
});
