import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { scratchDir } from '@probegate/testenv';
import { execa } from 'execa';
import { CONSUL_SERVER_ADDR, VIP } from './addresses.js';
import { VipClient } from './client.js';
import { consulGet, NsConsulAgent, waitForCluster, webHealth } from './consul-agents.js';
import { checkInvariant, type InvariantReport } from './invariant.js';
import { type E2ePairOptions, pairManifest, pairsYaml } from './pairs.js';
import {
  type AgentSource,
  ensureProbegateBuilt,
  ProbegateAgentProcess,
  probegateCommand,
} from './probegate-agent.js';
import { SlbEmulator, type SlbEmulatorOptions } from './slb-emulator.js';
import { createTopology, type Topology, type VmName } from './topology.js';
import { type Tunnel, tunnelInto } from './tunnel.js';
import { WebServer } from './web-server.js';

export interface StackOptions {
  /** Pairs in the pairs file (VM mode); default: one pair "web". */
  pairs?: E2ePairOptions[];
  /** Start the probegate agents (default true; the baseline runs without them). */
  agents?: boolean;
  /** Kubernetes mode: kubeconfig paths per VM instead of a pairs file. */
  kubeconfigs?: Record<VmName, string>;
  emulator?: SlbEmulatorOptions;
  consulCheckIntervalMs?: number;
  clientIntervalMs?: number;
}

const VMS = ['vm1', 'vm2'] as const;

/** The whole e2e world: topology, Consul, web servers, probegate agents, the SLB emulator and a client. */
export class E2eStack {
  readonly dir = scratchDir('e2e-stack');
  readonly pairsFile = join(this.dir, 'pairs.yaml');
  readonly consulServer: NsConsulAgent;
  readonly consul: Record<VmName, NsConsulAgent>;
  readonly web: Record<VmName, WebServer>;
  readonly agents: Record<VmName, ProbegateAgentProcess>;
  readonly slb: SlbEmulator;
  readonly client: VipClient;
  private tunnel: Tunnel | undefined;
  readonly startedAt = Date.now();

  private constructor(
    readonly topology: Topology,
    private readonly options: StackOptions,
  ) {
    const checkMs = options.consulCheckIntervalMs ?? 1_000;
    this.consulServer = new NsConsulAgent('consul-server', topology.consul, CONSUL_SERVER_ADDR, 'server');
    this.consul = {
      vm1: new NsConsulAgent('vm1', topology.vm.vm1, topology.address.vm1, 'client', checkMs),
      vm2: new NsConsulAgent('vm2', topology.vm.vm2, topology.address.vm2, 'client', checkMs),
    };
    this.web = { vm1: new WebServer(topology.vm.vm1, 'vm1'), vm2: new WebServer(topology.vm.vm2, 'vm2') };
    const source = (vm: VmName): AgentSource =>
      options.kubeconfigs ? { kubeconfig: options.kubeconfigs[vm] } : { pairsFile: this.pairsFile };
    this.agents = {
      vm1: new ProbegateAgentProcess('vm1', topology.vm.vm1, source('vm1')),
      vm2: new ProbegateAgentProcess('vm2', topology.vm.vm2, source('vm2')),
    };
    this.slb = new SlbEmulator(topology, options.emulator);
    this.client = new VipClient(topology.client, options.clientIntervalMs ?? 100);
  }

  static async start(options: StackOptions = {}): Promise<E2eStack> {
    const topology = await createTopology();
    const stack = new E2eStack(topology, options);
    try {
      await stack.boot();
    } catch (error) {
      await stack.destroy();
      throw error;
    }
    return stack;
  }

  private async boot(): Promise<void> {
    this.writePairs(this.options.pairs ?? [{}]);
    await Promise.all(VMS.map((vm) => this.web[vm].start()));
    this.consulServer.start();
    for (const vm of VMS) this.consul[vm].start();
    this.tunnel = await tunnelInto(this.topology.consul, CONSUL_SERVER_ADDR, 8500);
    await waitForCluster(this.consulUrl, VMS, () =>
      [this.consulServer, ...VMS.map((vm) => this.consul[vm])]
        .map((a) => `[${a.nodeName}]\n${a.tail()}`)
        .join('\n'),
    );
    await this.waitForWebHealth({ vm1: 'passing', vm2: 'passing' });
    await this.slb.start();
    if (this.options.agents ?? true) {
      await ensureProbegateBuilt();
      for (const vm of VMS) this.agents[vm].start();
      await Promise.all(VMS.map((vm) => this.agents[vm].started()));
    }
    this.client.start();
  }

  /** The Consul server's HTTP API, reachable from the test process. */
  get consulUrl(): string {
    if (!this.tunnel) throw new Error('stack not started');
    return this.tunnel.url;
  }

  /**
   * Replaces the pairs file as an editor or config management would (write, then rename) and
   * tells running agents with SIGHUP, so no scenario depends on file-watch timing.
   */
  writePairs(pairs: readonly E2ePairOptions[]): void {
    const next = `${this.pairsFile}.next`;
    writeFileSync(next, pairsYaml(pairs.map((p) => pairManifest(p))));
    renameSync(next, this.pairsFile);
    for (const vm of VMS) if (this.agents?.[vm]?.running) this.agents[vm].reload();
  }

  async waitForWebHealth(expected: Record<string, string>, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const health = await webHealth(this.consulUrl).catch(() => ({}) as Record<string, string>);
      if (Object.entries(expected).every(([node, status]) => health[node] === status)) return;
      if (Date.now() > deadline) {
        throw new Error(
          `Consul web health is ${JSON.stringify(health)}, expected ${JSON.stringify(expected)}`,
        );
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** The pair's lock record in Consul KV (holder, reason, transitions), or undefined. */
  async leader(
    pair = 'default/web',
  ): Promise<{ holder?: string; reason?: string; transitions?: number } | undefined> {
    const response = await fetch(`${this.consulUrl}/v1/kv/probegate/${pair}/leader?raw`, {
      signal: AbortSignal.timeout(5_000),
    });
    if (response.status === 404) return undefined;
    const text = await response.text();
    return text
      ? (JSON.parse(text) as { holder?: string; reason?: string; transitions?: number })
      : undefined;
  }

  /** Whether the VIP is bound on lo of a VM, read from its kernel. */
  async vipBound(vm: VmName, vip = VIP): Promise<boolean> {
    const r = await execa('ip', ['-n', this.topology.vm[vm], '-j', 'addr', 'show', 'dev', 'lo']);
    return String(r.stdout).includes(`"${vip}"`);
  }

  /** The iptables ruleset of a VM (what probegate left in its kernel). */
  async ruleset(vm: VmName): Promise<string> {
    const r = await execa('ip', ['netns', 'exec', this.topology.vm[vm], 'iptables-save'], { reject: false });
    return String(r.stdout);
  }

  /**
   * Firewall lines of a VM that belong to some pair: everything probegate wrote except the node's
   * own chains, which stay while the agent runs: the (then empty) main chain, the one hook into
   * it, and the shared lease chain (its one rule lets nothing through once no pair jumps to it).
   */
  async pairRules(vm: VmName): Promise<string[]> {
    return (await this.ruleset(vm))
      .split('\n')
      .filter((line) => /probegate/i.test(line))
      .filter(
        (line) =>
          !/^:PROBEGATE(-LEASE)? /.test(line) &&
          !/^-A INPUT .*-j PROBEGATE$/.test(line) &&
          !line.startsWith('-A PROBEGATE-LEASE '),
      );
  }

  /** `probegate cleanup` inside a VM (what an operator runs after uninstalling the agent). */
  async cleanupHost(vm: VmName): Promise<void> {
    const [file, ...args] = probegateCommand();
    const r = await execa('ip', ['netns', 'exec', this.topology.vm[vm], file as string, ...args, 'cleanup'], {
      reject: false,
      env: { NODE_OPTIONS: '' },
    });
    if (r.exitCode !== 0)
      throw new Error(`probegate cleanup in ${vm} exited ${r.exitCode}: ${String(r.stderr)}`);
  }

  /** Split-brain check and client outcome over [from, to]. */
  invariant(from = this.startedAt, to = Date.now()): InvariantReport {
    return checkInvariant(
      { probes: this.slb.probes, routes: this.slb.routes, client: this.client.events },
      { from, to },
    );
  }

  /**
   * Waits until exactly `vm` is routed by the emulator and answers the client (or, with
   * undefined, until nobody is routed); returns when that was first seen.
   */
  async waitForActive(vm: VmName | undefined, timeoutMs = 45_000): Promise<number> {
    const since = Date.now();
    await this.slb.waitForHealthy(vm ? [vm] : [], timeoutMs);
    if (vm) return (await this.client.firstAnswerFrom(vm, since, timeoutMs)).t;
    return Date.now();
  }

  /** Logs of the agents, for failure messages. */
  agentLogs(): string {
    return VMS.map((vm) => `--- agent ${vm} ---\n${this.agents[vm].tail(25)}`).join('\n');
  }

  consulKv = (key: string) => consulGet<unknown>(this.consulUrl, `/v1/kv/${key}`);

  async destroy(): Promise<void> {
    const steps: (() => Promise<void>)[] = [
      () => this.client.stop(),
      () => this.slb.stop(),
      ...VMS.map((vm) => () => this.agents[vm].stop()),
      ...VMS.map((vm) => () => this.web[vm].stop()),
      ...VMS.map((vm) => () => this.consul[vm].destroy()),
      () => this.consulServer.destroy(),
      async () => {
        await this.tunnel?.close();
      },
      () => this.topology.destroy(),
      async () => rmSync(this.dir, { recursive: true, force: true }),
    ];
    for (const step of steps) await step().catch(() => undefined);
  }
}
