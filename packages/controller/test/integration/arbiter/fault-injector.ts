import { createServer, type Server, type ServerResponse } from 'node:http';

export type FaultMode = 'ok' | 'acl-denied' | 'server-error' | 'malformed-json' | 'not-an-array' | 'hang';

/**
 * A tiny local HTTP server that answers like a Consul agent would when things go wrong: 403 for an ACL
 * denial, 500, a broken JSON body, a body of the wrong shape, or no answer at all. In `ok` mode it answers
 * the health endpoint with one passing instance and holds blocking queries for a while, as Consul does.
 */
export class FaultInjector {
  mode: FaultMode = 'ok';
  readonly requests: { at: number; url: string }[] = [];
  private server: Server | undefined;
  private readonly hanging = new Set<ServerResponse>();
  address = '';

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      this.requests.push({ at: Date.now(), url: req.url ?? '' });
      this.answer(req.url ?? '', res);
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    const address = this.server.address();
    if (!address || typeof address === 'string') throw new Error('fault injector has no port');
    this.address = `http://127.0.0.1:${address.port}`;
    return this;
  }

  requestsSince(t: number): number {
    return this.requests.filter((r) => r.at >= t).length;
  }

  async stop(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }

  private answer(url: string, res: ServerResponse): void {
    const index = { 'X-Consul-Index': '42', 'Content-Type': 'application/json' };
    switch (this.mode) {
      case 'acl-denied':
        res.writeHead(403, { 'Content-Type': 'text/plain' }).end('Permission denied');
        return;
      case 'server-error':
        res.writeHead(500, { 'Content-Type': 'text/plain' }).end('rpc error making call: No cluster leader');
        return;
      case 'malformed-json':
        res.writeHead(200, index).end('[{"Node": {"Node": "vm1"');
        return;
      case 'not-an-array':
        res.writeHead(200, index).end('{"unexpected": true}');
        return;
      case 'hang':
        this.hanging.add(res);
        res.on('close', () => this.hanging.delete(res));
        return;
      case 'ok': {
        const body = JSON.stringify([
          {
            Node: { Node: 'vm1', Address: '198.18.0.1' },
            Service: { ID: 'web1', Service: 'web', Address: '' },
            Checks: [{ CheckID: 'serfHealth', ServiceID: '', Status: 'passing' }],
          },
        ]);
        // A blocking query on the current index waits (briefly here) before answering unchanged.
        const delay = /[?&]index=42\b/.test(url) ? 300 : 0;
        setTimeout(() => {
          if (!res.destroyed) res.writeHead(200, index).end(body);
        }, delay);
        return;
      }
    }
  }
}
