import { describe, expect, it } from 'vitest';
import { ArbiterError, classifyError } from '../../../src/arbiter/errors.js';

const response = (statusCode: number, body?: string) => ({ message: 'x', response: { statusCode, body } });

describe('classifyError', () => {
  it.each([
    ['connection refused', { code: 'ECONNREFUSED', message: 'connect ECONNREFUSED' }, 'unreachable'],
    ['reset', { code: 'ECONNRESET', message: 'socket hang up' }, 'unreachable'],
    ['self-signed certificate', { code: 'SELF_SIGNED_CERT_IN_CHAIN', message: 'self-signed' }, 'tls'],
    [
      'wrong server name',
      { code: 'ERR_TLS_CERT_ALTNAME_INVALID', message: 'Hostname/IP does not match' },
      'tls',
    ],
    ['papi timeout', { isTimeout: true, message: 'request timed out (100ms)' }, 'timeout'],
    ['aborted', { isAbort: true, message: 'request aborted' }, 'cancelled'],
    [
      'bad JSON',
      { isCodec: true, message: 'decode (application/json) failed: Unexpected token' },
      'malformed-response',
    ],
    ['403', response(403, 'Permission denied'), 'acl-denied'],
    ['500', response(500, 'rpc error'), 'server-error'],
    ['503', response(503), 'server-error'],
    ['400', response(400, 'bad'), 'rejected'],
    ['something odd', new Error('weird'), 'unreachable'],
  ])('%s -> %s', (_name, raw, kind) => {
    const error = classifyError('health.service', raw);
    expect(error).toBeInstanceOf(ArbiterError);
    expect(error.kind).toBe(kind);
    expect(error.message).toContain('consul health.service');
  });

  it('says what an ACL denial means and keeps the status code', () => {
    const error = classifyError('kv.get', response(403, 'Permission denied'));
    expect(error.statusCode).toBe(403);
    expect(error.message).toMatch(/ACL denied.*HTTP 403.*Permission denied/);
  });

  it('passes an ArbiterError through', () => {
    const original = new ArbiterError('timeout', 'kv.get', 'slow');
    expect(classifyError('other', original)).toBe(original);
  });
});
