import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { createTestCertificates, type TestCertificates, writeKubeconfig } from './certificates.js';
import { component } from './components.js';
import { type Daemon, scratchDir, startDaemon } from './daemon.js';
import { freePort } from './ports.js';
import { waitFor } from './wait.js';

/**
 * A real Kubernetes API server for custom resources: etcd plus apiextensions-apiserver on
 * free loopback ports, a generated CA and a client-certificate kubeconfig.
 * It serves CRDs and custom resources (schema, CEL, status, watch) but not core/v1.
 */
export interface KubeApi {
  readonly server: string;
  readonly kubeconfigPath: string;
  /** A fresh, ready @kubernetes/client-node KubeConfig for this server. */
  kubeConfig(): KubeConfig;
  readonly etcdEndpoint: string;
  /** Stops and starts the API server process (etcd keeps the data). */
  restartApiServer(): Promise<void>;
  /** Compacts etcd up to its current revision, so older resourceVersions answer 410 Gone. */
  compactEtcd(): Promise<number>;
  stop(): Promise<void>;
}

const DISABLED_ADMISSION = [
  'NamespaceLifecycle',
  'MutatingAdmissionPolicy',
  'MutatingAdmissionWebhook',
  'ValidatingAdmissionPolicy',
  'ValidatingAdmissionWebhook',
].join(',');

export interface KubeApiOptions {
  readyTimeoutMs?: number;
  /**
   * The API server's watch cache (default on, as in production). Off, every watch reads etcd,
   * so a watch from a compacted resourceVersion gets 410 Gone at once.
   */
  watchCache?: boolean;
}

export async function startKubeApi(options: KubeApiOptions = {}): Promise<KubeApi> {
  const readyTimeoutMs = options.readyTimeoutMs ?? 90_000;
  const dir = scratchDir('kube');
  const certs = await createTestCertificates(dir);
  const dummyKubeconfig = join(dir, 'dummy.kubeconfig');
  // apiextensions-apiserver insists on these kubeconfigs; nothing is ever reached through them.
  writeFileSync(
    dummyKubeconfig,
    'apiVersion: v1\nkind: Config\nclusters: [{name: x, cluster: {server: "https://127.0.0.1:1"}}]\n' +
      'users: [{name: x, user: {}}]\ncontexts: [{name: x, context: {cluster: x, user: x}}]\ncurrent-context: x\n',
  );

  const etcdPort = await freePort();
  const peerPort = await freePort();
  const etcdEndpoint = `http://127.0.0.1:${etcdPort}`;
  const etcd = startDaemon(
    'etcd',
    [
      component('etcd'),
      '--name=probegate-test',
      `--data-dir=${join(dir, 'etcd')}`,
      `--listen-client-urls=${etcdEndpoint}`,
      `--advertise-client-urls=${etcdEndpoint}`,
      `--listen-peer-urls=http://127.0.0.1:${peerPort}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
      `--initial-cluster=probegate-test=http://127.0.0.1:${peerPort}`,
      '--log-level=warn',
    ],
    { logDir: dir },
  );
  let apiServer: Daemon | undefined;
  const stopAll = async () => {
    await apiServer?.stop();
    await etcd.stop();
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    await waitFor(
      async () => {
        if (etcd.exited) throw new Error(`etcd exited:\n${etcd.tail()}`);
        const res = await fetch(`${etcdEndpoint}/health`);
        return res.ok && ((await res.json()) as { health?: string }).health === 'true';
      },
      { what: 'etcd /health', timeoutMs: readyTimeoutMs },
    );

    const apiPort = await freePort();
    const server = `https://127.0.0.1:${apiPort}`;
    const certDir = join(dir, 'serving');
    const startApiServer = () =>
      startDaemon(
        'apiextensions-apiserver',
        [
          component('apiextensionsApiserver'),
          `--etcd-servers=${etcdEndpoint}`,
          `--secure-port=${apiPort}`,
          '--bind-address=127.0.0.1',
          `--cert-dir=${certDir}`,
          `--client-ca-file=${certs.caCert}`,
          '--authentication-skip-lookup',
          `--authentication-kubeconfig=${dummyKubeconfig}`,
          `--authorization-kubeconfig=${dummyKubeconfig}`,
          `--kubeconfig=${dummyKubeconfig}`,
          '--authorization-always-allow-paths=/*',
          `--disable-admission-plugins=${DISABLED_ADMISSION}`,
          `--watch-cache=${options.watchCache ?? true}`,
        ],
        { logDir: dir },
      );
    const awaitReady = async (daemon: Daemon) =>
      waitFor(
        async () => {
          if (daemon.exited) throw new Error(`apiextensions-apiserver exited:\n${daemon.tail()}`);
          // /readyz never passes here (its informer-sync check waits for core/v1, which this
          // server lacks); being able to list CRDs is what the tests need.
          return (
            (await getStatus(server, '/healthz', certs)) === 200 &&
            (await getStatus(server, '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', certs)) ===
              200
          );
        },
        { what: `apiextensions-apiserver ${server} to serve CRDs`, timeoutMs: readyTimeoutMs },
      );
    apiServer = startApiServer();
    await awaitReady(apiServer);

    // The server signs its own serving certificate on first start; trust exactly that one.
    const servingCert = join(certDir, 'apiserver.crt');
    const kubeconfigPath = join(dir, 'kubeconfig');
    writeKubeconfig(kubeconfigPath, server, certs, existsSync(servingCert) ? servingCert : undefined);

    return {
      server,
      kubeconfigPath,
      etcdEndpoint,
      kubeConfig() {
        const kc = new KubeConfig();
        kc.loadFromFile(kubeconfigPath);
        return kc;
      },
      async restartApiServer() {
        await apiServer?.stop();
        apiServer = startApiServer();
        await awaitReady(apiServer);
      },
      async compactEtcd() {
        const header = await etcdPost<{ header: { revision: string } }>(etcdEndpoint, '/v3/kv/range', {
          key: Buffer.from('/').toString('base64'),
        });
        const revision = Number(header.header.revision);
        await etcdPost(etcdEndpoint, '/v3/kv/compaction', { revision, physical: true });
        return revision;
      },
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

async function etcdPost<T>(endpoint: string, path: string, body: unknown): Promise<T> {
  const res = await fetch(`${endpoint}${path}`, { method: 'POST', body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`etcd ${path}: HTTP ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

/** HTTP status of a GET with the client certificate (readiness only; TLS not verified yet). */
function getStatus(server: string, path: string, certs: TestCertificates): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${server}${path}`,
      {
        cert: readFileSync(certs.clientCert),
        key: readFileSync(certs.clientKey),
        rejectUnauthorized: false,
        timeout: 2_000,
      },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end();
  });
}
