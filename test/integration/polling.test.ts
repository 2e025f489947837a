import type { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CrmError } from '../../connectors/errors.js';
import { createHubSpotConnector, type HubSpotConnector } from '../../connectors/hubspot/index.js';
import { hubspotBudgets } from '../../src/cli/crms.js';
import { HubSpotPoller, POLL_OVERLAP_MS } from '../../connectors/hubspot/poller.js';
import { processPoll } from '../../jobs/poll.js';
import type { PollJob } from '../../src/queue/catalog.js';
import { schedulePolls } from '../../src/queue/queues.js';
import type { Config } from '../../src/config/schema.js';
import { LeadState } from '../../src/domain/index.js';
import { startPipeline, testConfig, type Pipeline } from '../helpers/pipeline.js';
import { cleanPrefix, testRedis, uniquePrefix } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';
import { startSandbox, type Sandbox } from '../sandbox/index.js';

const FORM = '0a1b2c3d-4e5f-6789-abcd-ef0123456789';
const HOUR = 3_600_000;
const lead = (id: string) => ({ crm: 'hubspot' as const, objectType: 'contact' as const, id });

describe('HubSpot pollers with watermarks (sandbox, real Redis)', () => {
  let redis: Redis;
  let prefix: string;
  let sandbox: Sandbox;
  let pipeline: Pipeline;
  let connector: HubSpotConnector;
  let now: number;

  async function start(workers = true) {
    const config = testConfig(prefix, (c): Config => ({
      ...c,
      hubspot: {
        ...c.hubspot,
        polling: {
          contacts: { everySeconds: 60 },
          emailEvents: {
            everySeconds: 300,
            types: { OPEN: 'email_open', CLICK: 'email_click', STATUSCHANGE: 'email_unsubscribe' },
          },
          forms: { everySeconds: 300, forms: [{ guid: FORM, name: 'Talk to sales', event: 'demo_request' }] },
          marketingEvents: {
            everySeconds: 300,
            events: [{ externalAccountId: 'zoom', externalEventId: 'w-1', name: 'Scoring masterclass' }],
            states: { ATTENDED: 'webinar_attended', REGISTERED: 'webinar_registered' },
          },
        },
      },
    }));
    connector = createHubSpotConnector({
      accessToken: 't',
      basePath: sandbox.url,
      fields: config.hubspot.fields,
      // As a worker has them: search paced to HubSpot's 5 per second, which the sandbox enforces.
      searchBudget: hubspotBudgets(redis, config).searchBudget,
    });
    pipeline = await startPipeline({
      redis,
      config,
      connector,
      engagementSources: { hubspot: new HubSpotPoller(connector, config.hubspot.polling) },
      now: () => now,
      workers,
    });
  }
  const poll = (source: PollJob['source']) => processPoll(pipeline.ctx, { crm: 'hubspot', source });
  const watermark = (source: string) => pipeline.ctx.watermarks.get(`hubspot:${source}`);

  beforeEach(async () => {
    redis = testRedis();
    prefix = uniquePrefix('poll');
    sandbox = await startSandbox();
    now = Date.now();
  });
  afterEach(async () => {
    await pipeline.close();
    await sandbox.close();
    await cleanPrefix(redis, prefix);
    redis.disconnect();
  });

  it('contacts modified since the watermark become profile changes; a second poll adds nothing', async () => {
    await start();
    const at = (ms: number) => new Date(now - ms).toISOString();
    sandbox.seedContacts([
      { id: '1', properties: { email: 'a@x.io', jobtitle: 'VP Sales', lastmodifieddate: at(30_000) } },
      { id: '2', properties: { email: 'b@x.io', jobtitle: 'CTO', lastmodifieddate: at(20_000) } },
      { id: '3', properties: { email: 'c@x.io', jobtitle: 'Old news', lastmodifieddate: at(2 * HOUR) } },
    ]);
    const first = await poll('contacts');
    expect(first).toMatchObject({ pages: 1, profileChanges: 4, watermark: now - 20_000 });
    expect(await watermark('contacts')).toBe(now - 20_000);
    await waitFor(async () => (await pipeline.ctx.timeline.profile(lead('2'))).profile.jobTitle === 'CTO');
    expect((await pipeline.ctx.timeline.profile(lead('3'))).profile).toEqual({});

    // Read again from the watermark less the 60 s overlap: both contacts' changes again, recorded once.
    await poll('contacts');
    await waitFor(async () => (await pipeline.queues.ingest.getCompletedCount()) === 2, {
      what: 'second ingest',
    });
    const duplicates = (await pipeline.metrics.events.get()).values.find(
      (v) => v.labels.source === 'poll' && v.labels.outcome === 'duplicate',
    );
    expect(duplicates?.value).toBe(4);
  });

  it('re-reads an overlap before the watermark for changes search showed late, recording each once', async () => {
    await start();
    const at = (ms: number) => new Date(now - ms).toISOString();
    // Ada's change is older, but the search index shows it only after Bo's newer one was read.
    sandbox.hubspot.searchLagMs = HOUR;
    sandbox.seedContacts([
      { id: '11', properties: { email: 'ada@x.io', jobtitle: 'VP Sales', lastmodifieddate: at(30_000) } },
    ]);
    sandbox.hubspot.searchLagMs = 0;
    sandbox.seedContacts([
      { id: '12', properties: { email: 'bo@x.io', jobtitle: 'CTO', lastmodifieddate: at(20_000) } },
    ]);
    expect(await poll('contacts')).toMatchObject({ profileChanges: 2, watermark: now - 20_000 });
    await waitFor(async () => (await pipeline.ctx.timeline.profile(lead('12'))).profile.jobTitle === 'CTO');

    sandbox.hubspot.catchUpSearch();
    now += 60_000;
    // The default overlap (60 s) reaches back past Ada's change; Bo's is read again.
    expect(await poll('contacts')).toMatchObject({ profileChanges: 4, watermark: now - 80_000 });
    await waitFor(
      async () => (await pipeline.ctx.timeline.profile(lead('11'))).profile.jobTitle === 'VP Sales',
      {
        what: "Ada's late change",
      },
    );
    await waitFor(async () => (await pipeline.queues.ingest.getCompletedCount()) === 2, {
      what: 'second ingest',
    });
    const duplicates = (await pipeline.metrics.events.get()).values.find(
      (v) => v.labels.source === 'poll' && v.labels.outcome === 'duplicate',
    );
    expect(duplicates?.value).toBe(2);
  });

  it('the contacts overlap is configurable', async () => {
    await start(false);
    const config = pipeline.ctx.config;
    const poller = new HubSpotPoller(connector, {
      ...config.hubspot.polling,
      contacts: { everySeconds: 60, overlapSeconds: 5 },
    });
    sandbox.seedContacts([
      { id: '21', properties: { email: 'in@x.io', lastmodifieddate: new Date(now - 64_000).toISOString() } },
      { id: '22', properties: { email: 'out@x.io', lastmodifieddate: new Date(now - 66_000).toISOString() } },
    ]);
    const ids: string[] = [];
    for await (const page of poller.poll('contacts', now - 60_000, now))
      ids.push(...page.profile.map((p) => p.lead.id));
    expect(ids).toEqual(['21']);
  });

  it('splits the search window below the 10,000-result cap', async () => {
    await start(false);
    const base = now - 50_000;
    sandbox.seedContacts(
      Array.from({ length: 10_450 }, (_, i) => ({
        id: String(i + 1),
        properties: {
          email: `p${i}@x.io`,
          lastmodifieddate: new Date(base + Math.floor(i / 10)).toISOString(),
        },
      })),
    );
    const result = await poll('contacts');
    // 50 pages of 200 reach the cap; a new window starts at the newest seen and reads the rest.
    expect(result.profileChanges).toBeGreaterThanOrEqual(10_450);
    expect(await watermark('contacts')).toBe(base + 1_044);
    expect(sandbox.calls.some((c) => c.status === 400)).toBe(false);
  });

  it('a 429 mid-poll keeps the watermark at the last queued page', async () => {
    await start(false);
    sandbox.seedContacts(
      Array.from({ length: 450 }, (_, i) => ({
        id: String(i + 1),
        properties: { email: `q${i}@x.io`, lastmodifieddate: new Date(now - 10_000 + i).toISOString() },
      })),
    );
    // The first page answers; then HubSpot refuses.
    const search = connector.searchModifiedContacts.bind(connector);
    const spy = vi
      .spyOn(connector, 'searchModifiedContacts')
      .mockImplementationOnce(search)
      .mockRejectedValueOnce(
        new CrmError({ crm: 'hubspot', status: 429, policy: 'TEN_SECONDLY_ROLLING', message: 'limit' }),
      );
    await expect(poll('contacts')).rejects.toMatchObject({ failure: { status: 429 } });
    spy.mockRestore();
    expect(await watermark('contacts')).toBe(now - 10_000 + 199);
    expect(await pipeline.queues.ingest.getJobCountByTypes('waiting', 'prioritized')).toBe(1);
    const resumed = await poll('contacts');
    expect(resumed.watermark).toBe(now - 10_000 + 449);
  });

  it('email events map to engagement for known contacts; the watermark moves only after the last page', async () => {
    await start();
    sandbox.seedContacts([{ id: '7', properties: { email: 'Ada@x.io' } }]);
    const created = now - 60_000;
    sandbox.hubspot.emailEvents = [
      { id: 'e1', type: 'OPEN', recipient: 'ada@x.io', created, emailCampaignId: 42 },
      { id: 'e2', type: 'CLICK', recipient: 'ada@x.io', created: created + 1, url: 'https://x.io/pricing' },
      { id: 'e3', type: 'DELIVERED', recipient: 'ada@x.io', created: created + 2 },
      { id: 'e4', type: 'OPEN', recipient: 'stranger@y.io', created: created + 3 },
    ];
    const result = await poll('emailEvents');
    // The stranger is no contact: counted as skipped, not lost silently.
    expect(result).toMatchObject({ events: 2, skipped: 1, watermark: now });
    const entries = await waitFor(async () => {
      const found = await pipeline.ctx.timeline.events(lead('7'), 0);
      return found.length === 2 ? found : null;
    });
    expect(entries.map((x) => [x.e.id, x.e.type, x.e.properties])).toEqual([
      ['hubspot:email:e1', 'email_open', { campaign: '42' }],
      ['hubspot:email:e2', 'email_click', { url: 'https://x.io/pricing' }],
    ]);
    // The next window starts a little before the last one ended, and what it re-reads dedupes.
    now += 300_000;
    sandbox.hubspot.emailEvents.push({
      id: 'e5',
      type: 'OPEN',
      recipient: 'ada@x.io',
      created: now - 299_000 - POLL_OVERLAP_MS / 2,
    });
    expect((await poll('emailEvents')).events).toBe(3);
    await waitFor(async () => (await pipeline.ctx.timeline.events(lead('7'), 0)).length === 3, {
      what: 'e5 only',
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect((await pipeline.ctx.timeline.events(lead('7'), 0)).map((x) => x.e.id)).toEqual([
      'hubspot:email:e1',
      'hubspot:email:e2',
      'hubspot:email:e5',
    ]);
  });

  it('email events: odd events are skipped and counted, and only a STATUSCHANGE to unsubscribed is an unsubscribe', async () => {
    await start();
    sandbox.seedContacts([{ id: '7', properties: { email: 'ada@x.io' } }]);
    const created = now - 60_000;
    const change = { type: 'STATUSCHANGE', recipient: 'ada@x.io', source: 'SOURCE_RECIPIENT' } as const;
    sandbox.hubspot.emailEvents = [
      { id: 'u1', created }, // UNBOUNCE: no type, no recipient
      { id: 'n1', type: 'OPEN', created: created + 1 }, // partial: no recipient
      { id: 'o1', type: 'OPEN', recipient: 'ada@x.io', created: created + 2 },
      {
        id: 's1',
        ...change,
        created: created + 3,
        portalSubscriptionStatus: 'SUBSCRIBED',
        subscriptions: [{ id: 2849, status: 'SUBSCRIBED' }],
      },
      { id: 's2', ...change, created: created + 4, portalSubscriptionStatus: 'UNSUBSCRIBED' },
      {
        id: 's3',
        ...change,
        created: created + 5,
        portalSubscriptionStatus: 'SUBSCRIBED',
        subscriptions: [{ id: 2849, status: 'UNSUBSCRIBED' }],
      },
    ];
    const result = await poll('emailEvents');
    // The page is not refused for its odd events: the window is done and the watermark moves.
    expect(result).toMatchObject({ events: 3, skipped: 2, watermark: now });
    expect(await watermark('emailEvents')).toBe(now);
    const entries = await waitFor(async () => {
      const found = await pipeline.ctx.timeline.events(lead('7'), 0);
      return found.length === 3 ? found : null;
    });
    expect(entries.map((x) => [x.e.id, x.e.type])).toEqual([
      ['hubspot:email:o1', 'email_open'],
      ['hubspot:email:s2', 'email_unsubscribe'],
      ['hubspot:email:s3', 'email_unsubscribe'],
    ]);
    const skipped = (await pipeline.metrics.events.get()).values.find(
      (v) => v.labels.source === 'poll.emailEvents' && v.labels.outcome === 'skipped',
    );
    expect(skipped?.value).toBe(2);
  });

  it("a DAILY 429 on a poll pauses until midnight in the portal's time zone, as account-info reports it", async () => {
    await start(false);
    sandbox.hubspot.timeZone = 'Asia/Tokyo';
    sandbox.setFaults({ rateLimit429: { policy: 'DAILY', count: 1 } });
    const err: unknown = await poll('emailEvents').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CrmError);
    const { failure } = err as CrmError;
    expect(failure).toMatchObject({ status: 429, policy: 'DAILY' });
    const usage = (await (
      await fetch(`${sandbox.url}/account-info/v3/api-usage/daily/private-apps`, {
        headers: { authorization: 'Bearer t' },
      })
    ).json()) as { results: { resetsAt: string }[] };
    expect(failure.resetAt).toBe(Date.parse(usage.results[0]!.resetsAt));
    expect(await watermark('emailEvents')).toBeNull();
  });

  it('form submissions since the watermark hand off with the answers kept for the note', async () => {
    await start();
    sandbox.seedContacts([{ id: '8', properties: { email: 'grace@x.io', firstname: 'Grace' } }]);
    await pipeline.ctx.watermarks.advance('hubspot:forms', now - HOUR);
    sandbox.hubspot.formSubmissions.set(FORM, [
      {
        submittedAt: now - 5_000,
        pageUrl: 'https://x.io/contact',
        values: [
          { name: 'email', value: 'grace@x.io' },
          { name: 'message', value: 'We need routing by territory' },
        ],
      },
      { submittedAt: now - 2 * HOUR, values: [{ name: 'email', value: 'grace@x.io' }] },
    ]);
    expect(await poll('forms')).toMatchObject({ events: 1, watermark: now });
    const state = await waitFor(async () => {
      const s = await pipeline.ctx.leads.get(lead('8'));
      return s.handoffId ? s : null;
    });
    expect(LeadState.parse(state).stage).toBe('mql');
    const record = await pipeline.ctx.handoffs.get(state.handoffId!);
    expect(record?.handoff.trigger).toBe('hand_raise');
    expect(record?.note.text).toContain('Message: “We need routing by territory”');
  });

  it('marketing event participations since the watermark become webinar events', async () => {
    await start();
    sandbox.seedContacts([{ id: '9', properties: { email: 'linus@x.io' } }]);
    await pipeline.ctx.watermarks.advance('hubspot:marketingEvents', now - HOUR);
    sandbox.hubspot.participations.set('zoom/w-1', [
      { id: 'p1', contactId: '9', state: 'REGISTERED', occurredAt: now - 2 * HOUR },
      { id: 'p2', contactId: '9', state: 'ATTENDED', occurredAt: now - 10_000 },
      { id: 'p3', contactId: '9', state: 'NO_SHOW', occurredAt: now - 9_000 },
    ]);
    expect(await poll('marketingEvents')).toMatchObject({ events: 1, watermark: now });
    const entries = await waitFor(async () => {
      const found = await pipeline.ctx.timeline.events(lead('9'), 0);
      return found.length ? found : null;
    });
    expect(entries.map((x) => [x.e.id, x.e.type, x.e.properties])).toEqual([
      ['hubspot:participation:p2:ATTENDED', 'webinar_attended', { webinar: 'Scoring masterclass' }],
    ]);
  });

  it('one job scheduler per configured source; a source taken out of the config stops', async () => {
    await start(false);
    const { config } = pipeline.ctx;
    await schedulePolls(pipeline.queues, config);
    const every = async () =>
      Object.fromEntries((await pipeline.queues.poll.getJobSchedulers()).map((j) => [j.key, j.every]));
    expect(await every()).toEqual({
      'poll.contacts': 60_000,
      'poll.emailEvents': 300_000,
      'poll.forms': 300_000,
      'poll.marketingEvents': 300_000,
    });
    await schedulePolls(pipeline.queues, {
      ...config,
      hubspot: { ...config.hubspot, polling: { contacts: { everySeconds: 30 } } },
    });
    expect(await every()).toEqual({ 'poll.contacts': 30_000 });
  });
});
