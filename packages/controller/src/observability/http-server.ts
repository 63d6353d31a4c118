import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

/** One readiness condition: a name and whether it holds, with a reason when it does not. */
export interface ReadinessCheck {
  name: string;
  check(): { ok: boolean; reason?: string };
}

export interface ObservabilityServer {
  readonly port: number;
  close(): Promise<void>;
}

/**
 * /metrics (Prometheus text), /healthz (the process serves), /readyz (every check holds;
 * a 503 body lists the failing ones so `curl` shows why).
 */
export async function startObservabilityServer(options: {
  port: number;
  host?: string;
  registry: Registry;
  readiness: ReadinessCheck[];
}): Promise<ObservabilityServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405).end();
      return;
    }
    if (path === '/metrics') {
      options.registry.metrics().then(
        (body) => res.writeHead(200, { 'content-type': options.registry.contentType }).end(body),
        (error: unknown) => res.writeHead(500).end(String(error)),
      );
      return;
    }
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      return;
    }
    if (path === '/readyz') {
      const failing = options.readiness
        .map((c) => ({ name: c.name, ...c.check() }))
        .filter((r) => !r.ok)
        .map((r) => `${r.name}: ${r.reason ?? 'not ready'}`);
      res
        .writeHead(failing.length ? 503 : 200, { 'content-type': 'text/plain' })
        .end(failing.length ? `${failing.join('\n')}\n` : 'ok\n');
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '0.0.0.0', () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
