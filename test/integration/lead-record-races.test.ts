import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EngagementEvent, LeadRef } from '../../src/domain/index.js';
import { keys } from '../../src/store/keys.js';
import { LeadStore, StaleLeadStateError } from '../../src/store/leads.js';
import { TimelineStore } from '../../src/store/timeline.js';
import { cleanPrefix, testRedis, uniquePrefix } from '../helpers/redis.js';

const NOW = Date.UTC(2026, 10, 2, 12);
const DAY = 86_400_000;

/**
 * Writes racing on one lead's key, as the score job makes them: it reads the key once
 * (TimelineStore.read) and its put writes over that read. Another job may append or rewrite the
 * key in between; the write script's generation and length check, and the tail it keeps, decide.
 */
describe('a lead record rewritten while others write it', () => {
  const prefix = uniquePrefix('lead-record-races');
  const k = keys(prefix);
  let redis: Redis;
  let timeline: TimelineStore;
  let leads: LeadStore;

  beforeAll(() => {
    redis = testRedis();
    timeline = new TimelineStore(redis, k, { dedupeMs: 60_000, leadMs: 30 * DAY });
    leads = new LeadStore(redis, k, 30 * DAY);
  });
  afterAll(async () => {
    await cleanPrefix(redis, prefix);
    redis.disconnect();
  });

  const event = (lead: LeadRef, n: number): EngagementEvent => ({
    id: `hubspot:${lead.id}-${n}`,
    lead,
    type: 'page_view',
    occurredAt: NOW - n * DAY,
    source: 'hubspot',
    properties: { url: `https://x.example/${n}` },
  });
  const ids = async (lead: LeadRef) => (await timeline.events(lead, 0)).map((x) => x.e.id).sort();

  it('keeps an event appended between the read and the write', async () => {
    const lead = { crm: 'hubspot' as const, objectType: 'contact' as const, id: '1' };
    await timeline.recordEvent(event(lead, 1), NOW);
    await leads.put(lead, await leads.get(lead));
    const { held } = await timeline.read(lead, 0);
    await timeline.recordEvent(event(lead, 2), NOW);
    await leads.put(lead, { ...leads.stateOf(lead, held), stage: 'mql' }, held);
    expect(await ids(lead)).toEqual([event(lead, 1).id, event(lead, 2).id]);
    expect(await leads.get(lead)).toMatchObject({ stage: 'mql', version: 2 });
  });

  it('keeps an event appended and packed by another rewrite between the read and the write', async () => {
    const lead = { crm: 'hubspot' as const, objectType: 'contact' as const, id: '2' };
    await timeline.recordEvent(event(lead, 1), NOW);
    await leads.put(lead, await leads.get(lead));
    const { held } = await timeline.read(lead, 0);
    // Another job's event, then its rewrite (a trim that drops nothing) packs it into the block.
    await timeline.recordEvent(event(lead, 2), NOW);
    await timeline.trim(lead, 0);
    await leads.put(lead, { ...leads.stateOf(lead, held), stage: 'mql' }, held);
    expect(await ids(lead)).toEqual([event(lead, 1).id, event(lead, 2).id]);
    expect(await leads.get(lead)).toMatchObject({ stage: 'mql', version: 2 });
  });

  it('refuses the second of two rewrites from one read, losing nothing of the first', async () => {
    const lead = { crm: 'hubspot' as const, objectType: 'contact' as const, id: '3' };
    await timeline.recordEvent(event(lead, 1), NOW);
    await leads.put(lead, await leads.get(lead));
    const [first, second] = [await timeline.read(lead, 0), await timeline.read(lead, 0)];
    await timeline.recordEvent(event(lead, 2), NOW);
    await leads.put(lead, { ...leads.stateOf(lead, first.held), stage: 'mql' }, first.held);
    await timeline.recordEvent(event(lead, 3), NOW);
    await expect(
      leads.put(lead, { ...leads.stateOf(lead, second.held), status: 'recycled' }, second.held),
    ).rejects.toBeInstanceOf(StaleLeadStateError);
    expect(await leads.get(lead)).toMatchObject({ stage: 'mql', status: 'open', version: 2 });
    expect(await ids(lead)).toEqual([1, 2, 3].map((n) => event(lead, n).id));
  });
});
