import { BlockingWatch, type BlockingWatchTiming } from './blocking-watch.js';
import type { ConsulClient, SessionInfo } from './consul-client.js';
import type { ArbiterError } from './errors.js';
import { nodeOfSessionName } from './sessions.js';

export interface PeerLivenessOptions {
  client: ConsulClient;
  timing: BlockingWatchTiming;
  /** A node without a session during this long after start may just be starting: unknown, not gone. */
  startupGraceMs: number;
  /** The set of live agents changed, or the startup grace ended. */
  onChange: () => void;
  onError?: (error: ArbiterError) => void;
  onListenerError?: (error: unknown) => void;
  now?: () => number;
}

/**
 * Which probegate agents are alive: those keeping a `probegate:<node>` session (renewed on a TTL), from
 * one blocking query on Consul's session list. A dead agent's session expires, so its peer can tell a
 * healthy service without an agent (nobody would renew its gate) from one that is served.
 */
export class PeerLiveness {
  private live: ReadonlySet<string> | undefined;
  private knownFrom = Number.POSITIVE_INFINITY;
  private watch: BlockingWatch<SessionInfo[]> | undefined;
  private graceTimer: NodeJS.Timeout | undefined;
  private readonly now: () => number;

  constructor(private readonly options: PeerLivenessOptions) {
    this.now = options.now ?? Date.now;
  }

  /** true: its agent keeps a session; false: it does not (after the startup grace); undefined: unknown. */
  alive(node: string): boolean | undefined {
    if (!this.live) return undefined;
    if (this.live.has(node)) return true;
    return this.now() >= this.knownFrom ? false : undefined;
  }

  start(): void {
    if (this.watch) return;
    const { startupGraceMs } = this.options;
    this.knownFrom = this.now() + startupGraceMs;
    this.graceTimer = setTimeout(() => this.options.onChange(), startupGraceMs + 10);
    this.graceTimer.unref();
    this.watch = new BlockingWatch(
      (query) => this.options.client.sessionList(query),
      (sessions) => this.update(sessions),
      (error) => this.options.onError?.(error),
      this.options.timing,
      this.options.onListenerError,
    );
    this.watch.start();
  }

  async stop(): Promise<void> {
    clearTimeout(this.graceTimer);
    const watch = this.watch;
    this.watch = undefined;
    await watch?.stop();
  }

  private update(sessions: readonly SessionInfo[]): void {
    const live = new Set<string>();
    for (const s of sessions) {
      const node = nodeOfSessionName(s.name);
      if (node !== undefined) live.add(node);
    }
    const before = this.live;
    this.live = live;
    if (before && before.size === live.size && [...live].every((n) => before.has(n))) return;
    this.options.onChange();
  }
}
