import type { FailoverPairStatus, MemberStatus } from '@probegate/core';
import { describe, expect, it } from 'vitest';
import { changesDecision } from '../../../src/kube/pair-relevance.js';
import type { PairObject } from '../../../src/reconcile/pair.js';
import { pairObject } from '../reconcile/fakes.js';

const member = (node: string, state: 'Active' | 'Standby'): MemberStatus =>
  ({ node, state, gate: state === 'Active' ? 'Open' : 'Closed' }) as MemberStatus;

const status: FailoverPairStatus = {
  activeNode: 'vm1',
  transitions: 1,
  observedGeneration: 1,
  lastTransition: { to: 'vm1', reason: 'BothHealthy', time: '2026-01-01T00:00:00Z' },
  conditions: [
    {
      type: 'Ready',
      status: 'True',
      reason: 'MemberActive',
      message: 'vm1 serves',
      observedGeneration: 1,
      lastTransitionTime: '2026-01-01T00:00:00Z',
    },
  ],
  members: [member('vm1', 'Active'), member('vm2', 'Standby')],
} as FailoverPairStatus;

const base: PairObject = { ...pairObject(), resourceVersion: '10', status };
const withStatus = (change: Partial<FailoverPairStatus>): PairObject => ({
  ...base,
  resourceVersion: '11',
  status: { ...status, ...change },
});

describe('changesDecision (which watch events cost vm1 a reconcile)', () => {
  it.each([
    { what: 'first sight of the pair', before: undefined, after: base, changes: true },
    {
      what: 'only the peer (vm2) rewrote its member entry',
      before: base,
      after: withStatus({ members: [member('vm1', 'Active'), member('vm2', 'Active')] }),
      changes: false,
    },
    {
      what: 'only resourceVersion (managed fields, labels) moved',
      before: base,
      after: { ...base, resourceVersion: '12' },
      changes: false,
    },
    {
      what: "this node's own member entry changed (someone else wrote it)",
      before: base,
      after: withStatus({ members: [member('vm1', 'Standby'), member('vm2', 'Standby')] }),
      changes: true,
    },
    {
      what: 'the peer took the pair (activeNode)',
      before: base,
      after: withStatus({ activeNode: 'vm2' }),
      changes: true,
    },
    { what: 'transitions counted', before: base, after: withStatus({ transitions: 2 }), changes: true },
    {
      what: 'a condition changed',
      before: base,
      after: withStatus({
        conditions: [{ ...(status.conditions?.[0] as object), status: 'False' }],
      } as never),
      changes: true,
    },
    { what: 'the spec changed (generation)', before: base, after: { ...base, generation: 2 }, changes: true },
    { what: 'deletion requested', before: base, after: { ...base, deleting: true }, changes: true },
    {
      what: 'a finalizer came or went',
      before: base,
      after: { ...base, finalizers: ['probegate.io/node.vm1'] },
      changes: true,
    },
    {
      what: 'a switchover was asked for',
      before: base,
      after: { ...base, requests: { ...base.requests, switchoverTo: 'vm2' } },
      changes: true,
    },
  ])('$what: $changes', ({ before, after, changes }) => {
    expect(changesDecision(before, after, 'vm1')).toBe(changes);
  });

  it('ignores the order of keys (the API server sorts them, we may not)', () => {
    const lastTransition = { time: '2026-01-01T00:00:00Z', reason: 'BothHealthy', to: 'vm1' } as never;
    expect(changesDecision(base, withStatus({ lastTransition }), 'vm1')).toBe(false);
  });
});
