import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logger.js';
import { TEST_REDIS_URL, uniquePrefix } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';
import { SECRETS, startSystem, type System } from '../system/index.js';
import { propertyChange } from '../system/webhooks.js';

/**
 * The slice end to end: a signed HubSpot webhook in; the real server, real BullMQ workers on real
 * Redis and the real @hubspot/api-client against the sandbox; lifecycle stage, score fields and
 * exactly one note out.
 */
describe('end to end: signed webhook → handoff in HubSpot (sandbox)', () => {
  let sys: System;
  let sandbox: System['sandbox'];
  const logLines: string[] = [];
  const logStream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logLines.push(chunk.toString());
      done();
    },
  });

  beforeAll(async () => {
    sys = await startSystem({
      redisUrl: TEST_REDIS_URL,
      prefix: uniquePrefix('e2e'),
      sandbox: { latencyMs: 5 },
      seed: (s) => {
        s.hubspot.owners.push({
          id: '4242',
          firstName: 'Olu',
          lastName: 'Adeyemi',
          email: 'olu@sales.example',
          archived: false,
        });
        const disposed = (id: string) => ({
          id,
          properties: { email: `lead${id}@example.org`, lifecyclestage: 'marketingqualifiedlead' },
        });
        s.seedContacts([disposed('7101'), disposed('7102'), disposed('7103'), disposed('7104')]);
        s.seedContacts([
          {
            id: '7001',
            properties: {
              email: 'grace@hopper.dev',
              firstname: 'Grace',
              lastname: 'Hopper',
              jobtitle: 'VP Engineering',
              company: 'Hopper Labs',
              industry: 'COMPUTER_SOFTWARE',
              numemployees: '100-500',
              country: 'United States',
              phone: '+1 212 555 0188',
              hs_timezone: 'america_slash_new_york',
              hs_analytics_source: 'ORGANIC_SEARCH',
              hs_analytics_source_data_1: 'google',
              lifecyclestage: 'lead',
              hubspot_owner_id: '4242',
            },
          },
        ]);
      },
      adjust: (c) => ({ ...c, pipeline: { ...c.pipeline, scoreDebounceMs: 50 } }),
      logger: createLogger('debug', logStream),
    });
    sandbox = sys.sandbox;
  });

  afterAll(async () => {
    await sys?.close();
  });

  const pricingView = (eventId: number) =>
    propertyChange(7001, 'hs_analytics_last_url', 'https://example.com/pricing', {
      eventId,
      occurredAt: Date.now() - 1_000,
    });

  it('creates the score properties on start', () => {
    for (const name of [
      'leadflow_score',
      'leadflow_fit_score',
      'leadflow_engagement_score',
      'leadflow_score_reasons',
    ])
      expect(sandbox.hubspot.properties.has(name), name).toBe(true);
  });

  it('writes lifecycle stage, score fields and exactly one note', async () => {
    expect(await sys.post.hubspot([pricingView(1)])).toBe(200);
    // HubSpot delivers at least once: the same event again must change nothing.
    expect(await sys.post.hubspot([pricingView(1)])).toBe(200);

    await waitFor(() => sandbox.hubspot.contacts.get('7001')?.lifecyclestage === 'marketingqualifiedlead', {
      what: 'lifecycle stage MQL',
    });
    await waitFor(() => sandbox.hubspot.notes.length === 1, { what: 'one note' });
    const contact = sandbox.hubspot.contacts.get('7001');
    // Fit 45 (title 20, industry 10, size 10, country 5) + pricing page 8 + page view 1.
    expect(Number(contact?.leadflow_score)).toBe(54);
    expect(Number(contact?.leadflow_fit_score)).toBe(45);
    expect(Number(contact?.leadflow_engagement_score)).toBe(9);

    const note = sandbox.hubspot.notes[0]!;
    expect(note.associations).toEqual([
      { to: { id: '7001' }, types: [{ associationCategory: 'HUBSPOT_DEFINED', associationTypeId: 202 }] },
    ]);
    // The action first; option values as the portal labels them (the properties API), or readable.
    expect(note.properties.hs_note_body).toMatch(
      /^<p><strong>Call Grace Hopper \(VP Engineering, Hopper Labs\) — MQL at score 54 — due (Mon |Tue |Wed |Thu |Fri |Sat |Sun )?\d\d:\d\d their time<\/strong><\/p>/,
    );
    expect(note.properties.hs_note_body).toContain('<li>Original: Organic Search (google)</li>');
    expect(note.properties.hs_note_body).toContain('industry: Computer software</li>');
    expect(note.properties.hs_note_body).toContain('Handoff ID: hf.hubspot.contact.7001.0.mql');

    // Nothing more arrives later: wait a little and count again.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(sandbox.hubspot.notes).toHaveLength(1);

    const metrics = await (await fetch(`${sys.baseUrl}/metrics`)).text();
    expect(metrics).toContain(
      'leadflow_crm_requests_total{crm="hubspot",endpoint="notes.batch_create",outcome="ok"} 1',
    );
    expect(metrics).toContain('leadflow_handoffs_total{stage="mql",trigger="threshold",owner="4242"} 1');
    expect(metrics).toMatch(/leadflow_speed_to_lead_seconds_count 1\n/);
    expect(metrics).toContain('leadflow_events_total{source="hubspot",outcome="duplicate"} 1');
    // The server process counts the shared queues on each scrape.
    expect(metrics).toContain('leadflow_queue_jobs{queue="writeback",state="failed"} 0');
    expect(metrics).toMatch(/leadflow_queue_jobs\{queue="ingest",state="waiting"\} \d+\n/);
  });

  it('keeps the lead with its CRM owner and gives them one task (association 204) due within the SLA', async () => {
    await waitFor(() => sandbox.hubspot.tasks.length === 1, { what: 'one task' });
    const task = sandbox.hubspot.tasks[0]!;
    expect(task.associations).toEqual([
      { to: { id: '7001' }, types: [{ associationCategory: 'HUBSPOT_DEFINED', associationTypeId: 204 }] },
    ]);
    expect(task.properties).toMatchObject({
      hubspot_owner_id: '4242',
      hs_task_status: 'NOT_STARTED',
      hs_task_priority: 'HIGH',
      hs_task_type: 'CALL',
    });
    expect(Date.parse(task.properties.hs_timestamp!)).toBeGreaterThan(Date.now());
    expect(task.properties.hs_task_body).toContain('Handoff ID: hf.hubspot.contact.7001.0.mql');
    // Short: the brief, and where the full story is.
    expect(task.properties.hs_task_subject).toMatch(
      /^Call Grace Hopper \(VP Engineering, Hopper Labs\) — MQL at score 54 — due /,
    );
    expect(task.properties.hs_task_body).toContain('Phone: +1 212 555 0188<br>Their time: ');
    expect(task.properties.hs_task_body).toContain(
      '(America/New_York)<br>Source: Organic Search (google)<br>',
    );
    expect(task.properties.hs_task_body).toContain('the handoff note on this record');
    expect(task.properties.hs_task_body).not.toContain('Why (in their words)');
    expect(sandbox.hubspot.contacts.get('7001')).toMatchObject({
      hubspot_owner_id: '4242',
      hs_lead_status: 'NEW',
    });
  });

  it('runs each disposition action in HubSpot from the status and reason sales set', async () => {
    const disposition = (objectId: number, reason: string, eventId: number) =>
      ['hs_lead_status', 'leadflow_disposition_reason'].map((propertyName, i) =>
        propertyChange(objectId, propertyName, i === 0 ? 'UNQUALIFIED' : reason, { eventId: eventId + i }),
      );
    const status = await sys.post.hubspot([
      ...disposition(7101, 'no_budget', 100),
      ...disposition(7102, 'competitor', 110),
      ...disposition(7103, 'do_not_contact', 120),
      ...disposition(7104, 'bad_data', 130),
    ]);
    expect(status).toBe(200);
    const contact = (id: string) => sandbox.hubspot.contacts.get(id)!;
    await waitFor(() => contact('7101').lifecyclestage === 'lead', { what: 'recycled to lead' });
    expect(contact('7101').hs_lead_status).toBe('OPEN');
    await waitFor(() => contact('7102').lifecyclestage === 'other', { what: 'disqualified' });
    // The API cannot set the marketing contact status: the contact is unsubscribed from all email.
    await waitFor(() => sandbox.hubspot.unsubscribedAll.has('lead7103@example.org'), { what: 'unmarketed' });
    expect(contact('7103').hs_email_optout).toBe('true');
    expect(contact('7103').hs_marketable_status).toBeUndefined();
    await waitFor(() => contact('7104').leadflow_bad_data === 'true', { what: 'bad data' });
    expect(contact('7104').lifecyclestage).toBe('other');
  });

  it('logs the handoff with its lead and request id, and never a token, secret or email', () => {
    const logs = logLines.join('');
    expect(logs).toMatch(/"lead":"hubspot\.contact\.7001".*"msg":"handoff written"/);
    expect(logs).toMatch(/"requestId":"[0-9a-f-]{36}".*"msg":"delivery ingested"/);
    for (const secret of [SECRETS.hubspotToken, SECRETS.hubspotClientSecret, 'grace@hopper.dev'])
      expect(logs).not.toContain(secret);
  });
});
