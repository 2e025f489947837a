export { computeScore, foldHistory, IncrementalScore } from './engine.js';
export { matches } from './match.js';
