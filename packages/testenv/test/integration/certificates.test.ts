import { X509Certificate } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { createTestCa, createTestCertificates, issueCertificate, scratchDir } from '../../src/index.js';

const dir = scratchDir('certs-test');
afterAll(() => rmSync(dir, { recursive: true, force: true }));
// One folder per CA: each writes ca.crt and ca.key.
const folder = (name: string) => {
  const path = join(dir, name);
  mkdirSync(path);
  return path;
};

const certificate = (file: string) => new X509Certificate(readFileSync(file));
const verifies = async (caFile: string, certFile: string) =>
  (await execa('openssl', ['verify', '-CAfile', caFile, certFile], { reject: false })).exitCode === 0;

describe('throwaway certificates (real openssl)', () => {
  it('issues a server certificate with the DNS and IP alternative names asked for, signed by the CA', async () => {
    const ca = await createTestCa(folder('server'), 'widget-ca');
    const server = await issueCertificate(ca, dir, {
      name: 'server',
      subject: '/CN=server.dc1.consul',
      dnsNames: ['server.dc1.consul', 'localhost'],
      ipAddresses: ['127.0.0.1'],
    });
    const cert = certificate(server.cert);
    expect(cert.subject).toBe('CN=server.dc1.consul');
    expect(cert.issuer).toBe('CN=widget-ca');
    expect(cert.checkHost('server.dc1.consul')).toBe('server.dc1.consul');
    expect(cert.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(cert.checkHost('other.consul')).toBeUndefined();
    expect(await verifies(ca.cert, server.cert)).toBe(true);
  });

  it('issues a client certificate for the API server (system:masters) with the same CA', async () => {
    const certs = await createTestCertificates(folder('client'), 'alice');
    expect(certificate(certs.clientCert).subject).toBe('O=system:masters\nCN=alice');
    expect(certificate(certs.clientCert).subjectAltName).toBeUndefined();
    expect(await verifies(certs.caCert, certs.clientCert)).toBe(true);
  });

  it('refuses a certificate name that is not a plain file stem', async () => {
    const ca = await createTestCa(folder('bad'));
    await expect(issueCertificate(ca, dir, { name: '../evil', subject: '/CN=x' })).rejects.toThrow(
      /invalid certificate name: "..\/evil"/,
    );
  });
});
