// Apply cost of the probe gate per backend, next to the naive one-process-per-rule way.
// Each measurement runs in a namespace of its own (created and deleted here); the
// worker runs inside it so commands run as on a host. Prints figures, writes JSON.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createNamespace, destroyAllNamespaces, destroyNamespace, requireRoot } from '@probegate/testenv';
import { execa } from 'execa';
import type { BackendName } from '../src/index.js';
import type { WorkerTask } from './worker.js';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, '../../..');
const worker = resolve(here, 'worker.ts');
const BACKENDS: BackendName[] = ['iptables-nft', 'iptables-legacy', 'nftables'];
const SIZES = [1, 100, 1000];
const FLIP_SIZES = [1, 1000];
const REPS = 5;
const ROUNDS = 3;

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
};

interface Measured {
  ms: number;
  samples: number[];
  processes: number;
  /** Renewal only: the one script written, and the rules it added (the generation stamp aside). */
  scriptBytes?: number;
  rulesWritten?: number;
  /** Renewal only: CPU of the actuator's own process per renewal (the kernel command's is apart). */
  agentCpuMedianMs?: number;
  /** False when the naive run hit its time cap: its time and the speedup are lower bounds. */
  complete: boolean;
  total: number;
}

async function measure(task: WorkerTask): Promise<Measured> {
  const ns = await createNamespace('pgb');
  try {
    const r = await execa(
      'ip',
      [
        'netns',
        'exec',
        ns,
        process.execPath,
        '--conditions',
        'probegate-source',
        '--import',
        'tsx',
        worker,
        JSON.stringify(task),
      ],
      { cwd: repoRoot, reject: false },
    );
    if (r.exitCode !== 0) throw new Error(`worker ${JSON.stringify(task)} failed: ${r.stderr}`);
    return JSON.parse(String(r.stdout).trim().split('\n').at(-1) ?? '{}') as Measured;
  } finally {
    await destroyNamespace(ns);
  }
}

const fmt = (ms: number): string => `${ms.toFixed(1).padStart(9)} ms`;
const ratio = (a: number, b: number): number => Math.round((a / b) * 100) / 100;

async function main(): Promise<void> {
  requireRoot();
  console.log(
    `load average at start: ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')} on ${cpus().length} cores`,
  );
  const results: Record<string, unknown> = {};
  const goals: Record<string, { value: number; goal: string; met: boolean }> = {};
  for (const backend of BACKENDS) {
    console.log(`\n== ${backend}`);
    const fromEmpty: Record<number, unknown> = {};
    for (const n of SIZES) {
      const ours = await measure({ backend, scenario: 'from-empty', mode: 'ours', pairs: n });
      // The naive way takes minutes at 1,000 pairs on a busy machine: stop it once it has
      // clearly lost (25x ours); the figures are then lower bounds, marked ">=".
      const capMs = Math.max(10_000, 25 * ours.ms);
      const naive = await measure({ backend, scenario: 'from-empty', mode: 'naive', pairs: n, capMs });
      const speedup = ratio(naive.ms, ours.ms);
      const bound = naive.complete ? '' : '>=';
      fromEmpty[n] = {
        oursMs: ours.ms,
        naiveMs: naive.ms,
        oursProcesses: ours.processes,
        naiveProcesses: naive.processes,
        naiveComplete: naive.complete,
        naiveTotalProcesses: naive.total,
        speedup,
        speedupIsLowerBound: !naive.complete,
      };
      console.log(
        `apply ${String(n).padStart(4)} pairs from empty: ours ${fmt(ours.ms)} (${ours.processes} processes)  naive ${bound}${fmt(naive.ms)} (${naive.processes}/${naive.total} processes)  speedup ${bound}${speedup}x`,
      );
    }
    // Flips at both sizes alternate in rounds so that a change in machine load hits both alike.
    const samples: Record<number, { ours: number[]; cold: number[]; naive: number[] }> = {};
    for (let round = 0; round < ROUNDS; round++) {
      for (const n of FLIP_SIZES) {
        const ours = await measure({ backend, scenario: 'flip', mode: 'ours', pairs: n, reps: REPS });
        const cold = await measure({ backend, scenario: 'flip', mode: 'ours-cold', pairs: n, reps: REPS });
        const naive = await measure({ backend, scenario: 'flip', mode: 'naive', pairs: n, reps: REPS });
        samples[n] ??= { ours: [], cold: [], naive: [] };
        samples[n].ours.push(...ours.samples);
        samples[n].cold.push(...cold.samples);
        samples[n].naive.push(...naive.samples);
      }
    }
    const flip: Record<number, unknown> = {};
    const flipMs: Record<number, number> = {};
    for (const n of FLIP_SIZES) {
      const s = samples[n] ?? { ours: [], cold: [], naive: [] };
      flipMs[n] = median(s.ours);
      flip[n] = {
        oursMedianMs: median(s.ours),
        withoutStandbyMedianMs: median(s.cold),
        standbySpeedup: ratio(median(s.cold), median(s.ours)),
        naiveMedianMs: median(s.naive),
        oursSamples: s.ours,
        withoutStandbySamples: s.cold,
        naiveSamples: s.naive,
      };
      console.log(
        `flip one pair with ${String(n).padStart(4)} present: ours ${fmt(median(s.ours))}  without standby processes ${fmt(median(s.cold))} (${ratio(median(s.cold), median(s.ours))}x)  naive ${fmt(median(s.naive))}  (median of ${s.ours.length})`,
      );
    }
    // The active node's steady-state kernel cost: every gate open, the shared lease renewed.
    const renewed = await measure({
      backend,
      scenario: 'renewal',
      mode: 'ours',
      pairs: 1000,
      reps: REPS * 2,
    });
    const renewal1000 = {
      openGates: 1000,
      medianMs: renewed.ms,
      samples: renewed.samples,
      scriptBytes: renewed.scriptBytes,
      rulesWritten: renewed.rulesWritten,
      processes: renewed.processes,
      agentCpuMedianMs: renewed.agentCpuMedianMs,
    };
    console.log(
      `renew the lease of 1,000 open gates: ${fmt(renewed.ms)} (median of ${renewed.samples.length}), one script of ${renewed.scriptBytes} bytes adding ${renewed.rulesWritten} rule(s), ${renewed.processes} processes, actuator CPU ${renewed.agentCpuMedianMs?.toFixed(1)} ms`,
    );
    const growth = ratio(flipMs[1000] ?? 0, flipMs[1] ?? 1);
    const at1000 = fromEmpty[1000] as { speedup: number; speedupIsLowerBound: boolean };
    const speedup1000 = at1000.speedup;
    const atLeast = at1000.speedupIsLowerBound ? 'at least ' : '';
    console.log(`-> 1,000 pairs from empty: ${atLeast}${speedup1000}x faster than naive (goal >= 20x)`);
    console.log(`-> flip cost growth 1 -> 1,000 pairs present: ${growth}x (goal <= 3x)`);
    goals[`${backend}.fromEmpty1000Speedup`] = { value: speedup1000, goal: '>= 20', met: speedup1000 >= 20 };
    goals[`${backend}.flipGrowth`] = { value: growth, goal: '<= 3', met: growth <= 3 };
    goals[`${backend}.renewal1000RulesWritten`] = {
      value: renewed.rulesWritten ?? Number.NaN,
      goal: '== 1',
      met: renewed.rulesWritten === 1,
    };
    results[backend] = { fromEmpty, flip, flipGrowth: growth, renewal1000 };
  }
  const out = resolve(repoRoot, 'results/host-bench.json');
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(
    out,
    `${JSON.stringify({ date: new Date().toISOString(), cpus: cpus().length, loadAverage: loadavg(), results, goals }, null, 2)}\n`,
  );
  console.log(`\nwrote ${out}`);
  for (const [name, g] of Object.entries(goals))
    console.log(`${g.met ? 'MET ' : 'MISS'} ${name} = ${g.value} (goal ${g.goal})`);
}

main()
  .catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(() => destroyAllNamespaces());
