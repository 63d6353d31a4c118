import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { sameJson } from '../../../src/reconcile/status.js';

/** What sameJson replaces: serialize both with sorted keys and compare. */
function viaJson(a: unknown, b: unknown): boolean {
  const normalize = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(normalize);
    if (value === null || typeof value !== 'object') return value;
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>)
        .filter(([, v]) => v !== undefined)
        .sort(([x], [y]) => (x < y ? -1 : 1))
        .map(([k, v]) => [k, normalize(v)]),
    );
  };
  return JSON.stringify(normalize(a)) === JSON.stringify(normalize(b));
}

const value = fc.letrec((tie) => ({
  leaf: fc.oneof(
    fc.constantFrom('a', 'b', ''),
    fc.integer({ min: 0, max: 3 }),
    fc.boolean(),
    fc.constant(null),
  ),
  node: fc.oneof(
    { depthSize: 'small' },
    tie('leaf'),
    fc.array(tie('node'), { maxLength: 3 }),
    fc.dictionary(fc.constantFrom('x', 'y', 'z'), fc.option(tie('node'), { nil: undefined }), { maxKeys: 3 }),
  ),
})).node;

describe('sameJson', () => {
  it.each([
    [{ a: 1, b: undefined }, { a: 1 }, true],
    [{ a: 1, b: 2 }, { b: 2, a: 1 }, true],
    [{ a: 1 }, { a: 1, b: 2 }, false],
    [[1, 2], [2, 1], false],
    [{}, undefined, false],
    [{ a: { b: [1, { c: 'x' }] } }, { a: { b: [1, { c: 'x' }] } }, true],
  ])('%j vs %j: %s', (a, b, same) => {
    expect(sameJson(a, b)).toBe(same);
  });

  it('agrees with comparing sorted JSON on any JSON-like values', () => {
    fc.assert(
      fc.property(value, value, (a, b) => {
        expect(sameJson(a, b)).toBe(viaJson(a, b));
        expect(sameJson(a, a)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });
});
