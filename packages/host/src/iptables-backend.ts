import type { CommandRunner } from './command-runner.js';
import type { GateBackend } from './gate-backend.js';
import {
  emptySnapshot,
  type GateOp,
  type GateSnapshot,
  type PacketCount,
  type RefMaker,
  type RuleRef,
  type SnapshotPair,
} from './gate-model.js';
import { commentKey } from './pair-id.js';

export const MAIN_CHAIN = 'PROBEGATE';
/** The node-wide lease: one time-limited ACCEPT that every open gate jumps to. */
export const LEASE_CHAIN = 'PROBEGATE-LEASE';
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

/** The shared lease rule, the only rule in LEASE_CHAIN. */
export function leaseSpec(expiresAt: Date): string {
  return `-m time --datestop ${datestop(expiresAt)} -m comment --comment "probegate:lease" -j ACCEPT`;
}

/** A pair's open rule: while present, its probes are accepted as long as the shared lease runs. */
export function openSpec(key: string): string {
  return `-m comment --comment ${comment(key, ':open')} -j ${LEASE_CHAIN}`;
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

const isTimeLimitedAccept = (t: string[]): boolean =>
  t.length === 10 &&
  t[0] === '-m' &&
  t[1] === 'time' &&
  t[2] === '--datestop' &&
  t[4] === '-m' &&
  t[5] === 'comment' &&
  t[6] === '--comment' &&
  t[8] === '-j' &&
  t[9] === 'ACCEPT';
/** --datestop is inclusive, in whole UTC seconds. */
const stopOf = (t: string[]): Date => new Date(Date.parse(`${t[3]}Z`) + 1000);

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

  const snapshot = emptySnapshot();
  snapshot.mainExists = chains.has(MAIN_CHAIN);
  snapshot.lease.chainExists = chains.has(LEASE_CHAIN);
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
    } else if (r.chain === LEASE_CHAIN) {
      // Exactly one rule: ACCEPT until the lease ends. Anything else gets the chain rewritten.
      const lease = snapshot.lease;
      if (isTimeLimitedAccept(t) && t[7] === 'probegate:lease' && lease.rule === undefined) {
        lease.rule = { expiresAt: stopOf(t), ref };
      } else {
        lease.canonical = false;
      }
    } else if (r.chain.startsWith(PAIR_PREFIX)) {
      // Pair chain: exactly [open?, drop].
      const p = pairOf(r.chain.slice(PAIR_PREFIX.length));
      const isOpen =
        t.length === 6 && t[0] === '-m' && t[1] === 'comment' && t[4] === '-j' && t[5] === LEASE_CHAIN;
      const isDrop = t.length === 6 && t[0] === '-m' && t[1] === 'comment' && t[5] === 'DROP';
      if (isOpen && p.open === undefined && p.drop === undefined && p.legacyLease === undefined) {
        p.open = { ref };
        p.key ??= keyFromComment(t[3], ':open');
      } else if (isDrop && p.drop === undefined) {
        p.drop = { packets: r.packets, bytes: r.bytes, ref };
        p.key ??= keyFromComment(t[3], ':drop');
      } else {
        p.canonical = false;
        // The previous layout's own lease per pair: the gate stays open until it runs out.
        if (isTimeLimitedAccept(t) && p.drop === undefined && p.legacyLease === undefined) {
          p.legacyLease = stopOf(t);
          p.key ??= keyFromComment(t[7], ':lease');
        }
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
  const pairRules = (id: string, key: string, open: boolean, drop?: PacketCount): void => {
    if (open) lines.push(`-A ${pairChain(id)} ${openSpec(key)}`);
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
      case 'set-lease':
        // Declaring a chain in --noflush mode creates it or flushes it: one rule whatever was there.
        lines.push(`:${LEASE_CHAIN} - [0:0]`);
        if (o.expiresAt) lines.push(`-A ${LEASE_CHAIN} ${leaseSpec(o.expiresAt)}`);
        break;
      case 'create-pair':
        lines.push(`:${pairChain(o.id)} - [0:0]`);
        pairRules(o.id, o.key, o.open);
        break;
      case 'reset-pair':
        lines.push(`-F ${pairChain(o.id)}`);
        pairRules(o.id, o.key, o.open, o.drop);
        break;
      case 'open-gate':
        lines.push(`-I ${pairChain(o.id)} 1 ${openSpec(o.key)}`);
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

/** Removes hook, main chain, pair chains and the lease chain in one transaction. */
export function renderIptablesCleanup(snapshot: GateSnapshot): string | undefined {
  const pairChains = [...snapshot.pairs.values()].filter((p) => p.chainExists).map((p) => pairChain(p.id));
  const leaseChain = snapshot.lease.chainExists ? [LEASE_CHAIN] : [];
  if (
    !snapshot.mainExists &&
    pairChains.length === 0 &&
    snapshot.hooks.length === 0 &&
    leaseChain.length === 0
  )
    return undefined;
  const lines = ['*filter'];
  for (const ref of [...snapshot.hooks, ...snapshot.foreign.filter((f) => f.chain === 'INPUT')]) {
    lines.push(`-D ${ref.chain} ${ref.spec ?? ''}`);
  }
  if (snapshot.mainExists) lines.push(`-F ${MAIN_CHAIN}`);
  // Pair chains jump to the lease chain: flush them all before deleting any.
  for (const c of [...pairChains, ...leaseChain]) lines.push(`-F ${c}`);
  for (const c of [...pairChains, ...leaseChain]) lines.push(`-X ${c}`);
  if (snapshot.mainExists) lines.push(`-X ${MAIN_CHAIN}`);
  lines.push('COMMIT', '');
  return lines.join('\n');
}

const BINARIES: Record<IptablesFlavor, { iptables: string; save: string; restore: string }> = {
  nft: { iptables: 'iptables-nft', save: 'iptables-nft-save', restore: 'iptables-nft-restore' },
  legacy: { iptables: 'iptables-legacy', save: 'iptables-legacy-save', restore: 'iptables-legacy-restore' },
};

/**
 * Probe gate in the filter table: chain PROBEGATE hooked from INPUT, one chain per pair, and one
 * lease chain (PROBEGATE-LEASE) shared by every open gate.
 */
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
    open: (id, key) => ({ chain: pairChain(id), spec: openSpec(key) }),
    lease: (expiresAt) => ({ chain: LEASE_CHAIN, spec: leaseSpec(expiresAt) }),
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
