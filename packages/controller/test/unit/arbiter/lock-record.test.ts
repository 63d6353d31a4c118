import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { lockKey, nextLockRecord, parseLockRecord } from '../../../src/arbiter/lock-record.js';

const t0 = new Date('2026-01-01T00:00:00.000Z');
const at = (s: number) => new Date(t0.getTime() + s * 1000);

describe('lockKey', () => {
  it('is <prefix>/<namespace>/<name>/leader', () => {
    expect(lockKey({ namespace: 'prod', name: 'web' })).toBe('probegate/prod/web/leader');
    expect(lockKey({ namespace: 'prod', name: 'web' }, 'x/y')).toBe('x/y/prod/web/leader');
  });
  it.each([
    [{ namespace: '', name: 'web' }, 'pair.namespace'],
    [{ namespace: 'a/b', name: 'web' }, "'a/b'"],
    [{ namespace: 'prod', name: '../x' }, 'pair.name'],
  ])('rejects %j with a message naming the field and value', (pair, message) => {
    expect(() => lockKey(pair)).toThrow(message);
  });
});

describe('nextLockRecord', () => {
  it('records who took the lock, since when and why', () => {
    const r = nextLockRecord(undefined, 'prod/web', 'vm1', 'primary healthy', t0);
    expect(r).toEqual({
      pair: 'prod/web',
      holder: 'vm1',
      since: t0.toISOString(),
      reason: 'primary healthy',
      transitions: [{ from: null, to: 'vm1', reason: 'primary healthy', at: t0.toISOString() }],
    });
  });

  it('appends transitions and keeps only the last N', () => {
    let r = nextLockRecord(undefined, 'p/q', 'vm1', 'start', at(0), 3);
    r = nextLockRecord(r, 'p/q', null, 'vm1 unhealthy', at(1), 3);
    r = nextLockRecord(r, 'p/q', 'vm2', 'vm2 healthy', at(2), 3);
    r = nextLockRecord(r, 'p/q', null, 'maintenance', at(3), 3);
    expect(r.holder).toBeNull();
    expect(r.since).toBe(at(3).toISOString());
    expect(r.transitions.map((t) => [t.from, t.to])).toEqual([
      ['vm1', null],
      [null, 'vm2'],
      ['vm2', null],
    ]);
  });

  it('re-taking by the same holder keeps since and history', () => {
    const first = nextLockRecord(undefined, 'p/q', 'vm1', 'start', at(0));
    const again = nextLockRecord(first, 'p/q', 'vm1', 'still healthy', at(5));
    expect(again.since).toBe(first.since);
    expect(again.transitions).toEqual(first.transitions);
    expect(again.reason).toBe('still healthy');
  });

  it('round-trips through JSON and parseLockRecord, history never exceeds N', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom('vm1', 'vm2', null), fc.string()), { maxLength: 30 }),
        fc.integer({ min: 1, max: 12 }),
        (steps, keep) => {
          let record = nextLockRecord(undefined, 'p/q', 'vm1', 'start', at(0), keep);
          steps.forEach(([holder, reason], i) => {
            record = nextLockRecord(record, 'p/q', holder, reason, at(i + 1), keep);
          });
          expect(record.transitions.length).toBeLessThanOrEqual(keep);
          expect(parseLockRecord(JSON.stringify(record))).toEqual(record);
        },
      ),
    );
  });
});

describe('parseLockRecord', () => {
  it.each([
    ['empty', ''],
    ['null', null],
    ['not JSON', '{oops'],
    ['a number', '42'],
    ['missing transitions', JSON.stringify({ pair: 'p', holder: null, since: 'x', reason: 'r' })],
    [
      'a bad transition',
      JSON.stringify({ pair: 'p', holder: null, since: 'x', reason: 'r', transitions: [{ from: 1 }] }),
    ],
  ])('%s -> undefined', (_name, text) => {
    expect(parseLockRecord(text)).toBeUndefined();
  });
});
