// ResilientInformer against a real API server (etcd + apiextensions-apiserver): initial list,
// watch events, API server restarts and outages, deletions nobody could watch, and 410 Gone
// after an etcd compaction.
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import { Watch } from '@kubernetes/client-node';
import { type KubeApi, startKubeApi, waitFor } from '@probegate/testenv';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FailoverPairApi } from '../../../src/kube/failover-pair-api.js';
import type { FailoverPairManifest } from '../../../src/kube/failover-pair-object.js';
import { type InformerHandlers, ResilientInformer } from '../../../src/kube/resilient-informer.js';
import {
  apiServerPid,
  deleteFromEtcd,
  installFailoverPairCrd,
  openFailoverPairWatches,
  Pairs,
  recordingKubeConfig,
  type SeenRequest,
} from './api-server.js';

// The machine is shared with other test suites: generous, but every wait still polls.
const WAIT_MS = 60_000;

/** What the informer reported, in order. */
class Recorder {
  readonly upserts: { name: string; resourceVersion: string }[] = [];
  readonly deletes: string[] = [];
  readonly errors: unknown[] = [];
  syncs = 0;

  readonly handlers: InformerHandlers<FailoverPairManifest> = {
    upsert: (obj) =>
      this.upserts.push({
        name: obj.metadata?.name ?? '',
        resourceVersion: obj.metadata?.resourceVersion ?? '',
      }),
    delete: (obj) => this.deletes.push(obj.metadata?.name ?? ''),
    error: (error) => this.errors.push(error),
    synced: () => {
      this.syncs++;
    },
  };

  sawUpsert(name: string, resourceVersion?: string): boolean {
    return this.upserts.some(
      (upsert) =>
        upsert.name === name && (resourceVersion === undefined || upsert.resourceVersion === resourceVersion),
    );
  }
}

const names = (objects: readonly KubernetesObject[]) => objects.map((obj) => obj.metadata?.name ?? '').sort();
const portOf = (obj: FailoverPairManifest | undefined) =>
  (obj?.spec as { probe?: { ports?: number[] } } | undefined)?.probe?.ports?.[0];

const isWatch = (request: SeenRequest) => request.url.searchParams.get('watch') === 'true';
const resourceVersionOf = (request: SeenRequest) => request.url.searchParams.get('resourceVersion') ?? '';

const started: ResilientInformer<FailoverPairManifest>[] = [];

function newInformer(kc: KubeConfig, namespace: string, recorder: Recorder) {
  const api = new FailoverPairApi(kc, 'informer-test');
  const informer = new ResilientInformer<FailoverPairManifest>(
    kc,
    api.watchPath(namespace),
    () => api.list(namespace),
    // Frozen: the informer must not write into the caller's handlers.
    Object.freeze(recorder.handlers),
    // No periodic relist during a test: every relist seen here is a recovery.
    { relistEveryMs: 600_000, backoffBaseMs: 200, backoffMaxMs: 2_000 },
  );
  started.push(informer);
  return informer;
}

afterEach(async () => {
  for (const informer of started.splice(0)) await informer.stop();
});

describe('ResilientInformer on a real API server (watch cache on)', () => {
  let api: KubeApi;
  let pairs: Pairs;

  beforeAll(async () => {
    api = await startKubeApi();
    await installFailoverPairCrd(api.kubeConfig());
    pairs = new Pairs(api.kubeConfig());
  });

  afterAll(async () => {
    await api?.stop();
  });

  let serverDown = false;
  // A test that failed while the server was down must not leave it down for the next one.
  afterEach(async () => {
    if (serverDown) await api.restartApiServer();
    serverDown = false;
  });

  /** Takes the API server down and keeps it down until restartApiServer(). */
  async function killApiServer(informer: ResilientInformer<FailoverPairManifest>): Promise<void> {
    process.kill(apiServerPid(api), 'SIGKILL');
    serverDown = true;
    await waitFor(() => !informer.healthy, {
      what: 'the informer to notice the API server is gone',
      timeoutMs: WAIT_MS,
    });
  }

  it('lists existing objects on start (synced) and reports adds, updates and deletes from the watch', async () => {
    const ns = 'informer-basic';
    await pairs.create(ns, 'a');
    await pairs.create(ns, 'b');
    const recorder = new Recorder();
    const informer = newInformer(api.kubeConfig(), ns, recorder);
    expect(informer.synced).toBe(false);

    await informer.start();
    expect(informer.synced).toBe(true);
    expect(informer.healthy).toBe(true);
    expect(recorder.syncs).toBe(1);
    expect(names(informer.objects())).toEqual(['a', 'b']);
    expect(recorder.upserts.map((upsert) => upsert.name).sort()).toEqual(['a', 'b']);

    await pairs.create(ns, 'c');
    await waitFor(() => recorder.sawUpsert('c'), { what: 'the add of c', timeoutMs: WAIT_MS });

    const updated = await pairs.update(ns, 'a', 9090);
    await waitFor(() => recorder.sawUpsert('a', updated), { what: 'the update of a', timeoutMs: WAIT_MS });
    expect(portOf(informer.objects().find((obj) => obj.metadata?.name === 'a'))).toBe(9090);

    await pairs.delete(ns, 'b');
    await waitFor(() => recorder.deletes.includes('b'), { what: 'the delete of b', timeoutMs: WAIT_MS });
    expect(recorder.deletes).toEqual(['b']);
    expect(names(informer.objects())).toEqual(['a', 'c']);
    expect(recorder.errors).toEqual([]);
  });

  it('reports no spurious delete across an API server restart and sees changes made after it', async () => {
    const ns = 'informer-restart';
    await pairs.create(ns, 'a');
    await pairs.create(ns, 'b');
    const seen: SeenRequest[] = [];
    const recorder = new Recorder();
    const informer = newInformer(recordingKubeConfig(api.kubeConfig(), seen), ns, recorder);
    await informer.start();
    const watchesBefore = seen.filter(isWatch).length;

    await api.restartApiServer();
    // The old watch died with the old process: the informer must have connected again.
    await waitFor(() => seen.filter(isWatch).length > watchesBefore, {
      what: 'a new watch after the restart',
      timeoutMs: WAIT_MS,
    });

    await pairs.create(ns, 'c');
    const updated = await pairs.update(ns, 'a', 9091);
    await waitFor(() => recorder.sawUpsert('c') && recorder.sawUpsert('a', updated), {
      what: 'changes made after the restart',
      timeoutMs: WAIT_MS,
    });
    await waitFor(() => informer.healthy, { what: 'the informer to be healthy', timeoutMs: WAIT_MS });
    expect(recorder.deletes).toEqual([]);
    expect(names(informer.objects())).toEqual(['a', 'b', 'c']);
  });

  it('reports an object deleted while the API server was down once the server is back', async () => {
    const ns = 'informer-outage-delete';
    await pairs.create(ns, 'a');
    await pairs.create(ns, 'b');
    const recorder = new Recorder();
    const informer = newInformer(api.kubeConfig(), ns, recorder);
    await informer.start();

    // No API server runs while b goes away, so no watch anywhere can carry that delete event:
    // only the informer's diff of its next list against what it knew can find it.
    await killApiServer(informer);
    await deleteFromEtcd(api, ns, 'b');
    expect(recorder.deletes).toEqual([]);

    await api.restartApiServer();
    serverDown = false;
    await waitFor(() => recorder.deletes.includes('b'), {
      what: 'the delete of b to be reported',
      timeoutMs: WAIT_MS,
    });
    await waitFor(() => informer.healthy, { what: 'the informer to be healthy', timeoutMs: WAIT_MS });
    expect(recorder.deletes).toEqual(['b']);
    expect(names(informer.objects())).toEqual(['a']);
  });

  it('leaves no watch running on the server when stopped during a reconnect', async () => {
    const ns = 'informer-stop-reconnect';
    await pairs.create(ns, 'a');
    const seen: SeenRequest[] = [];
    const kc = recordingKubeConfig(api.kubeConfig(), seen);
    const pairApi = new FailoverPairApi(kc, 'informer-test');
    let lists = 0;
    let releaseList = () => {};
    const listHeld = new Promise<void>((resolve) => {
      releaseList = resolve;
    });
    let heldListDone = false;
    const recorder = new Recorder();
    const informer = new ResilientInformer<FailoverPairManifest>(
      kc,
      pairApi.watchPath(ns),
      async () => {
        lists++;
        // The second list is the periodic re-list (a reconnect): held until stop() has returned.
        if (lists !== 2) return pairApi.list(ns);
        await listHeld;
        const listed = await pairApi.list(ns);
        heldListDone = true;
        return listed;
      },
      Object.freeze(recorder.handlers),
      { relistEveryMs: 300, backoffBaseMs: 200, backoffMaxMs: 2_000 },
    );
    started.push(informer);
    await informer.start();
    await waitFor(async () => (await openFailoverPairWatches(api)) === 1, {
      what: 'the first watch to be served',
      timeoutMs: WAIT_MS,
    });
    await waitFor(() => lists === 2, { what: 'the reconnect to list', timeoutMs: WAIT_MS });

    await informer.stop();
    releaseList();
    // client-node goes on from the held list to a watch: the informer must not let it stay open.
    await waitFor(() => heldListDone, { what: 'the held list to complete', timeoutMs: WAIT_MS });
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    await waitFor(async () => (await openFailoverPairWatches(api)) === 0, {
      what: 'no FailoverPair watch left on the server',
      timeoutMs: 5_000,
    });
    expect(informer.healthy).toBe(false);
    expect(recorder.syncs).toBe(1);
    expect(lists).toBe(2);
  });

  it('is unhealthy while the API server is unreachable, without syncing or deleting on failed lists, and healthy after', async () => {
    const ns = 'informer-health';
    await pairs.create(ns, 'a');
    const seen: SeenRequest[] = [];
    const recorder = new Recorder();
    const informer = newInformer(recordingKubeConfig(api.kubeConfig(), seen), ns, recorder);
    await informer.start();
    expect(informer.healthy).toBe(true);

    await killApiServer(informer);
    const syncsWhileUp = recorder.syncs;
    const downSince = Date.now();
    // It keeps retrying; each retry lists and fails.
    await waitFor(
      () => recorder.errors.length >= 3 && seen.filter((r) => r.at >= downSince && !isWatch(r)).length >= 2,
      { what: 'several failed re-lists while the server is down', timeoutMs: WAIT_MS },
    );
    expect(informer.healthy).toBe(false);
    expect(informer.synced).toBe(true); // it did list once, before the outage
    expect(recorder.syncs).toBe(syncsWhileUp);
    expect(recorder.deletes).toEqual([]);
    expect(names(informer.objects())).toEqual(['a']);

    await api.restartApiServer();
    serverDown = false;
    await waitFor(() => informer.healthy, { what: 'the informer to be healthy again', timeoutMs: WAIT_MS });
    expect(recorder.syncs).toBeGreaterThan(syncsWhileUp);
    expect(recorder.deletes).toEqual([]);
    expect(names(informer.objects())).toEqual(['a']);
  });
});

describe('ResilientInformer on a real API server without watch cache', () => {
  let api: KubeApi;
  let pairs: Pairs;

  beforeAll(async () => {
    // Without the watch cache a watch from a compacted resourceVersion is refused (410 Gone).
    api = await startKubeApi({ watchCache: false });
    await installFailoverPairCrd(api.kubeConfig());
    pairs = new Pairs(api.kubeConfig());
  });

  afterAll(async () => {
    await api?.stop();
  });

  /** Whether a watch from this resourceVersion is answered 410 Gone. */
  async function watchIsGone(path: string, resourceVersion: string): Promise<boolean> {
    return new Promise<boolean>((resolve, reject) => {
      let gone = false;
      let controller: AbortController | undefined;
      new Watch(api.kubeConfig())
        .watch(
          path,
          { resourceVersion },
          (phase, obj: { code?: number }) => {
            if (phase === 'ERROR' && obj.code === 410) gone = true;
            controller?.abort();
          },
          (error: { statusCode?: number } | null) => resolve(gone || error?.statusCode === 410),
        )
        .then((c) => {
          controller = c;
        }, reject);
    });
  }

  it('recovers from 410 Gone after an etcd compaction by re-listing, and sees new changes', async () => {
    const ns = 'informer-compaction';
    await pairs.create(ns, 'a');
    const seen: SeenRequest[] = [];
    const recorder = new Recorder();
    const kc = recordingKubeConfig(api.kubeConfig(), seen);
    const informer = newInformer(kc, ns, recorder);
    const path = new FailoverPairApi(kc, 'informer-test').watchPath(ns);
    await informer.start();
    const firstWatch = await waitFor(() => seen.find(isWatch), {
      what: 'the first watch',
      timeoutMs: WAIT_MS,
    });
    const watchedFrom = resourceVersionOf(firstWatch);

    // Move etcd's revision on without touching anything this informer watches, then compact:
    // the informer still holds watchedFrom, which is now history.
    for (const name of ['x', 'y', 'z']) await pairs.create(`${ns}-elsewhere`, name);
    const compactedAt = await api.compactEtcd();
    expect(compactedAt).toBeGreaterThan(Number(watchedFrom));
    expect(await watchIsGone(path, watchedFrom)).toBe(true);
    const compactedTime = Date.now();

    // The idle watch ends (client-side inactivity timeout) and resumes from watchedFrom: 410,
    // so the informer must list afresh and watch from a current resourceVersion.
    const resumed = await waitFor(
      () => seen.find((r) => r.at >= compactedTime && isWatch(r) && resourceVersionOf(r) === watchedFrom),
      { what: 'the watch to resume from the compacted resourceVersion', timeoutMs: 90_000 },
    );
    const relisted = await waitFor(
      () => seen.find((r) => r.at >= resumed.at && !isWatch(r) && r.url.pathname === path),
      { what: 'a re-list after 410 Gone', timeoutMs: WAIT_MS },
    );
    await waitFor(
      () =>
        seen.find((r) => r.at >= relisted.at && isWatch(r) && Number(resourceVersionOf(r)) >= compactedAt),
      { what: 'a watch from a current resourceVersion', timeoutMs: WAIT_MS },
    );

    await pairs.create(ns, 'b');
    await pairs.delete(ns, 'a');
    await waitFor(() => recorder.sawUpsert('b') && recorder.deletes.includes('a'), {
      what: 'changes made after the compaction',
      timeoutMs: WAIT_MS,
    });
    expect(recorder.deletes).toEqual(['a']);
    expect(names(informer.objects())).toEqual(['b']);
    expect(informer.healthy).toBe(true);
  }, 180_000);
});
