import { describe, expect, it } from 'vitest';
import {
  type FailoverPairManifest,
  isInvalid,
  toPairObject,
} from '../../../src/kube/failover-pair-object.js';
import { pairObject } from '../reconcile/fakes.js';

const previous = pairObject(); // default/web at generation 1, valid

/** The same object as the API server would send it again, with another spec and generation. */
function manifest(generation: number | undefined, spec: unknown, name = 'web'): FailoverPairManifest {
  return {
    apiVersion: 'probegate.io/v1alpha1',
    kind: 'FailoverPair',
    metadata: { name, namespace: 'default', ...(generation === undefined ? {} : { generation }) },
    spec,
  };
}

const brokenSpec = { vip: 'not-an-ip', probe: { ports: [70_000] } };

describe('toPairObject reuses the validated spec of the same generation (status-only watch events)', () => {
  it('same pair, same generation: the spec seen before is taken as it is, not validated again', () => {
    // Only a status or metadata change keeps the generation; the spec on the wire is then the
    // same one. A broken spec here proves that no validation ran.
    const parsed = toPairObject(manifest(1, brokenSpec), 'default', undefined, previous);
    expect(isInvalid(parsed)).toBe(false);
    expect(!isInvalid(parsed) && parsed.spec).toBe(previous.spec);
  });

  it.each([
    { what: 'a new generation (the spec changed)', generation: 2, name: 'web' },
    { what: 'no generation (a pairs file entry)', generation: undefined, name: 'web' },
    { what: 'another pair at the same generation', generation: 1, name: 'shop' },
  ])('$what: validated again, and the problems are reported', ({ generation, name }) => {
    const parsed = toPairObject(manifest(generation, brokenSpec, name), 'default', undefined, previous);
    expect(isInvalid(parsed)).toBe(true);
    expect(isInvalid(parsed) && parsed.problems.map((p) => p.path)).toEqual(
      expect.arrayContaining(['spec.vip', 'spec.probe.ports[0]']),
    );
  });

  it('without a previous object every manifest is validated', () => {
    expect(isInvalid(toPairObject(manifest(1, brokenSpec)))).toBe(true);
  });
});
