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
    // The lead's record: a header, then the two lines appended (no block yet).
    const raw = (await redis.get(k.leadState(e.lead)))!;
    expect(raw.split('\n').slice(1).filter(Boolean)).toHaveLength(2);
    expect(raw).not.toContain('objectType');
    expect(await redis.pttl(k.leadState(e.lead))).toBeGreaterThan(ttl.leadMs - 60_000);
    expect(await store.events(e.lead, 0)).toEqual([
      { e, r: NOW },
      { e: event('1', 1), r: NOW + 1 },
    ]);
    await store.trim(e.lead, NOW - 1.5 * DAY);
    expect((await store.events(e.lead, 0)).map((x) => x.e.id)).toEqual(['hubspot:1:1']);
    expect(await redis.pttl(k.leadState(e.lead))).toBeGreaterThan(ttl.leadMs - 60_000);
  });

  it('writes a line of about 60 bytes for a page view, and reads back any id, type and source', async () => {
    const lead = { crm: 'hubspot' as const, objectType: 'contact' as const, id: '100003' };
    const view: EngagementEvent = {
      id: 'hubspot:100003:0',
      lead,
      type: 'page_view',
      occurredAt: NOW - DAY,
      source: 'hubspot',
      properties: { url: 'https://acme.example/product' },
    };
    expect(await store.recordEvent(view, view.occurredAt + 2_000)).toBe(true);
    // The line of the format before: 148 bytes.
    // After the record's empty header (`\x020::0\n`, 6 bytes), the line and its newline.
    expect((await redis.strlen(k.leadState(lead))) - 6 - 1).toBeLessThanOrEqual(60);
    const odd: EngagementEvent[] = [
      { ...view, id: '[100003\t\n"x"\u0001$&', type: 'x', source: 'generic.webhook', properties: {} },
      { ...view, id: 'generic:100003:100003', type: 'custom\tkind', source: 'generic.webhook' },
      { ...view, id: 'hubspot:', type: '\u0001', occurredAt: 0, properties: { n: 1, b: true, z: null } },
    ];
    for (const e of odd) expect(await store.recordEvent(e, e.occurredAt - 5)).toBe(true);
    await store.recordEvent({ ...view, id: 'late' }, 1.5);
    expect(await store.events(lead, 0)).toEqual(
      [
        { e: odd[2]!, r: -5 },
        { e: { ...view, id: 'late' }, r: 1.5 },
        { e: odd[0]!, r: view.occurredAt - 5 },
        { e: odd[1]!, r: view.occurredAt - 5 },
        { e: view, r: view.occurredAt + 2_000 },
      ].sort((a, b) => a.e.occurredAt - b.e.occurredAt || (a.e.id < b.e.id ? -1 : 1)),
    );
  });

  it('reads, trims and folds lines written in the format before the compact one', async () => {
    const lead = { crm: 'hubspot' as const, objectType: 'contact' as const, id: '6' };
    const [older, newer] = [event('6', 3, { url: 'https://x.example/a' }), event('6', 1)];
    const line = (e: EngagementEvent) =>
      `${e.occurredAt}\t${JSON.stringify([e.id, e.type, e.source, NOW, e.properties])}\n`;
    await redis.set(k.timeline(lead), line(older) + line(newer));
    await store.recordEvent(event('6', 2), NOW);
    expect((await store.events(lead, 0)).map((x) => x.e)).toEqual([older, event('6', 2), newer]);
    await store.trim(lead, NOW - 2.5 * DAY);
    const kept = await store.events(lead, 0);
    expect(kept.map((x) => x.e.id)).toEqual(['hubspot:6:2', 'hubspot:6:1']);
    const bucket = { rule: 'r#1', day: NOW - DAY, n: 1, w: 1, lo: NOW - DAY, hi: NOW - DAY };
    expect(await store.fold(lead, [kept[1]!], [bucket])).toBe(true);
    expect((await store.events(lead, 0)).map((x) => x.e.id)).toEqual(['hubspot:6:2']);
  });

  it('expires a profile after the lead retention, from the CRM’s values or a change', async () => {
    const lead = { crm: 'hubspot' as const, objectType: 'contact' as const, id: '5' };
    await store.mergeFetchedProfile(lead, { jobTitle: 'VP Sales' }, NOW);
    expect(await redis.pttl(k.leadState(lead))).toBeGreaterThan(ttl.leadMs - 60_000);
    await redis.persist(k.leadState(lead));
    const change = {
      id: 'hubspot:p1',
      lead,
      field: 'country',
      value: 'Canada',
      occurredAt: NOW + 1,
      source: 'hubspot',
    };
    expect(await store.recordProfileChange(change)).toBe(true);
    expect(await redis.pttl(k.leadState(lead))).toBeGreaterThan(ttl.leadMs - 60_000);
    expect(await store.profile(lead)).toEqual({
      profile: { jobTitle: 'VP Sales', country: 'Canada' },
      fetched: true,
    });
  });

  it('stores a CRM read’s time once, and an older value never overwrites a newer one', async () => {
    const lead = { crm: 'hubspot' as const, objectType: 'contact' as const, id: '7' };
    const change = (field: string, value: string, at: number, n: number) =>
      store.recordProfileChange({
        id: `hubspot:p7:${n}`,
        lead,
        field,
        value,
        occurredAt: at,
        source: 'hubspot',
      });
    const fields = { email: 'a@x.example', jobTitle: 'VP Sales', country: 'Canada', city: 'Toronto' };
    await change('industry', 'SOFTWARE', NOW + 5, 1);
    await store.mergeFetchedProfile(lead, { ...fields, industry: 'RETAIL' }, NOW);
    await change('jobTitle', 'CEO', NOW - 1, 2);
    await change('country', 'France', NOW + 4, 3);
    // A later read of some fields: the others keep the first read's time.
    await store.mergeFetchedProfile(lead, { email: 'b@x.example', city: 'Ottawa' }, NOW + 10);
    await change('jobTitle', 'CTO', NOW + 2, 4);
    await change('email', 'c@x.example', NOW + 9, 5);
    await change('city', 'Montreal', NOW + 11, 6);
    // A read older than what we hold changes nothing.
    await store.mergeFetchedProfile(lead, { country: 'Peru', city: 'Lima', industry: 'X' }, NOW + 3);
    expect(await store.profile(lead)).toEqual({
      profile: {
        email: 'b@x.example',
        jobTitle: 'CTO',
        country: 'France',
        city: 'Montreal',
        industry: 'SOFTWARE',
      },
      fetched: true,
    });
  });

  it('keeps a small record at its own size after an append (no room reserved until its next rewrite)', async () => {
    const lead = { crm: 'hubspot' as const, objectType: 'contact' as const, id: '8' };
    for (let n = 1; n <= 5; n++) await store.recordEvent(event('8', n, { url: 'https://x.example/a' }), NOW);
    await store.trim(lead, 0);
    // The stage a handoff wrote, the last write of a lead handed off; then an event.
    await store.mergeFetchedProfile(lead, { lifecycleStage: 'marketingqualifiedlead' }, NOW);
    await store.recordEvent(event('8', 0), NOW);
    const key = k.leadState(lead);
    const raw = (await redis.getBuffer(key))!;
    // The same value set anew, under a key of the same length: its exact size.
    const copy = `${key.slice(0, -1)}_`;
    await redis.set(copy, raw);
    expect(await redis.memory('USAGE', key)).toBe(await redis.memory('USAGE', copy));
    expect((await store.events(lead, 0)).map((x) => x.e.id)).toEqual(
      [5, 4, 3, 2, 1, 0].map((n) => `hubspot:8:${n}`),
    );
    expect(await store.profile(lead)).toEqual({
      profile: { lifecycleStage: 'marketingqualifiedlead' },
      fetched: true,
    });
  });

  it('reads, appends to and trims a timeline written in the old format (a sorted set of JSON entries)', async () => {
    const old = [event('2', 3, { url: 'https://x.example/a' }), event('2', 2)];
    const lead = old[0]!.lead;
    await redis.zadd(
      k.timeline(lead),
      ...old.flatMap((e, i) => [e.occurredAt, JSON.stringify({ e, r: NOW + i })]),
    );
    expect(await store.events(lead, 0)).toEqual(old.map((e, i) => ({ e, r: NOW + i })));
    // A read writes nothing: the next write moves it into the lead's record.
    expect(await redis.type(k.timeline(lead))).toBe('zset');

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
    expect(await redis.exists(k.timeline(other[0]!.lead))).toBe(0);

    const third = event('4', 5);
    await redis.zadd(k.timeline(third.lead), third.occurredAt, JSON.stringify({ e: third, r: NOW }));
    await store.trim(third.lead, NOW - DAY);
    expect(await store.events(third.lead, 0)).toEqual([]);
  });
});
