import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keys } from '../../src/store/keys.js';
import { CrmLinks } from '../../src/store/links.js';
import { cleanPrefix, testRedis, uniquePrefix } from '../helpers/redis.js';

describe('CrmLinks (the same person in both CRMs)', () => {
  const prefix = uniquePrefix('links');
  const k = keys(prefix);
  const marketing = { crm: 'hubspot' as const, objectType: 'contact' as const, id: '501' };
  const sales = { crm: 'salesforce' as const, objectType: 'lead' as const, id: '00Q000000000001AAA' };
  let redis: Redis;
  let links: CrmLinks;

  beforeAll(() => {
    redis = testRedis();
    links = new CrmLinks(redis, k);
  });
  afterAll(async () => {
    await cleanPrefix(redis, prefix);
    redis.disconnect();
  });

  it('links both ways, and knows nothing of records never matched', async () => {
    expect(await links.salesRecordOf(marketing)).toBeNull();
    await links.link(marketing, sales);
    expect(await links.salesRecordOf(marketing)).toEqual(sales);
    expect(await links.marketingLeadOf(sales)).toEqual(marketing);
    expect(await links.marketingLeadOf({ ...sales, id: '00Q000000000002AAA' })).toBeNull();
  });

  it('reads a damaged entry (not JSON, or not a lead) as no link rather than failing the job', async () => {
    await redis.hset(
      k.crmLinks,
      'to:hubspot.contact.777',
      '{not json',
      'from:salesforce.lead.X',
      '{"crm":"sap"}',
    );
    expect(await links.salesRecordOf({ ...marketing, id: '777' })).toBeNull();
    expect(await links.marketingLeadOf({ ...sales, id: 'X' })).toBeNull();
  });
});
