import type { Redis } from 'ioredis';
import jsforce, { type Connection } from 'jsforce';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SalesforcePoller, type Soql } from '../../connectors/salesforce/poller.js';
import type { ProfileChange } from '../../src/domain/index.js';
import { processPoll } from '../../jobs/poll.js';
import type { Config } from '../../src/config/schema.js';
import { IngestJob, type PollJob } from '../../src/queue/catalog.js';
import { ApiUsage } from '../../src/store/api-usage.js';
import { keys } from '../../src/store/keys.js';
import { FakeConnector } from '../helpers/fake-connector.js';
import { startPipeline, testConfig, type Pipeline } from '../helpers/pipeline.js';
import { cleanPrefix, testRedis, uniquePrefix } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';
import { startSandbox, type Sandbox } from '../sandbox/index.js';
import { REP_USER_ID, sfDatetime } from '../sandbox/salesforce.js';

const HOUR = 3_600_000;
const PAGE_SIZE = 200;
const sfLead = (id: string) => ({ crm: 'salesforce' as const, objectType: 'lead' as const, id });

describe('Salesforce SOQL polling (sandbox, real jsforce, real Redis)', () => {
  let redis: Redis;
  let prefix: string;
  let sandbox: Sandbox;
  let pipeline: Pipeline;
  let usage: ApiUsage;
  let now: number;
  /** Called before each SOQL query the poller sends, with its number (1-based). */
  let beforeQuery: (n: number) => void;
  let queries: string[];

  /**
   * The connector's `soql` in miniature: jsforce query + queryMore, and every `Sforce-Limit-Info`
   * recorded as daily usage, as the real connector does.
   */
  function soqlOver(conn: Connection): Soql {
    return async function* (query) {
      queries.push(query);
      beforeQuery(queries.length);
      let result = await conn.query<Record<string, unknown>>(query);
      for (;;) {
        const reported = conn.limitInfo.apiUsage;
        if (reported) await usage.record(reported.used, reported.limit, now);
        yield result.records;
        if (result.done || !result.nextRecordsUrl) return;
        result = await conn.queryMore<Record<string, unknown>>(result.nextRecordsUrl);
      }
    };
  }

  async function start(workers = true) {
    const config = testConfig(prefix, (c): Config => ({
      ...c,
      salesforce: {
        ...c.salesforce,
        polling: {
          leads: { everySeconds: 60, pageSize: PAGE_SIZE },
          contacts: { everySeconds: 60, pageSize: PAGE_SIZE },
          activities: { everySeconds: 60, pageSize: PAGE_SIZE },
          campaignMembers: {
            everySeconds: 300,
            pageSize: PAGE_SIZE,
            types: [{ campaign: 'webinar', event: 'webinar_attended' }],
            event: 'campaign_response',
          },
        },
      },
    }));
    const conn = new jsforce.Connection({ instanceUrl: sandbox.url, accessToken: 'token', version: '62.0' });
    usage = new ApiUsage(redis, keys(prefix), 'salesforce');
    pipeline = await startPipeline({
      redis,
      config,
      connector: new FakeConnector('salesforce'),
      engagementSources: {
        salesforce: new SalesforcePoller({ soql: soqlOver(conn), config: config.salesforce, usage }),
      },
      now: () => now,
      workers,
    });
  }

  const poll = (source: PollJob['source']) => processPoll(pipeline.ctx, { crm: 'salesforce', source });
  const watermark = (source: string) => pipeline.ctx.watermarks.get(`salesforce:${source}`);
  const at = (ms: number) => sfDatetime(ms);
  const profile = async (id: string) => (await pipeline.ctx.timeline.profile(sfLead(id))).profile;

  /** Profile changes of the ingest jobs queued so far (workers off). */
  async function queuedProfile(): Promise<ProfileChange[]> {
    const jobs = await pipeline.queues.ingest.getJobs(['waiting', 'prioritized']);
    return jobs.flatMap((job) => {
      const data = IngestJob.parse(job.data);
      return data.batch.profile;
    });
  }

  /** `count` leads with stamps from `stampOf(i)`, inserted in order (sandbox ids ascend). */
  function seedLeads(count: number, stampOf: (i: number) => number): string[] {
    return Array.from({ length: count }, (_, i) =>
      sandbox.salesforce.insert('Lead', {
        LastName: `Lead ${i}`,
        Company: 'Acme',
        Email: `lead${i}@acme.example`,
        SystemModstamp: at(stampOf(i)),
      }),
    );
  }

  beforeEach(async () => {
    redis = testRedis();
    prefix = uniquePrefix('sfpoll');
    sandbox = await startSandbox();
    now = Date.now();
    queries = [];
    beforeQuery = () => undefined;
  });
  afterEach(async () => {
    await pipeline.close();
    await sandbox.close();
    await cleanPrefix(redis, prefix);
    redis.disconnect();
  });

  it('leads changed since the watermark become profile changes; a second poll adds nothing; a later update is read again', async () => {
    await start();
    const sf = sandbox.salesforce;
    sf.clock = () => now - 2 * HOUR;
    const old = sf.insert('Lead', { LastName: 'Old', Company: 'Acme', Title: 'Old news' });
    sf.clock = () => now - 30_000;
    const ada = sf.insert('Lead', {
      LastName: 'Lovelace',
      Company: 'Acme',
      Title: 'VP Sales',
      Email: 'ada@acme.example',
    });
    const converted = sf.insert('Lead', {
      LastName: 'Converted',
      Company: 'Acme',
      Title: 'Gone to Contact',
      IsConverted: true,
      Status: 'Closed - Converted',
    });
    sf.clock = () => now - 20_000;
    const grace = sf.insert('Lead', { LastName: 'Hopper', Company: 'Navy', Title: 'CTO' });

    const first = await poll('leads');
    // One page of three, the old lead not read; of the converted one only its status.
    expect(first).toMatchObject({ pages: 1, skipped: 0, watermark: now - 20_000 });
    expect(first.profileChanges).toBeGreaterThan(0);
    expect(await watermark('leads')).toBe(now - 20_000);
    await waitFor(async () => (await profile(grace)).jobTitle === 'CTO', { what: 'grace profile' });
    expect(await profile(ada)).toMatchObject({
      jobTitle: 'VP Sales',
      email: 'ada@acme.example',
      leadStatus: 'Open - Not Contacted',
      lifecycleStage: 'Open - Not Contacted',
    });
    expect(await profile(old)).toEqual({});
    expect(await profile(converted)).toEqual({
      leadStatus: 'Closed - Converted',
      lifecycleStage: 'Closed - Converted',
    });

    // From the watermark, inclusively: Grace's changes again, with the same ids, recorded once.
    const second = await poll('leads');
    expect(second).toMatchObject({ pages: 1, watermark: now - 20_000 });
    await waitFor(async () => (await pipeline.queues.ingest.getCompletedCount()) === 2, {
      what: 'second ingest',
    });
    const duplicates = (await pipeline.metrics.events.get()).values.find(
      (v) => v.labels.source === 'poll' && v.labels.outcome === 'duplicate',
    );
    expect(duplicates?.value).toBe(second.profileChanges);

    // A later change to Ada moves her past the watermark: read again, under new ids.
    sf.clock = () => now - 10_000;
    sf.update('Lead', ada, { Title: 'Chief Revenue Officer' });
    expect(await poll('leads')).toMatchObject({ watermark: now - 10_000 });
    await waitFor(async () => (await profile(ada)).jobTitle === 'Chief Revenue Officer', { what: 'update' });
    // Every query filtered on SystemModstamp, never on a long text field.
    for (const q of queries)
      expect(q).toMatch(/WHERE SystemModstamp >= \S+ ORDER BY SystemModstamp, Id LIMIT 200$/);
  });

  it('450 leads over 3 pages, with a timestamp tie across a page boundary, lose nothing', async () => {
    await start(false);
    const base = now - 50_000;
    // Leads 190–209 share one instant: page 1 ends inside that run of ties.
    const ids = seedLeads(450, (i) => base + (i >= 190 && i < 210 ? 190 : i));
    const result = await poll('leads');
    expect(result).toMatchObject({ pages: 3, skipped: 0, watermark: base + 449 });
    expect(await watermark('leads')).toBe(base + 449);
    const read = (await queuedProfile()).filter((c) => c.field === 'email');
    expect(read.map((c) => c.lead.id).sort()).toEqual([...ids].sort());
    // Page 2 continued after the last lead of page 1, inside the tie.
    expect(queries[1]).toContain(`Id > '${ids[199]}'`);
    expect(sandbox.calls.some((c) => c.status >= 400)).toBe(false);
  });

  it('a failure mid-poll leaves the watermark after the queued page; the next run resumes there', async () => {
    await start(false);
    const base = now - 50_000;
    const ids = seedLeads(450, (i) => base + i);
    // The org refuses the second query (its allocation ran out).
    beforeQuery = (n) => {
      if (n === 2) sandbox.salesforce.faults.requestLimitExceeded = 1;
    };
    await expect(poll('leads')).rejects.toMatchObject({ name: 'REQUEST_LIMIT_EXCEEDED' });
    expect(await watermark('leads')).toBe(base + 199);
    expect(await pipeline.queues.ingest.getJobCountByTypes('waiting', 'prioritized')).toBe(1);

    const resumed = await poll('leads');
    expect(resumed).toMatchObject({ pages: 2, watermark: base + 449 });
    const read = new Set((await queuedProfile()).map((c) => c.lead.id));
    expect(read).toEqual(new Set(ids));
  });

  it('at 85 % of the daily allocation a run reads one page; at 96 % it reads nothing', async () => {
    await start(false);
    const base = now - 50_000;
    seedLeads(450, (i) => base + i);
    const sf = sandbox.salesforce;
    sf.apiUsage.used = Math.round(sf.apiUsage.max * 0.85);
    // The connector has seen it on an earlier answer.
    await usage.record(sf.apiUsage.used, sf.apiUsage.max, now);

    expect(await poll('leads')).toMatchObject({ pages: 1, watermark: base + 199 });
    // Each run starts at the watermark inclusively: the lead at its instant is read again.
    expect(await poll('leads')).toMatchObject({ pages: 1, watermark: base + 398 });

    sf.apiUsage.used = Math.round(sf.apiUsage.max * 0.96);
    await usage.record(sf.apiUsage.used, sf.apiUsage.max, now);
    const sent = queries.length;
    expect(await poll('leads')).toMatchObject({ pages: 0, watermark: base + 398 });
    expect(queries.length).toBe(sent);
    expect(await watermark('leads')).toBe(base + 398);

    // Usage fell back (the rolling 24 h moved on): the rest is read.
    sf.apiUsage.used = 100;
    await usage.record(sf.apiUsage.used, sf.apiUsage.max, now);
    expect(await poll('leads')).toMatchObject({ pages: 1, watermark: base + 449 });
  });

  it('calls, meetings and campaign responses become engagement; our open handoff task is no rep action until completed', async () => {
    await start();
    const sf = sandbox.salesforce;
    sf.clock = () => now - 30_000;
    const lead = sf.insert('Lead', { LastName: 'Lovelace', Company: 'Acme' });
    const call = sf.insert('Task', {
      WhoId: lead,
      OwnerId: REP_USER_ID,
      Subject: 'Discovery call',
      Status: 'Completed',
      TaskSubtype: 'Call',
    });
    const handoffTask = sf.insert('Task', {
      WhoId: lead,
      OwnerId: REP_USER_ID,
      Subject: 'Follow up: Ada Lovelace (score 82)',
      Description: 'Why now: pricing page ×3\n\nHandoff ID: hf.salesforce.lead.x.0.mql',
      Status: 'Not Started',
    });
    const meetingStart = now + 86_400_000;
    const meeting = sf.insert('Event', {
      WhoId: lead,
      OwnerId: REP_USER_ID,
      Subject: 'Demo',
      StartDateTime: at(meetingStart),
    });
    const webinar = sf.insert('Campaign', { Name: 'Scoring Webinar 2026' });
    const member = sf.insert('CampaignMember', { CampaignId: webinar, LeadId: lead, Status: 'Attended' });
    const newsletter = sf.insert('Campaign', { Name: 'Newsletter' });
    sf.insert('CampaignMember', { CampaignId: newsletter, LeadId: lead, Status: 'Sent' });

    // Our open task is read and skipped: no engagement, no rep action.
    expect(await poll('activities')).toMatchObject({ events: 2, profileChanges: 2, skipped: 1 });
    // Only the response counts; the membership without one is never read.
    expect(await poll('campaignMembers')).toMatchObject({ events: 1, skipped: 0 });
    const events = await waitFor(async () => {
      const found = await pipeline.ctx.timeline.events(sfLead(lead), 0);
      return found.length === 3 ? found : null;
    });
    expect(Object.fromEntries(events.map((x) => [x.e.id, [x.e.type, x.e.properties]]))).toEqual({
      [`salesforce:task:${call}`]: [
        'sales_call',
        { subject: 'Discovery call', status: 'Completed', ownerId: REP_USER_ID },
      ],
      [`salesforce:event:${meeting}`]: ['meeting', { subject: 'Demo', ownerId: REP_USER_ID }],
      [`salesforce:cm:${member}`]: [
        'webinar_attended',
        { campaign: 'Scoring Webinar 2026', status: 'Attended' },
      ],
    });
    expect(events.find((x) => x.e.type === 'meeting')?.e.occurredAt).toBe(meetingStart);
    expect((await profile(lead)).lastSalesActivity).toBe(new Date(now - 30_000).toISOString());

    // The rep completes our task: that is the rep acting, now.
    sf.clock = () => now - 5_000;
    sf.update('Task', handoffTask, { Status: 'Completed' });
    // Read from the watermark inclusively: the call and the meeting again (deduped), and the task.
    expect(await poll('activities')).toMatchObject({ events: 3, profileChanges: 3, skipped: 0 });
    await waitFor(
      async () => (await profile(lead)).lastSalesActivity === new Date(now - 5_000).toISOString(),
      {
        what: 'completion as rep activity',
      },
    );
    expect(queries.filter((q) => q.includes('FROM Task')).every((q) => !/WHERE.*Description/.test(q))).toBe(
      true,
    );
  });
});
