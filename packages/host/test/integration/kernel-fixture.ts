import {
  addVethPair,
  createNamespace,
  destroyNamespace,
  execIn,
  listenTcp,
  mustExecIn,
  requireRoot,
  tcpConnect,
} from '@probegate/testenv';
import {
  type BackendName,
  type CommandRunner,
  createHostActuator,
  ExecaCommandRunner,
  type HostActuator,
  pairId,
} from '../../src/index.js';

export const NODE_ADDR = '198.18.0.1';
/** Stand-in for Azure's probe source 168.63.129.16, owned by the client namespace. */
export const PROBE_SOURCE = '198.18.0.16';
export const PROBE_PORT = 8080;
/** A service port on the VIP that the gate does not cover. */
export const SERVICE_PORT = 9090;
export const VIP = '198.18.10.5';
export const VIP2 = '198.18.10.6';

export interface Topology {
  node: string;
  client: string;
  runner: ExecaCommandRunner;
  actuator: HostActuator;
  /** Kernel state of the node namespace before probegate ran there. */
  before: string;
  /** Another runner in the node namespace (a second process, say), closed by destroy(). */
  newRunner(): ExecaCommandRunner;
  destroy(): Promise<void>;
}

/** Firewall rules the host already had: they must survive apply and cleanup untouched. */
async function addForeignRules(ns: string, backend: BackendName): Promise<void> {
  if (backend === 'nftables') {
    await mustExecIn(ns, ['nft', '-f', '-'], {
      input:
        'table inet hostfw {\n chain input {\n  type filter hook input priority 0; policy accept;\n  udp dport 9 accept\n }\n}\n',
    });
  } else {
    const bin = backend === 'iptables-legacy' ? 'iptables-legacy' : 'iptables-nft';
    await mustExecIn(ns, [bin, '-w', '-A', 'INPUT', '-p', 'udp', '--dport', '9', '-j', 'ACCEPT']);
  }
}

/** Everything that must look the same after cleanup; counters and timestamps stripped. */
export async function kernelState(ns: string): Promise<string> {
  const parts: string[] = [];
  for (const argv of [
    ['iptables-legacy-save'],
    ['iptables-nft-save'],
    ['nft', 'list', 'ruleset'],
    ['ip', '-4', 'addr'],
    ['ip', '-6', 'addr', 'show', 'dev', 'lo'],
  ]) {
    const r = await execIn(ns, argv);
    parts.push(`## ${argv.join(' ')} (exit ${r.exitCode})`, r.stdout);
  }
  return parts
    .join('\n')
    .split('\n')
    .filter((l) => !l.startsWith('#') || l.startsWith('## '))
    .map((l) => l.replace(/\[\d+:\d+\]/g, '[]').replace(/packets \d+ bytes \d+/g, 'packets bytes'))
    .join('\n');
}

export async function createTopology(backend: BackendName): Promise<Topology> {
  requireRoot();
  const node = await createNamespace('pgn');
  const client = await createNamespace('pgc');
  try {
    await addVethPair(node, client, `${NODE_ADDR}/24`, `${PROBE_SOURCE}/24`);
    await mustExecIn(client, ['ip', 'route', 'add', '198.18.10.0/24', 'via', NODE_ADDR]);
    await addForeignRules(node, backend);
    await listenTcp(node, PROBE_PORT, 'probe-ok');
    await listenTcp(node, SERVICE_PORT, 'service-ok');
    const before = await kernelState(node);
    const runner = new ExecaCommandRunner(['ip', 'netns', 'exec', node]);
    const actuator = await createHostActuator({ backend, runner });
    const runners = [runner];
    return {
      node,
      client,
      runner,
      actuator,
      before,
      newRunner: () => {
        const r = new ExecaCommandRunner(['ip', 'netns', 'exec', node]);
        runners.push(r);
        return r;
      },
      destroy: async () => {
        await Promise.all(runners.map((r) => r.close()));
        await destroyNamespace(client);
        await destroyNamespace(node);
      },
    };
  } catch (err) {
    await destroyNamespace(client);
    await destroyNamespace(node);
    throw err;
  }
}

export const probe = (t: Topology): Promise<string | undefined> =>
  tcpConnect(t.client, NODE_ADDR, PROBE_PORT);
export const viaVip = (t: Topology, vip = VIP): Promise<string | undefined> =>
  tcpConnect(t.client, vip, SERVICE_PORT);

/** Commands that change the kernel (as opposed to reading it). */
export function isWrite(argv: readonly string[]): boolean {
  const [bin = '', ...rest] = argv;
  if (bin.endsWith('-restore')) return true;
  if (bin === 'nft') return rest.includes('-f') && !rest.includes('-t');
  // `ip -j -batch -` is how lo is read.
  if (bin === 'ip')
    return (rest.includes('-batch') && !rest.includes('-j')) || rest.includes('add') || rest.includes('del');
  return /^iptables/.test(bin) && !bin.endsWith('-save') && !rest.includes('-S');
}

export async function waitFor(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for: ${what}`);
}

/** A runner that keeps every script it fed a command (to measure what a write costs). */
export interface RecordingRunner extends CommandRunner {
  readonly scripts: { argv: readonly string[]; input: string }[];
}

export function recording(inner: CommandRunner): RecordingRunner {
  const scripts: { argv: readonly string[]; input: string }[] = [];
  return {
    scripts,
    get spawned() {
      return inner.spawned;
    },
    get history() {
      return inner.history;
    },
    run(argv, opts) {
      if (opts?.input !== undefined) scripts.push({ argv, input: opts.input });
      return inner.run(argv, opts);
    },
    prepare(argv) {
      inner.prepare?.(argv);
    },
  };
}

/** Rules a script adds, other than the generation stamp (iptables: the hook; nft: its own table). */
export function addedRules(input: string): string[] {
  return input
    .split('\n')
    .filter((l) => /^(-A|-I) /.test(l) || l.startsWith('add rule '))
    .filter((l) => !/probegate:gen:/.test(l));
}

export interface PreviousPair {
  key: string;
  port: number;
  /** Open until then (a lease rule of its own), or closed. */
  leaseUntil?: Date;
}

/**
 * Writes the rules the previous version left: no shared lease, and each open gate with a
 * time-limited ACCEPT of its own in its chain (iptables) or its lease chain (nftables), in the
 * exact form that version's renderers wrote.
 */
export async function writePreviousLayout(
  ns: string,
  backend: BackendName,
  pairs: readonly PreviousPair[],
): Promise<void> {
  const seconds = (d: Date) => Math.floor(d.getTime() / 1000);
  if (backend === 'nftables') {
    const T = 'inet probegate';
    const lines = [
      `add table ${T}`,
      `add chain ${T} input { type filter hook input priority -10; policy accept; }`,
    ];
    for (const p of pairs) {
      const id = pairId(p.key);
      lines.push(
        `add chain ${T} pg_${id}`,
        `add chain ${T} pgl_${id}`,
        `add rule ${T} pg_${id} jump pgl_${id}`,
        `add rule ${T} pg_${id} counter drop comment "probegate:${p.key}:drop"`,
      );
      if (p.leaseUntil)
        lines.push(
          `add rule ${T} pgl_${id} meta time < ${seconds(p.leaseUntil)} accept comment "probegate:${p.key}:lease"`,
        );
      lines.push(
        `add rule ${T} input ip saddr ${PROBE_SOURCE}/32 tcp dport ${p.port} counter jump pg_${id} comment "probegate:${p.key}"`,
      );
    }
    lines.push(
      'add table inet probegate_gen',
      'add chain inet probegate_gen gen',
      'add rule inet probegate_gen gen counter comment "probegate:gen:00ff00ff00ff00ff"',
    );
    await mustExecIn(ns, ['nft', '-f', '-'], { input: `${lines.join('\n')}\n` });
    return;
  }
  const lines = ['*filter', ':PROBEGATE - [0:0]'];
  for (const p of pairs) lines.push(`:PG-${pairId(p.key)} - [0:0]`);
  lines.push('-I INPUT 1 -m comment --comment "probegate:gen:00ff00ff00ff00ff" -j PROBEGATE');
  for (const p of pairs) {
    const chain = `PG-${pairId(p.key)}`;
    if (p.leaseUntil) {
      // --datestop is inclusive: the previous version stopped one second early.
      const stop = new Date((seconds(p.leaseUntil) - 1) * 1000).toISOString().slice(0, 19);
      lines.push(
        `-A ${chain} -m time --datestop ${stop} -m comment --comment "probegate:${p.key}:lease" -j ACCEPT`,
      );
    }
    lines.push(`-A ${chain} -m comment --comment "probegate:${p.key}:drop" -j DROP`);
    lines.push(
      `-A PROBEGATE -s ${PROBE_SOURCE}/32 -p tcp -m tcp --dport ${p.port} -m comment --comment "probegate:${p.key}" -j ${chain}`,
    );
  }
  lines.push('COMMIT', '');
  const restore = backend === 'iptables-legacy' ? 'iptables-legacy-restore' : 'iptables-nft-restore';
  await mustExecIn(ns, [restore, '-w', '5', '--noflush'], { input: lines.join('\n') });
}
