import type { ConsulClient, SessionInfo } from './consul-client.js';
import { ArbiterError } from './errors.js';

export const sessionPrefix = 'probegate';

/** One session per node and health target: probegate:<node>:<service>[:<tag>]. */
export const sessionName = (node: string, service: string, tag?: string): string =>
  `${sessionPrefix}:${node}:${service}${tag ? `:${tag}` : ''}`;

const sameChecks = (a: readonly string[], b: readonly string[]) =>
  a.length === b.length && [...a].sort().every((c, i) => c === [...b].sort()[i]);

/**
 * Finds this node's sessions by name and reuses them (a restarted agent keeps its lock), creates one when
 * none fits, and destroys duplicates or ones tied to other checks, so none is leaked.
 */
export class SessionManager {
  private readonly byName = new Map<string, string>();
  private readonly owned = new Set<string>();

  constructor(
    private readonly client: ConsulClient,
    private readonly consulNode: string,
    private readonly lockDelay: string,
  ) {}

  /** True for sessions this node created or adopted. */
  isOwn(id: string | undefined): boolean {
    return id !== undefined && this.owned.has(id);
  }

  /** Learns the node's existing probegate sessions (after a restart) without changing them. */
  async adopt(): Promise<void> {
    for (const s of await this.client.nodeSessions(this.consulNode)) {
      if (s.name.startsWith(`${sessionPrefix}:`)) this.owned.add(s.id);
    }
  }

  forget(id: string): void {
    this.owned.delete(id);
    for (const [name, known] of this.byName) if (known === id) this.byName.delete(name);
  }

  /** A valid session with exactly these checks, or undefined when Consul refuses one (a check is critical). */
  private readonly inFlight = new Map<string, Promise<string | undefined>>();

  /**
   * The session named `name` with exactly `checks`, reused or made. Concurrent callers share one
   * lookup: a mass failover must not create (and then destroy) a session per pair.
   */
  ensure(name: string, checks: string[]): Promise<string | undefined> {
    const key = `${name}\u0000${[...checks].sort().join(',')}`;
    const pending = this.inFlight.get(key);
    if (pending) return pending;
    const started = this.ensureNow(name, checks).finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, started);
    return started;
  }

  private async ensureNow(name: string, checks: string[]): Promise<string | undefined> {
    const known = this.byName.get(name);
    if (known) {
      const info = await this.client.sessionInfo(known);
      if (info && sameChecks(info.checks, checks)) return known;
      this.forget(known);
    }
    const sessions = (await this.client.nodeSessions(this.consulNode)).filter((s) => s.name === name);
    const reusable = sessions.find((s) => s.behavior === 'release' && sameChecks(s.checks, checks));
    await this.destroyAll(sessions.filter((s) => s !== reusable));
    if (reusable) return this.remember(name, reusable.id);
    try {
      return this.remember(
        name,
        await this.client.sessionCreate({ name, node: this.consulNode, checks, lockDelay: this.lockDelay }),
      );
    } catch (error) {
      if (error instanceof ArbiterError && error.kind === 'rejected') return undefined;
      throw error;
    }
  }

  private remember(name: string, id: string): string {
    this.byName.set(name, id);
    this.owned.add(id);
    return id;
  }

  private async destroyAll(stale: SessionInfo[]): Promise<void> {
    for (const s of stale) {
      await this.client.sessionDestroy(s.id);
      this.forget(s.id);
    }
  }
}
