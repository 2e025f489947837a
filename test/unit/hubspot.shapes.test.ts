import nock from 'nock';
import { describe, expect, it } from 'vitest';
import { isCrmError } from '../../connectors/errors.js';
import { createHubSpotConnector } from '../../connectors/hubspot/index.js';
import { HubSpotFields } from '../../src/config/schema.js';
import { pinRequests } from '../helpers/nock.js';
import { testScore } from '../helpers/score.js';

const BASE = 'http://hubspot.test';
const fields = HubSpotFields.parse({});
const lead = (id: string) => ({ crm: 'hubspot' as const, objectType: 'contact' as const, id });
const connector = () =>
  createHubSpotConnector({ accessToken: 'pat-test', basePath: BASE, fields, timeoutMs: 2_000 });
/** A record as HubSpot answers it, created an hour ago (a retry looks back 30 days for its own). */
const object = (id: string, properties: Record<string, string> = {}) => ({
  id,
  properties,
  createdAt: new Date(Date.now() - 3_600_000).toISOString(),
  updatedAt: new Date(Date.now() - 3_600_000).toISOString(),
  archived: false,
});

/** Exact request shapes the real SDK sends, pinned with nock. */
describe('HubSpot connector request shapes', () => {
  pinRequests();

  it('writes scores in batches of at most 100 with a bearer token', async () => {
    const bodies: { inputs: { id: string; properties: Record<string, string> }[] }[] = [];
    nock(BASE, { reqheaders: { authorization: 'Bearer pat-test' } })
      .post('/crm/v3/objects/contacts/batch/update', (body: (typeof bodies)[number]) => {
        bodies.push(body);
        return true;
      })
      .times(3)
      .reply(200, {
        status: 'COMPLETE',
        results: [],
        startedAt: '2026-01-01T00:00:00Z',
        completedAt: '2026-01-01T00:00:00Z',
      });

    const writes = Array.from({ length: 250 }, (_, i) => ({
      lead: lead(String(i + 1)),
      score: testScore(55),
    }));
    expect(await connector().writeScores(writes)).toEqual([]);
    expect(bodies.map((b) => b.inputs.length)).toEqual([100, 100, 50]);
    expect(bodies[0]?.inputs[0]).toEqual({
      id: '1',
      properties: {
        leadflow_score: '55',
        leadflow_fit_score: '30',
        leadflow_engagement_score: '25',
        leadflow_score_reasons: 'Title matches (+30)',
      },
    });
  });

  it('returns the records a 207 reports as failed, mapped back to their leads', async () => {
    nock(BASE)
      .post('/crm/v3/objects/contacts/batch/update')
      .reply(207, {
        status: 'COMPLETE',
        results: [object('1')],
        numErrors: 1,
        errors: [
          {
            status: 'error',
            category: 'OBJECT_NOT_FOUND',
            message: 'Object not found',
            context: { ids: ['2'] },
          },
        ],
        startedAt: '2026-01-01T00:00:00Z',
        completedAt: '2026-01-01T00:00:00Z',
      });
    const failures = await connector().writeScores([
      { lead: lead('1'), score: testScore(60) },
      { lead: lead('2'), score: testScore(60) },
    ]);
    expect(failures).toHaveLength(1);
    expect(failures[0]?.lead.id).toBe('2');
    expect(failures[0]?.error.failure).toMatchObject({
      status: 400,
      code: 'OBJECT_NOT_FOUND',
      message: 'Object not found',
    });
  });

  it('a batch refused whole for a missing id that it does not name is split until that id stands alone', async () => {
    const sent: string[][] = [];
    nock(BASE)
      .post('/crm/v3/objects/contacts/batch/update')
      .times(5)
      .reply((_uri, body) => {
        const ids = (body as { inputs: { id: string }[] }).inputs.map((i) => i.id);
        sent.push(ids);
        return ids.includes('3')
          ? [
              404,
              {
                status: 'error',
                message: 'Could not get some CONTACT objects, they may be deleted or not exist.',
                correlationId: '7a5f2f2e-5d0c-4f8e-9a53-3c1f1f0b9b11',
                category: 'OBJECT_NOT_FOUND',
              },
            ]
          : [
              200,
              {
                status: 'COMPLETE',
                results: [],
                startedAt: '2026-01-01T00:00:00Z',
                completedAt: '2026-01-01T00:00:00Z',
              },
            ];
      });
    const failures = await connector().writeScores(
      ['1', '2', '3', '4'].map((id) => ({ lead: lead(id), score: testScore(60) })),
    );
    expect(failures.map((f) => [f.lead.id, f.error.failure.status])).toEqual([['3', 404]]);
    expect(sent).toEqual([['1', '2', '3', '4'], ['1', '2'], ['3', '4'], ['3'], ['4']]);
  });

  it('a batch refused whole for another reason fails every record once, without splitting', async () => {
    nock(BASE).post('/crm/v3/objects/contacts/batch/update').reply(400, {
      status: 'error',
      message: 'Property values were not valid',
      correlationId: '7a5f2f2e-5d0c-4f8e-9a53-3c1f1f0b9b12',
      category: 'VALIDATION_ERROR',
    });
    const failures = await connector().writeScores(
      ['1', '2'].map((id) => ({ lead: lead(id), score: testScore(60) })),
    );
    expect(failures.map((f) => [f.lead.id, f.error.failure.code])).toEqual([
      ['1', 'VALIDATION_ERROR'],
      ['2', 'VALIDATION_ERROR'],
    ]);
  });

  it('creates a note associated to the contact with type 202', async () => {
    let sent: unknown;
    nock(BASE)
      .post('/crm/v3/objects/notes', (body) => {
        sent = body;
        return true;
      })
      .reply(201, object('9001'));
    const result = await connector().createHandoffNote(
      lead('42'),
      'hf.x',
      '<p>hello</p><p>Handoff ID: hf.x</p>',
      false,
    );
    expect(result).toEqual({ id: '9001', created: true });
    expect(sent).toMatchObject({
      properties: { hs_note_body: '<p>hello</p><p>Handoff ID: hf.x</p>' },
      associations: [
        { to: { id: '42' }, types: [{ associationCategory: 'HUBSPOT_DEFINED', associationTypeId: 202 }] },
      ],
    });
    expect(
      Date.parse((sent as { properties: { hs_timestamp: string } }).properties.hs_timestamp),
    ).not.toBeNaN();
  });

  it('finds the note of an earlier attempt instead of creating a second one', async () => {
    nock(BASE)
      .get('/crm/v4/objects/contacts/42/associations/notes')
      .query(true)
      .reply(200, {
        results: [
          { toObjectId: 7, associationTypes: [] },
          { toObjectId: 8, associationTypes: [] },
        ],
      });
    nock(BASE)
      .post('/crm/v3/objects/notes/batch/read', {
        inputs: [{ id: '7' }, { id: '8' }],
        properties: ['hs_note_body'],
        propertiesWithHistory: [],
      })
      .reply(200, {
        status: 'COMPLETE',
        results: [
          object('7', { hs_note_body: 'Handoff ID: hf.other' }),
          object('8', { hs_note_body: 'Handoff ID: hf.x' }),
        ],
        startedAt: '2026-01-01T00:00:00Z',
        completedAt: '2026-01-01T00:00:00Z',
      });
    expect(await connector().createHandoffNote(lead('42'), 'hf.x', 'body', true)).toEqual({
      id: '8',
      created: false,
    });
  });

  it('creates only the custom properties that are missing', async () => {
    nock(BASE).get('/crm/v3/properties/contacts/leadflow_score').query(true).reply(200, {
      name: 'leadflow_score',
      label: 'x',
      type: 'number',
      fieldType: 'number',
      groupName: 'g',
      options: [],
    });
    for (const name of [
      'leadflow_fit_score',
      'leadflow_engagement_score',
      'leadflow_score_reasons',
      'leadflow_bad_data',
      'leadflow_disposition_reason',
    ])
      nock(BASE)
        .get(`/crm/v3/properties/contacts/${name}`)
        .query(true)
        .reply(404, { status: 'error', message: 'not found', category: 'OBJECT_NOT_FOUND' });
    const created: { name: string; type: string; fieldType: string }[] = [];
    nock(BASE)
      .post('/crm/v3/properties/contacts', (body: (typeof created)[number]) => {
        created.push(body);
        return true;
      })
      .times(5)
      .reply(201, (_uri, body) => ({ ...(body as object), options: [] }));
    await connector().ensureSchema();
    expect(created.map((c) => [c.name, c.type, c.fieldType])).toEqual([
      ['leadflow_fit_score', 'number', 'number'],
      ['leadflow_engagement_score', 'number', 'number'],
      ['leadflow_score_reasons', 'string', 'textarea'],
      ['leadflow_bad_data', 'string', 'text'],
      ['leadflow_disposition_reason', 'string', 'text'],
    ]);
  });

  it('moves the lifecycle stage forward and never backward', async () => {
    nock(BASE)
      .get('/crm/v3/objects/contacts/1')
      .query({ properties: 'lifecyclestage' })
      .reply(200, object('1', { lifecyclestage: 'lead' }));
    nock(BASE)
      .patch('/crm/v3/objects/contacts/1', {
        properties: {
          lifecyclestage: 'marketingqualifiedlead',
          hs_lead_status: 'NEW',
          hubspot_owner_id: '77',
        },
      })
      .reply(
        200,
        object('1', {
          lifecyclestage: 'marketingqualifiedlead',
          hs_lead_status: 'NEW',
          hubspot_owner_id: '77',
        }),
      );
    await connector().advanceStage(lead('1'), 'mql', undefined, '77');

    // Already a customer: writing MQL would move it backward, and sales owns it: nothing is written.
    nock(BASE)
      .get('/crm/v3/objects/contacts/2')
      .query(true)
      .reply(200, object('2', { lifecyclestage: 'customer' }));
    await connector().advanceStage(lead('2'), 'mql', undefined, '77');
  });

  it('with a known stage, writes without reading first; a stale copy is seen in the answer and the owner and status put back', async () => {
    nock(BASE)
      .patch('/crm/v3/objects/contacts/3', {
        properties: { lifecyclestage: 'marketingqualifiedlead', hs_lead_status: 'NEW' },
      })
      .reply(200, object('3', { lifecyclestage: 'marketingqualifiedlead', hs_lead_status: 'NEW' }));
    expect(await connector().advanceStage(lead('3'), 'mql', 'lead')).toEqual({
      stage: 'marketingqualifiedlead',
      advanced: true,
    });

    // Known to be past MQL already: no call at all (nock would fail on any request).
    expect(await connector().advanceStage(lead('4'), 'mql', 'customer')).toEqual({
      stage: 'customer',
      advanced: false,
    });

    // Stale copy: HubSpot answers 200, keeps the stage and applies owner and status (its PATCH answer
    // shows the properties as they are after the update). The values before ours are written back.
    nock(BASE)
      .patch('/crm/v3/objects/contacts/5')
      .reply(200, {
        ...object('5', { lifecyclestage: 'opportunity', hs_lead_status: 'NEW', hubspot_owner_id: '77' }),
        updatedAt: '2026-01-02T10:00:00.000Z',
      });
    nock(BASE)
      .get('/crm/v3/objects/contacts/5')
      .query({ propertiesWithHistory: ['hs_lead_status', 'hubspot_owner_id'] })
      .reply(200, {
        ...object('5'),
        propertiesWithHistory: {
          hubspot_owner_id: [
            {
              value: '77',
              timestamp: '2026-01-02T10:00:00.000Z',
              sourceType: 'INTEGRATION',
              sourceId: '123',
            },
            { value: '12', timestamp: '2025-11-20T08:00:00.000Z', sourceType: 'CRM_UI', updatedByUserId: 9 },
          ],
          hs_lead_status: [
            { value: 'NEW', timestamp: '2026-01-02T10:00:00.000Z', sourceType: 'INTEGRATION' },
          ],
        },
      });
    nock(BASE)
      .patch('/crm/v3/objects/contacts/5', { properties: { hs_lead_status: '', hubspot_owner_id: '12' } })
      .reply(200, object('5', { hs_lead_status: '', hubspot_owner_id: '12' }));
    expect(await connector().advanceStage(lead('5'), 'mql', 'lead', '77')).toEqual({
      stage: 'opportunity',
      advanced: false,
      restored: ['hs_lead_status', 'hubspot_owner_id'],
    });
  });

  it('leaves a value someone set after our stale write as it is', async () => {
    nock(BASE)
      .patch('/crm/v3/objects/contacts/6')
      .reply(200, {
        ...object('6', { lifecyclestage: 'customer', hs_lead_status: 'NEW', hubspot_owner_id: '77' }),
        updatedAt: '2026-01-02T10:00:00.000Z',
      });
    nock(BASE)
      .get('/crm/v3/objects/contacts/6')
      .query(true)
      .reply(200, {
        ...object('6'),
        propertiesWithHistory: {
          hubspot_owner_id: [
            { value: '31', timestamp: '2026-01-02T10:00:02.000Z', sourceType: 'CRM_UI' },
            { value: '77', timestamp: '2026-01-02T10:00:00.000Z', sourceType: 'INTEGRATION' },
            { value: '12', timestamp: '2025-11-20T08:00:00.000Z', sourceType: 'CRM_UI' },
          ],
          hs_lead_status: [
            { value: 'NEW', timestamp: '2026-01-02T10:00:00.000Z', sourceType: 'INTEGRATION' },
            { value: 'CONNECTED', timestamp: '2025-12-01T08:00:00.000Z', sourceType: 'CRM_UI' },
          ],
        },
      });
    nock(BASE)
      .patch('/crm/v3/objects/contacts/6', { properties: { hs_lead_status: 'CONNECTED' } })
      .reply(200, object('6', { hs_lead_status: 'CONNECTED' }));
    expect(await connector().advanceStage(lead('6'), 'mql', 'lead', '77')).toEqual({
      stage: 'customer',
      advanced: false,
      restored: ['hs_lead_status'],
    });
  });

  it('creates the rep task with due date, owner and association 204, once per key', async () => {
    const due = Date.UTC(2026, 10, 24, 15, 0);
    nock(BASE)
      .post('/crm/v3/objects/tasks', {
        properties: {
          hs_timestamp: '2026-11-24T15:00:00.000Z',
          hs_task_subject: 'Call Ada',
          // hs_task_body is rich text: the plain-text body goes as HTML, its line breaks as <br>.
          hs_task_body: 'Why now…<br>Handoff ID: hf.x',
          hs_task_status: 'NOT_STARTED',
          hs_task_priority: 'HIGH',
          hs_task_type: 'CALL',
          hubspot_owner_id: '77',
        },
        associations: [
          { to: { id: '42' }, types: [{ associationCategory: 'HUBSPOT_DEFINED', associationTypeId: 204 }] },
        ],
      })
      .reply(201, object('900'));
    const task = {
      subject: 'Call Ada',
      body: 'Why now…\nHandoff ID: hf.x',
      dueAt: due,
      ownerId: '77',
      priority: 'HIGH' as const,
      type: 'CALL' as const,
    };
    expect(await connector().createRepTask(lead('42'), 'hf.x', task, false)).toEqual({
      id: '900',
      created: true,
    });

    // A retry after a lost response finds the task by its marker; an escalation's longer key is not a match.
    nock(BASE)
      .get('/crm/v4/objects/contacts/42/associations/tasks')
      .query(true)
      .reply(200, {
        results: [
          { toObjectId: 901, associationTypes: [] },
          { toObjectId: 900, associationTypes: [] },
        ],
      });
    nock(BASE)
      .post('/crm/v3/objects/tasks/batch/read', {
        inputs: [{ id: '901' }, { id: '900' }],
        properties: ['hs_task_body'],
        propertiesWithHistory: [],
      })
      .reply(200, {
        status: 'COMPLETE',
        results: [
          object('901', { hs_task_body: 'Handoff ID: hf.x.escalation.1' }),
          object('900', { hs_task_body: task.body }),
        ],
        startedAt: '2026-01-01T00:00:00Z',
        completedAt: '2026-01-01T00:00:00Z',
      });
    expect(await connector().createRepTask(lead('42'), 'hf.x', task, true)).toEqual({
      id: '900',
      created: false,
    });
  });

  it('escapes lead-controlled text in the rich-text task body, keeping line breaks', async () => {
    let sent = '';
    nock(BASE)
      .post('/crm/v3/objects/tasks', (body: { properties: { hs_task_body: string } }) => {
        sent = body.properties.hs_task_body;
        return true;
      })
      .reply(201, object('902'));
    const body = 'MQL: <img src=x onerror=alert(1)> <script>alert(2)</script> & co\n\nHandoff ID: hf.y';
    await connector().createRepTask(
      lead('42'),
      'hf.y',
      { subject: 'Call', body, dueAt: Date.UTC(2026, 10, 24), ownerId: null, priority: 'LOW', type: 'TODO' },
      false,
    );
    expect(sent).toBe(
      'MQL: &lt;img src=x onerror=alert(1)&gt; &lt;script&gt;alert(2)&lt;/script&gt; &amp; co<br><br>Handoff ID: hf.y',
    );
  });

  it('lists owners page by page, deactivated ones marked inactive, and caches them', async () => {
    const owner = (id: string, archived: boolean) => ({
      id,
      email: `o${id}@example.com`,
      firstName: 'Rep',
      lastName: id,
      type: 'PERSON',
      archived,
      createdAt: '2026-01-01T00:00:00Z',
      updatedAt: '2026-01-01T00:00:00Z',
    });
    nock(BASE)
      .get('/crm/v3/owners/')
      .query({ limit: '100', archived: 'false' })
      .reply(200, { results: [owner('1', false)], paging: { next: { after: 'p2' } } });
    nock(BASE)
      .get('/crm/v3/owners/')
      .query({ limit: '100', archived: 'false', after: 'p2' })
      .reply(200, { results: [owner('2', false)] });
    nock(BASE)
      .get('/crm/v3/owners/')
      .query({ limit: '100', archived: 'true' })
      .reply(200, { results: [owner('3', true)] });
    const hubspot = connector();
    const owners = await hubspot.owners();
    expect(owners.map((o) => [o.id, o.name, o.active])).toEqual([
      ['1', 'Rep 1', true],
      ['2', 'Rep 2', true],
      ['3', 'Rep 3', false],
    ]);
    // Cached: a second call makes no request (nock would refuse it).
    expect(await hubspot.owners()).toEqual(owners);
  });

  it('recycles by clearing the stage, setting it back, and checking it stuck', async () => {
    const writes: unknown[] = [];
    nock(BASE)
      .patch('/crm/v3/objects/contacts/8', (body) => {
        writes.push(body);
        return true;
      })
      .times(2)
      .reply(200, object('8'));
    nock(BASE)
      .get('/crm/v3/objects/contacts/8')
      .query({ properties: 'lifecyclestage' })
      .reply(200, object('8', { lifecyclestage: 'lead' }));
    await connector().applyDisposition(lead('8'), 'recycle');
    expect(writes).toEqual([
      { properties: { lifecyclestage: '' } },
      { properties: { lifecyclestage: 'lead', hs_lead_status: 'OPEN' } },
    ]);
  });

  it('polls modified contacts with one GTE filter, oldest first, 200 a page', async () => {
    let body: unknown;
    nock(BASE)
      .post('/crm/v3/objects/contacts/search', (b) => {
        body = b;
        return true;
      })
      .reply(200, {
        total: 1,
        results: [object('5', { jobtitle: 'CTO', lastmodifieddate: '2026-11-24T10:00:00.000Z' })],
        paging: { next: { after: '200' } },
      });
    const page = await connector().searchModifiedContacts(Date.UTC(2026, 10, 24, 9), undefined);
    expect(body).toEqual({
      filterGroups: [
        {
          filters: [
            { propertyName: 'lastmodifieddate', operator: 'GTE', value: String(Date.UTC(2026, 10, 24, 9)) },
          ],
        },
      ],
      sorts: [{ propertyName: 'lastmodifieddate', direction: 'ASCENDING' }],
      properties: [...Object.values(fields.profile), 'lifecyclestage', 'lastmodifieddate'],
      limit: 200,
      after: '0',
    });
    expect(page).toEqual({
      contacts: [{ lead: lead('5'), profile: { jobTitle: 'CTO' }, modifiedAt: Date.UTC(2026, 10, 24, 10) }],
      next: '200',
    });
  });

  it('reads email events and form submissions with the query HubSpot expects', async () => {
    nock(BASE)
      .get('/email/public/v1/events')
      .query({ startTimestamp: '1000', endTimestamp: '2000', limit: '1000', offset: 'abc' })
      .reply(200, {
        events: [{ id: 'e', type: 'OPEN', recipient: 'a@b.io', created: 1500 }],
        hasMore: false,
      });
    expect(await connector().emailEvents(1000, 2000, 'abc')).toEqual({
      events: [{ id: 'e', type: 'OPEN', recipient: 'a@b.io', created: 1500 }],
      skipped: 0,
    });
    nock(BASE)
      .get('/form-integrations/v1/submissions/forms/0a1b2c3d')
      .query({ limit: '50' })
      .reply(200, { results: [{ submittedAt: 5, values: [{ name: 'email', value: 'a@b.io' }] }] });
    expect(await connector().formSubmissions('0a1b2c3d', undefined)).toEqual({
      submissions: [{ submittedAt: 5, pageUrl: undefined, values: { email: 'a@b.io' } }],
      next: undefined,
    });
  });

  it('keeps the usable email events of a page with odd ones, counting what it left out', async () => {
    const statusChange = {
      type: 'STATUSCHANGE',
      recipient: 'a@b.io',
      portalId: 62515,
      source: 'SOURCE_RECIPIENT',
      requestedBy: 'a@b.io',
    };
    nock(BASE)
      .get('/email/public/v1/events')
      .query(true)
      .reply(200, {
        events: [
          { id: 'u', created: 1100, portalId: 62515 }, // UNBOUNCE: no type, no recipient
          { id: 'n', type: 'OPEN', created: 1200 }, // partial: no recipient
          { id: 'c', type: 'CLICK', recipient: 'a@b.io' }, // partial: no created
          { id: 'o', type: 'OPEN', recipient: 'a@b.io', created: 1300, emailCampaignId: 7 },
          {
            id: 's',
            created: 1400,
            ...statusChange,
            portalSubscriptionStatus: 'SUBSCRIBED',
            subscriptions: [{ id: 2849, status: 'UNSUBSCRIBED' }],
          },
        ],
        hasMore: false,
      });
    expect(await connector().emailEvents(1000, 2000, undefined)).toEqual({
      events: [
        { id: 'o', type: 'OPEN', recipient: 'a@b.io', created: 1300, emailCampaignId: 7 },
        {
          id: 's',
          type: 'STATUSCHANGE',
          recipient: 'a@b.io',
          created: 1400,
          source: 'SOURCE_RECIPIENT',
          portalSubscriptionStatus: 'SUBSCRIBED',
          subscriptions: [{ id: 2849, status: 'UNSUBSCRIBED' }],
        },
      ],
      skipped: 3,
    });
  });

  it('turns a 429 into a CrmError carrying the policy and the server wait', async () => {
    nock(BASE).post('/crm/v3/objects/contacts/batch/update').reply(
      429,
      {
        status: 'error',
        errorType: 'RATE_LIMIT',
        policyName: 'TEN_SECONDLY_ROLLING',
        message: 'You have reached your ten second limit.',
      },
      { 'X-HubSpot-RateLimit-Remaining': '0', 'X-HubSpot-RateLimit-Interval-Milliseconds': '10000' },
    );
    const err: unknown = await connector()
      .writeScores([{ lead: lead('1'), score: testScore(50) }])
      .catch((e: unknown) => e);
    expect(isCrmError(err)).toBe(true);
    expect((err as { failure: unknown }).failure).toMatchObject({
      status: 429,
      code: 'RATE_LIMIT',
      policy: 'TEN_SECONDLY_ROLLING',
      retryAfterMs: 10_000,
    });
  });
});
