import { describe, expect, it } from 'vitest';
import { retentionTtls } from '../../src/config/retention.js';
import { loadConfig } from '../../src/config/load.js';
import { Retention } from '../../src/config/schema/retention.js';
import { MARKER_LOOKBACK_MS } from '../../connectors/create-once.js';

const DAY = 86_400_000;
const config = loadConfig('config/default.yaml');
const withRules = (engagement: unknown[]) => ({
  ...config,
  scoring: { ...config.scoring, engagement: engagement as typeof config.scoring.engagement },
});

describe('retentionTtls (how long a lead is kept)', () => {
  it('keeps a lead for its rules’ longest decay window, within minLeadDays and timelineDays', () => {
    // The default rules count an unsubscribe for good: the whole timeline.
    expect(retentionTtls(config)).toEqual({ dedupeMs: 72 * 3_600_000, leadMs: 365 * DAY });
    expect(
      retentionTtls(withRules([{ id: 'a', event: 'x', points: 1, decay: { windowDays: 90 } }])).leadMs,
    ).toBe(90 * DAY);
    // 8 points halving every 14 days are under half a cent after 14 × log2(1600) ≈ 149 days.
    expect(
      retentionTtls(withRules([{ id: 'a', event: 'x', points: 8, decay: { halfLifeDays: 14 } }])).leadMs /
        DAY,
    ).toBeCloseTo(14 * Math.log2(1600), 3);
    expect(
      retentionTtls(withRules([{ id: 'a', event: 'x', points: 1, decay: { windowDays: 7 } }])).leadMs,
    ).toBe(30 * DAY);
  });

  it('keeps every lead at least as long as a retry looks back for its notes', () => {
    // Else a lead forgotten and seen again reuses a handoff id whose old note a retry finds.
    expect(Retention.shape.minLeadDays.unwrap().minValue! * DAY).toBeGreaterThanOrEqual(MARKER_LOOKBACK_MS);
    expect(() => Retention.parse({ minLeadDays: 29 })).toThrow();
  });
});
