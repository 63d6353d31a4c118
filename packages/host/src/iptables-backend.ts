import type { CommandRunner } from './command-runner.js';
import type { GateBackend } from './gate-backend.js';
import type { GateOp, GateSnapshot, PacketCount, RefMaker, RuleRef, SnapshotPair } from './gate-model.js';
import { commentKey } from './pair-id.js';

export const MAIN_CHAIN = 'PROBEGATE';
const PAIR_PREFIX = 'PG-';
const HOOK_SPEC = `-j ${MAIN_CHAIN}`;
/** The hook carries the generation token: one small read (`-S INPUT`) proves both are in place. */
export const hookSpec = (generation: string): string =>
  `-m comment --comment "probegate:gen:${generation}" -j ${MAIN_CHAIN}`;
const HOOK = /^(?:-m comment --comment "?probegate:gen:([0-9a-f]+)"? )?-j PROBEGATE$/;

export type IptablesFlavor = 'nft' | 'legacy';

const pairChain = (id: string): string => `${PAIR_PREFIX}${id}`;

const comment = (key: string, suffix = ''): string => `"probegate:${commentKey(key) ?? ''}${suffix}"`;

/** iptables compares --datestop in whole UTC seconds, inclusive: stop one second early so `expiresAt` is exact. */
function datestop(expiresAt: Date): string {
  return new Date(expiresAt.getTime() - 1000).toISOString().slice(0, 19);
}

export function jumpSpec(id: string, key: string, cidr: string, port: number): string {
  return `-s ${cidr} -p tcp -m tcp --dport ${port} -m comment --comment ${comment(key)} -j ${pairChain(id)}`;
}

export function leaseSpec(key: string, expiresAt: Date): string {
  return `-m time --datestop ${datestop(expiresAt)} -m comment --comment ${comment(key, ':lease')} -j ACCEPT`;
}

export function dropSpec(key: string): string {
  return `-m comment --comment ${comment(key, ':drop')} -j DROP`;
}

/** Splits a rule like the shell would for iptables-save output (double quotes only). */
export function tokenize(spec: string): string[] {
  const out: string[] = [];
  for (const m of spec.matchAll(/"((?:[^"\\]|\\.)*)"|(\S+)/g)) out.push(m[1] ?? m[2] ?? '');
  return out;
}

function keyFromComment(text: string | undefined, suffix: string): string | undefined {
  if (!text?.startsWith('probegate:') || !text.endsWith(suffix)) return undefined;
  const key = text.slice('probegate:'.length, text.length - suffix.length);
  return key === '' ? undefined : key;
}

interface SavedRule extends PacketCount {
  chain: string;
  spec: string;
  tokens: string[];
}

/** Parses `iptables-save -c -t filter` output into the backend-neutral snapshot. */
export function parseIptablesSave(text: string): GateSnapshot {
  const chains = new Set<string>();
  const rules: SavedRule[] = [];
  let inFilter = false;
  for (const line of text.split('\n')) {
    if (line.startsWith('*')) inFilter = line === '*filter';
    if (!inFilter) continue;
    const chain = /^:(\S+) /.exec(line);
    if (chain?.[1]) chains.add(chain[1]);
    const rule = /^(?:\[(\d+):(\d+)\] )?-A (\S+) (.*)$/.exec(line);
    if (rule) {
      const spec = rule[4] ?? '';
      rules.push({
        chain: rule[3] ?? '',
        spec,
        tokens: tokenize(spec),
        packets: Number(rule[1] ?? 0),
        bytes: Number(rule[2] ?? 0),
      });
    }
  }

  const snapshot: GateSnapshot = {
    mainExists: chains.has(MAIN_CHAIN),
    hooks: [],
    foreign: [],
    pairs: new Map(),
  };
  const pairOf = (id: string): SnapshotPair => {
    let p = snapshot.pairs.get(id);
    if (!p) {
      p = { id, chainExists: chains.has(pairChain(id)), jumps: [], canonical: true };
      snapshot.pairs.set(id, p);
    }
    return p;
  };
  for (const c of chains) if (c.startsWith(PAIR_PREFIX)) pairOf(c.slice(PAIR_PREFIX.length));

  for (const r of rules) {
    const ref: RuleRef = { chain: r.chain, spec: r.spec };
    const t = r.tokens;
    const target = t[t.indexOf('-j') + 1];
    if (r.chain === 'INPUT') {
      if (target !== MAIN_CHAIN) continue;
      const hook = HOOK.exec(r.spec);
      if (!hook) {
        snapshot.foreign.push(ref);
        continue;
      }
      if (snapshot.hooks.length === 0 && hook[1]) snapshot.generation = hook[1];
      snapshot.hooks.push(ref);
    } else if (r.chain === MAIN_CHAIN) {
      const jump =
        t.length === 14 &&
        t[0] === '-s' &&
        t[2] === '-p' &&
        t[3] === 'tcp' &&
        t[4] === '-m' &&
        t[5] === 'tcp' &&
        t[6] === '--dport' &&
        /^\d+$/.test(t[7] ?? '') &&
        t[8] === '-m' &&
        t[9] === 'comment' &&
        t[10] === '--comment' &&
        t[12] === '-j' &&
        t[13]?.startsWith(PAIR_PREFIX) &&
        chains.has(t[13]);
      if (!jump) {
        snapshot.foreign.push(ref);
        continue;
      }
      const p = pairOf((t[13] ?? '').slice(PAIR_PREFIX.length));
      p.key ??= keyFromComment(t[11], '');
      p.jumps.push({ cidr: t[1] ?? '', port: Number(t[7]), packets: r.packets, bytes: r.bytes, ref });
    } else if (r.chain.startsWith(PAIR_PREFIX)) {
      const p = pairOf(r.chain.slice(PAIR_PREFIX.length));
      const isLease =
        t.length === 10 && t[0] === '-m' && t[1] === 'time' && t[2] === '--datestop' && t[9] === 'ACCEPT';
      const isDrop = t.length === 6 && t[0] === '-m' && t[1] === 'comment' && t[5] === 'DROP';
      if (isLease && p.lease === undefined && p.drop === undefined) {
        p.lease = { expiresAt: new Date(Date.parse(`${t[3]}Z`) + 1000), ref };
        p.key ??= keyFromComment(t[6], ':lease');
      } else if (isDrop && p.drop === undefined) {
        p.drop = { packets: r.packets, bytes: r.bytes, ref };
        p.key ??= keyFromComment(t[3], ':drop');
      } else {
        p.canonical = false;
      }
    }
  }
  for (const p of snapshot.pairs.values()) if (p.drop === undefined) p.canonical = false;
  return snapshot;
}

/** Renders the plan as one `iptables-restore --noflush --counters` transaction. */
export function renderIptablesRestore(ops: readonly GateOp[]): string {
  const lines: string[] = ['*filter'];
  const stamp = ops.find((o) => o.op === 'set-generation');
  const pairRules = (id: string, key: string, lease: Date | undefined, drop?: PacketCount): void => {
    if (lease) lines.push(`-A ${pairChain(id)} ${leaseSpec(key, lease)}`);
    lines.push(`${drop ? `[${drop.packets}:${drop.bytes}] ` : ''}-A ${pairChain(id)} ${dropSpec(key)}`);
  };
  for (const o of ops) {
    switch (o.op) {
      case 'create-main':
        lines.push(`:${MAIN_CHAIN} - [0:0]`);
        break;
      case 'add-hook':
        lines.push(`-I INPUT 1 ${stamp ? hookSpec(stamp.generation) : HOOK_SPEC}`);
        break;
      case 'set-generation':
        // Replace the hook by one carrying the new token (a new hook already carries it).
        if (o.replace)
          lines.push(`-D ${o.replace.chain} ${o.replace.spec ?? ''}`, `-I INPUT 1 ${hookSpec(o.generation)}`);
        break;
      case 'delete-rule':
        lines.push(`-D ${o.ref.chain} ${o.ref.spec ?? ''}`);
        break;
      case 'create-pair':
        // Declaring a chain in --noflush mode creates it (or flushes an existing one).
        lines.push(`:${pairChain(o.id)} - [0:0]`);
        pairRules(o.id, o.key, o.lease);
        break;
      case 'reset-pair':
        lines.push(`-F ${pairChain(o.id)}`);
        pairRules(o.id, o.key, o.lease, o.drop);
        break;
      case 'set-lease':
        if (o.replace) lines.push(`-D ${o.replace.chain} ${o.replace.spec ?? ''}`);
        lines.push(`-I ${pairChain(o.id)} 1 ${leaseSpec(o.key, o.expiresAt)}`);
        break;
      case 'add-jump':
        lines.push(`-A ${MAIN_CHAIN} ${jumpSpec(o.id, o.key, o.cidr, o.port)}`);
        break;
      case 'delete-pair':
        lines.push(`-F ${pairChain(o.id)}`, `-X ${pairChain(o.id)}`);
        break;
    }
  }
  lines.push('COMMIT', '');
  return lines.join('\n');
}

/** Removes hook, main chain and pair chains in one transaction. */
export function renderIptablesCleanup(snapshot: GateSnapshot): string | undefined {
  const pairChains = [...snapshot.pairs.values()].filter((p) => p.chainExists).map((p) => pairChain(p.id));
  if (!snapshot.mainExists && pairChains.length === 0 && snapshot.hooks.length === 0) return undefined;
  const lines = ['*filter'];
  for (const ref of [...snapshot.hooks, ...snapshot.foreign.filter((f) => f.chain === 'INPUT')]) {
    lines.push(`-D ${ref.chain} ${ref.spec ?? ''}`);
  }
  if (snapshot.mainExists) lines.push(`-F ${MAIN_CHAIN}`);
  for (const c of pairChains) lines.push(`-F ${c}`);
  for (const c of pairChains) lines.push(`-X ${c}`);
  if (snapshot.mainExists) lines.push(`-X ${MAIN_CHAIN}`);
  lines.push('COMMIT', '');
  return lines.join('\n');
}

const BINARIES: Record<IptablesFlavor, { iptables: string; save: string; restore: string }> = {
  nft: { iptables: 'iptables-nft', save: 'iptables-nft-save', restore: 'iptables-nft-restore' },
  legacy: { iptables: 'iptables-legacy', save: 'iptables-legacy-save', restore: 'iptables-legacy-restore' },
};

/** Probe gate in the filter table: chain PROBEGATE hooked from INPUT, one chain per pair. */
export class IptablesBackend implements GateBackend {
  readonly name;
  /** The stamp deletes the old hook by its exact spec (token included): a changed token fails the restore. */
  readonly writeChecksGeneration = true;
  readonly #bin;

  constructor(
    private readonly runner: CommandRunner,
    flavor: IptablesFlavor,
  ) {
    this.name = flavor === 'nft' ? ('iptables-nft' as const) : ('iptables-legacy' as const);
    this.#bin = BINARIES[flavor];
  }

  private get restoreCommand(): string[] {
    return [this.#bin.restore, '-w', '5', '-W', '100000', '--noflush', '--counters'];
  }

  get stdinCommands(): string[][] {
    return [this.restoreCommand];
  }

  async read(): Promise<GateSnapshot> {
    const { stdout } = await this.runner.run([this.#bin.save, '-c', '-t', 'filter']);
    return parseIptablesSave(stdout);
  }

  readonly refs: RefMaker = {
    lease: (id, key, expiresAt) => ({ chain: pairChain(id), spec: leaseSpec(key, expiresAt) }),
    hook: (generation) => ({ chain: 'INPUT', spec: hookSpec(generation) }),
  };

  async readGeneration(): Promise<string | undefined> {
    const { stdout } = await this.runner.run([this.#bin.iptables, '-w', '5', '-S', 'INPUT']);
    return /probegate:gen:([0-9a-f]+)"? -j PROBEGATE/.exec(stdout)?.[1];
  }

  async write(ops: readonly GateOp[]): Promise<void> {
    await this.restore(renderIptablesRestore(ops));
  }

  async cleanup(): Promise<boolean> {
    const script = renderIptablesCleanup(await this.read());
    if (script === undefined) return false;
    await this.restore(script);
    return true;
  }

  private async restore(script: string): Promise<void> {
    await this.runner.run(this.restoreCommand, {
      input: script,
    });
  }
}
