export { computeScore, IncrementalScore } from './engine.js';
export { matches } from './match.js';
