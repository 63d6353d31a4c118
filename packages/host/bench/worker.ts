// Runs inside a network namespace (started by host.bench.ts with `ip netns exec`), so
// commands run exactly as on a host: no per-command namespace prefix.
import { performance } from 'node:perf_hooks';
import { execa } from 'execa';
import { leaseEnd } from '../src/gate-plan.js';
import {
  type BackendName,
  type CommandRunner,
  createHostActuator,
  ExecaCommandRunner,
  type PairGate,
  pairId,
} from '../src/index.js';
import { dropSpec, jumpSpec, LEASE_CHAIN, leaseSpec, openSpec, tokenize } from '../src/iptables-backend.js';
import { benchPairs } from './pairs.js';

export interface WorkerTask {
  backend: BackendName;
  /** renewal: every pair open, the lease renewed `reps` times (as the agent does every half lease). */
  scenario: 'from-empty' | 'flip' | 'renewal';
  /** ours-cold: ours without standby processes (every command pays its process start). */
  mode: 'ours' | 'ours-cold' | 'naive';
  pairs: number;
  reps?: number;
  /** Naive from-empty only: stop after this long (the result is then a lower bound). */
  capMs?: number;
}

const LEASE = 30;

async function run(argv: string[]): Promise<void> {
  const [file = '', ...args] = argv;
  const r = await execa(file, args, { reject: false, env: { TZ: 'UTC' } });
  if (r.exitCode !== 0) throw new Error(`${argv.join(' ')}: ${r.stderr}`);
}

const unquote = (spec: string): string[] => tokenize(spec);
const ipt = (backend: BackendName): string =>
  backend === 'iptables-legacy' ? 'iptables-legacy' : 'iptables-nft';
const NFT = ['nft'];
const T = ['inet', 'probegate'];

/** The same rules as ours, one process per rule, the way the original script worked. */
function naiveCreate(backend: BackendName, pairs: PairGate[], now: Date): string[][] {
  const lease = leaseEnd(now, LEASE);
  const out: string[][] = [];
  if (backend === 'nftables') {
    out.push([...NFT, 'add', 'table', ...T]);
    out.push([
      ...NFT,
      'add',
      'chain',
      ...T,
      'input',
      '{ type filter hook input priority -10; policy accept; }',
    ]);
    out.push([...NFT, 'add', 'chain', ...T, 'lease']);
    out.push([
      ...NFT,
      'add',
      'rule',
      ...T,
      'lease',
      'meta',
      'time',
      '<',
      String(lease.getTime() / 1000),
      'accept',
    ]);
  } else {
    out.push(
      [ipt(backend), '-w', '-N', 'PROBEGATE'],
      [ipt(backend), '-w', '-N', LEASE_CHAIN],
      [ipt(backend), '-w', '-A', LEASE_CHAIN, ...unquote(leaseSpec(lease))],
      [ipt(backend), '-w', '-I', 'INPUT', '1', '-j', 'PROBEGATE'],
    );
  }
  for (const p of pairs) {
    const id = pairId(p.key);
    const port = p.ports[0] ?? 0;
    const cidr = p.sourceCIDRs[0] ?? '';
    if (backend === 'nftables') {
      out.push([...NFT, 'add', 'chain', ...T, `pg_${id}`]);
      if (p.active) out.push([...NFT, 'add', 'rule', ...T, `pg_${id}`, 'jump', 'lease']);
      out.push([...NFT, 'add', 'rule', ...T, `pg_${id}`, 'counter', 'drop']);
      out.push([
        ...NFT,
        'add',
        'rule',
        ...T,
        'input',
        'ip',
        'saddr',
        cidr,
        'tcp',
        'dport',
        String(port),
        'counter',
        'jump',
        `pg_${id}`,
      ]);
    } else {
      out.push([ipt(backend), '-w', '-N', `PG-${id}`]);
      if (p.active) out.push([ipt(backend), '-w', '-A', `PG-${id}`, ...unquote(openSpec(p.key))]);
      out.push([ipt(backend), '-w', '-A', `PG-${id}`, ...unquote(dropSpec(p.key))]);
      out.push([ipt(backend), '-w', '-A', 'PROBEGATE', ...unquote(jumpSpec(id, p.key, cidr, port))]);
    }
    if (p.active && p.vip) out.push(['ip', 'addr', 'add', `${p.vip}/32`, 'dev', 'lo', 'label', 'lo:pg']);
  }
  return out;
}

/** Naive flip of one pair: the processes a per-rule script needs for the same change. */
async function naiveFlip(backend: BackendName, p: PairGate, open: boolean): Promise<void> {
  const id = pairId(p.key);
  if (backend === 'nftables') {
    if (open) {
      await run([...NFT, 'insert', 'rule', ...T, `pg_${id}`, 'jump', 'lease']);
    } else {
      // A per-rule script needs the handle first.
      const { stdout } = await execa('nft', ['-a', 'list', 'chain', ...T, `pg_${id}`]);
      const handle = /jump lease # handle (\d+)/.exec(stdout)?.[1];
      await run([...NFT, 'delete', 'rule', ...T, `pg_${id}`, 'handle', handle ?? '0']);
    }
  } else if (open) {
    await run([ipt(backend), '-w', '-I', `PG-${id}`, '1', ...unquote(openSpec(p.key))]);
  } else {
    // Delete by position, as a script would after `-L --line-numbers`; the open rule is rule 1.
    await run([ipt(backend), '-w', '-D', `PG-${id}`, '1']);
  }
  await run(['ip', 'addr', open ? 'add' : 'del', `${p.vip}/32`, 'dev', 'lo', 'label', 'lo:pg']);
}

/** Keeps the size of every script a write fed its command, and the rules it added. */
function recordingWrites(inner: CommandRunner) {
  const writes: { bytes: number; rules: number }[] = [];
  const runner: CommandRunner = {
    get spawned() {
      return inner.spawned;
    },
    get history() {
      return inner.history;
    },
    prepare: (argv) => inner.prepare?.(argv),
    run: (argv, opts) => {
      const isList = argv.includes('-t') || argv.includes('-j');
      if (opts?.input !== undefined && !isList && argv[0] !== 'ip') {
        const rules = opts.input
          .split('\n')
          .filter((l) => /^(-A|-I) /.test(l) || l.startsWith('add rule '))
          .filter((l) => !l.includes('probegate:gen:')).length;
        writes.push({ bytes: Buffer.byteLength(opts.input), rules });
      }
      return inner.run(argv, opts);
    },
  };
  return { runner, writes };
}

/** Renewals of the shared lease with every pair open: the active node's steady-state kernel cost. */
async function renewal(task: WorkerTask) {
  const inner = new ExecaCommandRunner([]);
  const { runner, writes } = recordingWrites(inner);
  const actuator = await createHostActuator({ backend: task.backend, runner });
  const pairs = benchPairs(task.pairs).map((p) => ({ ...p, active: true, vip: undefined }));
  const base = Date.now();
  await actuator.apply(pairs, { now: new Date(base), leaseSeconds: LEASE });
  await actuator.apply(pairs, { now: new Date(base), leaseSeconds: LEASE });
  const samples: number[] = [];
  const cpuMs: number[] = [];
  let measured: { bytes: number; rules: number }[] = [];
  let processes = 0;
  for (let i = 1; i <= (task.reps ?? 9); i++) {
    // Each apply comes 60% of a lease after the one before: the lease is due, as every half lease.
    const now = new Date(base + i * LEASE * 600);
    const before = { spawned: inner.spawned, writes: writes.length, cpu: process.cpuUsage() };
    const start = performance.now();
    const result = await actuator.apply(pairs, { now, leaseSeconds: LEASE });
    samples.push(performance.now() - start);
    const cpu = process.cpuUsage(before.cpu);
    cpuMs.push((cpu.user + cpu.system) / 1000);
    const renewed = result.changes.filter((c) => c.kind === 'lease-renewed').length;
    if (renewed !== pairs.length)
      throw new Error(`renewal ${i}: ${renewed} of ${pairs.length} leases renewed`);
    measured = writes.slice(before.writes);
    processes = inner.spawned - before.spawned;
    // Let the standby process replaced after the write start, as between two real renewals.
    await new Promise((r) => setTimeout(r, 400));
  }
  await inner.close();
  const write = measured[0];
  if (measured.length !== 1 || write === undefined)
    throw new Error(`a renewal wrote ${measured.length} scripts`);
  return {
    ms: median(samples),
    samples,
    processes,
    scriptBytes: write.bytes,
    rulesWritten: write.rules,
    agentCpuMedianMs: median(cpuMs),
    complete: true,
    total: processes,
  };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
};

async function main(
  task: WorkerTask,
): Promise<{ ms: number; samples: number[]; processes: number; complete?: boolean; total?: number }> {
  if (task.scenario === 'renewal') return renewal(task);
  const runner = new ExecaCommandRunner([], { standby: task.mode !== 'ours-cold' });
  const actuator = await createHostActuator({ backend: task.backend, runner });
  const pairs = benchPairs(task.pairs);
  if (task.scenario === 'from-empty') {
    const start = performance.now();
    let processes = 0;
    if (task.mode === 'ours') {
      const before = runner.spawned;
      await actuator.apply(pairs, { now: new Date(), leaseSeconds: LEASE });
      processes = runner.spawned - before;
    } else {
      const commands = naiveCreate(task.backend, pairs, new Date());
      for (const argv of commands) {
        await run(argv);
        processes++;
        if (task.capMs !== undefined && performance.now() - start > task.capMs) break;
      }
      const ms = performance.now() - start;
      return {
        ms,
        samples: [ms],
        processes,
        complete: processes === commands.length,
        total: commands.length,
      };
    }
    const ms = performance.now() - start;
    return { ms, samples: [ms], processes, complete: true, total: processes };
  }
  // Flip: pair 0 toggles while the others stay as they are. One steady-state apply
  // first, as a running agent has done before any flip.
  await actuator.apply(pairs, { now: new Date(), leaseSeconds: LEASE });
  await actuator.apply(pairs, { now: new Date(), leaseSeconds: LEASE });
  const samples: number[] = [];
  const first = pairs[0] as PairGate;
  let active = first.active;
  let processes = 0;
  for (let i = 0; i < (task.reps ?? 9); i++) {
    active = !active;
    const start = performance.now();
    if (task.mode !== 'naive') {
      const before = runner.spawned;
      await actuator.apply([{ ...first, active }, ...pairs.slice(1)], {
        now: new Date(),
        leaseSeconds: LEASE,
      });
      processes = runner.spawned - before;
    } else {
      await naiveFlip(task.backend, first, active);
      processes = active ? 2 : task.backend === 'nftables' ? 3 : 2;
    }
    samples.push(performance.now() - start);
  }
  await runner.close();
  return { ms: median(samples), samples, processes, complete: true, total: processes };
}

const task = JSON.parse(process.argv[2] ?? '{}') as WorkerTask;
main(task).then(
  (r) => process.stdout.write(`${JSON.stringify(r)}\n`),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
