export * from './arbiter.js';
export * from './consul-arbiter.js';
export * from './consul-config.js';
export * from './errors.js';
export * from './in-memory-arbiter.js';
export * from './lock-record.js';
export * from './metrics.js';
export type * from './types.js';
