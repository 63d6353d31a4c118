import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, scratchDir, startDaemon, waitFor } from '@probegate/testenv';
import { type NsProcess, startInNamespace } from './ns-process.js';

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
  const inside: NsProcess = startInNamespace(`tunnel-${ns}-${port}`, ns, [
    'socat',
    `UNIX-LISTEN:${socket},fork`,
    `TCP:${host}:${port}`,
  ]);
  const localPort = await freePort();
  const outside = startDaemon(`tunnel-${localPort}`, [
    'socat',
    `TCP-LISTEN:${localPort},bind=127.0.0.1,fork,reuseaddr`,
    `UNIX-CONNECT:${socket}`,
  ]);
  await waitFor(
    async () => {
      if (inside.exited || outside.exited) throw new Error(`tunnel into ${ns} died:\n${inside.tail()}`);
      const { existsSync } = await import('node:fs');
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
