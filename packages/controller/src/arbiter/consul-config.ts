import { readFileSync } from 'node:fs';

/** How to reach the Consul agent: resolved from flags first, then Consul's usual environment variables. */
export interface ConsulConnection {
  /** Base URL, e.g. http://127.0.0.1:8500 or https://consul.local:8501. */
  address: string;
  token?: string;
  /** PEM bundle of the CA that signed the agent's HTTPS certificate. */
  caPem?: string;
  /** TLS server name to verify instead of the address's host. */
  serverName?: string;
}

export interface ConsulConnectionFlags {
  address?: string;
  token?: string;
  tokenFile?: string;
  caFile?: string;
  serverName?: string;
}

const readFile = (field: string, file: string, trim: boolean): string => {
  try {
    const text = readFileSync(file, 'utf8');
    return trim ? text.trim() : text;
  } catch (error) {
    throw new Error(`${field}: cannot read '${file}': ${(error as Error).message}`);
  }
};

/** Accepts host:port (Consul's own convention) as well as a full http(s) URL. */
export function normalizeAddress(field: string, raw: string, https: boolean): string {
  const withScheme = /^[a-z]+:\/\//i.test(raw) ? raw : `${https ? 'https' : 'http'}://${raw}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new Error(`${field}: '${raw}' is not an address (expected host:port or http(s)://host:port)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Error(`${field}: '${raw}' must use http or https, not ${url.protocol}`);
  }
  if (url.pathname !== '/' || url.search) {
    throw new Error(`${field}: '${raw}' must not have a path or query`);
  }
  return `${url.protocol}//${url.host}`;
}

export function resolveConsulConnection(
  flags: ConsulConnectionFlags = {},
  env: Record<string, string | undefined> = process.env,
): ConsulConnection {
  const https = env.CONSUL_HTTP_SSL === 'true' || env.CONSUL_HTTP_SSL === '1';
  const address = flags.address
    ? normalizeAddress('--consul-address', flags.address, https)
    : env.CONSUL_HTTP_ADDR
      ? normalizeAddress('CONSUL_HTTP_ADDR', env.CONSUL_HTTP_ADDR, https)
      : `${https ? 'https' : 'http'}://127.0.0.1:8500`;
  const token =
    flags.token ??
    (flags.tokenFile ? readFile('--consul-token-file', flags.tokenFile, true) : undefined) ??
    env.CONSUL_HTTP_TOKEN ??
    (env.CONSUL_HTTP_TOKEN_FILE
      ? readFile('CONSUL_HTTP_TOKEN_FILE', env.CONSUL_HTTP_TOKEN_FILE, true)
      : undefined);
  const caFile = flags.caFile ?? env.CONSUL_CACERT;
  const caPem = caFile
    ? readFile(flags.caFile ? '--consul-ca-file' : 'CONSUL_CACERT', caFile, false)
    : undefined;
  if (caPem !== undefined && !caPem.includes('BEGIN CERTIFICATE')) {
    throw new Error(
      `${flags.caFile ? '--consul-ca-file' : 'CONSUL_CACERT'}: '${caFile}' holds no PEM certificate`,
    );
  }
  const serverName = flags.serverName ?? env.CONSUL_TLS_SERVER_NAME;
  const connection: ConsulConnection = { address };
  if (token) connection.token = token;
  if (caPem) connection.caPem = caPem;
  if (serverName) connection.serverName = serverName;
  return connection;
}
