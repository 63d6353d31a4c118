import type { FailoverPairStatus } from '@probegate/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { FailoverPairManifest } from '../../../src/kube/failover-pair-object.js';
import { PairVersions } from '../../../src/kube/pair-versions.js';
import { isNewerResourceVersion } from '../../../src/kube/resource-version.js';

const served: FailoverPairStatus = { activeNode: 'vm1', transitions: 1 } as FailoverPairStatus;
const withMember: FailoverPairStatus = {
  ...served,
  members: [{ node: 'vm2', state: 'Standby' }],
} as FailoverPairStatus;
const taken: FailoverPairStatus = { activeNode: 'vm2', transitions: 2 } as FailoverPairStatus;

const object = (rv: string, status?: FailoverPairStatus, generation = 1): FailoverPairManifest => ({
  metadata: { namespace: 'default', name: 'p', resourceVersion: rv, generation },
  ...(status ? { status } : {}),
});

describe('isNewerResourceVersion', () => {
  it.each([
    ['11', '10', true],
    ['10', '11', false],
    ['10', '10', false],
    ['100', '99', true], // numeric, not lexical
    ['x', 'y', true], // opaque: trust the latest
    ['x', 'x', false],
    [undefined, '1', true],
  ])('%s newer than %s: %s', (a, b, newer) => {
    expect(isNewerResourceVersion(a, b)).toBe(newer);
  });

  it('orders decimal versions like numbers', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: 10n ** 18n }),
        fc.bigInt({ min: 0n, max: 10n ** 18n }),
        (a, b) => {
          expect(isNewerResourceVersion(String(a), String(b))).toBe(a > b);
        },
      ),
    );
  });
});

describe('PairVersions.guardFor', () => {
  it.each([
    {
      what: 'only a member entry changed since: the newest version guards',
      seen: [object('10', served), object('12', withMember)],
      basedOn: '10',
      expected: '12',
    },
    {
      what: 'the pair-level fields changed since: the old version guards (and conflicts)',
      seen: [object('10', served), object('12', taken)],
      basedOn: '10',
      expected: '10',
    },
    {
      what: 'the spec changed since (generation): the old version guards',
      seen: [object('12', served, 2)],
      basedOn: '10',
      expected: '10',
    },
    { what: 'nothing newer seen', seen: [object('9', served)], basedOn: '10', expected: '10' },
    { what: 'nothing seen at all', seen: [], basedOn: '10', expected: '10' },
    { what: 'no guard asked for', seen: [object('12', served)], basedOn: undefined, expected: undefined },
  ])('$what', ({ seen, basedOn, expected }) => {
    const versions = new PairVersions();
    for (const o of seen) versions.note(o);
    expect(versions.guardFor('default/p', basedOn, 1, served)).toBe(expected);
  });

  it('keeps the newest version when events arrive out of order', () => {
    const versions = new PairVersions();
    versions.note(object('12', withMember));
    versions.note(object('11', taken));
    expect(versions.guardFor('default/p', '10', 1, served)).toBe('12');
  });

  it('forgets a deleted pair', () => {
    const versions = new PairVersions();
    versions.note(object('12', served));
    versions.forget('default/p');
    expect(versions.guardFor('default/p', '10', 1, served)).toBe('10');
  });
});
