import type { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { HubSpotWebhookEvent } from '../../connectors/hubspot/webhook.js';
import type { Config } from '../../src/config/schema.js';
import { batchOf, type LeadRef, type Profile, type ProfileChange } from '../../src/domain/index.js';
import { enqueueIngest } from '../../src/queue/queues.js';
import { hubspotIngest } from '../../src/receive/hubspot.js';
import { salesforceIngest } from '../../src/receive/salesforce-outbound.js';
import { CompositeFakeConnector, FakeConnector } from '../helpers/fake-connector.js';
import { startPipeline, testConfig, type Pipeline } from '../helpers/pipeline.js';
import { cleanPrefix, testRedis, uniquePrefix } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';
import { salesRecord } from '../../jobs/target.js';

const FIT = {
  email: 'ada@acme.io',
  jobTitle: 'VP Marketing',
  industry: 'COMPUTER_SOFTWARE',
  companySize: '200',
  country: 'United States',
};
const HS_LEAD: LeadRef = { crm: 'hubspot', objectType: 'contact', id: '501' };
const SF_LEAD: LeadRef = { crm: 'salesforce', objectType: 'lead', id: '00Q000000000001AAA' };

let seq = 0;
const pricingView = (objectId: string): HubSpotWebhookEvent => ({
  eventId: String(1000 + ++seq),
  portalId: '33',
  objectId,
  occurredAt: Date.now(),
  subscriptionType: 'contact.propertyChange',
  propertyName: 'hs_analytics_last_url',
  propertyValue: 'https://acme.io/pricing',
});
const salesforceChange = (lead: LeadRef, field: string, value: string): ProfileChange => ({
  id: `salesforce:om:${++seq}:${field}`,
  lead,
  field,
  value,
  occurredAt: Date.now(),
  source: 'salesforce',
});

describe('one connector per CRM', () => {
  let redis: Redis;
  let prefix: string;
  let pipeline: Pipeline | undefined;

  beforeEach(() => {
    redis = testRedis();
    prefix = uniquePrefix('cross-crm');
  });
  afterEach(async () => {
    await pipeline?.close();
    pipeline = undefined;
    await cleanPrefix(redis, prefix);
    redis.disconnect();
  });

  const handoffDone = (id: string) =>
    waitFor(async () => (await pipeline!.ctx.handoffs.progress(id)).completedAt, { what: `${id} written` });
  /** A demo request from `lead`, queued for ingest as `source` delivers it. */
  const enqueueDemoRequest = (lead: LeadRef, id: string, source: 'salesforce' | 'poll' = 'salesforce') =>
    enqueueIngest(
      pipeline!.queues,
      {
        ...(source === 'poll' ? { source, poller: 'test' } : { source }),
        receivedAt: Date.now(),
        batch: batchOf(
          [{ id, lead, type: 'demo_request', occurredAt: Date.now(), source: lead.crm, properties: {} }],
          [],
        ),
      },
      pipeline!.ctx.config.handRaise,
    );

  it('a CRM that writes a handoff at once gets one request: stage, owner, score, task with the note', async () => {
    const crm = new CompositeFakeConnector('salesforce');
    crm.profiles.set('salesforce.lead.00Q000000000001AAA', { ...FIT });
    // The first answer is lost after the CRM acted: the retry must find the task, not make another.
    crm.failNext('writeHandoff', { network: true, message: 'socket hang up' }, { loseResponse: true });
    pipeline = await startPipeline({ redis, config: testConfig(prefix), connector: crm });
    await enqueueDemoRequest(SF_LEAD, 'salesforce:cm:1');
    await handoffDone('hf.salesforce.lead.00Q000000000001AAA.0.mql');

    expect(crm.calls.filter((c) => c.method === 'writeHandoff').map((c) => c.mayExist)).toEqual([
      false,
      true,
    ]);
    expect(
      crm.calls.some((c) => ['advanceStage', 'createHandoffNote', 'createRepTask'].includes(c.method)),
    ).toBe(false);
    expect(crm.tasks).toHaveLength(1);
    expect(crm.tasks[0]?.body).toContain('Handoff ID: hf.salesforce.lead.00Q000000000001AAA.0.mql');
    expect(crm.stages.get('salesforce.lead.00Q000000000001AAA')).toBe('mql');
    const write = crm.handoffWrites[0]!;
    expect(write.task?.ownerId).toBe(write.ownerId);
    expect(write.ownerId).not.toBeNull();
    const progress = await pipeline.ctx.handoffs.progress('hf.salesforce.lead.00Q000000000001AAA.0.mql');
    expect(progress).toMatchObject({ note: crm.tasks[0]!.id, task: crm.tasks[0]!.id, scores: 'done' });
  });

  it('a lead sales already converted: the handoff counts as converted, no SLA chase, later writes go to its contact', async () => {
    const CONTACT: LeadRef = { crm: 'salesforce', objectType: 'contact', id: '003000000000001AAA' };
    const crm = new CompositeFakeConnector('salesforce');
    crm.profiles.set('salesforce.lead.00Q000000000001AAA', { ...FIT });
    // What the Salesforce connector answers for a converted Lead: the note went to its Contact.
    const write = crm.writeHandoff.bind(crm);
    crm.writeHandoff = async (w) => ({
      ...(await write({ ...w, lead: CONTACT, ownerId: null, task: null })),
      stage: 'Closed - Converted',
      convertedTo: CONTACT,
    });
    pipeline = await startPipeline({ redis, config: testConfig(prefix), connector: crm });
    const id = 'hf.salesforce.lead.00Q000000000001AAA.0.mql';
    await enqueueDemoRequest(SF_LEAD, 'salesforce:cm:conv');
    await handoffDone(id);

    const progress = await pipeline.ctx.handoffs.progress(id);
    expect(progress.convertedAt).toBeDefined();
    expect(progress.ownerId).toBeUndefined();
    const audit = await pipeline.ctx.handoffs.recentAudit(20);
    const converted = audit.filter((e) => e.type === 'converted');
    expect(converted.map((e) => [e.handoffId, e.detail?.stage])).toEqual([[id, 'Closed - Converted']]);
    expect(audit.some((e) => e.type === 'dead_letter')).toBe(false);
    expect(await pipeline.queues.followup.getDelayedCount()).toBe(0);
    expect(await pipeline.ctx.links.convertedTo(SF_LEAD)).toEqual(CONTACT);
    expect(await salesRecord(pipeline.ctx, SF_LEAD)).toEqual(CONTACT);
    // The note on the Contact is context for sales, not a stale task for our rep: it stays.
    expect(progress.note).toBe(crm.tasks[0]!.id);
    expect(crm.deletedNotes.size + crm.deletedTasks.size).toBe(0);
  });

  it('writes score-only updates to each lead’s own CRM', async () => {
    const hubspot = new FakeConnector('hubspot');
    const salesforce = new FakeConnector('salesforce');
    hubspot.profiles.set('hubspot.contact.501', { country: 'Canada' });
    salesforce.profiles.set('salesforce.lead.00Q000000000001AAA', { country: 'Canada' });
    pipeline = await startPipeline({ redis, config: testConfig(prefix), connector: [hubspot, salesforce] });
    await enqueueIngest(
      pipeline.queues,
      {
        source: 'poll',
        receivedAt: Date.now(),
        poller: 'test',
        batch: batchOf(
          [HS_LEAD, SF_LEAD].map((lead, i) => ({
            id: `e${i}`,
            lead,
            type: 'page_view',
            occurredAt: Date.now(),
            source: 'test',
            properties: { url: 'https://acme.io/blog' },
          })),
          [],
        ),
      },
      pipeline.ctx.config.handRaise,
    );
    await waitFor(
      () =>
        hubspot.scores.has('hubspot.contact.501') &&
        salesforce.scores.has('salesforce.lead.00Q000000000001AAA'),
      {
        what: 'both scores written',
      },
    );
    expect(hubspot.scores.has('salesforce.lead.00Q000000000001AAA')).toBe(false);
    expect(salesforce.scores.has('hubspot.contact.501')).toBe(false);
  });

  it('a 429 holds up only the CRM that answered it: the other CRM’s handoffs go on meanwhile', async () => {
    const hubspot = new FakeConnector('hubspot');
    const salesforce = new CompositeFakeConnector('salesforce');
    hubspot.profiles.set('hubspot.contact.501', { ...FIT });
    salesforce.profiles.set('salesforce.lead.00Q000000000001AAA', { ...FIT });
    // HubSpot's daily limit: with no known reset, its work waits 15 minutes for the next probe.
    hubspot.failNext('createHandoffNote', { status: 429, policy: 'DAILY', message: 'daily limit' });
    pipeline = await startPipeline({ redis, config: testConfig(prefix), connector: [hubspot, salesforce] });
    await enqueueDemoRequest(HS_LEAD, 'hs-demo', 'poll');
    await waitFor(() => hubspot.calls.some((c) => c.method === 'createHandoffNote'), { what: 'the 429' });
    await enqueueDemoRequest(SF_LEAD, 'sf-demo', 'poll');
    await handoffDone('hf.salesforce.lead.00Q000000000001AAA.0.mql');
    // HubSpot's handoff waits for its limit, without spending an attempt.
    const held = await pipeline.queues.writeback.getJob('hf.hubspot.contact.501.0.mql');
    expect(await held?.getState()).toBe('delayed');
    expect(held?.attemptsMade).toBe(0);
    expect(hubspot.notes).toHaveLength(0);
  });

  describe('marketing in HubSpot, sales in Salesforce', () => {
    const crossCrm =
      (createMissing: boolean) =>
      (c: Config): Config => ({
        ...c,
        crossCrm: { handoffTo: 'salesforce', matchBy: 'email', createMissing },
        dispositions: { ...c.dispositions, statuses: ['Closed - Not Converted'] },
      });

    /** A HubSpot contact fit enough that one pricing view hands it off into Salesforce. */
    async function startWithPricingView(
      createMissing: boolean,
      salesforceLeads: Record<string, Profile> = {},
    ) {
      const hubspot = new FakeConnector('hubspot');
      const salesforce = new CompositeFakeConnector('salesforce');
      hubspot.profiles.set('hubspot.contact.501', { ...FIT });
      for (const [key, profile] of Object.entries(salesforceLeads)) salesforce.profiles.set(key, profile);
      const started = await startPipeline({
        redis,
        config: testConfig(prefix, crossCrm(createMissing)),
        connector: [hubspot, salesforce],
      });
      pipeline = started;
      await enqueueIngest(
        started.queues,
        hubspotIngest([pricingView('501')], started.ctx.config.hubspot, { receivedAt: Date.now() }),
        started.ctx.config.handRaise,
      );
      return { hubspot, salesforce, started };
    }

    it('hands the lead off on its Salesforce record matched by email, and sales’ disposition there closes the loop', async () => {
      const { hubspot, salesforce, started } = await startWithPricingView(false, {
        'salesforce.lead.00Q000000000001AAA': { email: 'ADA@acme.io' },
      });
      await handoffDone('hf.hubspot.contact.501.0.mql');

      // Written on the Salesforce record, in one request; the HubSpot contact only gets its scores.
      expect(salesforce.handoffWrites.map((w) => w.lead)).toEqual([SF_LEAD]);
      expect(salesforce.tasks).toHaveLength(1);
      expect(hubspot.notes).toHaveLength(0);
      expect(hubspot.calls.some((c) => c.method === 'advanceStage')).toBe(false);
      expect(await started.ctx.links.salesRecordOf(HS_LEAD)).toEqual(SF_LEAD);

      // Sales disqualifies it in Salesforce: the change lands on the HubSpot lead's history.
      await enqueueIngest(
        started.queues,
        salesforceIngest(
          [
            salesforceChange(SF_LEAD, 'leadStatus', 'Closed - Not Converted'),
            salesforceChange(SF_LEAD, 'dispositionReason', 'competitor'),
          ],
          { receivedAt: Date.now() },
        ),
        started.ctx.config.handRaise,
      );
      await waitFor(() => salesforce.dispositions.length === 1, {
        what: 'disposition applied',
        timeoutMs: 8_000,
      });
      // The job writes our lifecycle after the CRM call, so the state is waited for, not read at once.
      await waitFor(async () => (await started.ctx.leads.get(HS_LEAD)).status === 'disqualified', {
        what: 'lead disqualified',
      });
      expect(salesforce.dispositions).toEqual([
        { lead: 'salesforce.lead.00Q000000000001AAA', action: 'disqualify' },
      ]);
      // The status change was sales' first action on the handoff.
      const progress = await started.ctx.handoffs.progress('hf.hubspot.contact.501.0.mql');
      expect(progress.actedWhat).toBe('leadStatus → Closed - Not Converted');
    });

    it('creates the Salesforce lead when none matches and createMissing is on', async () => {
      const { salesforce, started } = await startWithPricingView(true);
      await handoffDone('hf.hubspot.contact.501.0.mql');
      const created = await started.ctx.links.salesRecordOf(HS_LEAD);
      expect(created?.crm).toBe('salesforce');
      expect(salesforce.profiles.get(`salesforce.lead.${created!.id}`)).toMatchObject({
        email: 'ada@acme.io',
      });
      expect(salesforce.handoffWrites.map((w) => w.lead)).toEqual([created]);
    });

    it('fails the handoff with a clear reason when nothing matches and creating is off', async () => {
      const { salesforce, started } = await startWithPricingView(false);
      const failed = await waitFor(
        async () => (await started.queues.writeback.getFailed()).find((j) => j.finishedOn) ?? null,
        { what: 'failed writeback' },
      );
      expect(failed.failedReason).toContain(
        'no salesforce record has the email of hubspot.contact.501; set crossCrm.createMissing to create one',
      );
      expect(failed.attemptsMade).toBe(1);
      expect(salesforce.handoffWrites).toHaveLength(0);
    });
  });
});
