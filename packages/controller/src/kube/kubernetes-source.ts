import type { Logger } from 'pino';
import type { AgentMetrics } from '../observability/metrics.js';
import { type InvalidPair, namesNode, nodeFinalizer, type PairObject } from '../reconcile/pair.js';
import type { PairSource } from '../reconcile/ports.js';
import type { FailoverPairApi } from './failover-pair-api.js';
import {
  describeProblems,
  type FailoverPairManifest,
  isInvalid,
  toPairObject,
} from './failover-pair-object.js';
import { ResilientInformer } from './resilient-informer.js';

type Manifest = FailoverPairManifest;

/**
 * FailoverPairs from the API server, through a resilient informer. Keeps the pairs that name
 * this node (or still carry its finalizer), and reports invalid ones once per generation.
 */
export class KubernetesPairSource implements PairSource {
  private readonly pairs = new Map<string, PairObject>();
  private readonly invalidPairs = new Map<string, InvalidPair>();
  private readonly listeners: ((key: string) => void)[] = [];
  private readonly informer: ResilientInformer<Manifest>;

  constructor(
    api: FailoverPairApi,
    private readonly node: string,
    private readonly log: Logger,
    private readonly metrics: AgentMetrics | undefined,
    options: { namespace?: string; relistEveryMs?: number } = {},
  ) {
    this.informer = new ResilientInformer<Manifest>(
      api.kubeConfig,
      api.watchPath(options.namespace),
      () => api.list(options.namespace),
      {
        upsert: (obj) => this.upsert(obj),
        delete: (obj) => this.remove(obj),
        error: (error, retryInMs) =>
          this.log.warn({ err: error, retryInMs }, 'FailoverPair watch failed; restarting it'),
      },
      options.relistEveryMs === undefined ? {} : { relistEveryMs: options.relistEveryMs },
    );
  }

  get healthy(): boolean {
    return this.informer.healthy;
  }

  get(key: string): PairObject | undefined {
    return this.pairs.get(key);
  }

  keys(): string[] {
    return [...this.pairs.keys()];
  }

  invalid(): InvalidPair[] {
    return [...this.invalidPairs.values()];
  }

  onChange(listener: (key: string) => void): void {
    this.listeners.push(listener);
  }

  start(): Promise<void> {
    return this.informer.start();
  }

  stop(): Promise<void> {
    return this.informer.stop();
  }

  private upsert(manifest: Manifest): void {
    const parsed = toPairObject(manifest);
    const key = parsed.key;
    if (isInvalid(parsed)) {
      const known = this.invalidPairs.get(key);
      if (!known || known.generation !== parsed.generation) {
        this.log.error(
          { pair: key, node: this.node, problems: parsed.problems },
          `invalid FailoverPair skipped: ${describeProblems(parsed)}`,
        );
      }
      this.invalidPairs.set(key, parsed);
      // A pair that turned invalid keeps its last valid state on this node until fixed or deleted.
      this.updateCounts();
      return;
    }
    this.invalidPairs.delete(key);
    const mine = namesNode(parsed.spec, this.node) || parsed.finalizers.includes(nodeFinalizer(this.node));
    if (!mine && !this.pairs.has(key)) {
      this.updateCounts();
      return;
    }
    this.pairs.set(key, parsed);
    this.updateCounts();
    this.notify(key);
    if (!mine) this.pairs.delete(key);
  }

  private remove(manifest: Manifest): void {
    const key = `${manifest.metadata?.namespace ?? 'default'}/${manifest.metadata?.name ?? ''}`;
    this.invalidPairs.delete(key);
    if (this.pairs.delete(key)) this.notify(key);
    this.updateCounts();
  }

  private notify(key: string): void {
    for (const listener of this.listeners) listener(key);
  }

  private updateCounts(): void {
    this.metrics?.pairs.set({ validity: 'valid' }, this.pairs.size);
    this.metrics?.pairs.set({ validity: 'invalid' }, this.invalidPairs.size);
  }
}
