import {
  type Informer,
  type KubeConfig,
  type KubernetesObject,
  type ListPromise,
  ListWatch,
  type ObjectCache,
  Watch,
} from '@kubernetes/client-node';
import { ExponentialBackoff } from '../queue/backoff.js';

export interface InformerHandlers<T extends KubernetesObject> {
  upsert(obj: T): void;
  delete(obj: T): void;
  /** Every failure of the list/watch, before the restart is scheduled. */
  error?(error: unknown, retryInMs: number): void;
  /** The informer (re)listed and is watching. */
  synced?(): void;
}

export interface ResilientInformerOptions {
  /** Re-list from scratch this often, so a silently stuck watch cannot hide changes. */
  relistEveryMs?: number;
  backoffBaseMs?: number;
  backoffMaxMs?: number;
}

const objectKey = (obj: KubernetesObject) => `${obj.metadata?.namespace ?? ''}/${obj.metadata?.name ?? ''}`;

/**
 * client-node's ListWatch goes on from a list (or a reconnect delay) to a watch even when stop()
 * came meanwhile. This Watch opens nothing for an attempt that is no longer current, and closes a
 * watch that opened while the attempt ended, so no watch outlives its attempt.
 */
class AttemptWatch extends Watch {
  constructor(
    kubeConfig: KubeConfig,
    private readonly isCurrent: () => boolean,
  ) {
    super(kubeConfig);
  }

  override async watch(...args: Parameters<Watch['watch']>): Promise<AbortController> {
    if (!this.isCurrent()) {
      const closed = new AbortController();
      closed.abort();
      return closed;
    }
    const controller = await super.watch(...args);
    if (!this.isCurrent()) controller.abort();
    return controller;
  }
}

/**
 * client-node's informer stops for good on any error other than 410 and can go silent.
 * This wrapper restarts it with exponential backoff, re-lists periodically, and reports
 * objects deleted while it was not watching (by diffing each fresh list with what it knew).
 */
export class ResilientInformer<T extends KubernetesObject> {
  private informer: (Informer<T> & ObjectCache<T>) | undefined;
  private generation = 0;
  private readonly known = new Map<string, T>();
  private readonly backoff: ExponentialBackoff<'informer'>;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private hasSynced = false;
  private watching = false;
  private resolveStart: (() => void) | undefined;

  constructor(
    private readonly kubeConfig: KubeConfig,
    private readonly path: string,
    private readonly list: ListPromise<T>,
    private readonly handlers: InformerHandlers<T>,
    private readonly options: ResilientInformerOptions = {},
  ) {
    this.backoff = new ExponentialBackoff(options.backoffBaseMs ?? 500, options.backoffMaxMs ?? 30_000);
  }

  /** Listed at least once. */
  get synced(): boolean {
    return this.hasSynced;
  }

  /** Listed and watching right now (false between an error and the next successful list). */
  get healthy(): boolean {
    return this.watching;
  }

  /** Objects as last seen. */
  objects(): T[] {
    return [...this.known.values()];
  }

  /**
   * Starts watching; resolves after the first successful list, retrying until then (or at once
   * when stop() comes first).
   */
  async start(): Promise<void> {
    this.stopped = false;
    const firstSync = new Promise<void>((resolve) => {
      this.resolveStart = resolve;
    });
    void this.connect();
    await firstSync;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.generation++;
    clearTimeout(this.timer);
    this.watching = false;
    this.settleStart();
    const old = this.informer;
    this.informer = undefined;
    await old?.stop().catch(() => {});
  }

  private settleStart(): void {
    this.resolveStart?.();
    this.resolveStart = undefined;
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    const generation = ++this.generation;
    // Checked after every await: stop() or a newer attempt may have come meanwhile.
    const current = () => generation === this.generation && !this.stopped;
    const previous = this.informer;
    this.informer = undefined;
    await previous?.stop().catch(() => {});
    if (!current()) return;

    const informer = new ListWatch<T>(
      this.path,
      new AttemptWatch(this.kubeConfig, current),
      this.list,
      false,
    );
    // client-node reports a failed list through the error callback and still resolves start(),
    // with an empty cache: such a start must neither count as a sync nor delete anything.
    let failed = false;
    const fail = (error: unknown) => {
      if (!current() || failed) return;
      failed = true;
      this.retry(error);
    };
    informer.on('add', (obj) => current() && !failed && this.upsert(obj));
    informer.on('update', (obj) => current() && !failed && this.upsert(obj));
    informer.on('delete', (obj) => current() && !failed && this.remove(obj));
    informer.on('error', fail);
    this.informer = informer;
    try {
      await informer.start();
    } catch (error) {
      fail(error);
    }
    if (!current() || failed) return;
    // Whatever the fresh list no longer has was deleted while we were not watching.
    const listed = new Set(informer.list().map(objectKey));
    for (const [key, obj] of this.known) if (!listed.has(key)) this.remove(obj);
    this.backoff.forget('informer');
    this.hasSynced = true;
    this.watching = true;
    this.handlers.synced?.();
    this.settleStart();
    this.schedule(this.options.relistEveryMs ?? 300_000);
  }

  private upsert(obj: T): void {
    this.known.set(objectKey(obj), obj);
    this.handlers.upsert(obj);
  }

  private remove(obj: T): void {
    this.known.delete(objectKey(obj));
    this.handlers.delete(obj);
  }

  private retry(error: unknown): void {
    this.watching = false;
    const delay = this.backoff.next('informer');
    this.handlers.error?.(error, delay);
    this.schedule(delay);
  }

  private schedule(delayMs: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.connect(), delayMs);
    this.timer.unref?.();
  }
}
