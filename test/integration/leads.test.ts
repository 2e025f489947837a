import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keys } from '../../src/store/keys.js';
import { LeadState } from '../../src/domain/index.js';
import { LeadStore, StaleLeadStateError } from '../../src/store/leads.js';
import { testScore } from '../helpers/score.js';
import { cleanPrefix, testRedis, uniquePrefix } from '../helpers/redis.js';

describe('LeadStore (versioned lead state)', () => {
  const prefix = uniquePrefix('leads');
  const lead = { crm: 'hubspot' as const, objectType: 'contact' as const, id: '1' };
  let redis: Redis;
  let store: LeadStore;

  beforeAll(() => {
    redis = testRedis();
    store = new LeadStore(redis, keys(prefix));
  });
  afterAll(async () => {
    await cleanPrefix(redis, prefix);
    redis.disconnect();
  });

  it('refuses a write based on a state someone else has since changed', async () => {
    const read = await store.get(lead);
    const rescored = await store.put(lead, { ...read, stage: 'mql' });
    expect(rescored.version).toBe(1);
    // A disposition that read the same version loses: it must read again, not overwrite the rescore.
    await expect(store.put(lead, { ...read, status: 'recycled' })).rejects.toBeInstanceOf(
      StaleLeadStateError,
    );
    expect(await store.get(lead)).toMatchObject({ stage: 'mql', status: 'open', version: 1 });
    await store.put(lead, { ...(await store.get(lead)), status: 'recycled' });
    expect(await store.get(lead)).toMatchObject({ stage: 'mql', status: 'recycled', version: 2 });
  });

  it('stores a state compactly, expiring, without the breakdown’s event ids', async () => {
    const expiring = new LeadStore(redis, keys(prefix), 86_400_000);
    const other = { ...lead, id: '3' };
    const score = testScore(40, 5);
    score.breakdown[0]!.eventIds = Array.from({ length: 50 }, (_, i) => `hubspot:${1_000_000 + i}`);
    const state = LeadState.parse({ stage: 'mql', handoffId: 'hf.x', handledHandRaises: ['e1'], score });
    await expiring.put(other, state);
    const raw = (await redis.get(keys(prefix).leadState(other)))!;
    expect(raw).not.toContain('hubspot:1000000');
    expect(raw.length).toBeLessThan(JSON.stringify(state).length / 3);
    expect(await redis.pttl(keys(prefix).leadState(other))).toBeGreaterThan(86_000_000);
    const read = await expiring.get(other);
    expect(read).toEqual({
      ...state,
      version: 1,
      score: { ...score, breakdown: [{ ...score.breakdown[0]!, eventIds: [] }] },
    });
  });

  it('stores the reasons and handoff id as templates of what the line already says, exactly', async () => {
    const other = { ...lead, id: '100003' };
    const line = (
      ruleId: string,
      kind: 'fit' | 'engagement',
      points: number,
      reason: string,
      capped = false,
    ) => ({
      ruleId,
      kind,
      points,
      reason,
      eventIds: [],
      capped,
    });
    const score = {
      fit: 45,
      engagement: 9.17,
      total: 54,
      computedAt: 1793620800000,
      breakdown: [
        line(
          'title-decision-maker',
          'fit',
          20,
          'Job title "VP Marketing" matches title-decision-maker (+20)',
        ),
        line(
          'company-size-mid-market',
          'fit',
          10,
          'Company size "100-500" matches company-size-mid-market (+10)',
        ),
        line('industry-target', 'fit', 10, 'Industry "COMPUTER_SOFTWARE" matches industry-target (+10)'),
        line(
          'pricing-page',
          'engagement',
          6.25,
          '1× page_view (url contains "/pricing") in the last 6 days: +6.25',
        ),
        line('country-served', 'fit', 5, 'Country "Canada" matches country-served (+5)'),
        line('email-open', 'engagement', 2, '2× email_open in the last 21 days: +2', true),
        line('page-view', 'engagement', 0.92, '3× page_view in the last 26 days: +0.92'),
        line('r', 'fit', -3, '~r ~~ r r -3 +-3 ~ ~p matches'),
        line('', 'engagement', 0, ''),
      ],
    };
    const state = LeadState.parse({ stage: 'mql', handoffId: 'hf.hubspot.contact.100003.0.mql', score });
    await store.put(other, state);
    // 733 bytes in the format before templates.
    expect(await redis.strlen(keys(prefix).leadState(other))).toBeLessThanOrEqual(560);
    expect(await store.get(other)).toEqual({ ...state, version: 1 });
  });

  it('reads a state written as a JSON array before templates', async () => {
    const old = { ...lead, id: '5' };
    const before = [
      3,
      'mql',
      'open',
      0,
      1,
      [],
      'hf.x',
      0,
      0,
      [31, 0, 31, 0, [['r', 0, 31, 'Title (+31)', 1]]],
    ];
    await redis.set(keys(prefix).leadState(old), JSON.stringify(before));
    const read = await store.get(old);
    expect(read).toMatchObject({ version: 3, stage: 'mql', handoffId: 'hf.x', armed: true });
    expect(read.score?.breakdown).toEqual([
      { ruleId: 'r', kind: 'fit', points: 31, reason: 'Title (+31)', eventIds: [], capped: true },
    ]);
    await store.put(old, read);
    expect(await store.get(old)).toEqual({ ...read, version: 4 });
  });

  it('reads a state written as a JSON object (the old format) and writes over it', async () => {
    const old = { ...lead, id: '4' };
    const state = LeadState.parse({ stage: 'sql', cycle: 2, version: 7, score: testScore(70) });
    await redis.set(keys(prefix).leadState(old), JSON.stringify(state));
    const read = await store.get(old);
    expect(read).toEqual(state);
    await store.put(old, { ...read, status: 'recycled' });
    expect(await store.get(old)).toMatchObject({ stage: 'sql', cycle: 2, status: 'recycled', version: 8 });
  });

  it('keeps the score index in step with the state', async () => {
    const other = { ...lead, id: '2' };
    await store.put(other, LeadState.parse({ score: testScore(30) }));
    expect(await store.countByScore(30, 30)).toBe(1);
    await store.put(other, { ...(await store.get(other)), score: testScore(35) });
    expect([await store.countByScore(30, 30), await store.countByScore(35, 35)]).toEqual([0, 1]);
    await store.forget(other);
    expect(await store.countByScore(35, 35)).toBe(0);
  });

  it('counts leads per score (101 counters), moving a lead of the old sorted set into them', async () => {
    const k = keys(uniquePrefix('lead-counts'));
    const counted = new LeadStore(redis, k);
    const many = Array.from({ length: 300 }, (_, i) => ({ ...lead, id: String(1_000 + i) }));
    for (const [i, l] of many.entries()) await counted.put(l, LeadState.parse({ score: testScore(i % 101) }));
    // One sorted-set member per lead before: ~130 bytes each.
    expect(await redis.hlen(k.scoreCounts)).toBe(101);
    expect(await redis.exists(k.scores)).toBe(0);
    expect(await counted.countByScore(0, 9)).toBe(30);
    // A lead scored before the counts: in the old index with its state, until its next write.
    const old = { ...lead, id: '9' };
    await redis.set(k.leadState(old), JSON.stringify(LeadState.parse({ version: 2, score: testScore(5) })));
    await redis.zadd(k.scores, 5, 'hubspot.contact.9');
    expect(await counted.countByScore(5, 5)).toBe(4);
    await counted.put(old, { ...(await counted.get(old)), score: testScore(6) });
    expect([await counted.countByScore(5, 5), await counted.countByScore(6, 6)]).toEqual([3, 4]);
    expect(await redis.exists(k.scores)).toBe(0);
    await counted.forget(many[0]!);
    expect(await counted.countByScore(0, 0)).toBe(2);
    await cleanPrefix(redis, k.prefix);
  });
});
