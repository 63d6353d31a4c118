import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { promArbiterMetrics } from '../../../src/arbiter/metrics.js';

describe('promArbiterMetrics', () => {
  it('records requests, errors, latency and reachability on the given registry only', async () => {
    const registry = new Registry();
    const metrics = promArbiterMetrics(registry);
    metrics.request('health.service', 'ok', 0.002);
    metrics.request('kv.get', 'error', 0.5);
    metrics.error('kv.get', 'acl-denied');
    metrics.reachable(false);
    const text = await registry.metrics();
    expect(text).toContain('probegate_arbiter_requests_total{operation="health.service",outcome="ok"} 1');
    expect(text).toContain('probegate_arbiter_errors_total{operation="kv.get",kind="acl-denied"} 1');
    expect(text).toContain('probegate_arbiter_request_duration_seconds_count{operation="kv.get"} 1');
    expect(text).toContain('probegate_arbiter_reachable 0');
    // Two registries do not clash (nothing global).
    expect(() => promArbiterMetrics(new Registry())).not.toThrow();
  });
});
