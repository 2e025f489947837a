import type { Score } from '../../src/domain/index.js';

/** A score for request-shape tests: 30 explained fit points, the rest engagement. */
export const shapeScore = (total: number): Score => ({
  fit: 30,
  engagement: total - 30,
  total,
  computedAt: 0,
  breakdown: [
    { ruleId: 'r', kind: 'fit', points: 30, reason: 'Title matches (+30)', eventIds: [], capped: false },
  ],
});
