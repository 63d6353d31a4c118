import { type Daemon, startDaemon } from '@probegate/testenv';
import { overlap, probeOkIntervals } from './invariant.js';
import { helperScript, node24 } from './paths.js';
import type { ProbeEvent } from './timeline.js';
import type { Topology, VmName } from './topology.js';

/**
 * Probes many ports on both VMs from the probe source every interval, like an SLB with one rule
 * per pair (scale scenarios). Records every result; routing is not emulated here.
 */
export class PortProber {
  readonly probes: ProbeEvent[] = [];
  private process: Daemon | undefined;
  private readonly listeners = new Set<() => void>();

  constructor(
    private readonly topology: Topology,
    readonly ports: readonly number[],
    readonly intervalMs = 1_000,
  ) {}

  start(): void {
    const byAddress = new Map<string, VmName>([
      [this.topology.address.vm1, 'vm1'],
      [this.topology.address.vm2, 'vm2'],
    ]);
    this.process = startDaemon(
      'port-prober',
      [
        node24(),
        helperScript('prober.ts'),
        String(this.intervalMs),
        String(Math.floor(this.intervalMs / 2)),
        this.ports.join(','),
        this.topology.address.vm1,
        this.topology.address.vm2,
      ],
      {
        netns: this.topology.slb,
        onLine: (line) => {
          const round = JSON.parse(line) as {
            t: number;
            results: { backend: string; port: number; ok: boolean }[];
          };
          for (const r of round.results) {
            const backend = byAddress.get(r.backend);
            if (backend) this.probes.push({ kind: 'probe', t: round.t, backend, port: r.port, ok: r.ok });
          }
          for (const l of [...this.listeners]) l();
        },
      },
    );
  }

  /** Resolves at the first round (sent at or after `since`) in which `check` holds; returns its time. */
  waitForRound(
    what: string,
    since: number,
    check: (round: ProbeEvent[]) => boolean,
    timeoutMs = 120_000,
  ): Promise<number> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.listeners.delete(listener);
        const last = this.probes[this.probes.length - 1];
        const round = last ? this.probes.filter((p) => p.t === last.t) : [];
        const count = (vm: VmName) =>
          `${vm} ${round.filter((p) => p.backend === vm && p.ok).length}/${round.filter((p) => p.backend === vm).length} answered`;
        reject(
          new Error(
            `port prober: timed out after ${timeoutMs} ms waiting for ${what}; last round: ${count('vm1')}, ${count('vm2')}`,
          ),
        );
      }, timeoutMs);
      const listener = () => {
        const last = this.probes[this.probes.length - 1];
        if (!last || last.t < since) return;
        const round = this.probes.filter((p) => p.t === last.t);
        if (check(round)) {
          clearTimeout(timer);
          this.listeners.delete(listener);
          resolve(last.t);
        }
      };
      this.listeners.add(listener);
    });
  }

  /** Per port: ms during which both VMs answered probes at once within [from, to]. */
  overlapByPort(from: number, to: number): Map<number, number> {
    const out = new Map<number, number>();
    const inWindow = this.probes.filter((p) => p.t >= from && p.t <= to);
    for (const port of this.ports) {
      const mine = inWindow.filter((p) => p.port === port);
      out.set(port, overlap(probeOkIntervals(mine, 'vm1', to), probeOkIntervals(mine, 'vm2', to)));
    }
    return out;
  }

  async stop(): Promise<void> {
    await this.process?.stop();
  }
}
