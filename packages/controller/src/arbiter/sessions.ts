import type { ConsulClient, SessionInfo } from './consul-client.js';
import { ArbiterError } from './errors.js';

export const sessionPrefix = 'probegate';

/** One session per probegate node: probegate:<node>. Its presence in Consul tells peers the agent lives. */
export const sessionName = (node: string): string => `${sessionPrefix}:${node}`;

/** The probegate node a session name stands for, or undefined for other sessions. */
export function nodeOfSessionName(name: string): string | undefined {
  if (!name.startsWith(`${sessionPrefix}:`)) return undefined;
  const node = name.slice(sessionPrefix.length + 1);
  return node === '' || node.includes(':') ? undefined : node;
}

export interface SessionTiming {
  /** Consul invalidates the session 2 x ttl after the last renewal (a dead agent frees its locks). */
  ttlMs: number;
  /** After an invalidation nobody can take the freed locks for this long. */
  lockDelayMs: number;
  /** How often the session is renewed, which is also how often Consul confirms we still hold it. */
  renewIntervalMs: number;
}

export const defaultSessionTiming: SessionTiming = {
  ttlMs: 16_000,
  lockDelayMs: 3_000,
  renewIntervalMs: 500,
};

/** Renew six times per lock-delay unless told otherwise: four chances before a confirmation goes stale. */
export const defaultRenewInterval = (lockDelayMs: number): number =>
  Math.min(1_000, Math.max(50, Math.floor(lockDelayMs / 6)));

/**
 * How long a confirmation keeps a holder serving: two thirds of the lock-delay. The last third is
 * the margin to close the gate before a peer could take a lock freed right after that confirmation.
 */
export const confirmationWindow = (timing: SessionTiming): number => Math.floor((timing.lockDelayMs * 2) / 3);

export function validateSessionTiming(timing: SessionTiming): void {
  if (!(timing.ttlMs >= 10_000 && timing.ttlMs <= 86_400_000)) {
    throw new Error(`sessionTtl: '${timing.ttlMs / 1000}s' must be between 10s and 86400s (Consul's range)`);
  }
  // Without a lock-delay a partitioned holder could not stop serving before the peer takes over.
  if (!(timing.lockDelayMs >= 1_000 && timing.lockDelayMs <= 60_000)) {
    throw new Error(`lockDelay: '${timing.lockDelayMs}ms' must be between 1s and 60s`);
  }
  if (!(timing.renewIntervalMs >= 50 && timing.renewIntervalMs * 4 <= timing.lockDelayMs)) {
    throw new Error(
      `sessionRenewInterval: '${timing.renewIntervalMs}ms' must be at least 50ms and at most a quarter of the lock-delay (${timing.lockDelayMs}ms)`,
    );
  }
}

const seconds = (ms: number) => `${Math.ceil(ms / 1000)}s`;

/**
 * This node's Consul session: tied to serfHealth (the node's Consul agent) and kept alive by a TTL the
 * agent renews, behavior release. Found by name and reused after a restart (the locks stay held),
 * never leaked. Each successful renewal is a confirmation from the servers that the session, and so
 * every lock it holds, is still ours; `confirmed()` tells whether the last one is recent enough that no
 * other node can have taken a lock since (a lock freed by an invalidation stays blocked for the
 * lock-delay). Health changes are handed over by releasing, which has no lock-delay.
 */
export class NodeSession {
  private id: string | undefined;
  /** When the request behind the last successful renewal (or creation) was sent. */
  private confirmedAt: number | undefined;
  private lastConfirmed = false;
  /** confirmed() returned something other than lastConfirmed since the last onChange. */
  private unannounced = false;
  private ensuring: Promise<string | undefined> | undefined;
  private renewing = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly name: string;

  constructor(
    private readonly client: ConsulClient,
    private readonly consulNode: string,
    node: string,
    private readonly timing: SessionTiming,
    /** Called when the session is lost or made, or `confirmed()` flips. */
    private readonly onChange: () => void,
    private readonly onError: (error: ArbiterError) => void,
    private readonly now: () => number = Date.now,
  ) {
    this.name = sessionName(node);
  }

  /** The current session ID, if there is a live one. */
  current(): string | undefined {
    return this.id;
  }

  isOwn(id: string | undefined): boolean {
    return id !== undefined && id === this.id;
  }

  /** Whether the servers confirmed the session recently enough for this node to keep serving. */
  confirmed(): boolean {
    const confirmed =
      this.confirmedAt !== undefined && this.now() - this.confirmedAt < confirmationWindow(this.timing);
    // A reader (a lock view) saw a value onChange has not announced: the next publish must announce,
    // even if by then the value is back to the announced one (a late renewal answer can confirm
    // again before any tick saw the lapse; lock views built during the lapse would stay unconfirmed).
    if (confirmed !== this.lastConfirmed) this.unannounced = true;
    return confirmed;
  }

  /** Adopts the session an earlier run left (so its locks stay ours), confirms it, starts renewing. */
  async start(): Promise<void> {
    // Renewing (and, while there is none, making) the session goes on even if this first try fails.
    this.timer = setInterval(() => this.tick(), this.timing.renewIntervalMs);
    this.timer.unref();
    await this.ensure().catch((error: unknown) => {
      if (error instanceof ArbiterError) this.onError(error);
      else throw error;
    });
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Destroys the session (locks are released by Consul): for cleanup, not for a restart. */
  async destroy(): Promise<void> {
    this.stop();
    const id = this.id;
    this.lose();
    if (id) await this.client.sessionDestroy(id);
  }

  /** The live session, made if needed; undefined when Consul refuses one (e.g. serfHealth critical). */
  ensure(): Promise<string | undefined> {
    if (this.id) return Promise.resolve(this.id);
    this.ensuring ??= this.find().finally(() => {
      this.ensuring = undefined;
    });
    return this.ensuring;
  }

  /** Consul said the session is gone (e.g. an acquire was refused for it). */
  lost(id: string): void {
    if (this.id === id) this.lose();
  }

  private lose(): void {
    this.id = undefined;
    this.confirmedAt = undefined;
    this.publish(true);
  }

  private publish(force = false): void {
    const confirmed = this.confirmed();
    if (!force && confirmed === this.lastConfirmed && !this.unannounced) return;
    this.lastConfirmed = confirmed;
    this.unannounced = false;
    this.onChange();
  }

  private async find(): Promise<string | undefined> {
    const sentAt = this.now();
    const sessions = (await this.client.nodeSessions(this.consulNode)).filter((s) => this.isMine(s));
    const reusable = sessions.find((s) => this.fits(s));
    for (const stale of sessions) if (stale !== reusable) await this.client.sessionDestroy(stale.id);
    if (reusable) {
      // The listing may come from a follower: only a renewal proves the session to the leader.
      this.id = reusable.id;
      if (!(await this.renew(reusable.id))) return undefined;
      return this.id;
    }
    try {
      this.id = await this.client.sessionCreate({
        name: this.name,
        node: this.consulNode,
        checks: ['serfHealth'],
        lockDelay: seconds(this.timing.lockDelayMs),
        ttl: seconds(this.timing.ttlMs),
      });
    } catch (error) {
      if (error instanceof ArbiterError && error.kind === 'rejected') return undefined;
      throw error;
    }
    this.confirmedAt = sentAt;
    this.publish(true);
    return this.id;
  }

  // Sessions of earlier versions were named probegate:<node>:<service>: ours too, to be replaced.
  private isMine(s: SessionInfo): boolean {
    return s.name === this.name || s.name.startsWith(`${this.name}:`);
  }

  private fits(s: SessionInfo): boolean {
    return (
      s.name === this.name &&
      s.behavior === 'release' &&
      s.checks.length === 1 &&
      s.checks[0] === 'serfHealth' &&
      s.ttl === seconds(this.timing.ttlMs) &&
      s.lockDelayMs === this.timing.lockDelayMs
    );
  }

  /** True when Consul renewed the session; a refused renewal means it is gone. */
  private async renew(id: string): Promise<boolean> {
    const sentAt = this.now();
    try {
      if (await this.client.sessionRenew(id, this.timing.lockDelayMs)) {
        if (this.id === id) {
          this.confirmedAt = sentAt;
          this.publish();
        }
        return true;
      }
      this.lost(id);
      return false;
    } catch (error) {
      if (error instanceof ArbiterError) this.onError(error);
      this.publish();
      return false;
    }
  }

  private tick(): void {
    // A hanging call must not stop the confirmation from going stale.
    this.publish();
    if (this.renewing) return;
    this.renewing = true;
    const id = this.id;
    const step = id ? this.renew(id) : this.ensure();
    step
      .catch((error: unknown) => {
        if (error instanceof ArbiterError) this.onError(error);
      })
      .finally(() => {
        this.renewing = false;
      });
  }
}
