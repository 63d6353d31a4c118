import {
  createNamespace,
  destroyAllNamespaces,
  destroyNamespace,
  mustExecIn,
  requireRoot,
} from '@probegate/testenv';
import { afterAll, describe, expect, it } from 'vitest';
import type { GateBackend } from '../../src/gate-backend.js';
import { CommandError, detectIptablesFlavor, ExecaCommandRunner, resolveBackend } from '../../src/index.js';
import { IptablesBackend } from '../../src/iptables-backend.js';
import { NftablesBackend } from '../../src/nftables-backend.js';

afterAll(destroyAllNamespaces);

async function inNamespace<T>(run: (ns: string, runner: ExecaCommandRunner) => Promise<T>): Promise<T> {
  requireRoot();
  const ns = await createNamespace('pgd');
  const runner = new ExecaCommandRunner(['ip', 'netns', 'exec', ns]);
  try {
    return await run(ns, runner);
  } finally {
    await runner.close();
    await destroyNamespace(ns);
  }
}

describe('backend detection', () => {
  it('picks the iptables flavour holding more rules, nft on a tie (like kube-proxy)', async () => {
    await inNamespace(async (ns, runner) => {
      expect(await detectIptablesFlavor(runner)).toBe('nft');
      await mustExecIn(ns, [
        'iptables-legacy',
        '-w',
        '-A',
        'INPUT',
        '-p',
        'udp',
        '--dport',
        '9',
        '-j',
        'ACCEPT',
      ]);
      expect(await detectIptablesFlavor(runner)).toBe('legacy');
      expect(await resolveBackend('auto', runner)).toBe('iptables-legacy');
      for (const port of ['10', '11']) {
        await mustExecIn(ns, [
          'iptables-nft',
          '-w',
          '-A',
          'INPUT',
          '-p',
          'udp',
          '--dport',
          port,
          '-j',
          'ACCEPT',
        ]);
      }
      expect(await resolveBackend('auto', runner)).toBe('iptables-nft');
      expect(await resolveBackend('nftables', runner)).toBe('nftables');
      await expect(resolveBackend('ipchains' as never, runner)).rejects.toThrow(
        'invalid backend: "ipchains"',
      );
    });
  });
});

describe('failures', () => {
  it('turn into a CommandError carrying the command, exit code and stderr', async () => {
    await inNamespace(async (ns, runner) => {
      const err = await runner
        .run(['iptables-nft', '-w', '-D', 'INPUT', '-j', 'NOPE'])
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CommandError);
      expect(err).toMatchObject({
        argv: ['ip', 'netns', 'exec', ns, 'iptables-nft', '-w', '-D', 'INPUT', '-j', 'NOPE'],
      });
      expect((err as CommandError).exitCode).toBeGreaterThan(0);
      expect((err as CommandError).stderr).not.toBe('');
      const missing = await runner.run(['no-such-binary-probegate']).catch((e: unknown) => e);
      expect(missing).toBeInstanceOf(CommandError);
    });
  });

  it.each([
    ['iptables-nft', (r: ExecaCommandRunner): GateBackend => new IptablesBackend(r, 'nft')],
    ['iptables-legacy', (r: ExecaCommandRunner): GateBackend => new IptablesBackend(r, 'legacy')],
    ['nftables', (r: ExecaCommandRunner): GateBackend => new NftablesBackend(r)],
  ])('leave nothing half-applied when one command of a %s batch fails', async (_name, make) => {
    await inNamespace(async (_ns, runner) => {
      const gate = make(runner);
      const lease = new Date(Date.now() + 60_000);
      await gate.write([
        { op: 'create-main' },
        { op: 'add-hook' },
        { op: 'set-lease', expiresAt: lease },
        { op: 'create-pair', id: 'aaaaaaaaaaaa', key: 'ns/a', open: true },
        { op: 'set-generation', generation: 'feed' },
      ]);
      const before = await gate.read();
      expect(before.generation).toBe('feed');
      expect(before.lease.rule?.expiresAt).toEqual(new Date(Math.floor(lease.getTime() / 1000) * 1000));
      expect(before.pairs.get('aaaaaaaaaaaa')?.open).toBeDefined();
      expect(await gate.readGeneration()).toBe('feed');
      // The last operation refers to a rule that does not exist: the whole batch must fail.
      const err = await gate
        .write([
          { op: 'set-lease', expiresAt: new Date(lease.getTime() + 60_000) },
          { op: 'create-pair', id: 'bbbbbbbbbbbb', key: 'ns/b', open: true },
          { op: 'add-jump', id: 'bbbbbbbbbbbb', key: 'ns/b', cidr: '10.0.0.0/8', port: 80 },
          { op: 'set-generation', generation: 'beef', replace: before.hooks[0] },
          { op: 'delete-rule', ref: { chain: 'PROBEGATE', spec: '-s 1.2.3.4/32 -j DROP', handle: 99999 } },
        ])
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CommandError);
      const after = await gate.read();
      expect([...after.pairs.keys()]).toEqual(['aaaaaaaaaaaa']);
      expect(after).toEqual(before);
    });
  });
});
