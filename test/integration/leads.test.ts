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
  });
});
