// The agent's API calls share one keep-alive connection pool. client-node alone opens a new TLS
// connection for every call (a new undici Agent each time): at 1,000 pairs that was most of the
// agent's CPU and memory. Proven against the real API server by counting TLS connections opened.
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { CustomObjectsApi } from '@kubernetes/client-node';
import { type KubeApi, startKubeApi } from '@probegate/testenv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FailoverPairApi } from '../../../src/kube/failover-pair-api.js';
import { GROUP, installCrd, PLURAL, VERSION } from './harness.js';

let api: KubeApi;

beforeAll(async () => {
  api = await startKubeApi();
  await installCrd(api.kubeConfig());
}, 120_000);

afterAll(async () => {
  await api?.stop();
});

/** TLS connections undici opens while `run` runs. */
async function connectionsOpenedBy(run: () => Promise<unknown>): Promise<number> {
  let opened = 0;
  const count = () => {
    opened++;
  };
  subscribe('undici:client:connected', count);
  try {
    await run();
  } finally {
    unsubscribe('undici:client:connected', count);
  }
  return opened;
}

describe('FailoverPair API calls against the real API server', () => {
  it('reuse one connection for sequential calls (client-node alone opens one per call)', async () => {
    const pairs = new FailoverPairApi(api.kubeConfig(), 'vm1');
    const pooled = await connectionsOpenedBy(async () => {
      for (let i = 0; i < 10; i++) await pairs.list('default');
    });
    const plain = api.kubeConfig().makeApiClient(CustomObjectsApi);
    const unpooled = await connectionsOpenedBy(async () => {
      for (let i = 0; i < 10; i++)
        await plain.listNamespacedCustomObject({
          group: GROUP,
          version: VERSION,
          namespace: 'default',
          plural: PLURAL,
        });
    });
    expect(pooled).toBe(1);
    expect(unpooled).toBe(10);
  });

  it('keep the connections of a burst of concurrent calls for the next burst', async () => {
    const pairs = new FailoverPairApi(api.kubeConfig(), 'vm1');
    const burst = () => Promise.all(Array.from({ length: 20 }, () => pairs.list('default')));
    const first = await connectionsOpenedBy(burst);
    const second = await connectionsOpenedBy(burst);
    expect(first).toBeGreaterThan(0);
    expect(first).toBeLessThanOrEqual(20);
    expect(second).toBe(0);
  });
});
