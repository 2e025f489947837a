import type { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { keys } from '../../src/store/keys.js';
import { AccountIndex } from '../../src/store/accounts.js';
import { cleanPrefix, testRedis, uniquePrefix } from '../helpers/redis.js';

describe('AccountIndex: the leads we know per company domain, bounded', () => {
  let redis: Redis;
  let prefix: string;
  beforeEach(() => {
    redis = testRedis();
    prefix = uniquePrefix('accounts');
  });
  afterEach(async () => {
    await cleanPrefix(redis, prefix);
    redis.disconnect();
  });

  it('keeps the 20 most recently seen per domain, newest first, without the lead asking, and expires', async () => {
    const k = keys(prefix);
    const index = new AccountIndex(redis, k, 60_000);
    const lead = (id: number) => ({
      crm: 'hubspot' as const,
      objectType: 'contact' as const,
      id: String(id),
    });
    for (let i = 1; i <= 25; i++) await index.remember('initech.com', lead(i), 1_000 + i);
    await index.remember('initech.com', lead(3), 5_000); // seen again: newest
    const { leads, total } = await index.others('initech.com', lead(25), 5);
    expect(leads.map((l) => l.id)).toEqual(['3', '24', '23', '22', '21']);
    expect(total).toBe(19);
    expect(await redis.zcard(k.account('initech.com'))).toBe(20);
    const ttl = await redis.pttl(k.account('initech.com'));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(60_000);
    expect(await index.others('other.com', lead(1), 5)).toEqual({ leads: [], total: 0 });
  });
});
