import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import {
  createNamespace,
  destroyAllNamespaces,
  destroyNamespace,
  mustExecIn,
  requireRoot,
} from '@probegate/testenv';
import { execa } from 'execa';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { CommandError, type CommandTiming, createHostActuator, ExecaCommandRunner } from '../../src/index.js';

afterAll(destroyAllNamespaces);

const ADDR = '198.18.77.1';
const addScript = `addr add ${ADDR}/32 dev lo\n`;
const delScript = `addr del ${ADDR}/32 dev lo\n`;
const RESTORE = ['iptables-legacy-restore', '-w', '5', '--noflush'];
const chainScript = (chain: string) => `*filter\n:${chain} - [0:0]\nCOMMIT\n`;

let ns: string | undefined;
let runner: ExecaCommandRunner | undefined;

afterEach(async () => {
  await runner?.close();
  if (ns) await destroyNamespace(ns);
  ns = undefined;
  runner = undefined;
});

async function setup(): Promise<{ ns: string; runner: ExecaCommandRunner }> {
  requireRoot();
  ns = await createNamespace('pgs');
  runner = new ExecaCommandRunner(['ip', 'netns', 'exec', ns]);
  return { ns, runner };
}

/** Command lines of the processes living in the namespace (`ip netns pids`). */
async function processesIn(name: string): Promise<{ pid: number; cmdline: string }[]> {
  const pids = (await execa('ip', ['netns', 'pids', name])).stdout.split('\n').filter(Boolean);
  const out: { pid: number; cmdline: string }[] = [];
  for (const pid of pids) {
    const raw = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (raw) out.push({ pid: Number(pid), cmdline: raw.split('\0').filter(Boolean).join(' ') });
  }
  return out;
}

/** A replacement starts a moment after each use (so it cannot delay the next step of a flip). */
async function standbysWaiting(runner: ExecaCommandRunner, count: number): Promise<void> {
  await expect.poll(() => runner.standbyCount).toBe(count);
}

async function loAddresses(name: string): Promise<string> {
  return mustExecIn(name, ['ip', '-4', '-o', 'addr', 'show', 'dev', 'lo']);
}

describe('standby processes: a stdin-fed command is started before it is needed', () => {
  it('serves the second write of a command line from a process started ahead, with the same effect', async () => {
    const t = await setup();
    await t.runner.run(['ip', '-batch', '-'], { input: addScript });
    expect(t.runner.standbyHits).toBe(0);
    expect(t.runner.standbyCount).toBe(0); // not at once: see the next test
    await standbysWaiting(t.runner, 1);
    expect(await loAddresses(t.ns)).toContain(`${ADDR}/32`);

    await t.runner.run(['ip', '-batch', '-'], { input: delScript });
    expect(t.runner.standbyHits).toBe(1);
    expect(await loAddresses(t.ns)).not.toContain(ADDR);
    expect(t.runner.spawned).toBe(2);
  });

  it('starts a replacement only after a pause, so it cannot delay the next step of a flip', async () => {
    const t = await setup();
    await t.runner.run(['ip', '-batch', '-'], { input: addScript });
    await t.runner.run(RESTORE, { input: chainScript('PGA') });
    await standbysWaiting(t.runner, 2);
    // close, then unbind at once: both served by standbys, no process started in between.
    const before = (await processesIn(t.ns)).map((p) => p.pid);
    await t.runner.run(RESTORE, { input: chainScript('PGB') });
    await t.runner.run(['ip', '-batch', '-'], { input: delScript });
    const during = (await processesIn(t.ns)).map((p) => p.pid).filter((pid) => !before.includes(pid));
    expect(during).toEqual([]);
    expect(t.runner.standbyHits).toBe(2);
    await standbysWaiting(t.runner, 2);
  });

  it("tells each command's duration, exit code and whether a standby served it (for logs and metrics)", async () => {
    const t = await setup();
    const timings: CommandTiming[] = [];
    runner = new ExecaCommandRunner(['ip', 'netns', 'exec', t.ns], { onCommand: (c) => timings.push(c) });
    await t.runner.close();
    await runner.run(['ip', '-batch', '-'], { input: addScript });
    await standbysWaiting(runner, 1);
    await runner.run(['ip', '-batch', '-'], { input: delScript }).catch(() => undefined);
    await runner.run(['ip', '-batch', '-'], { input: delScript }).catch(() => undefined);
    expect(timings.map(({ argv, exitCode, standby }) => ({ argv, exitCode, standby }))).toEqual([
      { argv: ['ip', '-batch', '-'], exitCode: 0, standby: false },
      { argv: ['ip', '-batch', '-'], exitCode: 0, standby: true },
      { argv: ['ip', '-batch', '-'], exitCode: 1, standby: false },
    ]);
    for (const c of timings) expect(c.durationMs).toBeGreaterThan(0);
  });

  it('reports a refused script from a standby like a cold run: command, exit code and stderr', async () => {
    const t = await setup();
    await t.runner.run(['ip', '-batch', '-'], { input: addScript });
    await standbysWaiting(t.runner, 1);
    await t.runner.run(['ip', '-batch', '-'], { input: delScript });
    await standbysWaiting(t.runner, 1);
    const err = await t.runner.run(['ip', '-batch', '-'], { input: delScript }).catch((e: unknown) => e);
    expect(t.runner.standbyHits).toBe(2);
    expect(err).toBeInstanceOf(CommandError);
    expect(err).toMatchObject({ exitCode: 1, argv: expect.arrayContaining(['ip', '-batch', '-']) });
    expect((err as CommandError).stderr).toMatch(/Cannot assign requested address|Command failed/);
  });

  it('a waiting iptables-restore holds no xtables lock: another iptables -w 1 goes through', async () => {
    const t = await setup();
    await t.runner.run(RESTORE, { input: chainScript('PGA') });
    await standbysWaiting(t.runner, 1);
    // With the lock held this would wait 1 s and exit 4.
    await mustExecIn(t.ns, ['iptables-legacy', '-w', '1', '-N', 'PGB']);
    await t.runner.run(RESTORE, { input: chainScript('PGC') });
    expect(t.runner.standbyHits).toBe(1);
    const chains = await mustExecIn(t.ns, ['iptables-legacy', '-S']);
    expect(chains).toMatch(/-N PGA[\s\S]*-N PGB[\s\S]*-N PGC/);
  });

  it('a standby that was killed is not used: the write starts a fresh process and lands', async () => {
    const t = await setup();
    await t.runner.run(['ip', '-batch', '-'], { input: addScript });
    await standbysWaiting(t.runner, 1);
    const standby = (await processesIn(t.ns)).filter((p) => p.cmdline === 'ip -batch -');
    expect(standby).toHaveLength(1);
    process.kill(standby[0]?.pid ?? 0, 'SIGKILL');
    await expect
      .poll(async () => (await processesIn(t.ns)).filter((p) => p.cmdline === 'ip -batch -'))
      .toEqual([]);

    await t.runner.run(['ip', '-batch', '-'], { input: delScript });
    expect(t.runner.standbyHits).toBe(0);
    expect(await loAddresses(t.ns)).not.toContain(ADDR);
    await standbysWaiting(t.runner, 1);
  });

  it("a new actuator starts its commands ahead: a standby node's first flip starts no process", async () => {
    const t = await setup();
    const host = await createHostActuator({ backend: 'iptables-nft', runner: t.runner });
    expect(t.runner.standbyCount).toBe(3); // iptables-nft-restore, ip -batch (write), ip -j -batch (read)
    const gate = {
      key: 'shop/web',
      sourceCIDRs: ['198.18.0.16/32'],
      ports: [8080],
      vip: '198.18.10.5',
      active: false,
    };
    await host.apply([gate], { now: new Date(), leaseSeconds: 30 });
    await standbysWaiting(t.runner, 3);
    const [run, hits] = [t.runner.spawned, t.runner.standbyHits];
    await host.apply([{ ...gate, active: true }], { now: new Date(), leaseSeconds: 30 });
    expect(t.runner.spawned - run).toBe(2); // bind, open
    expect(t.runner.standbyHits - hits).toBe(2);
    expect(await loAddresses(t.ns)).toContain('198.18.10.5/32');
  });

  it('close lets every standby exit, and their empty scripts change nothing in the kernel', async () => {
    const t = await setup();
    await t.runner.run(['ip', '-batch', '-'], { input: addScript });
    await t.runner.run(RESTORE, { input: chainScript('PGA') });
    await t.runner.run(['nft', '-f', '-'], { input: 'add table inet pgtest\n' });
    await t.runner.run(['ip', '-j', '-batch', '-'], { input: 'addr show dev lo\n' });
    await standbysWaiting(t.runner, 4);
    const state = async () =>
      [
        await loAddresses(t.ns),
        await mustExecIn(t.ns, ['iptables-legacy-save']),
        await mustExecIn(t.ns, ['nft', 'list', 'ruleset']),
      ]
        .join('\n')
        .replace(/^#.*$/gm, '');
    const before = await state();
    expect((await processesIn(t.ns)).length).toBeGreaterThanOrEqual(4);

    await t.runner.close();
    expect(t.runner.standbyCount).toBe(0);
    expect(await processesIn(t.ns)).toEqual([]);
    expect(await state()).toBe(before);
    // A closed runner still runs commands, without standbys.
    await t.runner.run(['ip', '-batch', '-'], { input: delScript });
    await new Promise((r) => setTimeout(r, 500));
    expect(t.runner.standbyCount).toBe(0);
    expect(await loAddresses(t.ns)).not.toContain(ADDR);
  });

  it('a short-lived process using the runner exits on its own while a standby waits', async () => {
    const t = await setup();
    // Plain node with the tsx loader: the tsx CLI would keep the process alive by a handle of its own.
    const script = fileURLToPath(new URL('./fixtures/one-write.ts', import.meta.url));
    const r = await execa(process.execPath, ['--import', 'tsx', script, t.ns, ADDR], {
      reject: false,
      timeout: 30_000,
    });
    expect(r.timedOut, 'the process did not exit within 30 s').toBe(false);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toContain('standbys waiting: 1');
    expect(await loAddresses(t.ns)).toContain(`${ADDR}/32`);
    // Its standby read EOF when the process exited.
    await expect.poll(async () => processesIn(t.ns)).toEqual([]);
  });

  it('a process that awaits close() at its end sees it finish (not an unsettled await, exit 13)', async () => {
    const t = await setup();
    const script = fileURLToPath(new URL('./fixtures/one-write.ts', import.meta.url));
    // Plain node with the tsx loader (as in the test above): the tsx CLI keeps a handle of its own.
    const r = await execa(process.execPath, ['--import', 'tsx', script, t.ns, ADDR, 'close'], {
      reject: false,
      timeout: 30_000,
    });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toContain('closed');
    expect(await processesIn(t.ns)).toEqual([]);
  });
});
