import type { Arbiter, HealthSubscription, LockRequest } from './arbiter.js';
import { parseDuration, parseWait } from './blocking-index.js';
import {
  BlockingWatch,
  type BlockingWatchTiming,
  defaultWatchTiming,
  reportListenerError,
} from './blocking-watch.js';
import { ConsulClient, type KvEntry, type ServiceInstance } from './consul-client.js';
import type { ConsulConnection } from './consul-config.js';
import { ArbiterError } from './errors.js';
import { healthView, sameStatuses } from './health-mapping.js';
import {
  defaultHistoryLength,
  defaultKeyPrefix,
  lockKey,
  nextLockRecord,
  pairId,
  parseLockRecord,
} from './lock-record.js';
import { LockTransactions } from './lock-transactions.js';
import type { ArbiterMetrics } from './metrics.js';
import { PeerLiveness } from './peer-liveness.js';
import { ReachabilityTracker } from './reachability.js';
import {
  defaultRenewInterval,
  defaultSessionTiming,
  NodeSession,
  type SessionTiming,
  validateSessionTiming,
} from './sessions.js';
import type {
  HealthTarget,
  LockRecord,
  LockView,
  PairHealthView,
  PairKey,
  PairMembers,
  Reachability,
  Unsubscribe,
} from './types.js';

export interface ConsulArbiterOptions {
  connection: ConsulConnection;
  /** This node's name as the pairs' members name it; written into the lock record as holder. */
  node: string;
  /** This node's Consul node name; by default the name of the agent we talk to. */
  consulNode?: string;
  /** KV prefix of the lock keys: <prefix>/<namespace>/<name>/leader. */
  keyPrefix?: string;
  /**
   * Consul lock-delay after this node's session is invalidated (default 3s). A holder that cannot get
   * its session confirmed stops serving before it runs out, so a partitioned node never serves
   * alongside the one that takes over. Health-driven hand-overs release the lock and do not wait.
   */
  lockDelay?: string;
  /** TTL of this node's session (default 16s): a dead agent's locks are freed 2 x TTL after its last renewal. */
  sessionTtl?: string;
  /** How often the session is renewed (default a sixth of the lock-delay); at most a quarter of it. */
  sessionRenewInterval?: string;
  /**
   * Keep this node's session from the first watch on, and report each member's agentAlive from the
   * sessions peers keep (default true). Off, the session is made at the first acquire and liveness is
   * unknown (health-only tests).
   */
  liveness?: boolean;
  historyLength?: number;
  timing?: Partial<BlockingWatchTiming>;
  requestTimeoutMs?: number;
  failuresBeforeUnreachable?: number;
  metrics?: ArbiterMetrics;
  /** Called before each HTTP request. */
  onRequest?: (operation: string) => void;
  /** Called with every failed call, for logging. */
  onError?: (error: ArbiterError) => void;
  /** Called when a watch listener throws (default: a process warning); the watch goes on. */
  onListenerError?: (error: unknown) => void;
}

interface HealthSubscriber {
  pair: string;
  members: PairMembers;
  listener: (view: PairHealthView) => void;
  last?: PairHealthView;
}

interface HealthChannel {
  watch: BlockingWatch<ServiceInstance[]>;
  subscribers: Set<HealthSubscriber>;
  latest?: { instances: ServiceInstance[]; index: bigint; readAt: number };
}

interface LockChannel {
  key: string;
  /** Whether the last answer showed one of this node's sessions holding the lock. */
  heldByUs: boolean;
  listeners: Set<(view: LockView) => void>;
  latest?: { entry: KvEntry | undefined; index: bigint; readAt: number };
  view?: LockView;
}

const targetKey = (t: HealthTarget) => JSON.stringify([t.service, t.datacenter ?? '', t.tag ?? '']);

function validateTarget(target: HealthTarget): void {
  if (typeof target.service !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(target.service)) {
    throw new Error(`consul.service: '${String(target.service)}' is not a valid Consul service name`);
  }
}

function validateMembers(members: PairMembers): void {
  for (const role of ['primary', 'secondary'] as const) {
    const member = members?.[role];
    if (!member || typeof member.node !== 'string' || member.node === '') {
      throw new Error(`members.${role}.node: '${String(member?.node)}' must be a non-empty node name`);
    }
    if (typeof member.address !== 'string') {
      throw new Error(`members.${role}.address: '${String(member.address)}' must be a string`);
    }
  }
}

const sameLockView = (a: LockView | undefined, b: LockView) =>
  a !== undefined &&
  a.holder === b.holder &&
  a.ownSessionValid === b.ownSessionValid &&
  a.confirmed === b.confirmed &&
  JSON.stringify(a.record) === JSON.stringify(b.record);

/** The same write of a key (or its absence both times): Consul bumps ModifyIndex on every write. */
const sameWrite = (a: KvEntry | undefined, b: KvEntry | undefined) =>
  a === undefined || b === undefined
    ? a === b
    : a.modifyIndex === b.modifyIndex && a.session === b.session && a.value === b.value;

/** The Arbiter port on Consul: blocking-query health watches and a session lock per pair. */
export class ConsulArbiter implements Arbiter {
  private readonly client: ConsulClient;
  private readonly tracker: ReachabilityTracker;
  private readonly timing: BlockingWatchTiming;
  private readonly health = new Map<string, HealthChannel>();
  private readonly healthByPair = new Map<string, { channel: HealthChannel; subscriber: HealthSubscriber }>();
  private readonly locks = new Map<string, LockChannel>();
  /** One blocking query on the whole key prefix serves every pair's lock (1,000 pairs, 1 connection). */
  private lockWatch: BlockingWatch<KvEntry[]> | undefined;
  /** This node's session (its liveness for peers, the owner of its locks); renewed on its own sockets. */
  private session: NodeSession | undefined;
  private sessionLoading: Promise<NodeSession> | undefined;
  private readonly sessionClient: ConsulClient;
  private readonly sessionTiming: SessionTiming;
  /** probegate nodes with a live session, from one blocking watch on the session list. */
  private readonly peers: PeerLiveness;
  /** Lock calls of one event-loop turn go to Consul as one transaction. */
  private readonly lockTxns: LockTransactions;
  private readonly liveness = (node: string): boolean | undefined => this.peers.alive(node);
  private closed = false;

  constructor(private readonly options: ConsulArbiterOptions) {
    if (!options.node) throw new Error(`node: '${options.node}' must be a non-empty node name`);
    this.tracker = new ReachabilityTracker(options.failuresBeforeUnreachable ?? 2);
    this.timing = { ...defaultWatchTiming, ...options.timing };
    parseWait(this.timing.wait);
    const lockDelayMs = options.lockDelay
      ? parseDuration('lockDelay', options.lockDelay)
      : defaultSessionTiming.lockDelayMs;
    this.sessionTiming = {
      ttlMs: options.sessionTtl
        ? parseDuration('sessionTtl', options.sessionTtl)
        : defaultSessionTiming.ttlMs,
      lockDelayMs,
      renewIntervalMs: options.sessionRenewInterval
        ? parseDuration('sessionRenewInterval', options.sessionRenewInterval)
        : defaultRenewInterval(lockDelayMs),
    };
    validateSessionTiming(this.sessionTiming);
    const clientOptions: ConstructorParameters<typeof ConsulClient>[0] = {
      connection: options.connection,
      reachability: this.tracker,
    };
    if (options.requestTimeoutMs !== undefined) clientOptions.requestTimeoutMs = options.requestTimeoutMs;
    if (options.metrics) clientOptions.metrics = options.metrics;
    if (options.onRequest) clientOptions.onRequest = options.onRequest;
    this.client = new ConsulClient(clientOptions);
    // Renewals must not queue behind a mass failover's lock calls: their lateness would demote us.
    // Each renewal bounds its own wait (the lock-delay); making or listing sessions gets at least a second.
    this.sessionClient = new ConsulClient({
      ...clientOptions,
      requestTimeoutMs: Math.max(1_000, this.sessionTiming.renewIntervalMs * 2),
    });
    this.lockTxns = new LockTransactions(this.client);
    // A restart may take up to one TTL: until then a peer without a session is unknown, not gone.
    this.peers = new PeerLiveness({
      client: this.client,
      timing: this.timing,
      startupGraceMs: this.sessionTiming.ttlMs,
      onChange: () => this.republishHealth(),
      ...(options.onError ? { onError: options.onError } : {}),
      ...(options.onListenerError ? { onListenerError: options.onListenerError } : {}),
    });
    this.tracker.onChange((state) => {
      if (state.reachable && !this.session && !this.closed && options.liveness !== false) this.startSession();
    });
  }

  // --- health -------------------------------------------------------------------------------------------

  watchHealth(subscription: HealthSubscription, listener: (view: PairHealthView) => void): Unsubscribe {
    this.assertOpen();
    validateTarget(subscription.target);
    validateMembers(subscription.members);
    const id = pairId(subscription.pair);
    const key = targetKey(subscription.target);
    let channel = this.health.get(key);
    if (!channel) {
      const created: HealthChannel = {
        subscribers: new Set(),
        watch: new BlockingWatch(
          (query) => this.client.healthService(subscription.target, query),
          (instances, index, readAt) => {
            created.latest = { instances, index, readAt };
            for (const s of created.subscribers) this.publishHealth(created, s);
          },
          (error) => this.options.onError?.(error),
          this.timing,
          this.options.onListenerError,
        ),
      };
      channel = created;
      this.health.set(key, channel);
      channel.watch.start();
      if (this.options.liveness !== false) {
        this.startSession();
        this.peers.start();
      }
    }
    const subscriber: HealthSubscriber = { pair: id, members: subscription.members, listener };
    channel.subscribers.add(subscriber);
    this.healthByPair.set(id, { channel, subscriber });
    const ready = channel;
    if (ready.latest) queueMicrotask(() => this.publishHealth(ready, subscriber));
    return () => {
      ready.subscribers.delete(subscriber);
      if (this.healthByPair.get(id)?.subscriber === subscriber) this.healthByPair.delete(id);
      if (ready.subscribers.size === 0 && this.health.get(key) === ready) {
        this.health.delete(key);
        void ready.watch.stop();
      }
    };
  }

  healthOf(pair: PairKey): PairHealthView | undefined {
    const entry = this.healthByPair.get(pairId(pair));
    const latest = entry?.channel.latest;
    if (!entry || !latest) return undefined;
    return healthView(entry.subscriber.members, latest.instances, latest.index, latest.readAt, this.liveness);
  }

  private publishHealth(channel: HealthChannel, subscriber: HealthSubscriber): void {
    const latest = channel.latest;
    if (!latest || !channel.subscribers.has(subscriber)) return;
    const view = healthView(subscriber.members, latest.instances, latest.index, latest.readAt, this.liveness);
    const changed = !sameStatuses(subscriber.last, view);
    subscriber.last = view;
    if (changed) this.notify(() => subscriber.listener(view));
  }

  // --- lock ---------------------------------------------------------------------------------------------

  async acquire(request: LockRequest): Promise<boolean> {
    this.assertOpen();
    validateTarget(request.target);
    const key = this.keyOf(request.pair);
    const nodeSession = await this.nodeSession();
    for (let attempt = 0; attempt < 2; attempt++) {
      const session = await nodeSession.ensure();
      if (!session) return false;
      // The prefix watch already knows the key on attempt one; the PUT below is atomic anyway.
      const watched = attempt === 0 ? this.locks.get(key)?.latest : undefined;
      const entry = watched ? watched.entry : (await this.client.kvGet(key, this.oneShot())).value;
      if (entry?.session === session) return true;
      if (entry?.session) return false;
      const record = nextLockRecord(
        parseLockRecord(entry?.value),
        pairId(request.pair),
        this.options.node,
        request.reason,
        new Date(),
        this.options.historyLength ?? defaultHistoryLength,
      );
      try {
        return await this.lockTxns.submit({ verb: 'lock', key, value: JSON.stringify(record), session });
      } catch (error) {
        // The session died between ensure() and the PUT: make a new one once.
        if (!(error instanceof ArbiterError && error.kind === 'rejected')) throw error;
        nodeSession.lost(session);
      }
    }
    return false;
  }

  async release(request: LockRequest): Promise<void> {
    this.assertOpen();
    const key = this.keyOf(request.pair);
    const nodeSession = await this.nodeSession();
    // Only the holder writes the key, so the watched entry is current when it shows us holding; a mass
    // failover then costs one call per pair. ?release= is atomic anyway.
    const watched = this.locks.get(key)?.latest?.entry;
    const entry = nodeSession.isOwn(watched?.session)
      ? watched
      : (await this.client.kvGet(key, this.oneShot())).value;
    if (!entry?.session || !nodeSession.isOwn(entry.session)) return;
    const record = nextLockRecord(
      parseLockRecord(entry.value),
      pairId(request.pair),
      null,
      request.reason,
      new Date(),
      this.options.historyLength ?? defaultHistoryLength,
    );
    try {
      await this.lockTxns.submit({
        verb: 'unlock',
        key,
        value: JSON.stringify(record),
        session: entry.session,
      });
    } catch (error) {
      // An invalidated session has already lost the lock: nothing left to give back.
      if (!(error instanceof ArbiterError && error.kind === 'rejected')) throw error;
    }
  }

  watchLock(pair: PairKey, listener: (view: LockView) => void): Unsubscribe {
    this.assertOpen();
    const key = this.keyOf(pair);
    let channel = this.locks.get(key);
    if (!channel) {
      const created: LockChannel = { key, heldByUs: false, listeners: new Set() };
      channel = created;
      this.locks.set(key, channel);
      this.ensureLockWatch();
      // A session kept from before a restart makes ownSessionValid right from the first view.
      this.nodeSession().then(
        () => this.publishLock(created),
        () => undefined,
      );
    }
    const ready = channel;
    ready.listeners.add(listener);
    if (ready.view) {
      const view = ready.view;
      queueMicrotask(() => this.notify(() => listener(view)));
    }
    return () => {
      ready.listeners.delete(listener);
      if (ready.listeners.size === 0 && this.locks.get(key) === ready) {
        this.locks.delete(key);
        if (this.locks.size === 0) {
          const watch = this.lockWatch;
          this.lockWatch = undefined;
          void watch?.stop();
        }
      }
    };
  }

  private ensureLockWatch(): void {
    if (this.lockWatch) return;
    const prefix = `${this.options.keyPrefix ?? defaultKeyPrefix}/`;
    this.lockWatch = new BlockingWatch(
      (query) => this.client.kvList(prefix, query),
      (entries, index, readAt) => {
        const byKey = new Map(entries.map((e) => [e.key, e]));
        for (const channel of this.locks.values()) {
          const entry = byKey.get(channel.key);
          const unchanged = channel.view !== undefined && sameWrite(channel.latest?.entry, entry);
          channel.latest = { entry, index, readAt };
          // Every lock transaction wakes this watch with all 1,000 keys: a key nobody wrote since keeps
          // its view (no record parsed and compared again), only the read it comes from is newer.
          // Session changes republish every lock on their own.
          if (unchanged && channel.view) channel.view = { ...channel.view, index: Number(index), readAt };
          else this.publishLock(channel);
        }
      },
      (error) => this.options.onError?.(error),
      this.timing,
      this.options.onListenerError,
    );
    this.lockWatch.start();
  }

  lockOf(pair: PairKey): LockView | undefined {
    return this.locks.get(this.keyOf(pair))?.view;
  }

  async readRecord(pair: PairKey): Promise<LockRecord | undefined> {
    const { value } = await this.client.kvGet(this.keyOf(pair), this.oneShot());
    return parseLockRecord(value?.value);
  }

  private publishLock(channel: LockChannel): void {
    const latest = channel.latest;
    if (!latest) return;
    const { entry } = latest;
    const record = parseLockRecord(entry?.value);
    const own = this.session?.isOwn(entry?.session) ?? false;
    const view: LockView = {
      holder: entry?.session ? (record?.holder ?? 'unknown') : undefined,
      ownSessionValid: own,
      ...(own ? { confirmed: this.session?.confirmed() ?? false } : {}),
      index: Number(latest.index),
      readAt: latest.readAt,
      ...(record ? { record } : {}),
    };
    // Consul freed our lock (session invalidated) without us writing: keep the readable record true.
    if (channel.heldByUs && entry && !entry.session && record?.holder === this.options.node) {
      void this.recordLoss(channel.key, entry, record).catch((error: unknown) => {
        if (error instanceof ArbiterError) this.options.onError?.(error);
      });
    }
    channel.heldByUs = view.ownSessionValid;
    const changed = !sameLockView(channel.view, view);
    channel.view = view;
    if (changed) for (const listener of channel.listeners) this.notify(() => listener(view));
  }

  /** Compare-and-set, so a node that took the lock meanwhile is never overwritten. */
  private async recordLoss(key: string, entry: KvEntry, record: LockRecord): Promise<void> {
    const next = nextLockRecord(
      record,
      record.pair,
      null,
      'session invalidated by Consul (a tied check went critical or the agent left)',
      new Date(),
      this.options.historyLength ?? defaultHistoryLength,
    );
    await this.client.kvCas(key, JSON.stringify(next), entry.modifyIndex);
  }

  // --- reachability and lifecycle -----------------------------------------------------------------------

  reachability(): Reachability {
    return this.tracker.current;
  }

  onReachabilityChange(listener: (state: Reachability) => void): Unsubscribe {
    return this.tracker.onChange(listener);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const watches = [...this.health.values()].map((c) => c.watch.stop());
    if (this.lockWatch) watches.push(this.lockWatch.stop());
    watches.push(this.peers.stop());
    this.lockWatch = undefined;
    this.session?.stop();
    this.health.clear();
    this.locks.clear();
    await Promise.all(watches);
    await this.sessionLoading?.catch(() => undefined);
    this.session?.stop();
    this.client.close();
    this.sessionClient.close();
  }

  // --- helpers ------------------------------------------------------------------------------------------

  // One listener's bug must not keep the others from hearing about a change.
  private notify(deliver: () => void): void {
    try {
      deliver();
    } catch (error) {
      (this.options.onListenerError ?? reportListenerError)(error);
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('arbiter is closed');
  }

  private keyOf(pair: PairKey): string {
    return lockKey(pair, this.options.keyPrefix ?? defaultKeyPrefix);
  }

  private oneShot() {
    return { wait: this.timing.wait, waitMs: parseWait(this.timing.wait) };
  }

  private resolvedConsulNode: string | undefined;
  private async consulNode(): Promise<string> {
    this.resolvedConsulNode ??= this.options.consulNode ?? (await this.client.agentNodeName());
    return this.resolvedConsulNode;
  }

  /** This node's session, adopted or made, and renewed from then on. */
  private nodeSession(): Promise<NodeSession> {
    if (this.session) return Promise.resolve(this.session);
    this.sessionLoading ??= (async () => {
      const session = new NodeSession(
        this.sessionClient,
        await this.consulNode(),
        this.options.node,
        this.sessionTiming,
        () => this.republishLocks(),
        (error) => this.options.onError?.(error),
      );
      await session.start();
      if (this.closed) session.stop();
      else this.session = session;
      this.republishLocks();
      return session;
    })().finally(() => {
      this.sessionLoading = undefined;
    });
    return this.sessionLoading;
  }

  private startSession(): void {
    this.nodeSession().catch((error: unknown) => {
      if (error instanceof ArbiterError) this.options.onError?.(error);
    });
  }

  private republishHealth(): void {
    if (this.closed) return;
    for (const channel of this.health.values()) {
      for (const subscriber of channel.subscribers) this.publishHealth(channel, subscriber);
    }
  }

  private republishLocks(): void {
    for (const channel of this.locks.values()) this.publishLock(channel);
  }
}
