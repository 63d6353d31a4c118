// Decisions per second of decide() over 10,000 generated pairs, against a baseline
// measured in the same run: the same loop calling the original bash script's
// four-case table. Prints the figures and writes results/core-decide.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Decision, type DecisionInput, decide } from '../src/index.js';
import { generatePairs } from '../test/support/generate.js';

const PAIRS = 10_000;
const ROUNDS = 300; // 3,000,000 decisions per measured run
const RUNS = 5;

/** The seed: both healthy -> primary active; only one healthy -> it; none -> both standby. */
function seedTable(input: DecisionInput): 'Active' | 'Standby' {
  const primary = input.health.primary.status === 'passing';
  const secondary = input.health.secondary.status === 'passing';
  if (input.self === 'primary') return primary ? 'Active' : 'Standby';
  return secondary && !primary ? 'Active' : 'Standby';
}

function runDecide(pairs: Pairs): number {
  let checksum = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const now = round * 1000;
    for (let i = 0; i < pairs.length; i++) {
      const input = pairs[i] as (typeof pairs)[number];
      input.now = now;
      const decision: Decision = decide(input);
      input.memory = decision.nextMemory;
      checksum += decision.steps.length + (decision.desired.role === 'Active' ? 1 : 0);
    }
  }
  return checksum;
}

function runSeed(pairs: Pairs): number {
  let checksum = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const now = round * 1000;
    for (let i = 0; i < pairs.length; i++) {
      const input = pairs[i] as (typeof pairs)[number];
      input.now = now;
      checksum += seedTable(input) === 'Active' ? 1 : 0;
    }
  }
  return checksum;
}

type Pairs = ReturnType<typeof generatePairs>;

function measure(run: (pairs: Pairs) => number): { perSecond: number; checksum: number } {
  run(generatePairs(PAIRS)); // warm-up
  const rates: number[] = [];
  let checksum = 0;
  for (let i = 0; i < RUNS; i++) {
    const pairs = generatePairs(PAIRS, 42 + i); // fresh memories, outside the timed region
    const started = process.hrtime.bigint();
    checksum += run(pairs);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    rates.push((PAIRS * ROUNDS) / seconds);
  }
  rates.sort((a, b) => a - b);
  return { perSecond: rates[Math.floor(rates.length / 2)] as number, checksum };
}

const decideResult = measure(runDecide);
const seedResult = measure(runSeed);
const ratio = decideResult.perSecond / seedResult.perSecond;

const result = {
  benchmark: 'core-decide',
  pairs: PAIRS,
  decisionsPerRun: PAIRS * ROUNDS,
  runs: RUNS,
  decideDecisionsPerSecond: Math.round(decideResult.perSecond),
  seedTableDecisionsPerSecond: Math.round(seedResult.perSecond),
  ratioDecideToSeed: Number(ratio.toFixed(4)),
  target: 1_000_000,
  meetsTarget: decideResult.perSecond >= 1_000_000,
  node: process.version,
  checksum: decideResult.checksum + seedResult.checksum,
  at: new Date().toISOString(),
};

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
console.log(
  `decide():          ${fmt(decideResult.perSecond)} decisions/s (median of ${RUNS} runs of ${fmt(PAIRS * ROUNDS)})`,
);
console.log(`seed 4-case table: ${fmt(seedResult.perSecond)} decisions/s`);
console.log(
  `ratio decide/seed: ${ratio.toFixed(3)}  (target >= 1,000,000/s: ${result.meetsTarget ? 'met' : 'NOT met'})`,
);

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const out = path.join(repoRoot, 'results', 'core-decide.json');
mkdirSync(path.dirname(out), { recursive: true });
writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
console.log(`written ${path.relative(repoRoot, out)}`);
