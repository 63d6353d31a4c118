import { type Daemon, startDaemon } from '@probegate/testenv';
import { WEB_PORT } from './addresses.js';
import { helperScript, node24 } from './paths.js';

/** A VM's web server answering its host name (on one port or several); stop() and start() drive the "service down" scenarios. */
export class WebServer {
  private process: Daemon | undefined;

  constructor(
    readonly ns: string,
    readonly hostName: string,
    readonly port: number | readonly number[] = WEB_PORT,
  ) {}

  get running(): boolean {
    return this.process !== undefined && !this.process.exited;
  }

  async start(): Promise<void> {
    if (this.running) return;
    let listening!: () => void;
    const ready = new Promise<void>((resolve) => {
      listening = resolve;
    });
    const child = startDaemon(
      `web-${this.hostName}`,
      [node24(), helperScript('web-server.ts'), this.hostName, [this.port].flat().join(',')],
      { netns: this.ns, onLine: (line) => line === 'listening' && listening() },
    );
    this.process = child;
    const timeout = new Promise<never>((_, reject) =>
      setTimeout(
        () => reject(new Error(`web server ${this.hostName} did not listen:\n${child.tail()}`)),
        10_000,
      ).unref(),
    );
    await Promise.race([
      ready,
      timeout,
      child.done.then(() => {
        throw new Error(`web server ${this.hostName} exited:\n${child.tail()}`);
      }),
    ]);
  }

  async stop(): Promise<void> {
    await this.process?.stop();
    this.process = undefined;
  }
}
