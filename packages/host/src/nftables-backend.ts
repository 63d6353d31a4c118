import { CommandError, type CommandRunner } from './command-runner.js';
import type { GateBackend } from './gate-backend.js';
import type { GateOp, GateSnapshot, PacketCount, SnapshotPair } from './gate-model.js';
import { commentKey } from './pair-id.js';

export const NFT_TABLE = 'probegate';
const FAMILY = 'inet';
const BASE_CHAIN = 'input';
const PAIR_PREFIX = 'pg_';
/** Before the usual filter (0) so other rulesets cannot accept probes first. */
const PRIORITY = -10;

const T = `${FAMILY} ${NFT_TABLE}`;
const pairChain = (id: string): string => `${PAIR_PREFIX}${id}`;
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

/** Parses `nft -j list table inet probegate` into the backend-neutral snapshot. */
export function parseNftJson(text: string): GateSnapshot {
  const items = (JSON.parse(text) as { nftables: NftItem[] }).nftables;
  const snapshot: GateSnapshot = { mainExists: false, hooks: [], foreign: [], pairs: new Map() };
  const chains = new Set<string>();
  for (const it of items) {
    if (it.table) snapshot.mainExists = true;
    if (it.chain) {
      chains.add(it.chain.name);
      if (it.chain.name === BASE_CHAIN && it.chain.hook === 'input')
        snapshot.hooks.push({ chain: BASE_CHAIN });
    }
  }
  const pairOf = (id: string): SnapshotPair => {
    let p = snapshot.pairs.get(id);
    if (!p) {
      p = { id, chainExists: chains.has(pairChain(id)), jumps: [], canonical: true };
      snapshot.pairs.set(id, p);
    }
    return p;
  };
  for (const c of chains) if (c.startsWith(PAIR_PREFIX)) pairOf(c.slice(PAIR_PREFIX.length));

  for (const it of items) {
    const r = it.rule;
    if (!r) continue;
    const ref = { chain: r.chain, handle: r.handle };
    const e = r.expr;
    if (r.chain === BASE_CHAIN) {
      const cidr = cidrOf(e[0]?.match?.right);
      const port = e[1]?.match?.right;
      const target = e[3]?.jump?.target;
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
        target?.startsWith(PAIR_PREFIX) &&
        chains.has(target);
      if (!jump || target === undefined || cidr === undefined) {
        snapshot.foreign.push(ref);
        continue;
      }
      const p = pairOf(target.slice(PAIR_PREFIX.length));
      p.key ??= keyFromComment(r.comment, '');
      p.jumps.push({
        cidr,
        port: port as number,
        packets: e[2]?.counter?.packets ?? 0,
        bytes: e[2]?.counter?.bytes ?? 0,
        ref,
      });
    } else if (r.chain.startsWith(PAIR_PREFIX)) {
      const p = pairOf(r.chain.slice(PAIR_PREFIX.length));
      const expiresAt = timeOf(e[0]?.match?.right);
      const isLease =
        e.length === 2 &&
        e[0]?.match?.op === '<' &&
        e[0].match.left.meta?.key === 'time' &&
        expiresAt &&
        'accept' in (e[1] ?? {});
      const isDrop = e.length === 2 && e[0]?.counter !== undefined && 'drop' in (e[1] ?? {});
      if (isLease && expiresAt && p.lease === undefined && p.drop === undefined) {
        p.lease = { expiresAt, ref };
        p.key ??= keyFromComment(r.comment, ':lease');
      } else if (isDrop && p.drop === undefined) {
        p.drop = { packets: e[0]?.counter?.packets ?? 0, bytes: e[0]?.counter?.bytes ?? 0, ref };
        p.key ??= keyFromComment(r.comment, ':drop');
      } else {
        p.canonical = false;
      }
    }
  }
  for (const p of snapshot.pairs.values()) if (p.drop === undefined) p.canonical = false;
  return snapshot;
}

/** Renders the plan as one `nft -f -` transaction. */
export function renderNftScript(ops: readonly GateOp[]): string {
  const lines: string[] = [];
  const leaseRule = (key: string, at: Date): string =>
    `meta time < ${epochSeconds(at)} accept ${comment(key, ':lease')}`;
  const dropRule = (key: string, c?: PacketCount): string =>
    `counter${c ? ` packets ${c.packets} bytes ${c.bytes}` : ''} drop ${comment(key, ':drop')}`;
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
        lines.push(`delete rule ${T} ${o.ref.chain} handle ${o.ref.handle}`);
        break;
      case 'create-pair':
        lines.push(`add chain ${T} ${pairChain(o.id)}`);
        if (o.lease) lines.push(`add rule ${T} ${pairChain(o.id)} ${leaseRule(o.key, o.lease)}`);
        lines.push(`add rule ${T} ${pairChain(o.id)} ${dropRule(o.key)}`);
        break;
      case 'reset-pair':
        lines.push(`flush chain ${T} ${pairChain(o.id)}`);
        if (o.lease) lines.push(`add rule ${T} ${pairChain(o.id)} ${leaseRule(o.key, o.lease)}`);
        lines.push(`add rule ${T} ${pairChain(o.id)} ${dropRule(o.key, o.drop)}`);
        break;
      case 'set-lease':
        lines.push(
          o.replace
            ? `replace rule ${T} ${pairChain(o.id)} handle ${o.replace.handle} ${leaseRule(o.key, o.expiresAt)}`
            : `insert rule ${T} ${pairChain(o.id)} ${leaseRule(o.key, o.expiresAt)}`,
        );
        break;
      case 'add-jump':
        lines.push(
          `add rule ${T} ${BASE_CHAIN} ip saddr ${o.cidr} tcp dport ${o.port} counter jump ${pairChain(o.id)} ${comment(o.key)}`,
        );
        break;
      case 'delete-pair':
        lines.push(`flush chain ${T} ${pairChain(o.id)}`, `delete chain ${T} ${pairChain(o.id)}`);
        break;
    }
  }
  return `${lines.join('\n')}\n`;
}

/** Probe gate in a table of our own, `inet probegate`, with its own input hook. */
export class NftablesBackend implements GateBackend {
  readonly name = 'nftables' as const;

  constructor(private readonly runner: CommandRunner) {}

  async read(): Promise<GateSnapshot> {
    try {
      const { stdout } = await this.runner.run(['nft', '-j', 'list', 'table', FAMILY, NFT_TABLE]);
      return parseNftJson(stdout);
    } catch (err) {
      if (err instanceof CommandError && /No such file or directory/.test(err.stderr)) {
        return { mainExists: false, hooks: [], foreign: [], pairs: new Map() };
      }
      throw err;
    }
  }

  async write(ops: readonly GateOp[]): Promise<void> {
    await this.runner.run(['nft', '-f', '-'], { input: renderNftScript(ops) });
  }

  async cleanup(): Promise<boolean> {
    const snapshot = await this.read();
    if (!snapshot.mainExists) return false;
    await this.runner.run(['nft', '-f', '-'], { input: `delete table ${T}\n` });
    return true;
  }
}
