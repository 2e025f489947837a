export { computeScore, foldHistory } from './engine.js';
export { matches } from './match.js';
