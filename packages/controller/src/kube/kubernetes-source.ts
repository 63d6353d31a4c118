import type { FailoverPairStatus } from '@probegate/core';
import type { Logger } from 'pino';
import type { AgentMetrics } from '../observability/metrics.js';
import { type InvalidPair, namesNode, nodeFinalizer, type PairObject } from '../reconcile/pair.js';
import type { PairLevelStatus, PairSource } from '../reconcile/ports.js';
import { sameJson } from '../reconcile/status.js';
import type { FailoverPairApi } from './failover-pair-api.js';
import {
  describeProblems,
  type FailoverPairManifest,
  isInvalid,
  toPairObject,
  withoutManagedFields,
} from './failover-pair-object.js';
import { changesDecision, decisionView } from './pair-relevance.js';
import { ResilientInformer } from './resilient-informer.js';
import { isNewerResourceVersion } from './resource-version.js';

type Manifest = FailoverPairManifest;

/**
 * FailoverPairs from the API server, through a resilient informer. Keeps the pairs that name
 * this node (or still carry its finalizer), and reports invalid ones once per generation.
 */
export class KubernetesPairSource implements PairSource {
  private readonly pairs = new Map<string, PairObject>();
  private readonly invalidPairs = new Map<string, InvalidPair>();
  /** resourceVersion of this node's latest write per pair, until the watch has caught up with it. */
  private readonly ownWrites = new Map<string, string>();
  private readonly listeners: ((key: string) => void)[] = [];
  private readonly informer: ResilientInformer<Manifest>;

  constructor(
    private readonly api: FailoverPairApi,
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
    api.onWritten((object, pairFields) => this.adoptWritten(object, pairFields));
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
    // The informer's cache holds this very object: it keeps it without the managed fields too.
    withoutManagedFields(manifest);
    this.api.versions.note(manifest);
    // Our own writes are cached as soon as they return: their watch events, and older ones
    // still on the way, carry nothing new.
    const written = this.ownWrites.get(this.keyOf(manifest));
    if (written !== undefined) {
      const version = manifest.metadata?.resourceVersion;
      if (version === written) this.ownWrites.delete(this.keyOf(manifest));
      if (!isNewerResourceVersion(version, written)) return;
      this.ownWrites.delete(this.keyOf(manifest));
    }
    const parsed = toPairObject(manifest, 'default', undefined, this.pairs.get(this.keyOf(manifest)));
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
    const cached = this.pairs.get(key);
    this.pairs.set(key, parsed);
    this.updateCounts();
    // A change only in what this node does not read (the peer's member entry) needs no reconcile.
    if (!mine || changesDecision(cached, parsed, this.node)) this.notify(key);
    if (!mine) this.pairs.delete(key);
  }

  /**
   * An object returned by one of this node's writes. Caching it at once keeps the next reconcile
   * from acting on the copy before the write (a stale resourceVersion guard, a rewrite of what
   * was just written). Listeners hear of it only when it shows more than this node's own entry.
   */
  private adoptWritten(manifest: Manifest, pairFields?: PairLevelStatus): void {
    const cached = this.pairs.get(this.keyOf(manifest));
    if (!cached || !isNewerResourceVersion(manifest.metadata?.resourceVersion, cached.resourceVersion))
      return;
    const parsed = toPairObject(manifest, 'default', undefined, cached);
    if (isInvalid(parsed) || !namesNode(parsed.spec, this.node)) return; // the watch event handles those
    this.pairs.set(parsed.key, parsed);
    if (parsed.resourceVersion) this.ownWrites.set(parsed.key, parsed.resourceVersion);
    // What this write set itself (the pair-level fields of a pair-level write) is no news either.
    const expected: PairObject = pairFields
      ? { ...cached, status: { ...cached.status, ...pairFields } as FailoverPairStatus }
      : cached;
    if (!sameJson(this.othersView(parsed), this.othersView(expected))) this.notify(parsed.key);
  }

  /** What a reconcile reads, except this node's own member entry (which the write just set). */
  private othersView(pair: PairObject): unknown[] {
    const status = pair.status && {
      ...pair.status,
      members: pair.status.members?.filter((m) => m.node !== this.node),
    };
    return decisionView({ ...pair, status }, this.node);
  }

  private keyOf(manifest: Manifest): string {
    return `${manifest.metadata?.namespace ?? 'default'}/${manifest.metadata?.name ?? ''}`;
  }

  private remove(manifest: Manifest): void {
    const key = this.keyOf(manifest);
    this.invalidPairs.delete(key);
    this.ownWrites.delete(key);
    this.api.versions.forget(key);
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
