import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EngagementEvent } from '../../src/domain/index.js';
import { keys } from '../../src/store/keys.js';
import { TimelineStore } from '../../src/store/timeline.js';
import { cleanPrefix, testRedis, uniquePrefix } from '../helpers/redis.js';

const DAY = 86_400_000;
const NOW = Date.UTC(2026, 10, 2, 12);

function event(leadId: string, n: number, properties: EngagementEvent['properties'] = {}): EngagementEvent {
  return {
    id: `hubspot:${leadId}:${n}`,
    lead: { crm: 'hubspot', objectType: 'contact', id: leadId },
    type: 'page_view',
    occurredAt: NOW - n * DAY,
    source: 'hubspot',
    properties,
  };
}

describe('TimelineStore (compact lines, expiry, old format)', () => {
  const prefix = uniquePrefix('timeline-store');
  const k = keys(prefix);
  const ttl = { dedupeMs: 60_000, leadMs: 30 * DAY };
  let redis: Redis;
  let store: TimelineStore;

  beforeAll(() => {
    redis = testRedis();
    store = new TimelineStore(redis, k, ttl);
  });
  afterAll(async () => {
    await cleanPrefix(redis, prefix);
    redis.disconnect();
  });

  it('keeps one line per event without the lead, expiring after the lead retention', async () => {
    const e = event('1', 2, { url: 'https://x.example/pricing' });
    expect(await store.recordEvent(e, NOW)).toBe(true);
    expect(await store.recordEvent(e, NOW)).toBe(false);
    expect(await store.recordEvent(event('1', 1), NOW + 1)).toBe(true);
    const raw = (await redis.get(k.timeline(e.lead)))!;
    expect(raw.split('\n').filter(Boolean)).toHaveLength(2);
    expect(raw).not.toContain('objectType');
    expect(await redis.pttl(k.timeline(e.lead))).toBeGreaterThan(ttl.leadMs - 60_000);
    expect(await store.events(e.lead, 0)).toEqual([
      { e, r: NOW },
      { e: event('1', 1), r: NOW + 1 },
    ]);
    await store.trim(e.lead, NOW - 1.5 * DAY);
    expect((await store.events(e.lead, 0)).map((x) => x.e.id)).toEqual(['hubspot:1:1']);
    expect(await redis.pttl(k.timeline(e.lead))).toBeGreaterThan(ttl.leadMs - 60_000);
  });

  it('reads, appends to and trims a timeline written in the old format (a sorted set of JSON entries)', async () => {
    const old = [event('2', 3, { url: 'https://x.example/a' }), event('2', 2)];
    const lead = old[0]!.lead;
    await redis.zadd(
      k.timeline(lead),
      ...old.flatMap((e, i) => [e.occurredAt, JSON.stringify({ e, r: NOW + i })]),
    );
    expect(await store.events(lead, 0)).toEqual(old.map((e, i) => ({ e, r: NOW + i })));
    expect(await redis.type(k.timeline(lead))).toBe('string');

    const other = [event('3', 4), event('3', 3)];
    await redis.zadd(
      k.timeline(other[0]!.lead),
      other[0]!.occurredAt,
      JSON.stringify({ e: other[0], r: NOW }),
    );
    expect(await store.recordEvent(other[1]!, NOW)).toBe(true);
    expect((await store.events(other[0]!.lead, 0)).map((x) => x.e.id)).toEqual([
      'hubspot:3:4',
      'hubspot:3:3',
    ]);

    const third = event('4', 5);
    await redis.zadd(k.timeline(third.lead), third.occurredAt, JSON.stringify({ e: third, r: NOW }));
    await store.trim(third.lead, NOW - DAY);
    expect(await store.events(third.lead, 0)).toEqual([]);
  });
});
