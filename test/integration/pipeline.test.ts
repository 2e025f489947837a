import type { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { HubSpotWebhookEvent } from '../../connectors/hubspot/webhook.js';
import type { Config } from '../../src/config/schema.js';
import type { Metrics } from '../../src/metrics.js';
import type { JobContext } from '../../src/queue/context.js';
import { enqueueIngest, type Queues } from '../../src/queue/queues.js';
import { buildReport } from '../../src/reports/index.js';
import { TOP_REASONS } from '../../src/domain/index.js';
import { hubspotIngest } from '../../src/receive/hubspot.js';
import { createHubSpotConnector } from '../../connectors/hubspot/index.js';
import { FakeConnector } from '../helpers/fake-connector.js';
import { startPipeline, testConfig, type Pipeline } from '../helpers/pipeline.js';
import { cleanPrefix, testRedis, uniquePrefix } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';
import { addWorkingMinutes } from '../../src/handoff/sla.js';
import { startSandbox, type Sandbox } from '../sandbox/index.js';

const LEAD = { crm: 'hubspot', objectType: 'contact', id: '501' } as const;
const FIT_45 = {
  jobTitle: 'VP Marketing',
  industry: 'COMPUTER_SOFTWARE',
  companySize: '100-500', // HubSpot's numemployees is a range option
  country: 'United States',
};

let seq = 0;
function pageView(objectId: string, url: string, occurredAt = Date.now()): HubSpotWebhookEvent {
  seq++;
  return {
    eventId: String(seq),
    portalId: '33',
    objectId,
    occurredAt,
    subscriptionType: 'contact.propertyChange',
    propertyName: 'hs_analytics_last_url',
    propertyValue: url,
  };
}

describe('pipeline: ingest → score → writeback on real Redis', () => {
  let redis: Redis;
  let prefix: string;
  let queues: Queues;
  let pipeline: Pipeline;
  let crm: FakeConnector;
  let metrics: Metrics;
  let ctx: JobContext;

  async function start(overrides: Partial<Config['pipeline']> = {}) {
    const config = testConfig(prefix, (c) => ({ ...c, pipeline: { ...c.pipeline, ...overrides } }));
    pipeline = await startPipeline({ redis, config, connector: crm });
    ({ ctx, queues, metrics } = pipeline);
  }

  /** A writeback job once BullMQ has recorded its end (our progress hash is marked just before). */
  const finished = (id: string) =>
    waitFor(async () => {
      const job = await queues.writeback.getJob(id);
      return job?.finishedOn ? job : null;
    });

  async function ingest(events: HubSpotWebhookEvent[]) {
    await enqueueIngest(
      queues,
      hubspotIngest(events, ctx.config.hubspot, { receivedAt: Date.now() }),
      ctx.config.handRaise,
    );
  }

  async function completed(queue: string): Promise<number> {
    const metric = await metrics.jobs.get();
    return (
      metric.values.find((v) => v.labels.queue === queue && v.labels.outcome === 'completed')?.value ?? 0
    );
  }

  beforeEach(() => {
    redis = testRedis();
    prefix = uniquePrefix('pipeline');
    crm = new FakeConnector();
    crm.profiles.set('hubspot.contact.501', { ...FIT_45 });
  });

  afterEach(async () => {
    await pipeline.close();
    await cleanPrefix(redis, prefix);
    redis.disconnect();
  });

  it('hands a lead off once it crosses MQL: stage, score fields and one note', async () => {
    await start();
    await ingest([pageView('501', 'https://acme.io/blog/post')]);
    await waitFor(() => crm.scores.get('hubspot.contact.501') === 46, { what: 'fit-only score written' });
    expect(crm.notes).toHaveLength(0);

    await ingest([pageView('501', 'https://acme.io/pricing')]);
    await waitFor(() => crm.notes.length === 1, { what: 'handoff note' });
    await waitFor(async () => (await ctx.handoffs.progress('hf.hubspot.contact.501.0.mql')).completedAt, {
      what: 'handoff complete',
    });
    expect(crm.stages.get('hubspot.contact.501')).toBe('mql');
    expect(crm.scores.get('hubspot.contact.501')).toBeGreaterThanOrEqual(50);
    expect(crm.notes[0]?.body).toContain('Handoff ID: hf.hubspot.contact.501.0.mql');
    expect(crm.notes[0]?.body).toContain('Viewed page: https://acme.io/pricing');
    expect(crm.calls.filter((c) => c.method === 'readProfile')).toHaveLength(1);
    const audit = await ctx.handoffs.recentAudit(10);
    expect(audit.map((a) => a.type)).toEqual(['writeback', 'handoff']);
    const decided = audit[1]!;
    expect(decided.lead).toBe('hubspot.contact.501');
    // Every rule's points and the top reasons; no event ids (the timeline has the events).
    const lines = decided.detail.breakdown as Record<string, unknown>[];
    expect(lines.length).toBeGreaterThan(0);
    lines.forEach((line, i) =>
      expect(Object.keys(line).sort()).toEqual(
        i < TOP_REASONS ? ['points', 'reason', 'ruleId'] : ['points', 'ruleId'],
      ),
    );
  });

  it('still ingests a HubSpot job queued in the legacy shape (raw events) by a release before the receivers', async () => {
    await start();
    // Exactly what the old route queued: the raw events, normalized by the worker.
    await queues.ingest.add('hubspot', {
      source: 'hubspot',
      receivedAt: Date.now(),
      events: [pageView('501', 'https://acme.io/pricing')],
    });
    await waitFor(async () => (await ctx.timeline.events(LEAD, 0)).length === 1, { what: 'event recorded' });
    expect((await ctx.timeline.events(LEAD, 0))[0]?.e).toMatchObject({
      type: 'page_view',
      properties: { url: 'https://acme.io/pricing' },
    });
    await waitFor(() => crm.scores.has('hubspot.contact.501'), { what: 'lead rescored' });
  });

  it('a record sales had already moved past the stage is audited as such, keeps its owner and is no handoff', async () => {
    crm.stages.set('hubspot.contact.501', 'sql');
    crm.ownersOf.set('hubspot.contact.501', 'rep-of-sales');
    await start();
    await ingest([pageView('501', 'https://acme.io/pricing'), pageView('501', 'https://acme.io/demo')]);
    await waitFor(async () => (await ctx.handoffs.progress('hf.hubspot.contact.501.0.mql')).completedAt, {
      what: 'handoff complete',
    });
    const progress = await ctx.handoffs.progress('hf.hubspot.contact.501.0.mql');
    expect([progress.stage, progress.ownerId]).toEqual(['moved_on', undefined]);
    expect(crm.ownersOf.get('hubspot.contact.501')).toBe('rep-of-sales');
    const audit = await ctx.handoffs.recentAudit(10);
    expect(audit.map((a) => a.type)).toEqual(['stage_moved_on', 'handoff']);
    expect(audit[0]?.detail).toMatchObject({ stage: 'sql', wanted: 'mql', restored: [] });
    const report = buildReport(await ctx.handoffs.auditSince(0), { reps: [], bands: [[0, 100]] });
    expect([report.handoffs, report.speedToLead.samples]).toEqual([0, 0]);
  });

  it('folds a burst of 50 events for one lead into one recompute', async () => {
    // A window the 50 deliveries fit in even on a loaded machine (at 500 ms they sometimes did not).
    await start({ scoreDebounceMs: 3_000 });
    await Promise.all(
      Array.from({ length: 50 }, (_, i) => ingest([pageView('501', `https://acme.io/blog/${i}`)])),
    );
    await waitFor(async () => (await completed('ingest')) === 50, { what: '50 ingest jobs' });
    await waitFor(async () => (await completed('score')) >= 1, { what: 'score job' });
    await new Promise((resolve) => setTimeout(resolve, 700));
    expect(await completed('score')).toBe(1);
    expect(await ctx.timeline.events(LEAD, 0)).toHaveLength(50);
  });

  it('writes score-only updates in batches of at most 100', async () => {
    await start({ scoreWriteDelayMs: 1_500 });
    const ids = Array.from({ length: 150 }, (_, i) => String(1000 + i));
    await ingest(ids.slice(0, 100).map((id) => pageView(id, 'https://acme.io/blog')));
    await ingest(ids.slice(100).map((id) => pageView(id, 'https://acme.io/blog')));
    await waitFor(() => ids.every((id) => crm.scores.has(`hubspot.contact.${id}`)), {
      what: 'all 150 scores',
    });
    const batches = crm.calls.filter((c) => c.method === 'writeScores').map((c) => c.records);
    expect(batches.reduce((a, b) => (a ?? 0) + (b ?? 0), 0)).toBe(150);
    expect(batches.every((n) => (n ?? 0) <= 100)).toBe(true);
    expect(batches.length).toBeLessThanOrEqual(3);
    expect(await ctx.pendingScores.size()).toBe(0);
  });

  it('drops a record the CRM rejects for good, keeps the rest of the batch', async () => {
    await start({ scoreWriteDelayMs: 300 });
    crm.rejectLead = { id: '1001', failure: { status: 400, code: 'VALIDATION_ERROR', message: 'bad value' } };
    await ingest(['1000', '1001', '1002'].map((id) => pageView(id, 'https://acme.io/blog')));
    await waitFor(() => crm.scores.has('hubspot.contact.1000') && crm.scores.has('hubspot.contact.1002'), {
      what: 'scores',
    });
    await waitFor(async () => (await ctx.pendingScores.size()) === 0, { what: 'pending cleared' });
    expect(crm.scores.has('hubspot.contact.1001')).toBe(false);
    const audit = await ctx.handoffs.recentAudit(10);
    expect(audit).toContainEqual(
      expect.objectContaining({
        type: 'dead_letter',
        lead: 'hubspot.contact.1001',
        detail: { step: 'scores', reason: 'hubspot 400 VALIDATION_ERROR: bad value' },
      }),
    );
    // Refused alone as well, it is a dead letter with HubSpot's message, ready to replay.
    const failed = await waitFor(async () => (await queues.writeback.getFailed())[0], {
      what: 'dead letter',
    });
    expect(failed.id).toBe('lead-score.hubspot.contact.1001');
    expect(failed.failedReason).toBe('hubspot 400 VALIDATION_ERROR: bad value');
  });

  it('stores no email address from CRM error text: dead-letter reason, its stack, the audit log', async () => {
    await start({ scoreWriteDelayMs: 300 });
    const message = 'Property values were not valid: ada.lovelace+mql@acme.io is already taken';
    crm.rejectLead = { id: '1101', failure: { status: 400, code: 'VALIDATION_ERROR', message } };
    await ingest([pageView('1101', 'https://acme.io/blog')]);
    const failed = await waitFor(async () => (await queues.writeback.getFailed())[0], {
      what: 'dead letter',
    });
    const redacted =
      'hubspot 400 VALIDATION_ERROR: Property values were not valid: [redacted] is already taken';
    expect(failed.failedReason).toBe(redacted);
    expect(failed.stacktrace?.length).toBeGreaterThan(0);
    expect(failed.stacktrace!.join('\n')).not.toContain('acme.io');
    const audit = await ctx.handoffs.recentAudit(10);
    expect(audit).toContainEqual(
      expect.objectContaining({ type: 'dead_letter', detail: { step: 'scores', reason: redacted } }),
    );
    expect(JSON.stringify(audit)).not.toContain('acme.io');
  });

  it('records a delivery HubSpot sends twice only once', async () => {
    await start();
    const batch = [pageView('501', 'https://acme.io/a'), pageView('501', 'https://acme.io/b')];
    await ingest(batch);
    await ingest(batch);
    await waitFor(async () => (await completed('ingest')) === 2, { what: 'both deliveries ingested' });
    expect(await ctx.timeline.events(LEAD, 0)).toHaveLength(2);
    const metric = await metrics.events.get();
    expect(metric.values.find((v) => v.labels.outcome === 'duplicate')?.value).toBe(2);
  });

  it('hands off a demo request at once, without waiting out the debounce', async () => {
    await start({ scoreDebounceMs: 30_000 });
    crm.profiles.set('hubspot.contact.501', {});
    const started = Date.now();
    await ingest([
      {
        ...pageView('501', ''),
        propertyName: 'recent_conversion_event_name',
        propertyValue: 'Request a demo',
      },
    ]);
    await waitFor(() => crm.notes.length === 1, { what: 'hand-raise note' });
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(crm.notes[0]?.body).toContain('— demo request —');
  });

  const demoRequest = (objectId: string) => ({
    ...pageView(objectId, ''),
    propertyName: 'recent_conversion_event_name',
    propertyValue: 'Request a demo',
  });

  it('guardrails: a student on gmail asking for a demo gets a standard task (not HIGH, not 15 minutes), and says why', async () => {
    await start();
    crm.profiles.set('hubspot.contact.502', {
      email: 'sam@gmail.com',
      jobTitle: 'Student',
      firstName: 'Sam',
    });
    await ingest([demoRequest('502')]);
    const id = 'hf.hubspot.contact.502.0.mql';
    await waitFor(async () => (await ctx.handoffs.progress(id)).completedAt, { what: 'handoff complete' });
    const record = (await ctx.handoffs.get(id))!;
    expect(record.handoff).toMatchObject({ trigger: 'hand_raise', urgency: 'standard' });
    expect(record.task).toMatchObject({ priority: 'MEDIUM', type: 'CALL' });
    const rep = ctx.config.routing.reps.find((r) => r.id === record.routing?.ownerId);
    const hours = rep?.workingHours ?? ctx.config.sla.workingHours;
    expect(record.task!.dueAt).toBe(addWorkingMinutes(record.handoff.decidedAt, 240, hours));
    expect(crm.tasks[0]?.body.split('\n').slice(0, 3)).toEqual([
      '⚠ Student (job title “Student”)',
      '⚠ Free email (gmail.com)',
      expect.stringMatching(/^Hand-raise handed off at standard priority \(threshold SLA\): student/),
    ]);
    const audit = await ctx.handoffs.recentAudit(10);
    expect(audit.find((a) => a.type === 'handoff')?.detail.guardrail).toMatchObject({
      action: 'standard',
      reasons: [
        'student (job title “Student”) → standard',
        'free email (gmail.com) → standard',
        expect.stringMatching(/^fit -\d+ under the hand-raise floor 0 → standard$/),
      ],
    });
  });

  it('guardrails: a competitor asking for a demo is not handed off, and the audit log says why', async () => {
    await start();
    ctx.config.guardrails.competitorDomains.push('rival.io');
    crm.profiles.set('hubspot.contact.503', { email: 'spy@rival.io', jobTitle: 'Product Marketing Manager' });
    await ingest([demoRequest('503')]);
    const held = await waitFor(
      async () => (await ctx.handoffs.recentAudit(10)).find((a) => a.type === 'hand_raise_held'),
      { what: 'held hand-raise audited' },
    );
    expect(held).toMatchObject({
      lead: 'hubspot.contact.503',
      detail: { action: 'hold', reasons: ['competitor domain (rival.io) → hold'] },
    });
    await waitFor(() => crm.scores.has('hubspot.contact.503'), { what: 'score written' });
    expect(await ctx.handoffs.get('hf.hubspot.contact.503.0.mql')).toBeNull();
    expect(crm.tasks).toHaveLength(0);
    expect((await ctx.leads.get({ ...LEAD, id: '503' })).stage).toBe('lead');
  });

  it('the note and task carry the CRM labels and the account: who else we know at the company, and their owner', async () => {
    await start();
    crm.labels = { industry: { COMPUTER_SOFTWARE: 'Software (CRM label)' } };
    crm.profiles.set('hubspot.contact.601', {
      ...FIT_45,
      email: 'bill@initech.com',
      firstName: 'Bill',
      lastName: 'Lumbergh',
      ownerId: '102',
    });
    crm.profiles.set('hubspot.contact.602', {
      ...FIT_45,
      email: 'grace@initech.com',
      firstName: 'Grace',
      lastName: 'Kim',
    });
    await ingest([pageView('601', 'https://acme.io/blog')]);
    await waitFor(() => crm.scores.has('hubspot.contact.601'), { what: 'colleague scored' });
    await ingest([pageView('602', 'https://acme.io/pricing'), pageView('602', 'https://acme.io/demo')]);
    await waitFor(() => crm.notes.some((n) => n.lead === 'hubspot.contact.602'), { what: 'note' });
    const note = crm.notes.find((n) => n.lead === 'hubspot.contact.602')!.body;
    expect(note).toContain('<li>Company size: 100-500 employees, industry: Software (CRM label)</li>');
    // Nobody owned the account before this lead: only its people are listed.
    expect(note).toContain(
      '<li>initech.com: no account owner yet</li><li>Bill Lumbergh (VP Marketing, owner Ben Okafor)</li>',
    );
    const task = crm.tasks.find((t) => t.lead === 'hubspot.contact.602')!;
    expect(task.subject).toMatch(/^Call Grace Kim \(VP Marketing\) — MQL at score \d+ — due /);
    expect(task.body).toContain('Account initech.com: Bill Lumbergh (VP Marketing, owner Ben Okafor)');
  });

  it('a failed read of the CRM labels does not hold up the handoff: codes are shown readable', async () => {
    await start();
    crm.failNext('fieldLabels', { status: 503, message: 'unavailable' });
    await ingest([pageView('501', 'https://acme.io/pricing')]);
    await waitFor(() => crm.notes.length === 1, { what: 'note' });
    expect(crm.notes[0]?.body).toContain('industry: Computer software');
  });

  it('pauses on a 429 without spending an attempt, then writes exactly once', async () => {
    await start();
    crm.failNext('createHandoffNote', {
      status: 429,
      policy: 'TEN_SECONDLY_ROLLING',
      retryAfterMs: 300,
      message: 'slow down',
    });
    await ingest([pageView('501', 'https://acme.io/pricing')]);
    await waitFor(() => crm.notes.length === 1, { what: 'note after the pause' });
    await waitFor(async () => (await ctx.handoffs.progress('hf.hubspot.contact.501.0.mql')).completedAt, {
      what: 'complete',
    });
    // BullMQ counts the finishing attempt too: 1 means the rate-limited run spent none.
    const job = await finished('hf.hubspot.contact.501.0.mql');
    expect(job.attemptsMade).toBe(1);
    const pauses = await metrics.rateLimitPauses.get();
    expect(pauses.values[0]).toMatchObject({ value: 1, labels: { scope: 'interval' } });
    // Steps that had succeeded before the 429 were not repeated.
    expect(crm.calls.filter((c) => c.method === 'advanceStage')).toHaveLength(1);
  });

  it('never writes a second note when the response to the first create was lost', async () => {
    await start();
    crm.failNext('createHandoffNote', { network: true, message: 'socket hang up' }, { loseResponse: true });
    await ingest([pageView('501', 'https://acme.io/pricing')]);
    await waitFor(async () => (await ctx.handoffs.progress('hf.hubspot.contact.501.0.mql')).completedAt, {
      what: 'complete',
    });
    expect(crm.notes).toHaveLength(1);
    expect(crm.calls.filter((c) => c.method === 'createHandoffNote').map((c) => c.mayExist)).toEqual([
      false,
      true,
    ]);
  });

  it('backs off on 5xx and succeeds when the CRM recovers', async () => {
    await start();
    crm.failNext('advanceStage', { status: 503, message: 'unavailable' }, { times: 2 });
    await ingest([pageView('501', 'https://acme.io/pricing')]);
    await waitFor(async () => (await ctx.handoffs.progress('hf.hubspot.contact.501.0.mql')).completedAt, {
      what: 'complete',
      timeoutMs: 15_000,
    });
    expect(crm.stages.get('hubspot.contact.501')).toBe('mql');
    expect(crm.notes).toHaveLength(1);
    // Two failed attempts and the one that succeeded.
    expect((await finished('hf.hubspot.contact.501.0.mql')).attemptsMade).toBe(3);
  });

  it('dead-letters a validation error at once with the CRM message', async () => {
    await start();
    crm.failNext('createHandoffNote', {
      status: 400,
      code: 'VALIDATION_ERROR',
      message: 'Property values were not valid',
    });
    await ingest([pageView('501', 'https://acme.io/pricing')]);
    const failed = await waitFor(async () => (await queues.writeback.getFailed())[0], { what: 'failed job' });
    expect(failed.failedReason).toBe('hubspot 400 VALIDATION_ERROR: Property values were not valid');
    expect(failed.attemptsMade).toBe(1);
    expect(crm.notes).toHaveLength(0);
  });

  it('sends a payload that does not parse straight to the failed set', async () => {
    await start();
    await queues.score.add('score', { lead: { crm: 'pipedrive', id: 1 } });
    const failed = await waitFor(async () => (await queues.score.getFailed())[0], { what: 'failed job' });
    expect(failed.failedReason).toMatch(/score job .*: /);
    expect(failed.attemptsMade).toBe(1);
  });

  it('a CRM merge moves the history into the surviving record; a deletion forgets the lead', async () => {
    await start();
    crm.profiles.set('hubspot.contact.502', { ...FIT_45 });
    await ingest([pageView('502', 'https://acme.io/blog/a'), pageView('502', 'https://acme.io/blog/b')]);
    const merged = { ...LEAD, id: '502' };
    await waitFor(async () => (await ctx.timeline.events(merged, 0)).length === 2, { what: '502 recorded' });

    await ingest([
      {
        eventId: String(++seq),
        portalId: '33',
        objectId: '501',
        occurredAt: Date.now(),
        subscriptionType: 'contact.merge',
        primaryObjectId: '501',
        mergedObjectIds: ['502'],
      },
    ]);
    await waitFor(async () => (await ctx.timeline.events(LEAD, 0)).length === 2, { what: 'history moved' });
    expect((await ctx.timeline.events(LEAD, 0)).every((entry) => entry.e.lead.id === '501')).toBe(true);
    expect(await ctx.timeline.events(merged, 0)).toEqual([]);
    await waitFor(() => crm.scores.has('hubspot.contact.501'), { what: 'survivor rescored' });

    await ingest([
      {
        eventId: String(++seq),
        portalId: '33',
        objectId: '501',
        occurredAt: Date.now(),
        subscriptionType: 'contact.deletion',
      },
    ]);
    await waitFor(async () => (await ctx.timeline.events(LEAD, 0)).length === 0, { what: 'forgotten' });
    expect((await ctx.leads.get(LEAD)).score).toBeUndefined();
  });
});

describe('pipeline into the HubSpot sandbox: a handoff whose stage had moved on', () => {
  let redis: Redis;
  let prefix: string;
  let sandbox: Sandbox;
  let pipeline: Pipeline;

  beforeEach(async () => {
    redis = testRedis();
    prefix = uniquePrefix('pipeline-hs');
    sandbox = await startSandbox();
  });
  afterEach(async () => {
    await pipeline.close();
    await sandbox.close();
    await cleanPrefix(redis, prefix);
    redis.disconnect();
  });

  /** A lead of fit 45 at stage "lead" in the sandbox, and the pipeline writing through the real SDK. */
  async function hubspotPipeline(id: string, email: string): Promise<Pipeline> {
    sandbox.seedContacts([
      {
        id,
        properties: {
          email,
          jobtitle: FIT_45.jobTitle,
          industry: FIT_45.industry,
          numemployees: FIT_45.companySize,
          country: FIT_45.country,
          lifecyclestage: 'lead',
        },
      },
    ]);
    const config = testConfig(prefix);
    const connector = createHubSpotConnector({
      accessToken: 'pipeline',
      basePath: sandbox.url,
      fields: config.hubspot.fields,
    });
    await connector.ensureSchema();
    return startPipeline({ redis, config, connector });
  }

  it('a retry that finds its own earlier stage write (its record of it lost) hands off as usual', async () => {
    pipeline = await hubspotPipeline('502', 'bo@acme.io');
    const { ctx, queues } = pipeline;
    const id = 'hf.hubspot.contact.502.0.mql';
    // The stage write reaches HubSpot, then the job dies before recording it (a crash, Redis gone):
    // the retry sees the record already at MQL, and must know it is its own doing.
    const mark = ctx.handoffs.mark.bind(ctx.handoffs);
    let lost = false;
    vi.spyOn(ctx.handoffs, 'mark').mockImplementation(async (handoffId, field, value) => {
      if (!lost && handoffId === id && field === 'stage' && value === 'mql') {
        lost = true;
        throw new Error('worker died before recording the stage');
      }
      return mark(handoffId, field, value);
    });
    await enqueueIngest(
      queues,
      hubspotIngest(
        [pageView('502', 'https://acme.io/blog/post'), pageView('502', 'https://acme.io/pricing')],
        ctx.config.hubspot,
        { receivedAt: Date.now() },
      ),
      ctx.config.handRaise,
    );
    await waitFor(async () => (await ctx.handoffs.progress(id)).completedAt, { what: 'handoff complete' });
    expect(lost).toBe(true);
    const progress = await ctx.handoffs.progress(id);
    expect(progress).toMatchObject({ stage: 'mql' });
    expect([progress.note, progress.task]).not.toContain('withdrawn');
    expect([sandbox.hubspot.notes.length, sandbox.hubspot.tasks.length]).toEqual([1, 1]);
    expect(sandbox.hubspot.contacts.get('502')).toMatchObject({
      lifecyclestage: 'marketingqualifiedlead',
      hubspot_owner_id: progress.ownerId,
    });
    const audit = await ctx.handoffs.recentAudit(20);
    expect(audit.map((a) => a.type)).not.toContain('stage_moved_on');
  });

  it('withdraws the note and rep task written beside a stage that did not stick, and starts no SLA clock', async () => {
    pipeline = await hubspotPipeline('501', 'ada@acme.io');
    const { ctx, queues } = pipeline;
    const ingest = (events: HubSpotWebhookEvent[]) =>
      enqueueIngest(
        queues,
        hubspotIngest(events, ctx.config.hubspot, { receivedAt: Date.now() }),
        ctx.config.handRaise,
      );
    await ingest([pageView('501', 'https://acme.io/blog/post')]);
    await waitFor(() => sandbox.hubspot.contacts.get('501')?.leadflow_score !== undefined, {
      what: 'fit-only score written, stage "lead" cached',
    });
    // Sales moves the record on; its webhook has not arrived, so our copy still says "lead".
    sandbox.hubspot.writeContact('501', { lifecyclestage: 'opportunity', hubspot_owner_id: '102' });

    await ingest([pageView('501', 'https://acme.io/pricing')]);
    const id = 'hf.hubspot.contact.501.0.mql';
    await waitFor(async () => (await ctx.handoffs.progress(id)).completedAt, { what: 'handoff complete' });
    expect(await ctx.handoffs.progress(id)).toMatchObject({
      stage: 'moved_on',
      note: 'withdrawn',
      task: 'withdrawn',
    });
    expect([sandbox.hubspot.notes, sandbox.hubspot.tasks]).toEqual([[], []]);
    const deletes = sandbox.calls.filter((c) => c.method === 'DELETE');
    expect(deletes.map((c) => `${c.path.replace(/\d+$/, ':id')} ${c.status}`).sort()).toEqual([
      '/crm/v3/objects/notes/:id 204',
      '/crm/v3/objects/tasks/:id 204',
    ]);
    expect(sandbox.hubspot.contacts.get('501')).toMatchObject({
      lifecyclestage: 'opportunity',
      hubspot_owner_id: '102',
    });
    expect(await queues.followup.getJobCounts('delayed', 'waiting', 'active')).toEqual({
      delayed: 0,
      waiting: 0,
      active: 0,
    });
  });
});
