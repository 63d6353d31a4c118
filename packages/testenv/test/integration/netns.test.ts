import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import {
  addVethPair,
  createNamespace,
  destroyAllNamespaces,
  destroyNamespace,
  execIn,
  listenTcp,
  liveNamespaces,
  requireRoot,
  tcpConnect,
} from '../../src/index.js';

const existing = (): string[] => readdirSync('/run/netns');

afterAll(destroyAllNamespaces);

describe('network namespaces for tests', () => {
  it('creates short, unique namespaces with lo up and deletes them', async () => {
    requireRoot();
    const a = await createNamespace('pgt');
    const b = await createNamespace('pgt');
    expect(a).not.toBe(b);
    expect(a.length).toBeLessThanOrEqual(15);
    expect(existing()).toEqual(expect.arrayContaining([a, b]));
    const lo = await execIn(a, ['ip', '-j', 'link', 'show', 'dev', 'lo']);
    expect(JSON.parse(lo.stdout)[0].operstate).toBe('UNKNOWN'); // lo reports UNKNOWN when up
    expect(JSON.parse(lo.stdout)[0].flags).toContain('UP');
    await destroyNamespace(a);
    await destroyNamespace(b);
    expect(existing()).not.toContain(a);
    expect(liveNamespaces()).not.toContain(b);
  });

  it('links two namespaces so a real TCP connection crosses the veth', async () => {
    requireRoot();
    const server = await createNamespace('pgt');
    const client = await createNamespace('pgt');
    await addVethPair(server, client, '198.18.5.1/24', '198.18.5.2/24');
    const listener = await listenTcp(server, 7000, 'hello');
    expect(await tcpConnect(client, '198.18.5.1', 7000)).toBe('hello');
    await listener.stop();
    expect(await tcpConnect(client, '198.18.5.1', 7000)).toBeUndefined();
    await destroyAllNamespaces();
    expect(existing()).not.toContain(server);
    expect(existing()).not.toContain(client);
  });

  it('refuses addresses outside 198.18.0.0/15 and bad prefixes', async () => {
    requireRoot();
    const a = await createNamespace('pgt');
    const b = await createNamespace('pgt');
    await expect(addVethPair(a, b, '10.0.0.1/24', '198.18.0.2/24')).rejects.toThrow(/addrA: "10.0.0.1\/24"/);
    await expect(addVethPair(a, b, '198.18.0.1/24', '198.18.0.2')).rejects.toThrow(/addrB: "198.18.0.2"/);
    await expect(createNamespace('Bad-Prefix')).rejects.toThrow(/"Bad-Prefix"/);
    await destroyAllNamespaces();
  });

  it('deletes its namespaces when the test process is terminated', async () => {
    requireRoot();
    const script = fileURLToPath(new URL('./netns-orphan.fixture.ts', import.meta.url));
    const child = execa(process.execPath, ['--conditions', 'probegate-source', '--import', 'tsx', script], {
      reject: false,
    });
    const name = await new Promise<string>((resolve, reject) => {
      child.stdout?.on('data', (chunk: Buffer) => resolve(chunk.toString().trim()));
      void child.then((r) => reject(new Error(`fixture exited early: ${r.stderr}`)));
    });
    expect(existing()).toContain(name);
    child.kill('SIGTERM');
    await child;
    expect(existing()).not.toContain(name);
  });
});
