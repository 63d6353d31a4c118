import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createHostActuator, ExecaCommandRunner } from '@probegate/host';
import {
  component,
  createNamespace,
  type Daemon,
  destroyNamespace,
  execIn,
  mustExecIn,
  requireRoot,
  scratchDir,
  startDaemon,
  waitFor,
} from '@probegate/testenv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The real `probegate agent` process in VM mode, inside a network namespace that stands in for a
// VM (its own kernel firewall and lo), with a Consul dev agent in the same namespace.
const CLI = resolve(import.meta.dirname, '../../../src/cli/main.ts');
const CONSUL = 'http://127.0.0.1:8500';
let ns: string;
let consul: Daemon;
let agent: Daemon;
let dir: string;
let pairsFile: string;

/** Runs the CLI from source inside the namespace (workspace packages resolve to their sources). */
const cliArgv = (...args: string[]) => [
  process.execPath,
  '--conditions=probegate-source',
  '--import',
  'tsx',
  CLI,
  ...args,
];

/** HTTP inside the namespace, through the repo's Node (the root namespace cannot reach its lo). */
async function nsHttp(method: string, url: string, body?: string): Promise<{ status: number; text: string }> {
  const script = `fetch(${JSON.stringify(url)},{method:${JSON.stringify(method)}${body ? `,body:${JSON.stringify(body)}` : ''}}).then(async r=>console.log(JSON.stringify({status:r.status,text:await r.text()}))).catch(e=>console.log(JSON.stringify({status:0,text:String(e)})))`;
  const out = await mustExecIn(ns, [process.execPath, '-e', script]);
  return JSON.parse(out) as { status: number; text: string };
}

const pair = (name: string, ports: unknown, extra = '') => `---
apiVersion: probegate.io/v1alpha1
kind: FailoverPair
metadata:
  name: ${name}${extra}
spec:
  vip: 198.18.60.${name === 'good' ? 1 : 2}
  probe:
    ports: ${JSON.stringify(ports)}
    sourceCIDRs: [198.18.0.16/32]
  consul: {service: web}
  primary: {node: vm1, address: 198.18.5.1}
  secondary: {node: vm2, address: 198.18.5.2}
  timing: {holdDownSeconds: 0, failbackDelaySeconds: 1, gateLeaseSeconds: 30}
`;

async function gateOf(key: string) {
  const actuator = await createHostActuator({
    backend: 'iptables-nft',
    // Only observes: no processes started ahead.
    runner: new ExecaCommandRunner(['ip', 'netns', 'exec', ns], { standby: false }),
  });
  const observed = await actuator.observe();
  const p = [...observed.pairs.values()].find((x) => x.key === key);
  return { gate: p?.gate ?? 'Absent', ports: p?.ports ?? [], vips: observed.vips };
}

beforeAll(async () => {
  requireRoot();
  dir = scratchDir('vm-mode');
  pairsFile = join(dir, 'pairs.yaml');
  ns = await createNamespace('vm');
  consul = startDaemon(
    'consul',
    [
      'ip',
      'netns',
      'exec',
      ns,
      component('consul'),
      'agent',
      '-dev',
      '-node=vm1',
      '-bind=127.0.0.1',
      '-client=127.0.0.1',
    ],
    { logDir: dir },
  );
  await waitFor(async () => (await nsHttp('GET', `${CONSUL}/v1/status/leader`)).text.length > 4, {
    what: 'consul dev leader in the namespace',
  });
  for (const [id, address] of [
    ['web-vm1', '198.18.5.1'],
    ['web-vm2', '198.18.5.2'],
  ]) {
    const reg = await nsHttp(
      'PUT',
      `${CONSUL}/v1/agent/service/register`,
      JSON.stringify({ ID: id, Name: 'web', Address: address, Check: { TTL: '10m', Status: 'passing' } }),
    );
    expect(reg.status).toBe(200);
  }
  // One good pair and one with a port out of range: the bad one is skipped, the good one runs.
  writeFileSync(pairsFile, pair('good', [8080]) + pair('bad', [70000]));
  agent = startDaemon(
    'probegate',
    [
      'ip',
      'netns',
      'exec',
      ns,
      ...cliArgv('agent', '--pairs-file', pairsFile, '--node', 'vm1', '--backend', 'iptables-nft'),
      '--metrics-port',
      '9402',
      '--consul-addr',
      CONSUL,
    ],
    { logDir: dir },
  );
}, 120_000);

afterAll(async () => {
  await agent?.stop();
  await consul?.stop();
  if (ns) await destroyNamespace(ns);
});

describe('probegate agent in VM mode (pairs file, real Consul, real kernel)', () => {
  it('runs the valid pair: its gate opens and its VIP is bound', async () => {
    await waitFor(async () => (await gateOf('default/good')).gate === 'Open', {
      what: `the good pair's gate to open (agent log:\n${agent.tail()})`,
      timeoutMs: 60_000,
    });
    expect((await gateOf('default/good')).vips).toContain('198.18.60.1');
  });

  it('skips the invalid pair and reports it with its line, field and value', async () => {
    await waitFor(() => /invalid pair skipped/.test(agent.tail(200)), { what: 'the invalid-pair report' });
    const report =
      agent
        .tail(200)
        .split('\n')
        .find((l) => l.includes('invalid pair skipped')) ?? '';
    expect(report).toContain('pairs.yaml:');
    expect(report).toContain('spec.probe.ports[0]');
    expect(report).toContain('70000');
    expect((await gateOf('default/bad')).gate).toBe('Absent');
  });

  it('serves /healthz, /readyz and probegate_* metrics on its port', async () => {
    expect((await nsHttp('GET', 'http://127.0.0.1:9402/healthz')).status).toBe(200);
    await waitFor(async () => (await nsHttp('GET', 'http://127.0.0.1:9402/readyz')).status === 200, {
      what: '/readyz 200',
    });
    const metrics = (await nsHttp('GET', 'http://127.0.0.1:9402/metrics')).text;
    expect(metrics).toMatch(/probegate_pair_role\{pair="default\/good",node="vm1"\} 1/);
    expect(metrics).toMatch(/probegate_gate_open\{pair="default\/good"\} 1/);
    expect(metrics).toMatch(/probegate_pairs\{validity="invalid"\} 1/);
    // The gate's kernel writes so far, timed (one restore at least; its process started ahead after the first).
    expect(metrics).toMatch(
      /probegate_host_command_duration_seconds_count\{command="iptables-[a-z]+-restore",started="(standby|cold)",result="ok"\} [1-9]/,
    );
    expect(metrics).toContain('process_resident_memory_bytes');
  });

  it('publishes its state in Consul KV, and `probegate status` shows it', async () => {
    await waitFor(
      async () =>
        (await nsHttp('GET', `${CONSUL}/v1/kv/probegate/default/good/members/vm1?raw`)).status === 200,
      {
        what: 'the member record in KV',
      },
    );
    const member = JSON.parse(
      (await nsHttp('GET', `${CONSUL}/v1/kv/probegate/default/good/members/vm1?raw`)).text,
    );
    expect(member).toMatchObject({ node: 'vm1', state: 'Active', gate: 'Open' });
    const out = await mustExecIn(
      ns,
      cliArgv('status', '--pairs-file', pairsFile, '--consul-addr', CONSUL, '-o', 'json'),
    );
    const rows = JSON.parse(out) as { pair: string; activeNode: string }[];
    expect(rows).toEqual([expect.objectContaining({ pair: 'default/good', activeNode: 'vm1' })]);
  });

  it('goes Standby when its Consul check turns critical, and back when it passes', async () => {
    await nsHttp('PUT', `${CONSUL}/v1/agent/check/fail/service:web-vm1`);
    await waitFor(async () => (await gateOf('default/good')).gate === 'Closed', { what: 'gate closed' });
    expect((await gateOf('default/good')).vips).not.toContain('198.18.60.1');
    await nsHttp('PUT', `${CONSUL}/v1/agent/check/pass/service:web-vm1`);
    await waitFor(async () => (await gateOf('default/good')).gate === 'Open', { what: 'gate open again' });
  });

  it('reloads the pairs file when it changes: the fixed pair starts running', async () => {
    writeFileSync(pairsFile, pair('good', [8080]) + pair('bad', [9090]));
    await waitFor(async () => (await gateOf('default/bad')).gate === 'Open', {
      what: 'the fixed pair to run after the reload',
      timeoutMs: 30_000,
    });
  });

  it('on SIGTERM exits 0 promptly and leaves the gate open (the lease covers a restart)', async () => {
    agent.kill('SIGTERM');
    await waitFor(() => agent.exited, { what: 'the agent to exit after SIGTERM', timeoutMs: 5_000 });
    expect(agent.exitCode).toBe(0);
    expect(agent.tail(50)).toContain('host state left in place');
    expect((await gateOf('default/good')).gate).toBe('Open');
    const leftover = await execIn(ns, ['ss', '-Hltn', 'sport = :9402']);
    expect(leftover.stdout.trim()).toBe('');
  });
});
