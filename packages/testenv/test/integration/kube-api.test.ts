import { ApiextensionsV1Api, CustomObjectsApi, Watch } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installCrd, type KubeApi, startKubeApi, waitFor } from '../../src/index.js';

// A small CRD with a CEL rule: enough to prove the server validates for real.
const WIDGET_CRD = `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.testenv.probegate.io}
spec:
  group: testenv.probegate.io
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            x-kubernetes-validations:
            - rule: self.min <= self.max
              message: min must not exceed max
            properties:
              min: {type: integer, minimum: 0}
              max: {type: integer, maximum: 100}
`;

const group = 'testenv.probegate.io';
const widget = (name: string, min: number, max: number) => ({
  apiVersion: `${group}/v1`,
  kind: 'Widget',
  metadata: { name, namespace: 'default' },
  spec: { min, max },
});

describe('the real apiextensions-apiserver started by the launcher', () => {
  let api: KubeApi;
  let objects: CustomObjectsApi;

  beforeAll(async () => {
    // Without the watch cache, a compacted resourceVersion is refused by etcd itself (410).
    api = await startKubeApi({ watchCache: false });
    const kc = api.kubeConfig();
    await installCrd(kc, WIDGET_CRD);
    objects = kc.makeApiClient(CustomObjectsApi);
  });

  afterAll(async () => {
    await api?.stop();
  });

  it('refuses a CRD manifest without group, plural or served version, naming them', async () => {
    const broken = WIDGET_CRD.replace('served: true', 'served: false');
    await expect(installCrd(api.kubeConfig(), broken)).rejects.toThrow(
      /served spec.versions\[\].name undefined/,
    );
  });

  it('stores the CRD with its CEL rule intact', async () => {
    const stored = await api
      .kubeConfig()
      .makeApiClient(ApiextensionsV1Api)
      .readCustomResourceDefinition({ name: 'widgets.testenv.probegate.io' });
    const spec = stored.spec.versions[0]?.schema?.openAPIV3Schema?.properties?.spec;
    expect(spec?.x_kubernetes_validations?.[0]?.rule).toBe('self.min <= self.max');
  });

  it('creates a custom object and a watch sees it', async () => {
    const seen: string[] = [];
    const watch = new Watch(api.kubeConfig());
    const request = await watch.watch(
      `/apis/${group}/v1/namespaces/default/widgets`,
      {},
      (phase, obj: { metadata?: { name?: string } }) => seen.push(`${phase}:${obj.metadata?.name}`),
      () => {},
    );
    try {
      await objects.createNamespacedCustomObject({
        group,
        version: 'v1',
        namespace: 'default',
        plural: 'widgets',
        body: widget('good', 1, 2),
      });
      await waitFor(() => seen.includes('ADDED:good'), { what: 'the watch to report ADDED:good' });
    } finally {
      request.abort();
    }
    expect(seen).toContain('ADDED:good');
  });

  it('rejects an object that breaks the CEL rule with its message', async () => {
    const error = await objects
      .createNamespacedCustomObject({
        group,
        version: 'v1',
        namespace: 'default',
        plural: 'widgets',
        body: widget('bad', 5, 1),
      })
      .then(
        () => undefined,
        (e: unknown) => e as { code?: number; body?: string },
      );
    expect(error?.code).toBe(422);
    expect(String(error?.body)).toContain('min must not exceed max');
  });

  it('survives an API server restart with its data', async () => {
    await api.restartApiServer();
    const got = (await objects.getNamespacedCustomObject({
      group,
      version: 'v1',
      namespace: 'default',
      plural: 'widgets',
      name: 'good',
    })) as { spec: { max: number } };
    expect(got.spec.max).toBe(2);
  });

  it('compacts etcd so that an old resourceVersion is gone (410)', async () => {
    const list = (await objects.listNamespacedCustomObject({
      group,
      version: 'v1',
      namespace: 'default',
      plural: 'widgets',
    })) as { metadata: { resourceVersion: string } };
    const oldVersion = list.metadata.resourceVersion;
    for (const n of [1, 2, 3]) {
      await objects.createNamespacedCustomObject({
        group,
        version: 'v1',
        namespace: 'default',
        plural: 'widgets',
        body: widget(`churn-${n}`, 0, n),
      });
    }
    await api.compactEtcd();
    const status = await new Promise<number | undefined>((resolve) => {
      const watch = new Watch(api.kubeConfig());
      void watch.watch(
        `/apis/${group}/v1/namespaces/default/widgets`,
        { resourceVersion: oldVersion },
        (phase, obj: { code?: number }) => {
          if (phase === 'ERROR') resolve(obj.code);
        },
        (err: unknown) => resolve((err as { statusCode?: number } | undefined)?.statusCode),
      );
    });
    expect(status).toBe(410);
  });
});
