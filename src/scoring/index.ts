export { computeScore } from './engine.js';
export { matches } from './match.js';
