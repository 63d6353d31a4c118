import { type Daemon, startDaemon } from '@probegate/testenv';
import { execa } from 'execa';
import { VIP, WEB_PORT } from './addresses.js';
import { helperScript, node24 } from './paths.js';
import type { ProbeEvent, RouteEvent } from './timeline.js';
import type { Topology, VmName } from './topology.js';

export interface SlbEmulatorOptions {
  /** Probe interval (Azure: 5 s by default; short in tests). */
  intervalMs?: number;
  /** How long a probe connection may take before it counts as failed. */
  timeoutMs?: number;
  /** Consecutive results that flip a backend's health (Azure's probe threshold). */
  threshold?: number;
  port?: number;
}

interface BackendState {
  healthy: boolean;
  streak: number;
  lastOk: boolean | undefined;
}

/**
 * The Azure Standard Load Balancer, emulated: a prober inside the SLB namespace probes each
 * backend from the one fixed source address every interval; after `threshold` equal results in a
 * row a backend flips healthy/unhealthy, and the VIP route in the SLB namespace is rewritten to
 * an ECMP route over the healthy set (the destination stays the VIP, as with Floating IP).
 */
export class SlbEmulator {
  readonly probes: ProbeEvent[] = [];
  readonly routes: RouteEvent[] = [];
  readonly intervalMs: number;
  readonly threshold: number;
  private readonly timeoutMs: number;
  private readonly port: number;
  private readonly state: Record<VmName, BackendState> = {
    vm1: { healthy: false, streak: 0, lastOk: undefined },
    vm2: { healthy: false, streak: 0, lastOk: undefined },
  };
  private prober: Daemon | undefined;
  private routeChain: Promise<void> = Promise.resolve();
  private routeError: Error | undefined;
  private readonly listeners = new Set<() => void>();

  constructor(
    private readonly topology: Topology,
    options: SlbEmulatorOptions = {},
  ) {
    this.intervalMs = options.intervalMs ?? 1_000;
    this.timeoutMs = options.timeoutMs ?? Math.min(400, Math.floor(this.intervalMs / 2));
    this.threshold = options.threshold ?? 2;
    this.port = options.port ?? WEB_PORT;
  }

  async start(): Promise<void> {
    await this.applyRoute([]);
    const byAddress = new Map<string, VmName>([
      [this.topology.address.vm1, 'vm1'],
      [this.topology.address.vm2, 'vm2'],
    ]);
    this.prober = startDaemon(
      'slb-prober',
      [
        node24(),
        helperScript('prober.ts'),
        String(this.intervalMs),
        String(this.timeoutMs),
        String(this.port),
        this.topology.address.vm1,
        this.topology.address.vm2,
      ],
      {
        netns: this.topology.slb,
        onLine: (line) => {
          const round = JSON.parse(line) as { t: number; results: { backend: string; ok: boolean }[] };
          for (const r of round.results) {
            const backend = byAddress.get(r.backend);
            if (backend) this.onProbe({ kind: 'probe', t: round.t, backend, ok: r.ok });
          }
          this.afterRound(round.t);
        },
      },
    );
  }

  /** The set the VIP route currently points at. */
  healthy(): VmName[] {
    return (['vm1', 'vm2'] as const).filter((vm) => this.state[vm].healthy);
  }

  /** Called after every probe round (tests wait on it instead of sleeping). */
  onRound(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Resolves after `rounds` more probe rounds. */
  rounds(rounds: number): Promise<void> {
    return new Promise((resolve) => {
      let left = rounds;
      const off = this.onRound(() => {
        left -= 1;
        if (left <= 0) {
          off();
          resolve();
        }
      });
    });
  }

  /** Resolves once the healthy set equals `expected` (and the route is applied). */
  async waitForHealthy(expected: readonly VmName[], timeoutMs = 30_000): Promise<number> {
    const same = () => {
      const now = this.healthy();
      return now.length === expected.length && expected.every((vm) => now.includes(vm));
    };
    const deadline = Date.now() + timeoutMs;
    while (!same()) {
      if (this.routeError) throw this.routeError;
      if (Date.now() > deadline) {
        throw new Error(
          `SLB emulator: healthy set is [${this.healthy().join(', ')}], expected [${expected.join(', ')}] ` +
            `within ${timeoutMs} ms; last probes: ${JSON.stringify(this.probes.slice(-6))}`,
        );
      }
      await this.rounds(1);
    }
    await this.routeChain;
    return Date.now();
  }

  async stop(): Promise<void> {
    await this.prober?.stop();
    await this.routeChain;
    await this.applyRoute([]).catch(() => undefined);
  }

  private onProbe(event: ProbeEvent): void {
    this.probes.push(event);
    const s = this.state[event.backend];
    s.streak = s.lastOk === event.ok ? s.streak + 1 : 1;
    s.lastOk = event.ok;
  }

  private afterRound(t: number): void {
    let changed = false;
    for (const vm of ['vm1', 'vm2'] as const) {
      const s = this.state[vm];
      if (s.lastOk !== undefined && s.lastOk !== s.healthy && s.streak >= this.threshold) {
        s.healthy = s.lastOk;
        changed = true;
      }
    }
    if (changed) {
      const healthy = this.healthy();
      this.routeChain = this.routeChain
        .then(() => this.applyRoute(healthy))
        .then(() => {
          this.routes.push({ kind: 'route', t, healthy });
        })
        .catch((error: unknown) => {
          this.routeError = error as Error;
        });
    }
    for (const listener of [...this.listeners]) listener();
  }

  private async applyRoute(healthy: readonly VmName[]): Promise<void> {
    const slb = this.topology.slb;
    const target = `${VIP}/32`;
    let argv: string[];
    if (healthy.length === 0) {
      argv = ['-n', slb, 'route', 'replace', 'unreachable', target];
    } else if (healthy.length === 1) {
      argv = ['-n', slb, 'route', 'replace', target, 'via', this.topology.address[healthy[0] as VmName]];
    } else {
      argv = ['-n', slb, 'route', 'replace', target];
      for (const vm of healthy) argv.push('nexthop', 'via', this.topology.address[vm]);
    }
    const r = await execa('ip', argv, { reject: false });
    if (r.exitCode !== 0) throw new Error(`ip ${argv.join(' ')}: ${String(r.stderr).trim()}`);
  }
}
