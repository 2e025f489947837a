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

  it('keeps the score index in step with the state', async () => {
    const other = { ...lead, id: '2' };
    await store.put(other, LeadState.parse({ score: testScore(30) }));
    expect(await store.countByScore(30, 30)).toBe(1);
  });
});
