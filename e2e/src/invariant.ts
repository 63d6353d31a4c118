import type { ClientEvent, ProbeEvent, RouteEvent } from './timeline.js';
import type { VmName } from './topology.js';

const BACKENDS: readonly VmName[] = ['vm1', 'vm2'];

/** Time intervals [from, to) during which a condition held. */
export type Intervals = [number, number][];

/**
 * When each backend answered probes: a probe result is taken to hold from its send time until the
 * next probe of that backend (the measuring granularity is one probe interval). The last result
 * holds until `end`.
 */
export function probeOkIntervals(probes: readonly ProbeEvent[], backend: VmName, end: number): Intervals {
  const mine = probes.filter((p) => p.backend === backend).sort((a, b) => a.t - b.t);
  const out: Intervals = [];
  mine.forEach((p, i) => {
    if (!p.ok) return;
    const to = Math.min(mine[i + 1]?.t ?? end, end);
    const last = out[out.length - 1];
    if (last && last[1] === p.t) last[1] = to;
    else if (to > p.t) out.push([p.t, to]);
  });
  return out;
}

/** When the emulator's VIP route included each backend. */
export function routedIntervals(routes: readonly RouteEvent[], backend: VmName, end: number): Intervals {
  const sorted = [...routes].sort((a, b) => a.t - b.t);
  const out: Intervals = [];
  sorted.forEach((r, i) => {
    if (!r.healthy.includes(backend)) return;
    const to = Math.min(sorted[i + 1]?.t ?? end, end);
    if (to > r.t) out.push([r.t, to]);
  });
  return out;
}

/** Total length of the overlap of two sets of intervals. */
export function overlap(a: Intervals, b: Intervals): number {
  let total = 0;
  for (const [a0, a1] of a) {
    for (const [b0, b1] of b) total += Math.max(0, Math.min(a1, b1) - Math.max(a0, b0));
  }
  return total;
}

export interface InvariantReport {
  /** ms during which both backends answered probes at once (granularity: one probe interval). */
  bothProbeHealthyMs: number;
  /** ms during which the emulator routed the VIP to both backends at once. */
  bothRoutedMs: number;
  /** Client requests answered by something other than exactly one known node. */
  badAnswers: ClientEvent[];
  /** Client requests answered by each node, and failed ones. */
  answeredBy: Record<string, number>;
  failed: number;
}

/**
 * The split-brain check of issue 8: from the emulator's timeline, both backends must never be
 * probe-healthy at the same time, and each client request must be answered by exactly one node.
 */
export function checkInvariant(
  timeline: { probes: readonly ProbeEvent[]; routes: readonly RouteEvent[]; client: readonly ClientEvent[] },
  window: { from: number; to: number },
): InvariantReport {
  const clip = <T extends { t: number }>(events: readonly T[]) =>
    events.filter((e) => e.t >= window.from && e.t <= window.to);
  const probes = clip(timeline.probes);
  const [p1, p2] = BACKENDS.map((b) => probeOkIntervals(probes, b, window.to));
  // Routes before the window still decide where traffic went at its start.
  const routesBefore = timeline.routes.filter((r) => r.t < window.from);
  const lastBefore = routesBefore[routesBefore.length - 1];
  const routes = [...(lastBefore ? [{ ...lastBefore, t: window.from }] : []), ...clip(timeline.routes)];
  const [r1, r2] = BACKENDS.map((b) => routedIntervals(routes, b, window.to));
  const answeredBy: Record<string, number> = {};
  const badAnswers: ClientEvent[] = [];
  let failed = 0;
  for (const e of clip(timeline.client)) {
    if (!e.ok) {
      failed += 1;
      continue;
    }
    const who = e.who ?? '';
    answeredBy[who] = (answeredBy[who] ?? 0) + 1;
    if (!BACKENDS.includes(who as VmName)) badAnswers.push(e);
  }
  return {
    bothProbeHealthyMs: overlap(p1 ?? [], p2 ?? []),
    bothRoutedMs: overlap(r1 ?? [], r2 ?? []),
    badAnswers,
    answeredBy,
    failed,
  };
}
