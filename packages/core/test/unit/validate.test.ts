import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseFailoverPairSpec, validateFailoverPairSpec } from '../../src/index.js';
import { pathMatches, validationCases, validSpec } from '../fixtures/validation-cases.js';

describe('validateFailoverPairSpec on the shared case table', () => {
  it.each(validationCases.map((testCase) => [testCase.name, testCase] as const))('%s', (_name, testCase) => {
    const result = validateFailoverPairSpec(testCase.spec);
    if (testCase.expectValid) {
      expect(result.ok ? [] : result.problems).toEqual([]);
      return;
    }
    expect(result.ok).toBe(false);
    if (result.ok) return;
    const paths = result.problems.map((problem) => problem.path);
    for (const expected of testCase.expectPathsContain) {
      expect(
        paths.some((path) => pathMatches(expected, path)),
        `expected a problem at ${expected}, got ${paths.join(', ')}`,
      ).toBe(true);
    }
    for (const problem of result.problems) {
      // Every message names its field.
      expect(problem.message.startsWith(problem.path === '' ? 'spec' : problem.path)).toBe(true);
    }
  });
});

describe('validateFailoverPairSpec details', () => {
  it('applies every default, as the API server does', () => {
    const result = validateFailoverPairSpec(validSpec());
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.value).toEqual({
      ...validSpec(),
      probe: { ports: [80], protocol: 'TCP', sourceCIDRs: ['168.63.129.16/32'] },
      consul: { service: 'web', memberMapping: 'ByAddress' },
      failback: 'Automatic',
      arbitration: 'Lock',
      timing: {
        holdDownSeconds: 10,
        failbackDelaySeconds: 30,
        arbiterGraceSeconds: 15,
        arbiterUnreachable: 'Hold',
        gateLeaseSeconds: 30,
      },
      warningIsHealthy: false,
    });
  });

  it('does not modify its input', () => {
    const input = validSpec();
    const before = JSON.stringify(input);
    validateFailoverPairSpec(input);
    expect(JSON.stringify(input)).toBe(before);
  });

  it('reports the offending value with each problem', () => {
    const spec = validSpec();
    (spec.probe as { ports: number[] }).ports = [80, 70000, 80];
    (spec.secondary as { address: string }).address = '300.1.1.1';
    const result = validateFailoverPairSpec(spec);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.problems).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          path: 'probe.ports[1]',
          value: 70000,
          message: expect.stringContaining('70000'),
        }),
        expect.objectContaining({
          path: 'probe.ports[2]',
          value: 80,
          message: expect.stringContaining('duplicate'),
        }),
        expect.objectContaining({ path: 'secondary.address', value: '300.1.1.1' }),
      ]),
    );
    // The malformed address is reported once, not again by its CEL mirror.
    expect(result.problems.filter((problem) => problem.path === 'secondary.address')).toHaveLength(1);
  });

  it('names unknown fields', () => {
    const result = validateFailoverPairSpec({ ...validSpec(), colour: 'blue' });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.problems).toEqual([
      { path: 'colour', value: 'blue', message: 'colour: unknown field (not part of spec)' },
    ]);
  });

  it('rejects a spec that is not an object', () => {
    for (const input of [null, 'spec', 42, []]) {
      const result = validateFailoverPairSpec(input);
      expect(result.ok).toBe(false);
    }
  });

  it('parseFailoverPairSpec throws one error listing every problem', () => {
    const spec = validSpec();
    (spec.secondary as { node: string }).node = 'vm1';
    (spec.consul as { service: string }).service = '';
    const thrown = (() => {
      try {
        parseFailoverPairSpec(spec, 'pairs.yaml: web');
      } catch (error) {
        return (error as Error).message;
      }
      return 'nothing thrown';
    })();
    expect(thrown.split('\n')).toEqual([
      'invalid pairs.yaml: web:',
      '  - consul.service: must not be empty (got "")',
      '  - secondary.node: primary.node and secondary.node must be different nodes (got "vm1")',
    ]);
    expect(parseFailoverPairSpec(validSpec()).timing.holdDownSeconds).toBe(10);
  });
});

describe('validateFailoverPairSpec on arbitrary input', () => {
  it('never throws and names the field of every problem', () => {
    const specLike = fc.record(
      {
        vip: fc.oneof(fc.string(), fc.ipV4(), fc.integer()),
        probe: fc.record(
          {
            ports: fc.array(fc.oneof(fc.integer({ min: -10, max: 70_000 }), fc.string())),
            protocol: fc.oneof(fc.constantFrom('TCP', 'HTTP'), fc.string()),
            sourceCIDRs: fc.oneof(fc.array(fc.string()), fc.string()),
          },
          { requiredKeys: [] },
        ),
        consul: fc.oneof(
          fc.record({ service: fc.string(), memberMapping: fc.string() }, { requiredKeys: [] }),
          fc.string(),
        ),
        primary: fc.record(
          { node: fc.string(), address: fc.oneof(fc.ipV4(), fc.string()), consulNode: fc.string() },
          { requiredKeys: [] },
        ),
        secondary: fc.anything(),
        timing: fc.oneof(fc.dictionary(fc.string(), fc.jsonValue()), fc.integer()),
        extra: fc.jsonValue(),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(fc.oneof(specLike, fc.jsonValue()), (input) => {
        const result = validateFailoverPairSpec(input);
        if (result.ok) return;
        expect(result.problems.length).toBeGreaterThan(0);
        for (const problem of result.problems) {
          expect(problem.message.startsWith(problem.path === '' ? 'spec' : problem.path)).toBe(true);
        }
      }),
      { numRuns: 500 },
    );
  });
});
