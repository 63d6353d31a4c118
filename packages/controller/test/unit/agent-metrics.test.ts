import { describe, expect, it } from 'vitest';
import { AgentMetrics, EVENT_LOOP_SAMPLE_MS } from '../../src/observability/metrics.js';

describe('AgentMetrics default metrics', () => {
  it('still serves the event loop lag, sampled 10 times a second instead of 100', async () => {
    expect(EVENT_LOOP_SAMPLE_MS).toBe(100);
    const metrics = new AgentMetrics();
    await new Promise((resolve) => setTimeout(resolve, 3 * EVENT_LOOP_SAMPLE_MS));
    const text = await metrics.registry.metrics();
    for (const name of ['nodejs_eventloop_lag_p99_seconds', 'nodejs_eventloop_lag_mean_seconds'])
      expect(text).toMatch(new RegExp(`^${name} [0-9.e-]+$`, 'm'));
  });
});
