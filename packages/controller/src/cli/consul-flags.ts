import type { Flags } from './options.js';

/** How every command finds Consul (Consul's own environment variables work too). */
export const CONSUL_FLAGS = {
  'consul-addr': { type: 'string', env: 'CONSUL_HTTP_ADDR', help: 'Consul agent HTTP address' },
  'consul-token-file': {
    type: 'string',
    env: 'CONSUL_HTTP_TOKEN_FILE',
    help: 'file holding the Consul ACL token (or CONSUL_HTTP_TOKEN)',
  },
  'consul-ca-file': { type: 'string', env: 'CONSUL_CACERT', help: 'CA bundle for Consul HTTPS' },
  'consul-tls-server-name': {
    type: 'string',
    env: 'CONSUL_TLS_SERVER_NAME',
    help: 'TLS server name of the Consul agent',
  },
} as const satisfies Flags;

export const consulFlagValues = (values: {
  'consul-addr'?: string | undefined;
  'consul-token-file'?: string | undefined;
  'consul-ca-file'?: string | undefined;
  'consul-tls-server-name'?: string | undefined;
}) => ({
  ...(values['consul-addr'] ? { address: values['consul-addr'] } : {}),
  ...(values['consul-token-file'] ? { tokenFile: values['consul-token-file'] } : {}),
  ...(values['consul-ca-file'] ? { caFile: values['consul-ca-file'] } : {}),
  ...(values['consul-tls-server-name'] ? { serverName: values['consul-tls-server-name'] } : {}),
});
