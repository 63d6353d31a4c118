import { performance } from 'node:perf_hooks';
import { benchPairs } from '../bench/pairs.js';
import { type CommandRunner, createHostActuator, ExecaCommandRunner } from '../src/index.js';

const inner = new ExecaCommandRunner();
const runner: CommandRunner = {
  get spawned() {
    return inner.spawned;
  },
  get history() {
    return inner.history;
  },
  async run(argv, opts) {
    const t = performance.now();
    try {
      return await inner.run(argv, opts);
    } finally {
      console.log((performance.now() - t).toFixed(1), argv.join(' '));
    }
  },
};
const backend = (process.argv[2] ?? 'iptables-nft') as 'iptables-nft';
const n = Number(process.argv[3] ?? 1);
const a = await createHostActuator({ backend, runner });
const pairs = benchPairs(n);
await a.apply(pairs, { now: new Date(), leaseSeconds: 30 });
for (let i = 0; i < 3; i++) {
  console.log('--- flip');
  const t = performance.now();
  await a.apply([{ ...pairs[0]!, active: i % 2 === 1 }, ...pairs.slice(1)], {
    now: new Date(),
    leaseSeconds: 30,
  });
  console.log('total', (performance.now() - t).toFixed(1));
}
