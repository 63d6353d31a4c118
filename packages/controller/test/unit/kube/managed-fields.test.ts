import { describe, expect, it } from 'vitest';
import { type FailoverPairManifest, withoutManagedFields } from '../../../src/kube/failover-pair-object.js';

describe('withoutManagedFields', () => {
  it('drops metadata.managedFields in place and keeps everything else', () => {
    const manifest = {
      apiVersion: 'probegate.io/v1alpha1',
      kind: 'FailoverPair',
      metadata: {
        name: 'web',
        namespace: 'default',
        resourceVersion: '12',
        finalizers: ['probegate.io/node.vm1'],
        managedFields: [{ manager: 'probegate-vm1', operation: 'Apply', fieldsV1: { 'f:status': {} } }],
      },
      spec: { vip: '198.18.100.10' },
      status: { activeNode: 'vm1' },
    } as FailoverPairManifest;
    const kept = structuredClone(manifest);
    delete (kept.metadata as Record<string, unknown>).managedFields;
    expect(withoutManagedFields(manifest)).toBe(manifest);
    expect(manifest).toEqual(kept);
  });

  it('leaves a manifest without metadata or managed fields as it is', () => {
    const bare: FailoverPairManifest = { spec: {} };
    expect(withoutManagedFields(bare)).toEqual({ spec: {} });
    const plain: FailoverPairManifest = { metadata: { name: 'web' } };
    expect(withoutManagedFields(plain)).toEqual({ metadata: { name: 'web' } });
  });
});
