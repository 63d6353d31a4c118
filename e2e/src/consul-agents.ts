import { randomUUID } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { component, type Daemon, scratchDir, startDaemon, waitFor } from '@probegate/testenv';
import { CONSUL_SERVER_ADDR, WEB_PORT } from './addresses.js';

// Failure detection fast enough for scenarios of seconds (defaults detect a dead node in ~10 s).
const FAST_GOSSIP = 'gossip_lan { probe_interval = "400ms" probe_timeout = "200ms" suspicion_mult = 2 }';

/** One Consul agent running inside a namespace (server or client). */
export class NsConsulAgent {
  private process: Daemon | undefined;
  readonly dataDir = scratchDir('consul-e2e');
  private readonly nodeId = randomUUID();

  constructor(
    readonly nodeName: string,
    readonly ns: string,
    readonly bindAddr: string,
    private readonly role: 'server' | 'client',
    private readonly checkIntervalMs = 1_000,
  ) {
    if (role === 'client') this.writeService();
  }

  /** The web service of this VM with an HTTP check on its web server (the health Consul arbitrates on). */
  private writeService(): void {
    const interval = `${this.checkIntervalMs}ms`;
    writeFileSync(
      join(this.dataDir, 'web.json'),
      JSON.stringify({
        service: {
          id: 'web',
          name: 'web',
          address: this.bindAddr,
          port: WEB_PORT,
          check: {
            id: 'web-http',
            name: 'web answers',
            http: `http://127.0.0.1:${WEB_PORT}/`,
            interval,
            timeout: `${Math.max(200, Math.floor(this.checkIntervalMs / 2))}ms`,
          },
        },
      }),
    );
  }

  get running(): boolean {
    return this.process !== undefined && !this.process.exited;
  }

  get pid(): number | undefined {
    return this.process?.pid;
  }

  start(): void {
    const argv = [
      component('consul'),
      'agent',
      `-node=${this.nodeName}`,
      `-node-id=${this.nodeId}`,
      `-bind=${this.bindAddr}`,
      '-client=0.0.0.0',
      `-data-dir=${join(this.dataDir, 'data')}`,
      '-log-level=info',
      '-hcl=ports { grpc = -1 }',
      `-hcl=${FAST_GOSSIP}`,
      '-hcl=performance { raft_multiplier = 1 }',
      // Diagnosis only (e.g. 'limits { http_max_conns_per_client = 1000 }'); tests run Consul's defaults.
      ...(process.env.PROBEGATE_E2E_CONSUL_HCL ? [`-hcl=${process.env.PROBEGATE_E2E_CONSUL_HCL}`] : []),
    ];
    if (this.role === 'server') argv.push('-server', '-bootstrap-expect=1');
    else
      argv.push(
        `-retry-join=${CONSUL_SERVER_ADDR}`,
        '-retry-interval=1s',
        `-config-file=${join(this.dataDir, 'web.json')}`,
      );
    this.process = startDaemon(`consul-${this.nodeName}`, argv, { netns: this.ns });
  }

  /** Crash (kill -9) or graceful stop; the data dir stays for a restart. */
  async stop(signal: 'SIGKILL' | 'SIGTERM' = 'SIGTERM'): Promise<void> {
    if (!this.process) return;
    if (signal === 'SIGKILL') {
      this.process.kill('SIGKILL');
      await this.process.done;
    } else {
      await this.process.stop();
    }
    this.process = undefined;
  }

  tail(): string {
    return this.process?.tail() ?? '';
  }

  async destroy(): Promise<void> {
    await this.stop('SIGKILL');
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

/** Consul's HTTP API through a tunnel URL (the test process's view). */
export async function consulGet<T>(baseUrl: string, path: string): Promise<T> {
  const response = await fetch(`${baseUrl}${path}`, { signal: AbortSignal.timeout(5_000) });
  if (!response.ok) throw new Error(`GET ${path}: HTTP ${response.status}: ${await response.text()}`);
  return (await response.json()) as T;
}

interface HealthEntry {
  Node: { Node: string };
  Checks: { CheckID: string; Status: string }[];
}

/** Consul's verdict per node on the web service: passing only when all its checks pass. */
export async function webHealth(baseUrl: string): Promise<Record<string, string>> {
  const entries = await consulGet<HealthEntry[]>(baseUrl, '/v1/health/service/web');
  const out: Record<string, string> = {};
  for (const e of entries) {
    const statuses = e.Checks.map((c) => c.Status);
    out[e.Node.Node] = statuses.includes('critical')
      ? 'critical'
      : statuses.includes('warning')
        ? 'warning'
        : 'passing';
  }
  return out;
}

/** Waits until the server has a leader and both VM nodes are in the catalog with the web service. */
export async function waitForCluster(
  baseUrl: string,
  nodes: readonly string[],
  tail: () => string,
): Promise<void> {
  await waitFor(
    async () => {
      const leader = await consulGet<string>(baseUrl, '/v1/status/leader');
      if (!leader) return false;
      const health = await webHealth(baseUrl);
      return nodes.every((n) => health[n] !== undefined);
    },
    { what: `Consul cluster with ${nodes.join(', ')}`, timeoutMs: 60_000, intervalMs: 200 },
  ).catch((error: unknown) => {
    throw new Error(`${(error as Error).message}\n--- consul logs ---\n${tail()}`);
  });
}
