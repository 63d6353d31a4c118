import { CommandError, type CommandRunner } from './command-runner.js';
import type { GateBackend } from './gate-backend.js';
import {
  emptySnapshot,
  type GateOp,
  type GateSnapshot,
  type PacketCount,
  type RefMaker,
  type SnapshotPair,
} from './gate-model.js';
import { commentKey } from './pair-id.js';

export const NFT_TABLE = 'probegate';
const FAMILY = 'inet';
const BASE_CHAIN = 'input';
const PAIR_PREFIX = 'pg_';
/** Before the usual filter (0) so other rulesets cannot accept probes first. */
const PRIORITY = -10;

/** Tiny table holding the generation token: readable without listing the big one. */
export const NFT_GEN_TABLE = 'probegate_gen';
/** Per pair: holds the pair's open rule (a jump to LEASE_CHAIN) while Active, empty while Standby. */
const LEASE_PREFIX = 'pgl_';
/**
 * The node-wide lease: one time-limited accept that every open gate jumps to. Not named pg_*:
 * the previous version reads every pg_* chain as a pair's and would try to delete this one while
 * pair chains still jump to it (its whole transaction then fails), so a rollback would be stuck.
 */
export const NFT_LEASE_CHAIN = 'lease';

const NFT_WRITE = ['nft', '-f', '-'];
/** -t (terse: no set elements) marks a listing, apart from the writes. */
const NFT_LIST = ['nft', '-t', '-f', '-'];

const T = `${FAMILY} ${NFT_TABLE}`;
const G = `${FAMILY} ${NFT_GEN_TABLE}`;
const pairChain = (id: string): string => `${PAIR_PREFIX}${id}`;
const leaseChain = (id: string): string => `${LEASE_PREFIX}${id}`;
const comment = (key: string, suffix = ''): string => `comment "probegate:${commentKey(key) ?? ''}${suffix}"`;
const epochSeconds = (d: Date): number => Math.floor(d.getTime() / 1000);

// Minimal shapes of `nft -j` output that we read.
interface NftExpr {
  match?: { op: string; left: Record<string, Record<string, string>>; right: unknown };
  counter?: { packets: number; bytes: number };
  jump?: { target: string };
  accept?: null;
  drop?: null;
}
interface NftRule {
  chain: string;
  handle: number;
  comment?: string;
  expr: NftExpr[];
}
interface NftChain {
  name: string;
  hook?: string;
}
type NftItem = { table?: unknown; chain?: NftChain; rule?: NftRule };

function keyFromComment(text: string | undefined, suffix: string): string | undefined {
  if (!text?.startsWith('probegate:') || !text.endsWith(suffix)) return undefined;
  const key = text.slice('probegate:'.length, text.length - suffix.length);
  return key === '' ? undefined : key;
}

function cidrOf(right: unknown): string | undefined {
  if (typeof right === 'string') return `${right}/32`;
  const prefix = (right as { prefix?: { addr: string; len: number } } | null)?.prefix;
  return prefix ? `${prefix.addr}/${prefix.len}` : undefined;
}

/** nft prints `meta time` as a date in the process's time zone; the runner pins TZ=UTC. */
function timeOf(right: unknown): Date | undefined {
  if (typeof right === 'number') return new Date(right * 1000);
  if (typeof right !== 'string' || !/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/.test(right)) return undefined;
  return new Date(`${right.replace(' ', 'T')}Z`);
}

/** `meta time < T accept`: the lease rule (shared, or a pair's own in the previous layout). */
function leaseExpiry(e: NftExpr[]): Date | undefined {
  const expiresAt = timeOf(e[0]?.match?.right);
  const isLease =
    e.length === 2 &&
    e[0]?.match?.op === '<' &&
    e[0].match.left.meta?.key === 'time' &&
    'accept' in (e[1] ?? {});
  return isLease ? expiresAt : undefined;
}

/** Parses `nft -j list table inet probegate` into the backend-neutral snapshot. */
export function parseNftJson(text: string): GateSnapshot {
  const items = (JSON.parse(text) as { nftables: NftItem[] }).nftables;
  const snapshot = emptySnapshot();
  const chains = new Set<string>();
  for (const it of items) {
    if (it.table) snapshot.mainExists = true;
    if (it.chain) {
      chains.add(it.chain.name);
      if (it.chain.name === BASE_CHAIN && it.chain.hook === 'input')
        snapshot.hooks.push({ chain: BASE_CHAIN });
    }
  }
  snapshot.lease.chainExists = chains.has(NFT_LEASE_CHAIN);
  const pairChainId = (chain: string): string | undefined =>
    chain.startsWith(PAIR_PREFIX) ? chain.slice(PAIR_PREFIX.length) : undefined;
  const pairOf = (id: string): SnapshotPair => {
    let p = snapshot.pairs.get(id);
    if (!p) {
      const complete = chains.has(pairChain(id)) && chains.has(leaseChain(id));
      p = {
        id,
        chainExists: complete || chains.has(pairChain(id)) || chains.has(leaseChain(id)),
        jumps: [],
        canonical: complete,
      };
      snapshot.pairs.set(id, p);
    }
    return p;
  };
  for (const c of chains) {
    const id = pairChainId(c);
    if (id !== undefined) pairOf(id);
    if (c.startsWith(LEASE_PREFIX)) pairOf(c.slice(LEASE_PREFIX.length));
  }
  const pairRules = new Map<string, number>();

  for (const it of items) {
    const r = it.rule;
    if (!r) continue;
    const ref = { chain: r.chain, handle: r.handle };
    const e = r.expr;
    const pairId = pairChainId(r.chain);
    if (r.chain === BASE_CHAIN) {
      const cidr = cidrOf(e[0]?.match?.right);
      const port = e[1]?.match?.right;
      const target = e[3]?.jump?.target;
      const targetId = target === undefined ? undefined : pairChainId(target);
      const jump =
        e.length === 4 &&
        e[0]?.match?.op === '==' &&
        e[0].match.left.payload?.protocol === 'ip' &&
        e[0].match.left.payload.field === 'saddr' &&
        cidr !== undefined &&
        e[1]?.match?.op === '==' &&
        e[1].match.left.payload?.protocol === 'tcp' &&
        e[1].match.left.payload.field === 'dport' &&
        typeof port === 'number' &&
        e[2]?.counter !== undefined &&
        target !== undefined &&
        chains.has(target);
      if (!jump || targetId === undefined || cidr === undefined) {
        snapshot.foreign.push(ref);
        continue;
      }
      const p = pairOf(targetId);
      p.key ??= keyFromComment(r.comment, '');
      p.jumps.push({
        cidr,
        port: port as number,
        packets: e[2]?.counter?.packets ?? 0,
        bytes: e[2]?.counter?.bytes ?? 0,
        ref,
      });
    } else if (r.chain === NFT_LEASE_CHAIN) {
      // Exactly one rule: accept until the lease ends. Anything else gets the chain rewritten.
      const expiresAt = leaseExpiry(e);
      if (expiresAt && r.comment === 'probegate:lease' && snapshot.lease.rule === undefined) {
        snapshot.lease.rule = { expiresAt, ref: { chain: NFT_LEASE_CHAIN } };
      } else {
        snapshot.lease.canonical = false;
      }
    } else if (pairId !== undefined) {
      // Pair chain: exactly [jump to its lease chain, counted drop].
      const p = pairOf(pairId);
      const position = pairRules.get(p.id) ?? 0;
      pairRules.set(p.id, position + 1);
      const isJump = e.length === 1 && e[0]?.jump?.target === leaseChain(p.id);
      const isDrop = e.length === 2 && e[0]?.counter !== undefined && 'drop' in (e[1] ?? {});
      if (position === 0 && isJump) continue;
      if (position === 1 && isDrop) {
        p.drop = { packets: e[0]?.counter?.packets ?? 0, bytes: e[0]?.counter?.bytes ?? 0, ref };
        p.key ??= keyFromComment(r.comment, ':drop');
      } else {
        p.canonical = false;
      }
    } else if (r.chain.startsWith(LEASE_PREFIX)) {
      // The pair's lease chain: empty (closed) or its open rule, rewritten whole on every change.
      const p = pairOf(r.chain.slice(LEASE_PREFIX.length));
      const isOpen = e.length === 1 && e[0]?.jump?.target === NFT_LEASE_CHAIN;
      const legacy = leaseExpiry(e);
      if (isOpen && p.open === undefined && p.legacyLease === undefined) {
        p.open = { ref: { chain: r.chain } };
        p.key ??= keyFromComment(r.comment, ':open');
      } else {
        p.canonical = false;
        // The previous layout's own lease per pair: the gate stays open until it runs out.
        if (legacy && p.open === undefined && p.legacyLease === undefined) {
          p.legacyLease = legacy;
          p.key ??= keyFromComment(r.comment, ':lease');
        }
      }
    }
  }
  for (const p of snapshot.pairs.values()) if (p.drop === undefined) p.canonical = false;
  return snapshot;
}

/** Renders the plan (and the new generation token) as one `nft -f -` transaction. */
export function renderNftScript(ops: readonly GateOp[]): string {
  const lines: string[] = [];
  const openRule = (id: string, key: string): string =>
    `add rule ${T} ${leaseChain(id)} jump ${NFT_LEASE_CHAIN} ${comment(key, ':open')}`;
  // `add chain` is a no-op on an existing chain, so flush/delete never fail on a missing one.
  const ensureChains = (id: string): void => {
    lines.push(`add chain ${T} ${pairChain(id)}`, `add chain ${T} ${leaseChain(id)}`);
  };
  const pairRules = (id: string, key: string, open: boolean, drop?: PacketCount): void => {
    ensureChains(id);
    lines.push(`flush chain ${T} ${pairChain(id)}`, `flush chain ${T} ${leaseChain(id)}`);
    lines.push(`add rule ${T} ${pairChain(id)} jump ${leaseChain(id)}`);
    lines.push(
      `add rule ${T} ${pairChain(id)} counter${drop ? ` packets ${drop.packets} bytes ${drop.bytes}` : ''} drop ${comment(key, ':drop')}`,
    );
    if (open) lines.push(openRule(id, key));
  };
  for (const o of ops) {
    switch (o.op) {
      case 'create-main':
        lines.push(`add table ${T}`);
        break;
      case 'add-hook':
        lines.push(
          `add chain ${T} ${BASE_CHAIN} { type filter hook input priority ${PRIORITY}; policy accept; }`,
        );
        break;
      case 'delete-rule':
        lines.push(
          o.ref.handle === undefined
            ? `flush chain ${T} ${o.ref.chain}`
            : `delete rule ${T} ${o.ref.chain} handle ${o.ref.handle}`,
        );
        break;
      case 'set-lease':
        lines.push(`add chain ${T} ${NFT_LEASE_CHAIN}`, `flush chain ${T} ${NFT_LEASE_CHAIN}`);
        if (o.expiresAt)
          lines.push(
            `add rule ${T} ${NFT_LEASE_CHAIN} meta time < ${epochSeconds(o.expiresAt)} accept comment "probegate:lease"`,
          );
        break;
      case 'create-pair':
        pairRules(o.id, o.key, o.open);
        break;
      case 'reset-pair':
        pairRules(o.id, o.key, o.open, o.drop);
        break;
      case 'open-gate':
        lines.push(`flush chain ${T} ${leaseChain(o.id)}`, openRule(o.id, o.key));
        break;
      case 'add-jump':
        lines.push(
          `add rule ${T} ${BASE_CHAIN} ip saddr ${o.cidr} tcp dport ${o.port} counter jump ${pairChain(o.id)} ${comment(o.key)}`,
        );
        break;
      case 'set-generation':
        lines.push(
          `add table ${G}`,
          `add chain ${G} gen`,
          `flush chain ${G} gen`,
          `add rule ${G} gen counter comment "probegate:gen:${o.generation}"`,
        );
        break;
      case 'delete-pair':
        ensureChains(o.id);
        lines.push(
          `flush chain ${T} ${pairChain(o.id)}`,
          `flush chain ${T} ${leaseChain(o.id)}`,
          `delete chain ${T} ${pairChain(o.id)}`,
          `delete chain ${T} ${leaseChain(o.id)}`,
        );
        break;
    }
  }
  return `${lines.join('\n')}\n`;
}

/**
 * Reads the token from `list table inet probegate_gen` as text: `nft -f -` prints lists only as
 * text, and going through stdin lets a started process serve the read (see StandbyProcesses).
 */
export function parseNftGeneration(text: string): string | undefined {
  return /comment "probegate:gen:([0-9a-f]+)"/.exec(text)?.[1];
}

/**
 * Probe gate in a table of our own, `inet probegate`, with its own input hook; every open gate
 * jumps to one lease chain, `lease`.
 */
export class NftablesBackend implements GateBackend {
  readonly name = 'nftables' as const;
  readonly writeChecksGeneration = false;

  constructor(private readonly runner: CommandRunner) {}

  readonly stdinCommands = [NFT_WRITE, NFT_LIST];

  readonly refs: RefMaker = {
    open: (id) => ({ chain: leaseChain(id) }),
    lease: () => ({ chain: NFT_LEASE_CHAIN }),
    hook: () => ({ chain: BASE_CHAIN }),
  };

  async read(): Promise<GateSnapshot> {
    const [main, generation] = await Promise.all([this.list(NFT_TABLE), this.readGeneration()]);
    const snapshot = main === undefined ? emptySnapshot() : parseNftJson(main);
    if (generation !== undefined) snapshot.generation = generation;
    return snapshot;
  }

  async readGeneration(): Promise<string | undefined> {
    try {
      const { stdout } = await this.runner.run(NFT_LIST, { input: `list table ${G}\n` });
      return parseNftGeneration(stdout);
    } catch (err) {
      if (err instanceof CommandError && /No such file or directory/.test(err.stderr)) return undefined;
      throw err;
    }
  }

  async write(ops: readonly GateOp[]): Promise<void> {
    await this.runner.run(NFT_WRITE, { input: renderNftScript(ops) });
  }

  async cleanup(): Promise<boolean> {
    const [main, gen] = await Promise.all([this.list(NFT_TABLE), this.list(NFT_GEN_TABLE)]);
    if (main === undefined && gen === undefined) return false;
    // `add` first so that `delete` cannot fail on a table that is already gone.
    await this.runner.run(NFT_WRITE, {
      input: `add table ${T}\ndelete table ${T}\nadd table ${G}\ndelete table ${G}\n`,
    });
    return true;
  }

  private async list(table: string): Promise<string | undefined> {
    try {
      return (await this.runner.run(['nft', '-j', 'list', 'table', FAMILY, table])).stdout;
    } catch (err) {
      if (err instanceof CommandError && /No such file or directory/.test(err.stderr)) return undefined;
      throw err;
    }
  }
}
