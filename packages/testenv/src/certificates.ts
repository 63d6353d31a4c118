import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';

/** A PEM certificate and its private key, as files. */
export interface CertificateFiles {
  cert: string;
  key: string;
}

/** A throwaway CA and a client certificate it signed, as PEM files in `dir`. */
export interface TestCertificates {
  caCert: string;
  caKey: string;
  clientCert: string;
  clientKey: string;
}

export interface CertificateRequest {
  /** File stem in the folder: <name>.crt and <name>.key. */
  name: string;
  /** Subject, e.g. "/CN=server.dc1.consul". */
  subject: string;
  /** subjectAltName DNS names (a server certificate verifies against these). */
  dnsNames?: readonly string[];
  /** subjectAltName IP addresses. */
  ipAddresses?: readonly string[];
}

const openssl = (args: string[]) => execa('openssl', args, { stdin: 'ignore' });
const newEcKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** A self-signed CA valid for two days: <dir>/ca.crt and <dir>/ca.key. */
export async function createTestCa(dir: string, commonName = 'probegate-test-ca'): Promise<CertificateFiles> {
  const ca = { cert: join(dir, 'ca.crt'), key: join(dir, 'ca.key') };
  await openssl([
    'req',
    '-x509',
    ...newEcKey,
    '-days',
    '2',
    '-subj',
    `/CN=${commonName}`,
    '-keyout',
    ca.key,
    '-out',
    ca.cert,
  ]);
  return ca;
}

/** A certificate signed by `ca`, valid for two days, with the subject and alternative names asked for. */
export async function issueCertificate(
  ca: CertificateFiles,
  dir: string,
  request: CertificateRequest,
): Promise<CertificateFiles> {
  if (!/^[a-z0-9][a-z0-9-]*$/.test(request.name)) {
    throw new Error(
      `invalid certificate name: ${JSON.stringify(request.name)}: expected [a-z0-9-] (a file stem)`,
    );
  }
  const issued = { cert: join(dir, `${request.name}.crt`), key: join(dir, `${request.name}.key`) };
  const csr = join(dir, `${request.name}.csr`);
  await openssl(['req', ...newEcKey, '-subj', request.subject, '-keyout', issued.key, '-out', csr]);
  const altNames = [
    ...(request.dnsNames ?? []).map((name) => `DNS:${name}`),
    ...(request.ipAddresses ?? []).map((address) => `IP:${address}`),
  ];
  const extensions = join(dir, `${request.name}.ext`);
  if (altNames.length > 0) writeFileSync(extensions, `subjectAltName=${altNames.join(',')}\n`);
  await openssl([
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    ca.cert,
    '-CAkey',
    ca.key,
    '-CAcreateserial',
    '-days',
    '2',
    ...(altNames.length > 0 ? ['-extfile', extensions] : []),
    '-out',
    issued.cert,
  ]);
  return issued;
}

export async function createTestCertificates(
  dir: string,
  clientName = 'probegate-test',
): Promise<TestCertificates> {
  const ca = await createTestCa(dir);
  // system:masters: the API server grants it everything, as a cluster admin's kubeconfig would.
  const client = await issueCertificate(ca, dir, {
    name: 'client',
    subject: `/O=system:masters/CN=${clientName}`,
  });
  return { caCert: ca.cert, caKey: ca.key, clientCert: client.cert, clientKey: client.key };
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
