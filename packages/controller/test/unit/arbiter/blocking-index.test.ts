import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { nextBlockingIndex, parseConsulIndex, parseWait } from '../../../src/arbiter/blocking-index.js';

describe('nextBlockingIndex (Consul blocking-query index rules)', () => {
  it.each([
    ['first answer is used as is', undefined, 42n, 42n],
    ['moving forward follows the answer', 42n, 50n, 50n],
    ['an unchanged index (wait timed out) is kept', 42n, 42n, 42n],
    ['an index that goes backwards resets the watch', 42n, 7n, 1n],
    ['a zero index is never sent back', 42n, 0n, 1n],
    ['a zero index on the first answer is never sent back', undefined, 0n, 1n],
    ['a missing index is never sent back', 42n, undefined, 1n],
  ])('%s', (_name, previous, returned, expected) => {
    expect(nextBlockingIndex(previous, returned)).toBe(expected);
  });

  it('always yields an index >= 1 (never a busy loop on index=0)', () => {
    fc.assert(
      fc.property(
        fc.option(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), { nil: undefined }),
        fc.option(fc.bigInt({ min: -5n, max: 2n ** 64n - 1n }), { nil: undefined }),
        (previous, returned) => {
          expect(nextBlockingIndex(previous, returned)).toBeGreaterThanOrEqual(1n);
        },
      ),
    );
  });
});

describe('parseConsulIndex', () => {
  it.each([
    ['123', 123n],
    [['9'], 9n],
    ['18446744073709551615', 18446744073709551615n],
    ['', undefined],
    ['-1', undefined],
    ['12abc', undefined],
    [undefined, undefined],
    [12, undefined],
  ])('%j -> %s', (header, expected) => {
    expect(parseConsulIndex(header)).toBe(expected);
  });
});

describe('parseWait', () => {
  it.each([
    ['500ms', 500],
    ['30s', 30_000],
    ['5m', 300_000],
    ['10m', 600_000],
  ])('%s -> %i ms', (wait, ms) => {
    expect(parseWait(wait)).toBe(ms);
  });
  it.each(['', '30', '1h', '11m', '0s', 'soon'])('rejects %j naming it', (wait) => {
    expect(() => parseWait(wait)).toThrow(`'${wait}'`);
  });
});
