import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Daemon, startDaemon, waitFor } from '@probegate/testenv';
import { execa } from 'execa';
import { node24, repoRoot } from './paths.js';

// PROBEGATE_E2E_CONTROLLER_DIR runs another checkout of the controller (e.g. a fix under test).
const controllerDir = () =>
  process.env.PROBEGATE_E2E_CONTROLLER_DIR ?? join(repoRoot, 'packages', 'controller');

let built: Promise<void> | undefined;

/**
 * Agents are real processes started many times per scenario, from the bundle the image and the
 * systemd unit ship (packages/controller/dist/probegate.mjs): it starts in about half a second.
 * `tsc -b` is incremental (quick when nothing changed); the bundle takes a second or two.
 */
export function ensureProbegateBuilt(): Promise<void> {
  built ??= (async () => {
    const tsc = join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');
    const tsx = join(repoRoot, 'node_modules', 'tsx', 'dist', 'cli.mjs');
    for (const [what, argv, cwd] of [
      ['tsc -b', [tsc, '-b', controllerDir()], repoRoot],
      ['bundle', [tsx, join('scripts', 'bundle.ts')], controllerDir()],
    ] as const) {
      const r = await execa(node24(), argv, { cwd, reject: false, all: true });
      if (r.exitCode !== 0) {
        throw new Error(`cannot build the probegate CLI (${what} in ${cwd}) for e2e:\n${String(r.all)}`);
      }
    }
  })();
  return built;
}

/** The probegate CLI as it ships, the bundle (call ensureProbegateBuilt first). */
export function probegateCommand(): string[] {
  const main = join(controllerDir(), 'dist', 'probegate.mjs');
  if (!existsSync(main)) throw new Error(`probegate CLI not built at ${main}: call ensureProbegateBuilt()`);
  return [node24(), main];
}

export type AgentSource = { pairsFile: string } | { kubeconfig: string };

/** A real `probegate agent` process inside a VM's namespace, as on a VM. */
export class ProbegateAgentProcess {
  private process: Daemon | undefined;

  constructor(
    readonly node: string,
    readonly ns: string,
    private readonly source: AgentSource,
    private readonly consulAddr = 'http://127.0.0.1:8500',
  ) {}

  get running(): boolean {
    return this.process !== undefined && !this.process.exited;
  }

  get pid(): number | undefined {
    return this.process?.pid;
  }

  start(): void {
    const sourceFlags =
      'pairsFile' in this.source
        ? ['--pairs-file', this.source.pairsFile]
        : ['--kubeconfig', this.source.kubeconfig];
    this.process = startDaemon(
      `agent-${this.node}`,
      [
        ...probegateCommand(),
        'agent',
        ...sourceFlags,
        '--node',
        this.node,
        '--consul-addr',
        this.consulAddr,
        '--metrics-port',
        '9402',
        '--metrics-host',
        '127.0.0.1',
        '--backend',
        'iptables-nft',
        '--log-level',
        'debug',
        // Consul's shortest TTL: a killed agent's lock goes 20 s after its last renewal.
        '--session-ttl',
        '10s',
      ],
      // The build resolves workspace packages to their dist/, never to sources (test runners set conditions).
      { netns: this.ns, cwd: repoRoot, env: { NODE_OPTIONS: '' } },
    );
  }

  /** Resolves once the agent logged that it started (it reconciles from then on). */
  async started(timeoutMs = 60_000): Promise<void> {
    const child = this.process;
    if (!child) throw new Error(`agent ${this.node} is not running`);
    await waitFor(
      () => {
        if (child.exited) throw new Error(`agent ${this.node} exited:\n${child.tail()}`);
        return readFileSync(child.logFile, 'utf8').includes('"msg":"agent started"');
      },
      { what: `agent ${this.node} to start`, timeoutMs, intervalMs: 50 },
    ).catch((error: unknown) => {
      throw new Error(`${(error as Error).message}\n${child.tail()}`);
    });
  }

  /** SIGHUP: re-read the pairs file (the documented way besides the file watch). */
  reload(): void {
    this.process?.kill('SIGHUP');
  }

  /** kill -9: no cleanup at all, only the kernel lease protects the host. */
  async kill9(): Promise<void> {
    if (!this.process) return;
    this.process.kill('SIGKILL');
    await this.process.done;
    this.process = undefined;
  }

  async stop(): Promise<void> {
    await this.process?.stop(6_000);
    this.process = undefined;
  }

  /** Times (from its own log) at which this agent opened a gate. */
  gateOpenedAt(): number[] {
    return this.loggedAt('"openGate"');
  }

  /** Times (from its own log) at which this agent had closed its gate, unbound and released the lock. */
  releasedAt(): number[] {
    return this.loggedAt('"releaseLock"');
  }

  /** Times of the log lines containing `marker`. */
  private loggedAt(marker: string): number[] {
    const file = this.process?.logFile;
    if (!file) return [];
    const out: number[] = [];
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      if (!line.includes(marker)) continue;
      try {
        out.push((JSON.parse(line) as { time: number }).time);
      } catch {
        // a partly written last line
      }
    }
    return out;
  }

  tail(lines = 40): string {
    return this.process?.tail(lines) ?? '';
  }

  get logFile(): string | undefined {
    return this.process?.logFile;
  }
}
