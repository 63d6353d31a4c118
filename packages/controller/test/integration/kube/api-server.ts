// Helpers for driving a real API server from outside the code under test: the FailoverPair CRD,
// objects, the server process and etcd directly (for changes nothing can watch).
import { readdirSync, readFileSync } from 'node:fs';
import { request } from 'node:https';
import { CustomObjectsApi, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { installCrd, type KubeApi } from '@probegate/testenv';
import { failoverPairCrdYaml } from '../../../src/kube/crd.js';
import { GROUP, PLURAL, VERSION } from '../../../src/kube/failover-pair-object.js';

export { GROUP, PLURAL, VERSION };

/** Installs the production FailoverPair CRD (as YAML, so its CEL rules are kept) and waits until served. */
export async function installFailoverPairCrd(kc: KubeConfig): Promise<void> {
  await installCrd(kc, failoverPairCrdYaml());
}

export function pairManifest(
  namespace: string,
  name: string,
  port = 8080,
): KubernetesObject & { spec: unknown } {
  return {
    apiVersion: `${GROUP}/${VERSION}`,
    kind: 'FailoverPair',
    metadata: { name, namespace },
    spec: {
      vip: '198.18.100.10',
      probe: { ports: [port] },
      consul: { service: 'web' },
      primary: { node: 'vm1', address: '198.18.0.11' },
      secondary: { node: 'vm2', address: '198.18.0.12' },
    },
  };
}

/** Create, update and delete FailoverPairs as a user would. */
export class Pairs {
  private readonly objects: CustomObjectsApi;
  constructor(kc: KubeConfig) {
    this.objects = kc.makeApiClient(CustomObjectsApi);
  }

  async create(namespace: string, name: string): Promise<KubernetesObject> {
    return (await this.objects.createNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace,
      plural: PLURAL,
      body: pairManifest(namespace, name),
    })) as KubernetesObject;
  }

  /** Changes the probe port; returns the new resourceVersion. */
  async update(namespace: string, name: string, port: number): Promise<string> {
    const current = (await this.objects.getNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace,
      plural: PLURAL,
      name,
    })) as KubernetesObject;
    const body = { ...pairManifest(namespace, name, port), metadata: current.metadata };
    const updated = (await this.objects.replaceNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace,
      plural: PLURAL,
      name,
      body,
    })) as KubernetesObject;
    return updated.metadata?.resourceVersion ?? '';
  }

  async delete(namespace: string, name: string): Promise<void> {
    await this.objects.deleteNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace,
      plural: PLURAL,
      name,
    });
  }
}

/**
 * The pid of this KubeApi's apiextensions-apiserver (a process the test run started), found by
 * its etcd endpoint, so a test can take the server down and keep it down while it acts.
 */
export function apiServerPid(api: KubeApi): number {
  const flag = `--etcd-servers=${api.etcdEndpoint}`;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
    } catch {
      continue; // gone meanwhile
    }
    if (argv.includes(flag)) return Number(entry);
  }
  throw new Error(`no apiextensions-apiserver process with ${flag}`);
}

/** Deletes a FailoverPair straight from etcd, as if it were deleted while no API server ran. */
export async function deleteFromEtcd(api: KubeApi, namespace: string, name: string): Promise<void> {
  // The API server stores it under <etcd-prefix>/<group>/<resource>/<namespace>/<name>.
  const keys = await etcdKeys(api, '/registry/');
  const suffix = `/${GROUP}/${PLURAL}/${namespace}/${name}`;
  const key = keys.find((candidate) => candidate.endsWith(suffix));
  if (!key) throw new Error(`no etcd key ending in ${suffix} among ${keys.join(', ')}`);
  const { deleted } = await etcdPost<{ deleted?: string }>(api, '/v3/kv/deleterange', { key: base64(key) });
  if (deleted !== '1') throw new Error(`etcd deleterange of ${key} deleted ${deleted ?? 0} keys`);
}

const base64 = (text: string) => Buffer.from(text).toString('base64');

async function etcdKeys(api: KubeApi, prefix: string): Promise<string[]> {
  // range_end = prefix with its last byte incremented: every key starting with prefix.
  const end = Buffer.from(prefix);
  end[end.length - 1] = (end[end.length - 1] ?? 0) + 1;
  const { kvs } = await etcdPost<{ kvs?: { key: string }[] }>(api, '/v3/kv/range', {
    key: base64(prefix),
    range_end: end.toString('base64'),
    keys_only: true,
  });
  return (kvs ?? []).map((kv) => Buffer.from(kv.key, 'base64').toString());
}

async function etcdPost<T>(api: KubeApi, path: string, body: unknown): Promise<T> {
  const res = await fetch(`${api.etcdEndpoint}${path}`, { method: 'POST', body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`etcd ${path}: HTTP ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

/** A request the client made: URL and when. */
export interface SeenRequest {
  readonly url: URL;
  readonly at: number;
}

/**
 * Records every request made through this KubeConfig (list and watch alike), to observe how an
 * informer reconnects (which resourceVersion a watch resumes from, when it re-lists).
 */
export function recordingKubeConfig(kc: KubeConfig, seen: SeenRequest[]): KubeConfig {
  const apply = kc.applySecurityAuthentication.bind(kc);
  kc.applySecurityAuthentication = async (
    context: Parameters<KubeConfig['applySecurityAuthentication']>[0],
  ) => {
    seen.push({ url: new URL(context.getUrl()), at: Date.now() });
    await apply(context);
  };
  return kc;
}

/**
 * How many FailoverPair watches the API server is serving right now (its
 * apiserver_longrunning_requests gauge), to tell whether a client really closed its watch.
 */
export async function openFailoverPairWatches(api: KubeApi): Promise<number> {
  const metrics = await getWithClientCertificate(api.kubeConfig(), `${api.server}/metrics`);
  let open = 0;
  for (const line of metrics.split('\n')) {
    if (!line.startsWith('apiserver_longrunning_requests{')) continue;
    if (
      !line.includes('verb="WATCH"') ||
      !line.includes(`group="${GROUP}"`) ||
      !line.includes(`resource="${PLURAL}"`)
    )
      continue;
    open += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return open;
}

async function getWithClientCertificate(kc: KubeConfig, url: string): Promise<string> {
  const options: Parameters<KubeConfig['applyToHTTPSOptions']>[0] = {};
  await kc.applyToHTTPSOptions(options);
  return new Promise((resolve, reject) => {
    const req = request(url, { ...options, timeout: 5_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () =>
        res.statusCode === 200 ? resolve(body) : reject(new Error(`GET ${url}: HTTP ${res.statusCode}`)),
      );
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: timeout`)));
    req.end();
  });
}
