import { type Daemon, startDaemon } from '@probegate/testenv';
import { PROBE_SOURCE_ADDR, VIP, VM1_ADDR, VM2_ADDR, WEB_PORT } from './addresses.js';
import { helperScript } from './paths.js';
import type { Topology, VmName } from './topology.js';

/** A gate change made by the baseline script on one VM. */
export interface SeedGateEvent {
  t: number;
  vm: VmName;
  gate: 'open' | 'closed';
}

/**
 * The original script (dig against Consul DNS every 10 s, then iptables/ip commands), running on
 * both VMs in place of probegate: the baseline the benchmarks compare against.
 */
export class SeedBaseline {
  readonly events: SeedGateEvent[] = [];
  private readonly processes: Daemon[] = [];

  constructor(
    private readonly topology: Topology,
    private readonly intervalSeconds = 10,
  ) {}

  start(): void {
    for (const vm of ['vm1', 'vm2'] as const) {
      this.processes.push(
        startDaemon(
          `seed-${vm}`,
          [
            'bash',
            helperScript('seed-baseline.sh'),
            this.topology.address[vm],
            VM1_ADDR,
            VM2_ADDR,
            `${PROBE_SOURCE_ADDR}/32`,
            String(WEB_PORT),
            VIP,
            String(this.intervalSeconds),
          ],
          {
            netns: this.topology.vm[vm],
            onLine: (line) => {
              const e = JSON.parse(line) as { t: number; gate: 'open' | 'closed' };
              this.events.push({ ...e, vm });
            },
          },
        ),
      );
    }
  }

  /** First time `vm`'s gate opened at or after `since`. */
  async gateOpened(vm: VmName, since: number, timeoutMs = 60_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.events.find((e) => e.vm === vm && e.gate === 'open' && e.t >= since);
      if (hit) return hit.t;
      if (Date.now() > deadline) throw new Error(`baseline never opened ${vm}'s gate within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.processes.map((p) => p.stop(1_000)));
    this.processes.length = 0;
  }
}
