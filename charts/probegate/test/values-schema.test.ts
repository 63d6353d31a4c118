// values.schema.json (and the chart's own checks) refuse bad values before anything is rendered,
// with a message naming the value.
import { afterAll, describe, expect, it } from 'vitest';
import { chartDir, cleanupHelm, helm, template, valuesFile } from './support/helm.js';

afterAll(cleanupHelm);

// [what is wrong, values, what helm must say]
const badValues: Array<[string, Record<string, unknown>, RegExp]> = [
  [
    'an unknown log level',
    { agent: { logLevel: 'loud' } },
    /agent\.logLevel.*(must be one of|value must be one of)/s,
  ],
  [
    'a metrics port out of range',
    { agent: { metricsPort: 70000 } },
    /agent\.metricsPort.*(less than or equal to 65535|maximum)/s,
  ],
  ['a firewall backend that does not exist', { agent: { backend: 'ipfw' } }, /agent\.backend/],
  [
    'a misspelt top-level key',
    { tollerations: [] },
    /additional properties 'tollerations' not allowed|tollerations/,
  ],
  [
    'a misspelt nested key',
    { daemonset: { nodeSelectr: { a: 'b' } } },
    /additional properties 'nodeSelectr' not allowed|nodeSelectr/,
  ],
  ['an unknown pull policy', { image: { pullPolicy: 'Sometimes' } }, /image\.pullPolicy/],
  [
    'TLS switched on with a string',
    { consul: { tls: { enabled: 'yes' } } },
    /consul\.tls\.enabled.*boolean/s,
  ],
  ['a Consul address without a port', { consul: { address: 'consul.example' } }, /consul\.address/],
  [
    'maxUnavailable 0 (a rollout that never moves)',
    { daemonset: { updateStrategy: { maxUnavailable: 0 } } },
    /maxUnavailable/,
  ],
  [
    'a bad Secret name for the ACL token',
    { consul: { aclToken: { secretName: 'Not_A_Name' } } },
    /consul\.aclToken\.secretName/,
  ],
  [
    'a scrape interval that is not a duration',
    { metrics: { serviceMonitor: { interval: 'often' } } },
    /serviceMonitor\.interval/,
  ],
  [
    'a toleration with an unknown effect',
    { daemonset: { tolerations: [{ key: 'a', effect: 'Sometimes' }] } },
    /effect/,
  ],
  [
    'a TLS server name with TLS off',
    { consul: { tls: { serverName: 'server.dc1.consul' } } },
    /consul\.tls\.serverName is set but consul\.tls\.enabled is false/,
  ],
  [
    'a ServiceMonitor without the metrics Service',
    { metrics: { service: { enabled: false }, serviceMonitor: { enabled: true } } },
    /metrics\.serviceMonitor\.enabled needs metrics\.service\.enabled/,
  ],
];

describe('values.schema.json and the chart checks', () => {
  it.each(badValues)('helm template refuses %s', async (_what, values, message) => {
    const result = await template([valuesFile(values)]);
    expect(result.exitCode).not.toBe(0);
    expect(result.stderr).toMatch(message);
  });

  it.each(badValues.slice(0, 4))('helm lint refuses %s too', async (_what, values, message) => {
    const result = await helm(['lint', chartDir, '--strict', '-f', valuesFile(values)]);
    expect(result.exitCode).not.toBe(0);
    expect(result.stdout + result.stderr).toMatch(message);
  });

  it.each<[string, Record<string, unknown>]>([
    ['a percentage maxUnavailable', { daemonset: { updateStrategy: { maxUnavailable: '20%' } } }],
    ['a Consul URL', { consul: { address: 'http://127.0.0.1:8500' } }],
    ['a Consul host:port', { consul: { address: 'consul-server.consul.svc.cluster.local:8500' } }],
    ['no priority class', { daemonset: { priorityClassName: '' } }],
    [
      'extra env from a Secret',
      { agent: { extraEnv: [{ name: 'X', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } }] } },
    ],
  ])('accepts %s', async (_what, values) => {
    const result = await template([valuesFile(values)]);
    expect(result.stderr).toBe('');
    expect(result.exitCode).toBe(0);
  });
});

describe('cluster version', () => {
  it('refuses Kubernetes older than 1.31 (the CRD uses the CEL IP and CIDR libraries)', async () => {
    const result = await template([], ['--kube-version', '1.30.4']);
    expect(result.exitCode).not.toBe(0);
    expect(result.stderr).toMatch(
      /kubeVersion: >=1\.31\.0-0 which is incompatible with Kubernetes v1\.30\.4/,
    );
    expect((await template([], ['--kube-version', '1.31.0'])).exitCode).toBe(0);
  });
});
