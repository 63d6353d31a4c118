import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { normalizeAddress, resolveConsulConnection } from '../../../src/arbiter/consul-config.js';

const dir = mkdtempSync(join(tmpdir(), 'probegate-config-'));
const file = (name: string, content: string) => {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
};
const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';

describe('resolveConsulConnection', () => {
  it('defaults to the local agent', () => {
    expect(resolveConsulConnection({}, {})).toEqual({ address: 'http://127.0.0.1:8500' });
  });

  it.each([
    [
      'flag wins over env',
      { address: 'http://10.0.0.1:8500' },
      { CONSUL_HTTP_ADDR: '10.0.0.2:8500' },
      'http://10.0.0.1:8500',
    ],
    ['env host:port gets http', {}, { CONSUL_HTTP_ADDR: '10.0.0.2:8500' }, 'http://10.0.0.2:8500'],
    [
      'CONSUL_HTTP_SSL makes it https',
      {},
      { CONSUL_HTTP_ADDR: 'consul:8501', CONSUL_HTTP_SSL: 'true' },
      'https://consul:8501',
    ],
    ['explicit https URL is kept', { address: 'https://consul.local:8501' }, {}, 'https://consul.local:8501'],
  ])('address: %s', (_name, flags, env, expected) => {
    expect(resolveConsulConnection(flags, env).address).toBe(expected);
  });

  it.each([
    [
      'flag',
      { token: 'flag-token', tokenFile: file('t1', 'file-token\n') },
      { CONSUL_HTTP_TOKEN: 'env' },
      'flag-token',
    ],
    ['flag file', { tokenFile: file('t2', 'file-token\n') }, { CONSUL_HTTP_TOKEN: 'env' }, 'file-token'],
    ['env', {}, { CONSUL_HTTP_TOKEN: 'env-token' }, 'env-token'],
    ['env file', {}, { CONSUL_HTTP_TOKEN_FILE: file('t3', ' env-file-token ') }, 'env-file-token'],
  ])('token from %s', (_name, flags, env, expected) => {
    expect(resolveConsulConnection(flags, env).token).toBe(expected);
  });

  it('reads the CA file and server name', () => {
    const connection = resolveConsulConnection(
      { address: 'https://10.0.0.1:8501', caFile: file('ca.pem', pem), serverName: 'server.dc1.consul' },
      {},
    );
    expect(connection.caPem).toBe(pem);
    expect(connection.serverName).toBe('server.dc1.consul');
    expect(
      resolveConsulConnection({}, { CONSUL_CACERT: file('ca2.pem', pem), CONSUL_TLS_SERVER_NAME: 's' }),
    ).toMatchObject({ caPem: pem, serverName: 's' });
  });

  it.each([
    [
      'an unreadable token file',
      { tokenFile: '/nonexistent/token' },
      {},
      /--consul-token-file: cannot read '\/nonexistent\/token'/,
    ],
    [
      'a CA file without a certificate',
      { caFile: file('bad.pem', 'hello') },
      {},
      /--consul-ca-file: '.*bad.pem' holds no PEM/,
    ],
    ['a bad env address', {}, { CONSUL_HTTP_ADDR: 'http://[oops' }, /CONSUL_HTTP_ADDR: 'http:\/\/\[oops'/],
    ['an address with a path', { address: 'http://consul:8500/v1' }, {}, /--consul-address: .*path/],
    ['another scheme', { address: 'ftp://consul:21' }, {}, /must use http or https/],
  ])('rejects %s, naming the field and value', (_name, flags, env, message) => {
    expect(() => resolveConsulConnection(flags, env)).toThrow(message);
  });

  it('normalizeAddress strips a trailing slash', () => {
    expect(normalizeAddress('x', 'http://a:1/', false)).toBe('http://a:1');
  });
});
