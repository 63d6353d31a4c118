import { describe, expect, it } from 'vitest';
import { checkInvariant, overlap, probeOkIntervals } from '../src/invariant.js';
import type { ClientEvent, ProbeEvent, RouteEvent } from '../src/timeline.js';

const probe = (t: number, backend: 'vm1' | 'vm2', ok: boolean): ProbeEvent => ({
  kind: 'probe',
  t,
  backend,
  ok,
});
const route = (t: number, ...healthy: ('vm1' | 'vm2')[]): RouteEvent => ({ kind: 'route', t, healthy });
const answer = (t: number, who?: string): ClientEvent =>
  who === undefined
    ? { kind: 'client', t, ok: false, ms: 500, error: 'timeout' }
    : { kind: 'client', t, ok: true, who, ms: 1 };

describe('invariant checker (pure)', () => {
  it.each([
    { name: 'disjoint', a: [[0, 10]], b: [[10, 20]], want: 0 },
    { name: 'nested', a: [[0, 100]], b: [[10, 20]], want: 10 },
    { name: 'partial', a: [[0, 15]], b: [[10, 20]], want: 5 },
    {
      name: 'several',
      a: [
        [0, 10],
        [20, 30],
      ],
      b: [[5, 25]],
      want: 10,
    },
    { name: 'empty', a: [], b: [[5, 25]], want: 0 },
  ] as { name: string; a: [number, number][]; b: [number, number][]; want: number }[])(
    'overlap: $name',
    ({ a, b, want }) => {
      expect(overlap(a, b)).toBe(want);
    },
  );

  it('a probe result holds until the next probe of the same backend', () => {
    const probes = [
      probe(0, 'vm1', true),
      probe(1000, 'vm1', true),
      probe(2000, 'vm1', false),
      probe(3000, 'vm1', true),
    ];
    expect(probeOkIntervals(probes, 'vm1', 3500)).toEqual([
      [0, 2000],
      [3000, 3500],
    ]);
  });

  it('a clean failover (one backend closes before the other opens) has no overlap', () => {
    const probes = [
      probe(0, 'vm1', true),
      probe(0, 'vm2', false),
      probe(1000, 'vm1', false),
      probe(1000, 'vm2', true),
      probe(2000, 'vm1', false),
      probe(2000, 'vm2', true),
    ];
    const routes = [route(0, 'vm1'), route(2000, 'vm2')];
    const client = [answer(100, 'vm1'), answer(1100), answer(2100, 'vm2')];
    const r = checkInvariant({ probes, routes, client }, { from: 0, to: 3000 });
    expect(r).toMatchObject({
      bothProbeHealthyMs: 0,
      bothRoutedMs: 0,
      failed: 1,
      answeredBy: { vm1: 1, vm2: 1 },
    });
    expect(r.badAnswers).toEqual([]);
  });

  it('a split brain (both open for two rounds) is measured, and so is a route to both', () => {
    const probes = [
      probe(0, 'vm1', true),
      probe(0, 'vm2', true),
      probe(1000, 'vm1', true),
      probe(1000, 'vm2', true),
      probe(2000, 'vm1', false),
      probe(2000, 'vm2', true),
    ];
    const r = checkInvariant(
      { probes, routes: [route(500, 'vm1', 'vm2'), route(1500, 'vm2')], client: [answer(600, 'vm1 vm2')] },
      { from: 0, to: 2500 },
    );
    expect(r.bothProbeHealthyMs).toBe(2000);
    expect(r.bothRoutedMs).toBe(1000);
    expect(r.badAnswers).toHaveLength(1);
  });

  it('a route set before the window still counts inside it', () => {
    const r = checkInvariant(
      { probes: [], routes: [route(0, 'vm1', 'vm2')], client: [] },
      { from: 1000, to: 1500 },
    );
    expect(r.bothRoutedMs).toBe(500);
  });
});
