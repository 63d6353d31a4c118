import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { component } from './components.js';
import { type Daemon, scratchDir, startDaemon } from './daemon.js';
import { freePort } from './ports.js';
import { waitFor } from './wait.js';

/** A real Consul agent started for a test. */
export interface ConsulAgent {
  /** Consul node name of this agent. */
  readonly nodeName: string;
  /** Address the agent binds to (a loopback address). */
  readonly bindAddr: string;
  /** Base URL of the HTTP API, e.g. http://127.0.0.1:PORT. */
  readonly httpAddr: string;
  readonly httpPort: number;
  readonly dnsPort: number;
  readonly serfLanPort: number;
  readonly dataDir: string;
  /** The running process (replaced by restart()). */
  readonly daemon: Daemon;
  /** Stops the agent gracefully (SIGTERM, then SIGKILL) and removes its data dir. */
  stop(): Promise<void>;
  /** Sends a signal without waiting (crash scenarios); the data dir stays until stop(). */
  kill(signal?: NodeJS.Signals): void;
  /** Stops the process (keeping the data dir) and starts it again with the same ports and name. */
  restart(): Promise<void>;
  /** Resolves once the agent answers /v1/agent/self and knows a leader. */
  ready(timeoutMs?: number): Promise<void>;
}

export interface ConsulDevOptions {
  bindAddr?: string;
  httpPort?: number;
  dnsPort?: number;
  nodeName?: string;
  /** Extra configuration fragments, each passed as `-hcl=...` (ACLs, TLS, ...). */
  hcl?: string[];
  /** Token for the readiness probes when ACLs deny anonymous reads. */
  token?: string;
}

export interface ConsulClusterOptions {
  server: { addr: string; name?: string };
  clients: { name: string; addr: string }[];
}

export interface ConsulCluster {
  server: ConsulAgent;
  clients: ConsulAgent[];
  /** The client agent with this node name (throws if unknown). */
  client(name: string): ConsulAgent;
  stop(): Promise<void>;
}

interface AgentSpec {
  nodeName: string;
  hcl?: string[];
  token?: string;
  bindAddr: string;
  httpPort: number;
  dnsPort: number;
  serfLanPort: number;
  mode:
    | { kind: 'dev'; serverPort: number; serfWanPort: number }
    | { kind: 'server'; serverPort: number; serfWanPort: number }
    | { kind: 'client'; join: string };
}

const agents = new Set<ConsulAgent>();
let exitHooked = false;

// Data dirs are removed even when a test run is interrupted; the daemon registry kills the processes.
function hookExit(): void {
  if (exitHooked) return;
  exitHooked = true;
  process.once('exit', () => {
    for (const agent of agents) rmSync(agent.dataDir, { recursive: true, force: true });
  });
}

function argv(spec: AgentSpec, dataDir: string, nodeId: string): string[] {
  const common = [
    'agent',
    `-node=${spec.nodeName}`,
    `-bind=${spec.bindAddr}`,
    `-client=${spec.bindAddr}`,
    `-http-port=${spec.httpPort}`,
    `-dns-port=${spec.dnsPort}`,
    `-serf-lan-port=${spec.serfLanPort}`,
    `-data-dir=${dataDir}`,
    // Several agents share one host: a host-derived node ID would collide.
    `-node-id=${nodeId}`,
    '-log-level=debug',
    '-hcl=ports { grpc = -1 }',
    ...(spec.hcl ?? []).map((fragment) => `-hcl=${fragment}`),
  ];
  switch (spec.mode.kind) {
    case 'dev':
      return [
        ...common,
        '-dev',
        `-server-port=${spec.mode.serverPort}`,
        `-serf-wan-port=${spec.mode.serfWanPort}`,
      ];
    case 'server':
      return [
        ...common,
        '-server',
        '-bootstrap-expect=1',
        `-server-port=${spec.mode.serverPort}`,
        `-serf-wan-port=${spec.mode.serfWanPort}`,
      ];
    case 'client':
      return [...common, `-retry-join=${spec.mode.join}`];
  }
}

async function get(url: string, token?: string): Promise<unknown> {
  const response = await fetch(url, {
    signal: AbortSignal.timeout(2_000),
    ...(token ? { headers: { 'X-Consul-Token': token } } : {}),
  });
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response.json();
}

function launch(spec: AgentSpec): ConsulAgent {
  hookExit();
  const binary = component('consul');
  const dataDir = scratchDir(`consul-${spec.nodeName}`);
  // The same node ID across restarts, so the catalog sees one node coming back.
  const args = argv(spec, dataDir, randomUUID());
  const start = () => startDaemon(`consul-${spec.nodeName}`, [binary, ...args], { logDir: dataDir });
  let daemon = start();
  const httpAddr = `http://${spec.bindAddr}:${spec.httpPort}`;
  const agent: ConsulAgent = {
    nodeName: spec.nodeName,
    bindAddr: spec.bindAddr,
    httpAddr,
    httpPort: spec.httpPort,
    dnsPort: spec.dnsPort,
    serfLanPort: spec.serfLanPort,
    dataDir,
    get daemon() {
      return daemon;
    },
    async stop() {
      await daemon.stop();
      rmSync(dataDir, { recursive: true, force: true });
      agents.delete(agent);
    },
    kill(signal = 'SIGKILL') {
      daemon.kill(signal);
    },
    async restart() {
      await daemon.stop();
      daemon = start();
      await agent.ready();
    },
    async ready(timeoutMs = 60_000) {
      await waitFor(
        async () => {
          if (daemon.exited) {
            throw new Error(`consul agent ${spec.nodeName} exited:\n${daemon.tail()}`);
          }
          const self = (await get(`${httpAddr}/v1/agent/self`, spec.token)) as {
            Config?: { NodeName?: string };
          };
          if (self.Config?.NodeName !== spec.nodeName) return false;
          const leader = await get(`${httpAddr}/v1/status/leader`, spec.token);
          if (typeof leader !== 'string' || leader === '') return false;
          // A client is usable once the catalog knows its node (anti-entropy has run).
          const node = (await get(`${httpAddr}/v1/catalog/node/${spec.nodeName}`, spec.token)) as {
            Node?: unknown;
          } | null;
          return node?.Node !== undefined;
        },
        { what: `consul agent ${spec.nodeName} at ${httpAddr} to be ready`, timeoutMs, intervalMs: 100 },
      ).catch((error: unknown) => {
        throw new Error(`${(error as Error).message}\n--- log ---\n${daemon.tail(30)}`);
      });
    },
  };
  agents.add(agent);
  return agent;
}

/** One `consul agent -dev` (server + client in one process, in-memory state). */
export async function startConsulDev(options: ConsulDevOptions = {}): Promise<ConsulAgent> {
  const bindAddr = options.bindAddr ?? '127.0.0.1';
  const agent = launch({
    nodeName: options.nodeName ?? `dev-${randomUUID().slice(0, 8)}`,
    bindAddr,
    httpPort: options.httpPort ?? (await freePort(bindAddr)),
    dnsPort: options.dnsPort ?? (await freePort(bindAddr)),
    serfLanPort: await freePort(bindAddr),
    mode: { kind: 'dev', serverPort: await freePort(bindAddr), serfWanPort: await freePort(bindAddr) },
    ...(options.hcl ? { hcl: options.hcl } : {}),
    ...(options.token ? { token: options.token } : {}),
  });
  try {
    await agent.ready();
  } catch (error) {
    await agent.stop();
    throw error;
  }
  return agent;
}

/** A one-server cluster plus client agents, each on its own loopback address. */
export async function startConsulCluster(options: ConsulClusterOptions): Promise<ConsulCluster> {
  const names = [options.server.name ?? 'consul-server', ...options.clients.map((c) => c.name)];
  const duplicate = names.find((name, i) => names.indexOf(name) !== i);
  if (duplicate) throw new Error(`startConsulCluster: node name '${duplicate}' is used twice`);
  const serverAddr = options.server.addr;
  const serverSerf = await freePort(serverAddr);
  const server = launch({
    nodeName: options.server.name ?? 'consul-server',
    bindAddr: serverAddr,
    httpPort: await freePort(serverAddr),
    dnsPort: await freePort(serverAddr),
    serfLanPort: serverSerf,
    mode: { kind: 'server', serverPort: await freePort(serverAddr), serfWanPort: await freePort(serverAddr) },
  });
  const clients: ConsulAgent[] = [];
  const stopAll = async () => {
    await Promise.all([...clients, server].map((a) => a.stop()));
  };
  try {
    await server.ready();
    for (const spec of options.clients) {
      clients.push(
        launch({
          nodeName: spec.name,
          bindAddr: spec.addr,
          httpPort: await freePort(spec.addr),
          dnsPort: await freePort(spec.addr),
          serfLanPort: await freePort(spec.addr),
          mode: { kind: 'client', join: `${serverAddr}:${serverSerf}` },
        }),
      );
    }
    await Promise.all(clients.map((c) => c.ready()));
    // Gossip has converged: every agent sees every other one alive.
    for (const agent of [server, ...clients]) {
      await waitFor(
        async () => {
          const members = (await get(`${agent.httpAddr}/v1/agent/members`)) as {
            Name: string;
            Status: number;
          }[];
          return names.every((name) => members.some((m) => m.Name === name && m.Status === 1));
        },
        { what: `${agent.nodeName} to see all cluster members alive`, timeoutMs: 30_000 },
      );
    }
  } catch (error) {
    await stopAll();
    throw error;
  }
  return {
    server,
    clients,
    client(name) {
      const found = clients.find((c) => c.nodeName === name);
      if (!found)
        throw new Error(
          `no client agent named '${name}' (have: ${clients.map((c) => c.nodeName).join(', ')})`,
        );
      return found;
    },
    stop: stopAll,
  };
}
