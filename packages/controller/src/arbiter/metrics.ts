import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { ArbiterErrorKind } from './errors.js';

export type RequestOutcome = 'ok' | 'error' | 'cancelled';

/** Where the arbiter reports what it does; the controller decides which registry backs it. */
export interface ArbiterMetrics {
  request(operation: string, outcome: RequestOutcome, seconds: number): void;
  error(operation: string, kind: ArbiterErrorKind): void;
  reachable(value: boolean): void;
}

export const noopArbiterMetrics: ArbiterMetrics = {
  request() {},
  error() {},
  reachable() {},
};

/** prom-client implementation, registered on the given registry only (no global state). */
export function promArbiterMetrics(registry: Registry): ArbiterMetrics {
  const requests = new Counter({
    name: 'probegate_arbiter_requests_total',
    help: 'Calls to the Consul arbiter by operation and outcome',
    labelNames: ['operation', 'outcome'],
    registers: [registry],
  });
  const errors = new Counter({
    name: 'probegate_arbiter_errors_total',
    help: 'Failed Consul arbiter calls by operation and error kind',
    labelNames: ['operation', 'kind'],
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'probegate_arbiter_request_duration_seconds',
    help: 'Duration of Consul arbiter calls (blocking queries include their wait)',
    labelNames: ['operation'],
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120],
    registers: [registry],
  });
  const reachable = new Gauge({
    name: 'probegate_arbiter_reachable',
    help: '1 when the Consul arbiter answers, 0 after failed calls',
    registers: [registry],
  });
  return {
    request(operation, outcome, seconds) {
      requests.inc({ operation, outcome });
      if (outcome !== 'cancelled') latency.observe({ operation }, seconds);
    },
    error(operation, kind) {
      errors.inc({ operation, kind });
    },
    reachable(value) {
      reachable.set(value ? 1 : 0);
    },
  };
}
