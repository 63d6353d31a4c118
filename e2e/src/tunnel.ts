import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { type Daemon, freePort, scratchDir, startDaemon, waitFor } from '@probegate/testenv';

/** A TCP port on the test process's loopback that reaches host:port inside a namespace. */
export interface Tunnel {
  readonly port: number;
  readonly url: string;
  close(): Promise<void>;
}

/**
 * The test process lives in the root namespace and must not route into the test networks; a
 * filesystem Unix socket crosses namespaces without any route: socat listens on loopback here
 * and on the socket inside the namespace.
 */
export async function tunnelInto(ns: string, host: string, port: number): Promise<Tunnel> {
  const dir = scratchDir('tunnel');
  const socket = join(dir, 's.sock');
  const inside: Daemon = startDaemon(
    `tunnel-${ns}-${port}`,
    ['socat', `UNIX-LISTEN:${socket},fork`, `TCP:${host}:${port}`],
    { netns: ns },
  );
  const localPort = await freePort();
  const outside = startDaemon(`tunnel-${localPort}`, [
    'socat',
    `TCP-LISTEN:${localPort},bind=127.0.0.1,fork,reuseaddr`,
    `UNIX-CONNECT:${socket}`,
  ]);
  await waitFor(
    async () => {
      if (inside.exited || outside.exited) throw new Error(`tunnel into ${ns} died:\n${inside.tail()}`);
      return existsSync(socket);
    },
    { what: `tunnel into ${ns} ${host}:${port}`, timeoutMs: 10_000, intervalMs: 20 },
  );
  return {
    port: localPort,
    url: `http://127.0.0.1:${localPort}`,
    async close() {
      await outside.stop(1_000);
      await inside.stop(1_000);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The other way round: 127.0.0.1:listenPort inside `ns` reaches 127.0.0.1:targetPort of the test
 * process's namespace (e.g. the Kubernetes API server for agents running inside a VM namespace).
 */
export async function tunnelFrom(ns: string, listenPort: number, targetPort: number): Promise<Tunnel> {
  const dir = scratchDir('rtunnel');
  const socket = join(dir, 's.sock');
  const outside = startDaemon(`rtunnel-${targetPort}`, [
    'socat',
    `UNIX-LISTEN:${socket},fork`,
    `TCP:127.0.0.1:${targetPort}`,
  ]);
  await waitFor(() => existsSync(socket), { what: `socket ${socket}`, timeoutMs: 10_000, intervalMs: 20 });
  const inside = startDaemon(
    `rtunnel-${ns}-${listenPort}`,
    ['socat', `TCP-LISTEN:${listenPort},bind=127.0.0.1,fork,reuseaddr`, `UNIX-CONNECT:${socket}`],
    { netns: ns },
  );
  return {
    port: listenPort,
    url: `https://127.0.0.1:${listenPort}`,
    async close() {
      await inside.stop(1_000);
      await outside.stop(1_000);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
