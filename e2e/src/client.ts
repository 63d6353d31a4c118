import { type Daemon, startDaemon } from '@probegate/testenv';
import { VIP, WEB_PORT } from './addresses.js';
import { helperScript, node24 } from './paths.js';
import type { ClientEvent } from './timeline.js';

/** A client in its own namespace sending HTTP GETs to the VIP through the emulator, recording who answered. */
export class VipClient {
  readonly events: ClientEvent[] = [];
  private process: Daemon | undefined;

  constructor(
    private readonly ns: string,
    private readonly intervalMs = 100,
    private readonly timeoutMs = 500,
  ) {}

  start(): void {
    this.process = startDaemon(
      'client',
      [
        node24(),
        helperScript('client.ts'),
        VIP,
        String(WEB_PORT),
        String(this.intervalMs),
        String(this.timeoutMs),
      ],
      {
        netns: this.ns,
        onLine: (line) => {
          const e = JSON.parse(line) as Omit<ClientEvent, 'kind'>;
          this.events.push({ kind: 'client', ...e });
        },
      },
    );
  }

  /** Requests sent at or after t. */
  since(t: number): ClientEvent[] {
    return this.events.filter((e) => e.t >= t);
  }

  /** Resolves at the first successful answer from `who` sent at or after `t`; returns its send time. */
  async firstAnswerFrom(who: string, t: number, timeoutMs = 30_000): Promise<ClientEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.events.find((e) => e.t >= t && e.ok && e.who === who);
      if (hit) return hit;
      if (Date.now() > deadline) {
        throw new Error(
          `no client answer from ${who} within ${timeoutMs} ms; last: ${JSON.stringify(this.events.slice(-5))}`,
        );
      }
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  async stop(): Promise<void> {
    await this.process?.stop();
    this.process = undefined;
  }
}
