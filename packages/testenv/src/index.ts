export * from './components.js';
export * from './daemon.js';
export * from './ports.js';
export * from './wait.js';
