import nock from 'nock';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isCrmError } from '../../connectors/errors.js';
import { createHubSpotConnector } from '../../connectors/hubspot/index.js';
import { HubSpotFields } from '../../src/config/schema.js';
import type { Score } from '../../src/domain/index.js';

const BASE = 'http://hubspot.test';
const fields = HubSpotFields.parse({});
const lead = (id: string) => ({ crm: 'hubspot' as const, objectType: 'contact' as const, id });
const score = (total: number): Score => ({
  fit: 30,
  engagement: total - 30,
  total,
  computedAt: 0,
  breakdown: [
    { ruleId: 'r', kind: 'fit', points: 30, reason: 'Title matches (+30)', eventIds: [], capped: false },
  ],
});
const connector = () =>
  createHubSpotConnector({ accessToken: 'pat-test', basePath: BASE, fields, timeoutMs: 2_000 });
const object = (id: string, properties: Record<string, string> = {}) => ({
  id,
  properties,
  createdAt: '2026-01-01T00:00:00Z',
  updatedAt: '2026-01-01T00:00:00Z',
  archived: false,
});

/** Exact request shapes the real SDK sends, pinned with nock. */
describe('HubSpot connector request shapes', () => {
  beforeAll(() => nock.disableNetConnect());
  afterEach(() => {
    const pending = nock.pendingMocks();
    nock.cleanAll();
    expect(pending).toEqual([]);
  });
  afterAll(() => nock.enableNetConnect());

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

    const writes = Array.from({ length: 250 }, (_, i) => ({ lead: lead(String(i + 1)), score: score(55) }));
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
      { lead: lead('1'), score: score(60) },
      { lead: lead('2'), score: score(60) },
    ]);
    expect(failures).toHaveLength(1);
    expect(failures[0]?.lead.id).toBe('2');
    expect(failures[0]?.error.failure).toMatchObject({
      status: 400,
      code: 'OBJECT_NOT_FOUND',
      message: 'Object not found',
    });
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

  it('creates only the score properties that are missing', async () => {
    nock(BASE).get('/crm/v3/properties/contacts/leadflow_score').query(true).reply(200, {
      name: 'leadflow_score',
      label: 'x',
      type: 'number',
      fieldType: 'number',
      groupName: 'g',
      options: [],
    });
    for (const name of ['leadflow_fit_score', 'leadflow_engagement_score', 'leadflow_score_reasons'])
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
      .times(3)
      .reply(201, (_uri, body) => ({ ...(body as object), options: [] }));
    await connector().ensureSchema();
    expect(created.map((c) => [c.name, c.type, c.fieldType])).toEqual([
      ['leadflow_fit_score', 'number', 'number'],
      ['leadflow_engagement_score', 'number', 'number'],
      ['leadflow_score_reasons', 'string', 'textarea'],
    ]);
  });

  it('moves the lifecycle stage forward and never backward', async () => {
    nock(BASE)
      .get('/crm/v3/objects/contacts/1')
      .query({ properties: 'lifecyclestage' })
      .reply(200, object('1', { lifecyclestage: 'lead' }));
    nock(BASE)
      .patch('/crm/v3/objects/contacts/1', { properties: { lifecyclestage: 'marketingqualifiedlead' } })
      .reply(200, object('1'));
    await connector().advanceStage(lead('1'), 'mql');

    // Already a customer: writing MQL would move it backward, so nothing is written.
    nock(BASE)
      .get('/crm/v3/objects/contacts/2')
      .query(true)
      .reply(200, object('2', { lifecyclestage: 'customer' }));
    await connector().advanceStage(lead('2'), 'mql');
  });

  it('with a known stage, writes without reading first, and falls back to reading when it was stale', async () => {
    nock(BASE)
      .patch('/crm/v3/objects/contacts/3', { properties: { lifecyclestage: 'marketingqualifiedlead' } })
      .reply(200, object('3'));
    expect(await connector().advanceStage(lead('3'), 'mql', 'lead')).toBe('marketingqualifiedlead');

    // Known to be past MQL already: no call at all (nock would fail on any request).
    expect(await connector().advanceStage(lead('4'), 'mql', 'customer')).toBe('customer');

    // Stale copy: HubSpot refuses the backward move; read, see it is past, write nothing.
    nock(BASE).patch('/crm/v3/objects/contacts/5').reply(400, {
      status: 'error',
      category: 'VALIDATION_ERROR',
      message: 'lifecyclestage cannot move backward',
    });
    nock(BASE)
      .get('/crm/v3/objects/contacts/5')
      .query(true)
      .reply(200, object('5', { lifecyclestage: 'opportunity' }));
    expect(await connector().advanceStage(lead('5'), 'mql', 'lead')).toBe('opportunity');
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
      .writeScores([{ lead: lead('1'), score: score(50) }])
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
