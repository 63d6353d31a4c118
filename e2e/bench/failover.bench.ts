// Failover benchmark on the e2e topology (npm run bench -w e2e, root):
// - failover time: primary web server stopped -> first client success via the secondary;
// - reaction time: Consul reports the check critical -> the peer's gate is open;
// both for probegate and, in the same run, for the original script (dig every 10 s, then
// iptables/ip). Writes results/e2e-bench.json and results/e2e-failover.svg.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { requireRoot } from '@probegate/testenv';
import { CheckWatcher } from '../src/consul-watch.js';
import type { InvariantReport } from '../src/invariant.js';
import { resultsDir } from '../src/paths.js';
import { failoverSvg } from '../src/plot.js';
import { SeedBaseline } from '../src/seed-baseline.js';
import { E2eStack } from '../src/stack.js';

const RUNS = Number(process.env.E2E_BENCH_RUNS ?? 20);
const BASELINE_RUNS = Number(process.env.E2E_BENCH_BASELINE_RUNS ?? 3);
const CHECK_INTERVAL_MS = 1_000;
const PROBE_INTERVAL_MS = 1_000;
const PROBE_THRESHOLD = 2;
// The floor no arbiter can beat: Consul must notice (one check interval), then the SLB must see
// `threshold` probes of the peer answer (threshold x interval).
const FLOOR_MS = CHECK_INTERVAL_MS + PROBE_THRESHOLD * PROBE_INTERVAL_MS;

interface Run {
  failoverMs: number;
  reactionMs: number;
  /** probegate only: critical -> the old holder closed, unbound and released (from its log). */
  releasedMs?: number;
}

const say = (line: string) => process.stdout.write(`${line}\n`);

function stats(values: number[]) {
  const sorted = [...values].sort((a, b) => a - b);
  const q = (p: number) =>
    sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
  const mean = values.reduce((a, b) => a + b, 0) / Math.max(1, values.length);
  return {
    n: values.length,
    mean: Math.round(mean),
    p50: q(50),
    p90: q(90),
    p99: q(99),
    min: sorted[0],
    max: sorted[sorted.length - 1],
  };
}

async function measure(
  stack: E2eStack,
  watcher: CheckWatcher,
  gateOpened: (since: number) => Promise<number>,
  released: ((since: number) => number | undefined) | undefined,
  label: string,
  runs: number,
  keepPlot?: (from: number, to: number, marks: { t: number; label: string }[]) => void,
): Promise<Run[]> {
  const out: Run[] = [];
  for (let i = 0; i < runs; i++) {
    await stack.waitForWebHealth({ vm1: 'passing', vm2: 'passing' }, 60_000);
    await stack.waitForActive('vm1', 90_000);
    await stack.slb.rounds(1);
    const stoppedAt = Date.now();
    await stack.web.vm1.stop();
    const critical = await watcher.first('vm1', 'critical', stoppedAt, 30_000);
    const opened = await gateOpened(stoppedAt);
    const firstVm2 = (await stack.client.firstAnswerFrom('vm2', stoppedAt, 60_000)).t;
    const run: Run = { failoverMs: firstVm2 - stoppedAt, reactionMs: opened - critical };
    const releasedAt = released?.(stoppedAt);
    if (releasedAt !== undefined) run.releasedMs = releasedAt - critical;
    out.push(run);
    const split = run.releasedMs === undefined ? '' : ` (old holder released at ${run.releasedMs} ms)`;
    say(
      `${label} run ${i + 1}/${runs}: failover ${run.failoverMs} ms, reaction ${run.reactionMs} ms${split}`,
    );
    if (i === 0 && keepPlot) {
      await stack.slb.rounds(2);
      keepPlot(stoppedAt - 2_000, Date.now(), [
        { t: stoppedAt, label: 'web vm1 stopped' },
        { t: critical, label: 'Consul: critical' },
        { t: firstVm2, label: 'first answer vm2' },
      ]);
    }
    await stack.web.vm1.start();
  }
  return out;
}

async function main(): Promise<void> {
  requireRoot();
  mkdirSync(resultsDir(), { recursive: true });
  say(`e2e failover bench: ${RUNS} probegate runs, ${BASELINE_RUNS} baseline runs; floor ${FLOOR_MS} ms`);
  // Latencies of a few ms depend on what else the machine runs: record it with the figures.
  const loadAtStart = loadavg();
  say(`load average at start: ${loadAtStart.map((l) => l.toFixed(2)).join(' ')} on ${cpus().length} cores`);
  let svg = '';
  // probegate
  const pg = await E2eStack.start({
    consulCheckIntervalMs: CHECK_INTERVAL_MS,
    emulator: { intervalMs: PROBE_INTERVAL_MS, threshold: PROBE_THRESHOLD },
    pairs: [{ timing: { holdDownSeconds: 1, failbackDelaySeconds: 1, gateLeaseSeconds: 10 } }],
  });
  let probegateRuns: Run[];
  let pgInvariant: InvariantReport | undefined;
  const pgFrom = Date.now();
  try {
    const watcher = new CheckWatcher(pg.consulUrl);
    watcher.start();
    probegateRuns = await measure(
      pg,
      watcher,
      async (since) => {
        for (;;) {
          const t = pg.agents.vm2.gateOpenedAt().find((x) => x >= since);
          if (t) return t;
          await new Promise((r) => setTimeout(r, 20));
        }
      },
      (since) => pg.agents.vm1.releasedAt().find((x) => x >= since),
      'probegate',
      RUNS,
      (from, to, markers) => {
        svg = failoverSvg({
          title: 'probegate failover: vm1 web server stopped',
          from,
          to,
          probes: pg.slb.probes,
          client: pg.client.events,
          markers,
        });
      },
    );
    pgInvariant = pg.invariant(pgFrom, Date.now());
    await watcher.stop();
  } finally {
    await pg.destroy();
  }
  // baseline: the same topology, the original script instead of probegate
  const base = await E2eStack.start({
    agents: false,
    consulCheckIntervalMs: CHECK_INTERVAL_MS,
    emulator: { intervalMs: PROBE_INTERVAL_MS, threshold: PROBE_THRESHOLD },
  });
  let baselineRuns: Run[];
  let baseInvariant: InvariantReport | undefined;
  const baseFrom = Date.now();
  try {
    const seed = new SeedBaseline(base.topology, 10);
    seed.start();
    const watcher = new CheckWatcher(base.consulUrl);
    watcher.start();
    baselineRuns = await measure(
      base,
      watcher,
      (since) => seed.gateOpened('vm2', since, 60_000),
      undefined,
      'baseline',
      BASELINE_RUNS,
    );
    baseInvariant = base.invariant(baseFrom, Date.now());
    await watcher.stop();
    await seed.stop();
  } finally {
    await base.destroy();
  }

  const pgFailover = stats(probegateRuns.map((r) => r.failoverMs));
  const pgReaction = stats(probegateRuns.map((r) => r.reactionMs));
  const baseFailover = stats(baselineRuns.map((r) => r.failoverMs));
  const baseReaction = stats(baselineRuns.map((r) => r.reactionMs));
  const failoverGoalMs = 1.2 * FLOOR_MS;
  const reactionGoalMs = baseReaction.mean / 50;
  const loadAtEnd = loadavg();
  const result = {
    when: new Date().toISOString(),
    machine: { cpus: cpus().length, loadAverageAtStart: loadAtStart, loadAverageAtEnd: loadAtEnd },
    setup: {
      consulCheckIntervalMs: CHECK_INTERVAL_MS,
      probeIntervalMs: PROBE_INTERVAL_MS,
      probeThreshold: PROBE_THRESHOLD,
      floorMs: FLOOR_MS,
      baselinePollSeconds: 10,
      runs: RUNS,
      baselineRuns: BASELINE_RUNS,
    },
    probegate: {
      failoverMs: pgFailover,
      reactionMs: pgReaction,
      releasedMs: stats(probegateRuns.flatMap((r) => (r.releasedMs === undefined ? [] : [r.releasedMs]))),
      runs: probegateRuns,
      invariant: pgInvariant,
    },
    baseline: {
      failoverMs: baseFailover,
      reactionMs: baseReaction,
      runs: baselineRuns,
      invariant: baseInvariant,
    },
    goals: {
      failover: {
        goalMs: failoverGoalMs,
        p50Ms: pgFailover.p50,
        meanMs: pgFailover.mean,
        ratioToFloor: pgFailover.mean / FLOOR_MS,
        met: pgFailover.mean <= failoverGoalMs,
      },
      reaction: { goalMs: reactionGoalMs, p99Ms: pgReaction.p99, met: pgReaction.p99 <= reactionGoalMs },
    },
    speedup: {
      failoverMean: baseFailover.mean / pgFailover.mean,
      reactionMean: baseReaction.mean / pgReaction.mean,
    },
  };
  const json = join(resultsDir(), 'e2e-bench.json');
  writeFileSync(json, `${JSON.stringify(result, null, 2)}\n`);
  if (svg) writeFileSync(join(resultsDir(), 'e2e-failover.svg'), svg);
  say('');
  say(
    `failover  probegate mean ${pgFailover.mean} ms p50 ${pgFailover.p50} p99 ${pgFailover.p99} (n=${pgFailover.n}) | baseline mean ${baseFailover.mean} ms (n=${baseFailover.n}) | ${result.speedup.failoverMean.toFixed(1)}x faster`,
  );
  say(
    `          floor ${FLOOR_MS} ms, goal <= ${failoverGoalMs} ms (1.2x floor): mean is ${(pgFailover.mean / FLOOR_MS).toFixed(2)}x floor -> ${result.goals.failover.met ? 'MET' : 'NOT MET'}`,
  );
  say(
    `reaction  probegate mean ${pgReaction.mean} ms p99 ${pgReaction.p99} ms | baseline mean ${baseReaction.mean} ms | ${result.speedup.reactionMean.toFixed(0)}x faster`,
  );
  say(
    `          goal p99 <= baseline mean / 50 = ${reactionGoalMs.toFixed(0)} ms -> ${result.goals.reaction.met ? 'MET' : 'NOT MET'}`,
  );
  if (result.probegate.releasedMs.n > 0) {
    const split = result.probegate.releasedMs;
    say(
      `          of which the old holder's close, unbind and release: mean ${split.mean} ms, p99 ${split.p99} ms`,
    );
  }
  say(
    `split-brain: probegate both probe-healthy ${pgInvariant?.bothProbeHealthyMs} ms, baseline ${baseInvariant?.bothProbeHealthyMs} ms`,
  );
  say(`load average at end: ${loadAtEnd.map((l) => l.toFixed(2)).join(' ')}`);
  say(`wrote ${json}${svg ? ` and ${join(resultsDir(), 'e2e-failover.svg')}` : ''}`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`bench failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  },
);
