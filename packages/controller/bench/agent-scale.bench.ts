// 1,000 pairs on one node pair, against the real API server, a real Consul agent and real kernels
// (network namespaces). Two agent processes (vm1, vm2) run from the built CLI.
//   npm run bench:controller            (PAIRS=1000 STEADY_SECONDS=60 by default)
// Prints the figures and writes results/controller-bench.json. Not a test: nothing here asserts.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { resolve } from 'node:path';
import { CustomObjectsApi } from '@kubernetes/client-node';
import { createHostActuator, ExecaCommandRunner } from '@probegate/host';
import {
  createNamespace,
  type Daemon,
  destroyAllNamespaces,
  failCheck,
  type KubeApi,
  registerTtlService,
  requireRoot,
  scratchDir,
  startConsulDev,
  startDaemon,
  startKubeApi,
  waitFor,
} from '@probegate/testenv';
import { execa } from 'execa';
import { GROUP, installCrd, PLURAL, VERSION } from '../test/integration/agent/harness.js';

const PAIRS = Number(process.env.PAIRS ?? 1000);
const SERVICES = 10;
const STEADY_SECONDS = Number(process.env.STEADY_SECONDS ?? 60);
const repo = resolve(import.meta.dirname, '../../..');
const cli = resolve(repo, 'packages/controller/dist/cli/main.js');
const ADDR = { vm1: '198.18.7.1', vm2: '198.18.7.2' };

const vipOf = (i: number) => `198.19.${Math.floor(i / 250)}.${(i % 250) + 1}`;

function manifest(i: number) {
  return {
    apiVersion: `${GROUP}/${VERSION}`,
    kind: 'FailoverPair',
    metadata: { name: `pair-${i}`, namespace: 'default' },
    spec: {
      vip: vipOf(i),
      probe: { ports: [10_000 + i], sourceCIDRs: ['198.18.0.16/32'] },
      consul: { service: `svc-${i % SERVICES}` },
      primary: { node: 'vm1', address: ADDR.vm1 },
      secondary: { node: 'vm2', address: ADDR.vm2 },
      timing: { holdDownSeconds: 0, failbackDelaySeconds: 3600, gateLeaseSeconds: 30 },
    },
  };
}

/** Open gates per namespace, read back from the kernel. */
async function openGates(ns: string): Promise<number> {
  const actuator = await createHostActuator({
    backend: 'iptables-nft',
    runner: new ExecaCommandRunner(['ip', 'netns', 'exec', ns]),
  });
  const observed = await actuator.observe();
  return [...observed.pairs.values()].filter((p) => p.gate === 'Open').length;
}

function procStat(pid: number): { cpuSeconds: number; rssMiB: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]); // utime + stime
  const rssKiB = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  return { cpuSeconds: ticks / 100, rssMiB: rssKiB / 1024 };
}

/** Mutating requests the API server has served, from its own /metrics. */
async function apiWrites(api: KubeApi): Promise<number> {
  const kc = api.kubeConfig();
  const user = kc.getCurrentUser();
  const text = await new Promise<string>((done, fail) => {
    const req = request(
      `${api.server}/metrics`,
      {
        cert: Buffer.from(user?.certData ?? '', 'base64'),
        key: Buffer.from(user?.keyData ?? '', 'base64'),
        rejectUnauthorized: false,
      },
      (res) => {
        let body = '';
        res.on('data', (c) => {
          body += c;
        });
        res.on('end', () => done(body));
      },
    );
    req.on('error', fail);
    req.end();
  });
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith('apiserver_request_total{')) continue;
    if (!/verb="(POST|PUT|PATCH|DELETE|APPLY)"/.test(line)) continue;
    if (!line.includes('resource="failoverpairs"')) continue;
    total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

async function main() {
  requireRoot();
  if (!existsSync(cli)) throw new Error(`${cli} is missing: run \`npm run build\` first`);
  const dir = scratchDir('bench-controller');
  const daemons: Daemon[] = [];
  const api = await startKubeApi();
  const consul = await startConsulDev();
  try {
    const kc = api.kubeConfig();
    await installCrd(kc);
    for (let s = 0; s < SERVICES; s++) {
      for (const node of ['vm1', 'vm2'] as const) {
        await registerTtlService(consul.httpAddr, {
          id: `svc-${s}-${node}`,
          name: `svc-${s}`,
          address: ADDR[node],
        });
      }
    }
    const ns = { vm1: await createNamespace('b1'), vm2: await createNamespace('b2') };
    const kubeconfig = api.kubeconfigPath;
    const objects = kc.makeApiClient(CustomObjectsApi);
    let t = Date.now();
    for (let i = 0; i < PAIRS; i += 50) {
      await Promise.all(
        Array.from({ length: Math.min(50, PAIRS - i) }, (_, j) =>
          objects.createNamespacedCustomObject({
            group: GROUP,
            version: VERSION,
            namespace: 'default',
            plural: PLURAL,
            body: manifest(i + j),
          }),
        ),
      );
    }
    const createSeconds = (Date.now() - t) / 1000;
    t = Date.now();
    for (const node of ['vm1', 'vm2'] as const) {
      daemons.push(
        startDaemon(
          `agent-${node}`,
          [
            process.execPath,
            cli,
            'agent',
            '--node',
            node,
            '--kubeconfig',
            kubeconfig,
            '--netns',
            ns[node],
            '--backend',
            'iptables-nft',
            '--metrics-port',
            '0',
            '--metrics-host',
            '127.0.0.1',
            '--consul-addr',
            consul.httpAddr,
            '--log-level',
            'warn',
          ],
          { logDir: dir },
        ),
      );
    }
    await waitFor(async () => (await openGates(ns.vm1)) === PAIRS, {
      what: `${PAIRS} gates open on vm1`,
      timeoutMs: 300_000,
      intervalMs: 500,
    });
    const startupSeconds = (Date.now() - t) / 1000;
    // Let status writes of the start settle before measuring the steady state.
    await new Promise((r) => setTimeout(r, 10_000));

    const [a1, a2] = daemons as [Daemon, Daemon];
    const before = { w: await apiWrites(api), p1: procStat(a1.pid), p2: procStat(a2.pid), at: Date.now() };
    await new Promise((r) => setTimeout(r, STEADY_SECONDS * 1000));
    const after = { w: await apiWrites(api), p1: procStat(a1.pid), p2: procStat(a2.pid), at: Date.now() };
    const minutes = (after.at - before.at) / 60_000;
    const steady = {
      seconds: (after.at - before.at) / 1000,
      apiWritesPerMinute: (after.w - before.w) / minutes,
      idleCpuPercentOfCore: {
        vm1: ((after.p1.cpuSeconds - before.p1.cpuSeconds) / (after.at - before.at)) * 1000 * 100,
        vm2: ((after.p2.cpuSeconds - before.p2.cpuSeconds) / (after.at - before.at)) * 1000 * 100,
      },
      rssMiB: { vm1: after.p1.rssMiB, vm2: after.p2.rssMiB },
    };

    // Mass failover: every service's vm1 instance turns critical at once.
    t = Date.now();
    await Promise.all(Array.from({ length: SERVICES }, (_, s) => failCheck(consul.httpAddr, `svc-${s}-vm1`)));
    await waitFor(async () => (await openGates(ns.vm2)) === PAIRS && (await openGates(ns.vm1)) === 0, {
      what: `all ${PAIRS} pairs active on vm2`,
      timeoutMs: 120_000,
      intervalMs: 50,
    });
    const massFailoverSeconds = (Date.now() - t) / 1000;
    const peakRss = { vm1: procStat(a1.pid).rssMiB, vm2: procStat(a2.pid).rssMiB };

    // Baseline in the same run: the original script's way, one iptables process per rule, for the
    // same flip (insert a DROP per pair on vm1, delete it on vm2).
    const base = await createNamespace('bb');
    t = Date.now();
    for (let i = 0; i < PAIRS; i++) {
      await execa('ip', [
        'netns',
        'exec',
        base,
        'iptables',
        '-w',
        '-I',
        'INPUT',
        '-s',
        '198.18.0.16/32',
        '-p',
        'tcp',
        '--dport',
        String(10_000 + i),
        '-j',
        'DROP',
      ]);
    }
    const naiveFlipSeconds = (Date.now() - t) / 1000;

    const result = {
      pairs: PAIRS,
      setup: { createSeconds, startupSeconds },
      steady,
      massFailover: {
        seconds: massFailoverSeconds,
        goalSeconds: 3,
        naiveOneProcessPerRuleSeconds: naiveFlipSeconds,
      },
      ratioNaiveToProbegate: naiveFlipSeconds / massFailoverSeconds,
      peakRssMiB: peakRss,
      goals: { rssMiB: 150, idleCpuPercent: 2, massFailoverSeconds: 3, apiWritesPerMinute: 0 },
      at: new Date().toISOString(),
    };
    console.log(JSON.stringify(result, null, 2));
    mkdirSync(resolve(repo, 'results'), { recursive: true });
    writeFileSync(resolve(repo, 'results/controller-bench.json'), `${JSON.stringify(result, null, 2)}\n`);
  } finally {
    await Promise.allSettled(daemons.map((d) => d.stop()));
    await destroyAllNamespaces();
    await consul.stop();
    await api.stop();
  }
}

await main();
