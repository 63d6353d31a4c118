import { randomBytes } from 'node:crypto';
import { CommandError, type CommandRunner, ExecaCommandRunner } from './command-runner.js';
import { detectIptablesFlavor } from './detect.js';
import type { GateBackend } from './gate-backend.js';
import { acceptedOf, type GateOp, type GateSnapshot, openUntil, projectSnapshot } from './gate-model.js';
import { type DesiredPair, planGate } from './gate-plan.js';
import { IptablesBackend } from './iptables-backend.js';
import { NftablesBackend } from './nftables-backend.js';
import { pairId } from './pair-id.js';
import type {
  ApplyOptions,
  ApplyResult,
  BackendChoice,
  BackendName,
  Change,
  HostActuator,
  ObservedPair,
  ObservedState,
  PairGate,
  VipState,
} from './types.js';
import { InvalidInputError, validateLeaseSeconds, validatePairs } from './validate.js';
import { type LoopbackAddresses, VipManager } from './vip.js';

export interface HostActuatorConfig {
  /** Firewall technology; 'auto' picks the iptables flavour the host already uses. */
  backend?: BackendChoice;
  /** Runs every command; defaults to execa on this host. */
  runner?: CommandRunner;
  /**
   * nftables: how long apply may trust its last write when the kernel still holds that
   * write's generation token, before reading the whole table again (default 60 s).
   */
  resyncSeconds?: number;
}

const BACKENDS: readonly BackendChoice[] = ['auto', 'iptables-nft', 'iptables-legacy', 'nftables'];

export async function resolveBackend(choice: BackendChoice, runner: CommandRunner): Promise<BackendName> {
  if (!BACKENDS.includes(choice)) {
    throw new InvalidInputError('backend', choice, `expected one of ${BACKENDS.join(', ')}`);
  }
  if (choice !== 'auto') return choice;
  return (await detectIptablesFlavor(runner)) === 'legacy' ? 'iptables-legacy' : 'iptables-nft';
}

function makeBackend(name: BackendName, runner: CommandRunner): GateBackend {
  if (name === 'nftables') return new NftablesBackend(runner);
  return new IptablesBackend(runner, name === 'iptables-legacy' ? 'legacy' : 'nft');
}

/** Builds the actuator for this host (or for a namespace, through the runner's prefix). */
export async function createHostActuator(config: HostActuatorConfig = {}): Promise<HostActuator> {
  const runner = config.runner ?? new ExecaCommandRunner();
  const name = await resolveBackend(config.backend ?? 'auto', runner);
  const gate = makeBackend(name, runner);
  const vips = new VipManager(runner);
  // A standby node's first bind is its first failover: it should not pay a process start either.
  for (const argv of [...gate.stdinCommands, ...vips.stdinCommands]) runner.prepare?.(argv);
  return new KernelHostActuator(gate, vips, config.resyncSeconds ?? 60);
}

/** Only gates opening or closing (and the shared lease renewed alongside): the writes a failover waits for. */
function isFlip(changes: readonly Change[]): boolean {
  const flip = (c: Change) => c.kind === 'gate-opened' || c.kind === 'gate-closed';
  return changes.some(flip) && changes.every((c) => c.kind === 'lease-renewed' || flip(c));
}

/** What lo must gain and lose: only our labelled /32s are ever removed; an unlabelled one serves as it is. */
function vipDelta(lo: LoopbackAddresses, wanted: ReadonlySet<string>) {
  const toBind = [...wanted].filter((v) => !lo.all.has(v));
  const toUnbind = lo.labelled.filter((v) => !wanted.has(v));
  return { toBind, toUnbind, any: toBind.length > 0 || toUnbind.length > 0 };
}

function afterVipChanges(lo: LoopbackAddresses, bound: string[], unbound: string[]): LoopbackAddresses {
  const gone = new Set(unbound);
  const all = new Set([...lo.all, ...bound].filter((v) => !gone.has(v)));
  return { labelled: [...lo.labelled, ...bound].filter((v) => !gone.has(v)), all };
}

function observedPairs(snapshot: GateSnapshot, now: Date): Map<string, ObservedPair> {
  const out = new Map<string, ObservedPair>();
  for (const p of snapshot.pairs.values()) {
    // Open: its open rule is there and the shared lease still runs (or, left by the previous
    // layout, its own lease still runs).
    const until = openUntil(snapshot, p, now);
    const accepted = acceptedOf(p);
    const o: ObservedPair = {
      id: p.id,
      gate: until ? 'Open' : 'Closed',
      counters: {
        acceptedPackets: accepted.packets,
        acceptedBytes: accepted.bytes,
        droppedPackets: p.drop?.packets ?? 0,
        droppedBytes: p.drop?.bytes ?? 0,
      },
      sourceCIDRs: [...new Set(p.jumps.map((j) => j.cidr))],
      ports: [...new Set(p.jumps.map((j) => j.port))],
    };
    if (p.key !== undefined) o.key = p.key;
    if (until) o.leaseExpiresAt = until;
    out.set(p.id, o);
  }
  return out;
}

/**
 * Drives the probe gate and the VIPs. Every apply reads the kernel first, so a new
 * run adopts what an earlier one left; it writes only what differs, in one
 * transaction. Order is break-before-make: VIPs to bind first, then the gate
 * transaction (opens and closes), then VIPs to release.
 */
export class KernelHostActuator implements HostActuator {
  /**
   * The gate as of our last write, trusted only while the kernel still holds that
   * write's generation token (so a flip does not list 1,000 pairs first).
   */
  #known?: { snapshot: GateSnapshot; generation: string; fullReadAt: number };
  /** lo as of our last read or write: a flip binds or unbinds from it (a refused `ip` reads again). */
  #loopback?: LoopbackAddresses;

  constructor(
    private readonly gate: GateBackend,
    private readonly vips: VipManager,
    private readonly resyncSeconds = 60,
  ) {}

  get backend(): BackendName {
    return this.gate.name;
  }

  async observe(): Promise<ObservedState> {
    const [snapshot, loopback] = await Promise.all([this.readGate(), this.readLoopback()]);
    return {
      backend: this.gate.name,
      hooked: snapshot.hooks.length > 0,
      pairs: observedPairs(snapshot, new Date()),
      vips: loopback.labelled,
    };
  }

  /** Full read; remembers it when the backend keeps a generation token. */
  private async readGate(): Promise<GateSnapshot> {
    const snapshot = await this.gate.read();
    this.#known =
      snapshot.generation === undefined
        ? undefined
        : { snapshot, generation: snapshot.generation, fullReadAt: Date.now() };
    return snapshot;
  }

  private async readLoopback(): Promise<LoopbackAddresses> {
    this.#loopback = await this.vips.read();
    return this.#loopback;
  }

  /**
   * The remembered gate, when a write from it will itself prove nobody wrote since (the backend's
   * transaction checks the token): a flip then costs no read. `fresh` is false once the periodic
   * full read is due. undefined: read first.
   */
  private trustedGate(): { snapshot: GateSnapshot; fresh: boolean } | undefined {
    const known = this.#known;
    if (!known || !this.gate.writeChecksGeneration || known.snapshot.hooks.length !== 1) return undefined;
    return { snapshot: known.snapshot, fresh: Date.now() - known.fullReadAt < this.resyncSeconds * 1000 };
  }

  /** The remembered gate if the kernel's token proves nobody wrote since, else a full read. */
  private async currentGate(): Promise<GateSnapshot> {
    const known = this.#known;
    const fresh = known !== undefined && Date.now() - known.fullReadAt < this.resyncSeconds * 1000;
    if (fresh && (await this.gate.readGeneration()) === known.generation) {
      return known.snapshot;
    }
    return this.readGate();
  }

  /** Writes the plan stamped with a new generation token, and remembers the result when it can be projected. */
  private async writeGate(before: GateSnapshot, ops: readonly GateOp[]): Promise<void> {
    const known = this.#known;
    this.#known = undefined;
    const generation = randomBytes(8).toString('hex');
    const replace = before.hooks[0];
    const stamp: GateOp =
      ops.some((o) => o.op === 'add-hook') || replace === undefined
        ? { op: 'set-generation', generation }
        : { op: 'set-generation', generation, replace };
    const stamped = [...ops, stamp];
    await this.gate.write(stamped);
    const after = projectSnapshot(before, stamped, this.gate.refs);
    if (after && known) this.#known = { snapshot: after, generation, fullReadAt: known.fullReadAt };
    // A structural change (pairs added or removed, the hook) is not projected: read it back now,
    // at start or on a config change, so that the next flip can write from memory.
    else await this.readGate();
  }

  async apply(pairs: readonly PairGate[], opts: ApplyOptions): Promise<ApplyResult> {
    const valid = validatePairs(pairs);
    const leaseSeconds = validateLeaseSeconds('leaseSeconds', opts?.leaseSeconds);
    if (!(opts.now instanceof Date) || Number.isNaN(opts.now.getTime())) {
      throw new InvalidInputError('now', opts.now, 'expected a valid Date');
    }
    const desired: DesiredPair[] = valid.map((p) => ({
      id: pairId(p.key),
      key: p.key,
      cidrs: p.cidrs,
      ports: p.ports,
      active: p.active,
    }));
    const wantedVips = new Set(valid.filter((p) => p.active && p.vip).map((p) => p.vip as string));

    // A flip writes from what we know, its transaction checking nobody wrote since; on a refusal,
    // or when there is nothing to write, read the kernel as before.
    // A due full read (the check for changes nobody stamped) waits for a renewal or a no-op apply,
    // never for a flip, whose time is the failover's.
    const known = this.trustedGate();
    const knownPlan = known ? planGate(known.snapshot, desired, opts.now, leaseSeconds) : undefined;
    const trusted =
      known && knownPlan && (known.fresh || isFlip(knownPlan.changes)) ? known.snapshot : undefined;
    const trustedPlan = trusted ? knownPlan : undefined;
    const optimistic = trusted !== undefined && (trustedPlan?.ops.length ?? 0) > 0;
    const knownLo = this.#loopback;
    const loChanges = knownLo !== undefined && vipDelta(knownLo, wantedVips).any;
    const [read, loopback] = await Promise.all([
      optimistic ? undefined : this.currentGate(),
      loChanges && knownLo ? knownLo : this.readLoopback(),
    ]);
    let snapshot = optimistic && trusted ? trusted : (read as GateSnapshot);
    let plan = optimistic && trustedPlan ? trustedPlan : planGate(snapshot, desired, opts.now, leaseSeconds);
    const changes: Change[] = [];

    // An address already on lo without our label (added by hand, or by the old script)
    // serves the VIP as it is: adding it again would fail, and it is not ours to remove.
    let lo = loopback;
    const toBind = await this.retryOnRefusal(
      () => vipDelta(lo, wantedVips).toBind,
      (vips) => this.vips.bind(vips),
      async () => {
        lo = await this.readLoopback();
      },
    );
    changes.push(...toBind.map((vip): Change => ({ kind: 'vip-bound', vip })));
    if (plan.ops.length > 0) {
      try {
        await this.writeGate(snapshot, plan.ops);
      } catch (error) {
        if (!optimistic || !(error instanceof CommandError)) throw error;
        snapshot = await this.readGate();
        plan = planGate(snapshot, desired, opts.now, leaseSeconds);
        if (plan.ops.length > 0) await this.writeGate(snapshot, plan.ops);
      }
    }
    changes.push(...plan.changes);
    const toUnbind = await this.retryOnRefusal(
      () => vipDelta(lo, wantedVips).toUnbind,
      (vips) => this.vips.unbind(vips),
      async () => {
        lo = await this.readLoopback();
      },
    );
    changes.push(...toUnbind.map((vip): Change => ({ kind: 'vip-unbound', vip })));
    this.#loopback = afterVipChanges(lo, toBind, toUnbind);

    // Every open gate runs on the node's one lease: as the plan left it.
    const lease = plan.leaseExpiresAt;
    const result: ApplyResult['pairs'] = new Map();
    for (const p of valid) {
      const open = p.active && lease !== undefined;
      const vip: VipState | undefined =
        p.vip === undefined ? undefined : wantedVips.has(p.vip) ? 'Bound' : 'Unbound';
      result.set(p.key, open ? { gate: 'Open', leaseExpiresAt: lease, vip } : { gate: 'Closed', vip });
    }
    return { changes, pairs: result };
  }

  /** Runs `act` on what `pending` says; when the kernel refuses (state moved under us), re-reads and tries once more. */
  private async retryOnRefusal(
    pending: () => string[],
    act: (vips: string[]) => Promise<void>,
    reread: () => Promise<void>,
  ): Promise<string[]> {
    let vips = pending();
    if (vips.length === 0) return vips;
    try {
      await act(vips);
    } catch (error) {
      if (!(error instanceof CommandError)) throw error;
      await reread();
      vips = pending();
      if (vips.length > 0) await act(vips);
    }
    return vips;
  }

  async cleanup(): Promise<void> {
    this.#known = undefined;
    this.#loopback = undefined;
    await this.gate.cleanup();
    await this.vips.unbind((await this.vips.read()).labelled);
  }
}
