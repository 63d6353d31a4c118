/** A change of one node's web check status as the Consul server reports it. */
export interface CheckChange {
  t: number;
  node: string;
  status: string;
}

/**
 * Watches the web service's checks on the Consul server with blocking queries (reaction in
 * milliseconds) and records every status change per node, with the time it was seen.
 */
export class CheckWatcher {
  readonly changes: CheckChange[] = [];
  private readonly last = new Map<string, string>();
  private readonly abort = new AbortController();
  private loop: Promise<void> | undefined;

  constructor(private readonly consulUrl: string) {}

  start(): void {
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    let index = '0';
    while (!this.abort.signal.aborted) {
      try {
        const response = await fetch(`${this.consulUrl}/v1/health/checks/web?index=${index}&wait=30s`, {
          signal: this.abort.signal,
        });
        const seenAt = Date.now();
        index = response.headers.get('x-consul-index') ?? '0';
        const checks = (await response.json()) as { Node: string; Status: string }[];
        for (const c of checks) {
          if (this.last.get(c.Node) !== c.Status) {
            this.last.set(c.Node, c.Status);
            this.changes.push({ t: seenAt, node: c.Node, status: c.Status });
          }
        }
      } catch {
        if (this.abort.signal.aborted) return;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }

  /** First time `node` was seen in `status` at or after `since`. */
  async first(node: string, status: string, since: number, timeoutMs = 30_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.changes.find((c) => c.node === node && c.status === status && c.t >= since);
      if (hit) return hit.t;
      if (Date.now() > deadline)
        throw new Error(`Consul never reported ${node} ${status} within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.loop;
  }
}
