import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processScore } from '../../jobs/score.js';
import { Scoring } from '../../src/config/schema.js';
import type { EngagementEvent } from '../../src/domain/index.js';
import { computeScore } from '../../src/scoring/index.js';
import { FakeConnector } from '../helpers/fake-connector.js';
import { startPipeline, testConfig, type Pipeline } from '../helpers/pipeline.js';
import { cleanPrefix, testRedis, uniquePrefix } from '../helpers/redis.js';

const NOW = Date.UTC(2026, 10, 2, 12);
const lead = { crm: 'hubspot' as const, objectType: 'contact' as const, id: '77' };

// Small points and no caps, so all 20,000 page views show in the score; a hand-raise never comes.
const SCORING = Scoring.parse({
  caps: { fit: 50, engagement: 100 },
  fit: [],
  engagement: [
    { id: 'page-view', event: 'page_view', points: 0.001, decay: { halfLifeDays: 7 } },
    {
      id: 'pricing',
      event: 'page_view',
      where: { url: { contains: '/pricing' } },
      points: 0.004,
      decay: { halfLifeDays: 14 },
    },
  ],
});

describe('a lead with 20,000 events (timeline cap)', () => {
  const prefix = uniquePrefix('timeline-cap');
  let redis: Redis;
  let pipeline: Pipeline;

  beforeAll(async () => {
    redis = testRedis();
    pipeline = await startPipeline({
      redis,
      config: testConfig(prefix, (c) => ({ ...c, scoring: SCORING, thresholds: { mql: 95, sql: 99 } })),
      connector: new FakeConnector(),
      now: () => NOW,
      workers: false,
    });
  }, 30_000);
  afterAll(async () => {
    await pipeline.close();
    await cleanPrefix(redis, prefix);
    redis.disconnect();
  });

  it('keeps its timeline at the cap, folds the rest, and scores as the full history does', async () => {
    const { ctx } = pipeline;
    const all: EngagementEvent[] = Array.from({ length: 20_000 }, (_, i) => ({
      id: `pv:${i}`,
      lead,
      type: 'page_view',
      occurredAt: NOW - (20_000 - i) * 240_000,
      source: 'test',
      properties: { url: i % 4 === 0 ? 'https://x.example/pricing' : 'https://x.example/docs' },
    }));
    let total = 0;
    for (let i = 0; i < all.length; i += 1_000) {
      const batch = all.slice(i, i + 1_000);
      await Promise.all(batch.map((e) => ctx.timeline.recordEvent(e, e.occurredAt)));
      ({ total } = await processScore(ctx, { lead }));
      expect((await ctx.timeline.events(lead, 0)).length).toBeLessThanOrEqual(
        ctx.config.retention.timelineEvents,
      );
    }
    // ~56 days of page views: one bucket per rule and day.
    expect(await redis.hlen(ctx.keys.history(lead))).toBeLessThanOrEqual(2 * 57);
    const full = computeScore({}, all, SCORING, NOW);
    expect(full.engagement).toBeGreaterThan(10);
    const stored = (await ctx.leads.get(lead)).score!;
    expect(Math.abs(stored.engagement - full.engagement)).toBeLessThanOrEqual(0.01);
    expect(total).toBe(full.total);
  }, 120_000);
});
