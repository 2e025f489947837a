import type { Score } from '../../src/domain/index.js';

/**
 * A score of `total` for tests: 30 fit points (all of it below 30) explained by one line, the rest
 * engagement.
 */
export function testScore(total: number, computedAt = 0): Score {
  const fit = Math.min(30, total);
  return {
    fit,
    engagement: total - fit,
    total,
    computedAt,
    breakdown: [
      {
        ruleId: 'r',
        kind: 'fit',
        points: fit,
        reason: `Title matches (+${fit})`,
        eventIds: [],
        capped: false,
      },
    ],
  };
}
