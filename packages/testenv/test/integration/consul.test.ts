import { existsSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { type ConsulAgent, type ConsulCluster, startConsulCluster, startConsulDev } from '../../src/index.js';

const getJson = async (url: string): Promise<unknown> => {
  const response = await fetch(url);
  expect(response.ok, `${url} -> ${response.status}`).toBe(true);
  return response.json();
};

const processAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('startConsulDev', () => {
  const started: ConsulAgent[] = [];
  afterAll(async () => {
    await Promise.all(started.map((a) => a.stop()));
  });

  it('starts a dev agent on free ports that serves HTTP with a leader, and stop() removes it', async () => {
    const agent = await startConsulDev();
    started.push(agent);
    expect(agent.httpAddr).toBe(`http://127.0.0.1:${agent.httpPort}`);
    expect(await getJson(`${agent.httpAddr}/v1/status/leader`)).toMatch(/^127\.0\.0\.1:\d+$/);
    const self = (await getJson(`${agent.httpAddr}/v1/agent/self`)) as { Config: { NodeName: string } };
    expect(self.Config.NodeName).toBe(agent.nodeName);
    expect(existsSync(agent.dataDir)).toBe(true);

    const pid = agent.daemon.pid;
    await agent.stop();
    expect(processAlive(pid)).toBe(false);
    expect(existsSync(agent.dataDir)).toBe(false);
  });

  it('runs two dev agents side by side without port clashes', async () => {
    const [a, b] = await Promise.all([startConsulDev(), startConsulDev()]);
    if (!a || !b) throw new Error('agents missing');
    started.push(a, b);
    expect(a.httpPort).not.toBe(b.httpPort);
    await Promise.all(
      [a, b].map(async (x) => expect(await getJson(`${x.httpAddr}/v1/status/leader`)).not.toBe('')),
    );
  });

  it('restart() brings the agent back on the same HTTP port', async () => {
    const agent = await startConsulDev();
    started.push(agent);
    const firstPid = agent.daemon.pid;
    await agent.restart();
    expect(agent.daemon.pid).not.toBe(firstPid);
    expect(await getJson(`${agent.httpAddr}/v1/status/leader`)).not.toBe('');
  });
});

describe('startConsulCluster', () => {
  let cluster: ConsulCluster | undefined;
  afterAll(async () => {
    await cluster?.stop();
  });

  it('joins two client agents on their own loopback addresses to one server', async () => {
    cluster = await startConsulCluster({
      server: { addr: '127.0.0.2' },
      clients: [
        { name: 'vm1', addr: '127.0.0.3' },
        { name: 'vm2', addr: '127.0.0.4' },
      ],
    });
    const vm1 = cluster.client('vm1');
    expect(vm1.httpAddr).toMatch(/^http:\/\/127\.0\.0\.3:\d+$/);
    const members = (await getJson(`${vm1.httpAddr}/v1/agent/members`)) as { Name: string; Status: number }[];
    expect(members.map((m) => m.Name).sort()).toEqual(['consul-server', 'vm1', 'vm2']);
    expect(members.every((m) => m.Status === 1)).toBe(true);
    const nodes = (await getJson(`${cluster.server.httpAddr}/v1/catalog/nodes`)) as {
      Node: string;
      Address: string;
    }[];
    expect(Object.fromEntries(nodes.map((n) => [n.Node, n.Address]))).toEqual({
      'consul-server': '127.0.0.2',
      vm1: '127.0.0.3',
      vm2: '127.0.0.4',
    });
    expect(() => cluster?.client('vm9')).toThrow(/vm9/);
  });
});
