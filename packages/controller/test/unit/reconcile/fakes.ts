// In-memory ports for unit tests of the reconcile loop: a host that keeps gates in a map, a pair
// source and a status store that merges member entries like server-side apply does.
import type { FailoverPairSpecInput, FailoverPairStatus } from '@probegate/core';
import type { ApplyOptions, ApplyResult, HostActuator, ObservedState, PairGate } from '@probegate/host';
import { pino } from 'pino';
import { InMemoryConsul } from '../../../src/arbiter/in-memory-arbiter.js';
import { toPairObject } from '../../../src/kube/failover-pair-object.js';
import { AgentMetrics } from '../../../src/observability/metrics.js';
import { HostBatcher } from '../../../src/reconcile/host-batcher.js';
import { nodeFinalizer, type PairObject } from '../../../src/reconcile/pair.js';
import type { EventSink, PairSource, StatusFragment, StatusSink } from '../../../src/reconcile/ports.js';
import { Reconciler } from '../../../src/reconcile/reconciler.js';

export class FakeHost implements HostActuator {
  readonly backend = 'nftables' as const;
  readonly gates = new Map<string, { gate: PairGate; leaseExpiresAt: number | undefined }>();
  applies = 0;
  writes = 0;

  constructor(private readonly clock: () => number) {}

  async observe(): Promise<ObservedState> {
    return { backend: this.backend, hooked: true, pairs: new Map(), vips: this.vips() };
  }

  vips(): string[] {
    return [...this.gates.values()]
      .filter((g) => g.gate.active && g.gate.vip)
      .map((g) => g.gate.vip as string);
  }

  isOpen(key: string): boolean {
    const g = this.gates.get(key);
    return g?.leaseExpiresAt !== undefined && g.leaseExpiresAt > this.clock();
  }

  async apply(pairs: readonly PairGate[], opts: ApplyOptions): Promise<ApplyResult> {
    this.applies++;
    let wrote = false;
    const now = opts.now.getTime();
    const keys = new Set(pairs.map((p) => p.key));
    for (const key of this.gates.keys()) {
      if (!keys.has(key)) {
        this.gates.delete(key);
        wrote = true;
      }
    }
    const result: ApplyResult = { changes: [], pairs: new Map() };
    for (const gate of pairs) {
      const old = this.gates.get(gate.key);
      let lease = gate.active ? old?.leaseExpiresAt : undefined;
      if (gate.active && (lease === undefined || lease - now < (opts.leaseSeconds * 1000) / 2)) {
        lease = now + opts.leaseSeconds * 1000;
      }
      if (!old || old.gate.active !== gate.active || old.leaseExpiresAt !== lease) wrote = true;
      this.gates.set(gate.key, { gate, leaseExpiresAt: lease });
      result.pairs.set(gate.key, {
        gate: lease ? 'Open' : 'Closed',
        ...(lease ? { leaseExpiresAt: new Date(lease) } : {}),
        vip: gate.vip === undefined ? undefined : gate.active ? 'Bound' : 'Unbound',
      });
    }
    if (wrote) this.writes++;
    return result;
  }

  async cleanup(): Promise<void> {
    this.gates.clear();
  }
}

/** Pairs by key; `update` notifies like an informer would. */
export class MemorySource implements PairSource {
  readonly pairs = new Map<string, PairObject>();
  readonly healthy = true;
  private readonly listeners: ((key: string) => void)[] = [];

  get(key: string) {
    return this.pairs.get(key);
  }
  keys() {
    return [...this.pairs.keys()];
  }
  invalid() {
    return [];
  }
  onChange(listener: (key: string) => void) {
    this.listeners.push(listener);
  }
  async start() {}
  async stop() {}
  update(pair: PairObject | undefined, key = pair?.key as string) {
    if (pair) this.pairs.set(key, pair);
    else this.pairs.delete(key);
    for (const l of this.listeners) l(key);
  }
}

/** One object's status as the API server would merge two nodes' server-side applies. */
export class SharedStatus {
  status: FailoverPairStatus = {};
  writes = 0;
  /** activeNode values in write order, to check the story the status told. */
  readonly activeHistory: string[] = [];

  sinkFor(): StatusSink {
    return {
      writeStatus: async (_pair: PairObject, fragment: StatusFragment, what) => {
        this.writes++;
        if (what.pair && fragment.pair) {
          this.status = { ...this.status, ...fragment.pair.fields };
          this.activeHistory.push(fragment.pair.fields.activeNode ?? '');
        }
        if (what.member) {
          const others = (this.status.members ?? []).filter((m) => m.node !== fragment.member.node);
          this.status = { ...this.status, members: [...others, fragment.member] };
        }
      },
      addFinalizer: async () => {},
      removeFinalizer: async () => {},
    };
  }
}

export const quietEvents: EventSink = { normal: () => {}, warning: () => {} };

export function pairObject(
  spec: Partial<FailoverPairSpecInput> = {},
  annotations: Record<string, string> = {},
) {
  const parsed = toPairObject({
    apiVersion: 'probegate.io/v1alpha1',
    kind: 'FailoverPair',
    metadata: { name: 'web', namespace: 'default', generation: 1, annotations },
    spec: {
      vip: '198.18.100.10',
      probe: { ports: [8080] },
      consul: { service: 'web' },
      primary: { node: 'vm1', address: '198.18.0.11' },
      secondary: { node: 'vm2', address: '198.18.0.12' },
      timing: { holdDownSeconds: 0, failbackDelaySeconds: 0 },
      ...spec,
    },
  });
  if ('problems' in parsed) throw new Error(JSON.stringify(parsed.problems));
  return parsed;
}

/**
 * Two nodes' reconcilers on shared in-memory Consul, status and a manual queue; `settle` runs
 * queued reconciles until nothing is queued, checking after every single reconcile that the two
 * hosts never both have an open gate.
 */
export function twoNodes() {
  let now = 1_000_000;
  const clock = () => now;
  const consul = new InMemoryConsul({ now: clock });
  const shared = new SharedStatus();
  const nodes = ['vm1', 'vm2'].map((node) => {
    const source = new MemorySource();
    const host = new FakeHost(clock);
    const queue = new Set<string>();
    const arbiter = consul.arbiterFor(node);
    const metrics = new AgentMetrics({ defaultMetrics: false });
    const reconciler = new Reconciler(
      {
        node,
        source: {
          ...source,
          get: (key: string) => {
            const p = source.get(key);
            return p
              ? { ...p, status: shared.status, finalizers: [nodeFinalizer('vm1'), nodeFinalizer('vm2')] }
              : undefined;
          },
          keys: () => source.keys(),
          invalid: () => [],
          onChange: (l) => source.onChange(l),
          start: async () => {},
          stop: async () => {},
          healthy: true,
        },
        arbiter,
        host: new HostBatcher(host, () => 30, clock),
        status: shared.sinkFor(),
        events: quietEvents,
        metrics,
        log: pino({ level: 'silent' }),
        now: clock,
        finalizers: false,
      },
      (key) => queue.add(key),
    );
    source.onChange((key) => queue.add(key));
    return { node, source, host, queue, arbiter, reconciler, metrics };
  });
  const violations: string[] = [];
  const settle = async (maxRounds = 50) => {
    for (let round = 0; round < maxRounds; round++) {
      const work = nodes.flatMap((n) => [...n.queue].map((key) => ({ n, key })));
      if (work.length === 0) return round;
      for (const { n, key } of work) {
        n.queue.delete(key);
        await n.reconciler.reconcile(key);
        if (nodes.every((m) => m.host.isOpen(key)))
          violations.push(`both gates open after ${n.node} reconciled`);
      }
    }
    throw new Error('did not settle');
  };
  const everyone = (key: string) => {
    for (const n of nodes) n.queue.add(key);
  };
  return {
    nodes,
    node: (name: string) => nodes.find((n) => n.node === name) as (typeof nodes)[number],
    consul,
    shared,
    settle,
    everyone,
    violations,
    advance: (ms: number) => {
      now += ms;
    },
    setPair: (pair: PairObject | undefined, key = 'default/web') => {
      for (const n of nodes) n.source.update(pair, key);
    },
  };
}
