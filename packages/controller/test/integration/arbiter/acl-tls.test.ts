import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type ConsulAgent,
  createTestCa,
  freePort,
  issueCertificate,
  scratchDir,
  startConsulDev,
} from '@probegate/testenv';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ConsulArbiter } from '../../../src/arbiter/consul-arbiter.js';
import type { ConsulConnection } from '../../../src/arbiter/consul-config.js';
import { resolveConsulConnection } from '../../../src/arbiter/consul-config.js';
import { ArbiterError } from '../../../src/arbiter/errors.js';
import type { PairHealthView } from '../../../src/arbiter/types.js';
import { eventually } from './consul-http.js';

const pair = { namespace: 'ns', name: 'secure' };
const target = { service: 'web' };
const members = {
  primary: { node: 'vm1', address: '198.18.0.1' },
  secondary: { node: 'vm2', address: '198.18.0.2' },
};
const dir = scratchDir('acl-tls');
const agents: ConsulAgent[] = [];
const arbiters: ConsulArbiter[] = [];
afterEach(async () => {
  await Promise.all(arbiters.splice(0).map((a) => a.close()));
});
afterAll(async () => {
  await Promise.all(agents.map((a) => a.stop()));
  rmSync(dir, { recursive: true, force: true });
});

function arbiter(connection: ConsulConnection) {
  const a = new ConsulArbiter({ connection, node: 'vm1', requestTimeoutMs: 2_000, timing: { wait: '5s' } });
  arbiters.push(a);
  return a;
}

async function register(httpAddr: string, token?: string) {
  const response = await fetch(`${httpAddr}/v1/agent/service/register`, {
    method: 'PUT',
    headers: token ? { 'X-Consul-Token': token } : {},
    body: JSON.stringify({
      ID: 'web1',
      Name: 'web',
      Address: '198.18.0.1',
      Check: { TTL: '10m', Status: 'passing' },
    }),
  });
  expect(response.status).toBe(200);
}

function watch(a: ConsulArbiter): PairHealthView[] {
  const views: PairHealthView[] = [];
  a.watchHealth({ pair, target, members }, (v) => views.push(v));
  return views;
}

describe('ACL token against a real agent with default-deny ACLs', () => {
  const rootToken = 'b1c2d3e4-0000-4000-8000-000000000001';
  let agent: ConsulAgent;
  beforeAll(async () => {
    agent = await startConsulDev({
      nodeName: 'vm1',
      token: rootToken,
      hcl: [
        `acl { enabled = true default_policy = "deny" down_policy = "deny" tokens { master = "${rootToken}" agent = "${rootToken}" } }`,
      ],
    });
    agents.push(agent);
    await register(agent.httpAddr, rootToken);
  });

  it('reads health and takes the lock with the token given in a token file', async () => {
    const tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, `${rootToken}\n`);
    const a = arbiter(resolveConsulConnection({ address: agent.httpAddr, tokenFile }, {}));
    const views = watch(a);
    await eventually(
      'view',
      () => views.length,
      (n) => n >= 1,
    );
    expect(views[0]?.primary.status).toBe('passing');
    expect(await a.acquire({ pair, target, reason: 'with token' })).toBe(true);
    expect((await a.readRecord(pair))?.holder).toBe('vm1');
  });

  it('an unknown token is an ACL error: clear message, unreachable, no crash', async () => {
    const a = arbiter(
      resolveConsulConnection({}, { CONSUL_HTTP_ADDR: agent.httpAddr, CONSUL_HTTP_TOKEN: 'nope' }),
    );
    const views = watch(a);
    const down = await eventually(
      'unreachable',
      () => a.reachability(),
      (r) => !r.reachable,
    );
    expect(down.lastError?.kind).toBe('acl-denied');
    expect(down.lastError?.message).toMatch(/ACL denied.*HTTP 403.*ACL not found/);
    expect(views).toEqual([]);
  });

  it('without a token, KV and writes are denied (403) and health reads are filtered to nothing', async () => {
    const a = arbiter({ address: agent.httpAddr });
    const views = watch(a);
    await eventually(
      'filtered view',
      () => views.length,
      (n) => n >= 1,
    );
    expect(views[0]?.primary.status).toBe('missing');
    await expect(a.readRecord({ namespace: 'ns', name: 'other' })).rejects.toSatisfy(
      (e: unknown) =>
        e instanceof ArbiterError && e.kind === 'acl-denied' && /Permission denied/.test(e.message),
    );
    // Taking the lock needs the agent's identity and a session: both denied without a token.
    await expect(a.acquire({ pair, target, reason: 'anonymous' })).rejects.toSatisfy(
      (e: unknown) => e instanceof ArbiterError && e.kind === 'acl-denied',
    );
  });
});

describe('TLS with a CA file and a server name against a real agent', () => {
  let agent: ConsulAgent;
  let httpsAddr: string;
  let caFile: string;
  beforeAll(async () => {
    const ca = await createTestCa(dir, 'probegate-test-consul-ca');
    caFile = ca.cert;
    // Only a DNS name: connecting to 127.0.0.1 verifies only when the server name is passed.
    const server = await issueCertificate(ca, dir, {
      name: 'server',
      subject: '/CN=server.dc1.consul',
      dnsNames: ['server.dc1.consul'],
    });
    const httpsPort = await freePort();
    agent = await startConsulDev({
      nodeName: 'vm1',
      hcl: [
        `ports { https = ${httpsPort} }`,
        `ca_file = "${caFile}"`,
        `cert_file = "${server.cert}"`,
        `key_file = "${server.key}"`,
        'verify_incoming = false',
      ],
    });
    agents.push(agent);
    httpsAddr = `https://127.0.0.1:${httpsPort}`;
    await register(agent.httpAddr);
  });

  it('verifies the agent with the CA file and server name', async () => {
    const a = arbiter(
      resolveConsulConnection({ address: httpsAddr, caFile, serverName: 'server.dc1.consul' }, {}),
    );
    const views = watch(a);
    await eventually(
      'view over TLS',
      () => views.length,
      (n) => n >= 1,
    );
    expect(views[0]?.primary.status).toBe('passing');
    expect(readFileSync(caFile, 'utf8')).toContain('BEGIN CERTIFICATE');
  });

  it.each<[string, boolean]>([
    ['without the CA', false],
    ['with the CA but without the server name', true],
  ])('fails %s with a TLS error', async (_name, withCa) => {
    const a = arbiter(resolveConsulConnection({ address: httpsAddr, ...(withCa ? { caFile } : {}) }, {}));
    watch(a);
    const down = await eventually(
      'unreachable',
      () => a.reachability(),
      (r) => !r.reachable,
    );
    expect(down.lastError?.kind).toBe('tls');
    expect(down.lastError?.message).toMatch(/TLS verification failed/);
  });
});
