import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeQueues, openQueues, enqueueReconciliationPoll, type Queues } from '../../src/queue/queues.js';
import { TEST_REDIS_URL, uniquePrefix } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';
import { ADMIN_USER_ID, REP_USER_ID, sendOutboundMessage } from '../sandbox/salesforce.js';
import { salesforceEnv, startSystem, type System } from '../system/index.js';

/**
 * Salesforce end to end with the shipped salesforce-only example config: the real server and
 * workers on real Redis, real jsforce against the sandbox org. An Outbound Message brings a profile
 * change, a polled campaign response (a demo request) hands the lead off in one composite request,
 * and sales' disposition comes back by Outbound Message and is acted on.
 */
describe('end to end: Salesforce Outbound Message and polling → handoff in Salesforce (sandbox)', () => {
  let sys: System;
  let sandbox: System['sandbox'];
  let queues: Queues;
  let leadId: string;

  beforeAll(async () => {
    sys = await startSystem({
      redisUrl: TEST_REDIS_URL,
      prefix: uniquePrefix('e2e-sf'),
      sandbox: { latencyMs: 5 },
      seed: (s) => {
        leadId = s.salesforce.insert('Lead', {
          FirstName: 'Grace',
          LastName: 'Hopper',
          Email: 'grace@hopper.dev',
          Company: 'Hopper Labs',
          Title: 'Engineer',
          Industry: 'Technology',
          NumberOfEmployees: 300,
          Country: 'United States',
          LeadSource: 'Web',
          Status: 'Open - Not Contacted',
        });
      },
      configFile: 'config/examples/salesforce-only.yaml',
      adjust: (c) => ({
        ...c,
        pipeline: { ...c.pipeline, scoreDebounceMs: 50, scoreWriteDelayMs: 50 },
        // Polls run when this test asks (CDC has its own tests against the sandbox's CometD).
        salesforce: { ...c.salesforce, cdc: undefined },
      }),
      env: salesforceEnv,
    });
    sandbox = sys.sandbox;
    queues = openQueues(sys.redis, sys.prefix, () => undefined);
  });

  afterAll(async () => {
    await sys?.stop();
    await closeQueues(queues);
    await sys?.close();
  });

  const lead = () => sandbox.salesforce.get('Lead', leadId)!;
  const tasks = () => sandbox.salesforce.records('Task').filter((t) => t.WhoId === leadId);
  const outbound = (notificationId: string, fields: Record<string, string>) =>
    sys.post.salesforce({
      sObject: 'Lead',
      notifications: [{ id: notificationId, fields: { Id: leadId, ...fields } }],
    });

  it('acknowledges an Outbound Message once its change is queued, and rescores the lead', async () => {
    // As in an org: the record is saved, then the workflow sends the message.
    sandbox.salesforce.update('Lead', leadId, { Title: 'VP Engineering' });
    const answer = await outbound('04l000000000001AAA', { Title: 'VP Engineering' });
    expect(answer).toMatchObject({ status: 200, acked: true });
    // Salesforce redelivers until acked: the same notification again is acked and changes nothing.
    expect(await outbound('04l000000000001AAA', { Title: 'VP Engineering' })).toMatchObject({ acked: true });

    // Title 20 + industry 10 + size 10: fit alone, no handoff yet (scores are written in batches).
    await waitFor(() => lead().Leadflow_Fit_Score__c === 40, { what: 'the fit score written' });
    expect(lead().Leadflow_Score__c).toBe(40);
    expect(lead().Status).toBe('Open - Not Contacted');
    expect(tasks()).toEqual([]);
  });

  it('hands off a polled demo request in one composite request: status, owner, scores and the rep task', async () => {
    const sf = sandbox.salesforce;
    const campaign = sf.insert('Campaign', { Name: 'Product demo request', Type: 'Other', IsActive: true });
    sf.insert('CampaignMember', { CampaignId: campaign, LeadId: leadId, Status: 'Responded' });
    const since = Date.now() - 60_000;
    sandbox.calls.length = 0;
    await enqueueReconciliationPoll(queues, { crm: 'salesforce', source: 'campaignMembers', since });

    await waitFor(() => lead().Status === 'Marketing Qualified', { what: 'Lead Status MQL' });
    await waitFor(() => tasks().length === 1, { what: 'one rep task' });
    const record = lead();
    // Fit 40 + demo request 30.
    expect(record.Leadflow_Score__c).toBe(70);
    expect(record.Leadflow_Engagement_Score__c).toBe(30);
    expect(String(record.Leadflow_Score_Reasons__c)).toMatch(/demo/i);
    expect([ADMIN_USER_ID, REP_USER_ID]).toContain(record.OwnerId);

    const task = tasks()[0]!;
    expect(task.OwnerId).toBe(record.OwnerId);
    expect(task.Status).toBe('Not Started');
    expect(task.Priority).toBe('High');
    expect(task.ActivityDate).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(String(task.Description)).toContain('Grace Hopper');
    expect(String(task.Description)).toContain(`Handoff ID: hf.salesforce.lead.${leadId}.0.mql`);

    const composites = sandbox.calls.filter((c) => c.method === 'POST' && c.path.endsWith('/composite'));
    expect(composites).toHaveLength(1);
    // No owner, status or task was written any other way.
    expect(sandbox.calls.filter((c) => c.method === 'POST' && /\/sobjects\/Task$/.test(c.path))).toHaveLength(
      0,
    );

    // Nothing more arrives later.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(tasks()).toHaveLength(1);
  });

  it("acts on sales' disposition sent back by Outbound Message: Do Not Contact opts the lead out", async () => {
    sandbox.salesforce.update('Lead', leadId, {
      Status: 'Closed - Not Converted',
      Leadflow_Disposition_Reason__c: 'Do Not Contact',
    });
    const answer = await outbound('04l000000000002AAA', {
      Status: 'Closed - Not Converted',
      Leadflow_Disposition_Reason__c: 'Do Not Contact',
    });
    expect(answer.acked).toBe(true);
    await waitFor(() => lead().HasOptedOutOfEmail === true, { what: 'the lead opted out of email' });
  });

  it('refuses a forged Outbound Message sent to the endpoint without its URL token', async () => {
    // The org id is public (Web-to-Lead forms carry it): it alone must not be enough.
    const forged = await sendOutboundMessage(`${sys.baseUrl}/webhooks/salesforce`, {
      sObject: 'Lead',
      notifications: [{ id: '04l000000000004AAA', fields: { Id: leadId, Email: 'attacker@example.com' } }],
    });
    expect(forged).toMatchObject({ status: 404, acked: false });
    expect(forged.body).toContain('SALESFORCE_OUTBOUND_TOKEN');
  });

  it('refuses an Outbound Message from another org, with a SOAP fault and no Ack', async () => {
    const answer = await sys.post.salesforce({
      orgId: '00D000000000002AAA',
      sObject: 'Lead',
      notifications: [{ id: '04l000000000003AAA', fields: { Id: leadId, Title: 'CEO' } }],
    });
    expect(answer).toMatchObject({ status: 403, acked: false });
    expect(answer.body).toContain('OrganizationId does not match');
  });
});
