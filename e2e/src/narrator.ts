import type { E2eStack } from './stack.js';

/**
 * Prints the moments that matter while a scenario runs: probe results that changed, VIP route
 * changes in the emulator, and which node answers the client (only when that changes).
 */
export function narrate(stack: E2eStack, t0: number, write: (line: string) => void): () => void {
  let probeIdx = stack.slb.probes.length;
  let routeIdx = stack.slb.routes.length;
  let clientIdx = stack.client.events.length;
  const lastProbe = new Map<string, boolean>();
  let lastWho: string | undefined = stack.client.events[clientIdx - 1]?.who;
  const stamp = (t: number) => `+${((t - t0) / 1000).toFixed(2).padStart(6)}s`;
  const timer = setInterval(() => {
    const lines: [number, string][] = [];
    for (; probeIdx < stack.slb.probes.length; probeIdx++) {
      const p = stack.slb.probes[probeIdx];
      if (!p || lastProbe.get(p.backend) === p.ok) continue;
      lastProbe.set(p.backend, p.ok);
      lines.push([
        p.t,
        `probe  ${p.backend} ${p.ok ? 'answers   (gate open)' : 'silent    (gate closed or down)'}`,
      ]);
    }
    for (; routeIdx < stack.slb.routes.length; routeIdx++) {
      const r = stack.slb.routes[routeIdx];
      if (r) lines.push([r.t, `slb    VIP routed to [${r.healthy.join(', ') || 'nobody'}]`]);
    }
    for (; clientIdx < stack.client.events.length; clientIdx++) {
      const e = stack.client.events[clientIdx];
      const who = e?.ok ? e.who : 'no answer';
      if (!e || who === lastWho) continue;
      lastWho = who;
      lines.push([e.t, e.ok ? `client answered by ${who}` : 'client gets no answer']);
    }
    for (const [t, line] of lines.sort((a, b) => a[0] - b[0])) write(`${stamp(t)}  ${line}`);
  }, 100);
  return () => clearInterval(timer);
}
