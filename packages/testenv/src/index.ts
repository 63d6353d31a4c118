export * from './certificates.js';
export * from './components.js';
export * from './consul.js';
export * from './daemon.js';
export * from './kube-api.js';
export * from './netns.js';
export * from './ports.js';
export * from './wait.js';
