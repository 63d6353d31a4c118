/** Why a call to the arbiter backend failed; each kind has its own metric label. */
export type ArbiterErrorKind =
  | 'unreachable'
  | 'tls'
  | 'timeout'
  | 'acl-denied'
  | 'server-error'
  | 'rejected'
  | 'malformed-response'
  | 'cancelled';

export class ArbiterError extends Error {
  constructor(
    readonly kind: ArbiterErrorKind,
    readonly operation: string,
    detail: string,
    readonly statusCode?: number,
  ) {
    super(`consul ${operation}: ${describe(kind)}${statusCode ? ` (HTTP ${statusCode})` : ''}: ${detail}`);
    this.name = 'ArbiterError';
  }
}

function describe(kind: ArbiterErrorKind): string {
  switch (kind) {
    case 'unreachable':
      return 'Consul agent unreachable';
    case 'tls':
      return 'TLS verification failed (check the CA file and TLS server name)';
    case 'timeout':
      return 'request timed out';
    case 'acl-denied':
      return 'ACL denied (check the token and its policy)';
    case 'server-error':
      return 'Consul answered with a server error';
    case 'rejected':
      return 'Consul rejected the request';
    case 'malformed-response':
      return 'malformed response';
    case 'cancelled':
      return 'cancelled';
  }
}

const networkCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'ECONNABORTED',
]);

const tlsCodes = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|ERR_SSL|EPROTO/;

interface HttpishError {
  message?: string;
  code?: string;
  isTimeout?: boolean;
  isAbort?: boolean;
  isCodec?: boolean;
  response?: { statusCode?: number; body?: unknown };
  cause?: unknown;
}

/** Maps whatever the HTTP client threw onto one ArbiterError kind. */
export function classifyError(operation: string, error: unknown): ArbiterError {
  if (error instanceof ArbiterError) return error;
  const e = (error ?? {}) as HttpishError;
  const message = typeof e.message === 'string' ? e.message : String(error);
  const status = e.response?.statusCode;
  if (e.isAbort) return new ArbiterError('cancelled', operation, message);
  if (e.isTimeout || e.code === 'ETIMEDOUT' || e.code === 'ESOCKETTIMEDOUT') {
    return new ArbiterError('timeout', operation, message);
  }
  if (e.isCodec || /decode .* failed/.test(message)) {
    return new ArbiterError('malformed-response', operation, message, status);
  }
  if (typeof status === 'number') {
    const body = typeof e.response?.body === 'string' ? e.response.body.trim().slice(0, 200) : message;
    if (status === 403 || status === 401) return new ArbiterError('acl-denied', operation, body, status);
    if (status >= 500) return new ArbiterError('server-error', operation, body, status);
    return new ArbiterError('rejected', operation, body, status);
  }
  const code = e.code ?? (e.cause as HttpishError | undefined)?.code;
  if (code && tlsCodes.test(code)) return new ArbiterError('tls', operation, `${code}: ${message}`);
  if (code && networkCodes.has(code))
    return new ArbiterError('unreachable', operation, `${code}: ${message}`);
  if (/socket hang up/.test(message)) return new ArbiterError('unreachable', operation, message);
  return new ArbiterError('unreachable', operation, message);
}
