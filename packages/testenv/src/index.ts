export * from './components.js';
