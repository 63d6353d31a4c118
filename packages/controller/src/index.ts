export * from './arbiter/index.js';
