import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';

/** A throwaway CA and a client certificate it signed, as PEM files in `dir`. */
export interface TestCertificates {
  caCert: string;
  caKey: string;
  clientCert: string;
  clientKey: string;
}

const openssl = (args: string[]) => execa('openssl', args, { stdin: 'ignore' });

export async function createTestCertificates(
  dir: string,
  clientName = 'probegate-test',
): Promise<TestCertificates> {
  const files: TestCertificates = {
    caCert: join(dir, 'ca.crt'),
    caKey: join(dir, 'ca.key'),
    clientCert: join(dir, 'client.crt'),
    clientKey: join(dir, 'client.key'),
  };
  await openssl([
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-days',
    '2',
    '-subj',
    '/CN=probegate-test-ca',
    '-keyout',
    files.caKey,
    '-out',
    files.caCert,
  ]);
  const csr = join(dir, 'client.csr');
  // system:masters: the API server grants it everything, as a cluster admin's kubeconfig would.
  await openssl([
    'req',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-subj',
    `/O=system:masters/CN=${clientName}`,
    '-keyout',
    files.clientKey,
    '-out',
    csr,
  ]);
  await openssl([
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    files.caCert,
    '-CAkey',
    files.caKey,
    '-CAcreateserial',
    '-days',
    '2',
    '-out',
    files.clientCert,
  ]);
  return files;
}

const b64 = (file: string) => readFileSync(file).toString('base64');

/** Writes a kubeconfig that authenticates with the client certificate. */
export function writeKubeconfig(
  file: string,
  server: string,
  certs: TestCertificates,
  serverCaFile: string | undefined,
): void {
  const cluster = serverCaFile
    ? `certificate-authority-data: ${b64(serverCaFile)}`
    : 'insecure-skip-tls-verify: true';
  writeFileSync(
    file,
    `apiVersion: v1
kind: Config
clusters:
- name: test
  cluster:
    server: ${server}
    ${cluster}
users:
- name: test
  user:
    client-certificate-data: ${b64(certs.clientCert)}
    client-key-data: ${b64(certs.clientKey)}
contexts:
- name: test
  context: {cluster: test, user: test, namespace: default}
current-context: test
`,
  );
}
