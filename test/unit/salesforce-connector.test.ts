import { generateKeyPairSync, verify } from 'node:crypto';
import nock from 'nock';
import { describe, expect, it } from 'vitest';
import { isCrmError } from '../../connectors/errors.js';
import { jwtAudience, salesforceAuthFromEnv, type SalesforceAuth } from '../../connectors/salesforce/auth.js';
import { createSalesforceConnector } from '../../connectors/salesforce/index.js';
import type { HandoffWrite } from '../../connectors/types.js';
import { Env } from '../../src/config/env.js';
import { Salesforce } from '../../src/config/schema.js';
import { classifyFailure } from '../../src/queue/retry.js';
import { ApiUsage } from '../../src/store/api-usage.js';
import { keys } from '../../src/store/keys.js';
import { cleanPrefix, testRedis, uniquePrefix } from '../helpers/redis.js';
import { pinRequests } from '../helpers/nock.js';
import { testScore } from '../helpers/score.js';

const INSTANCE = 'https://acme.my.salesforce.test';
const LOGIN = 'https://login.salesforce.test';
const DATA = '/services/data/v62.0';
const LEAD_ID = '00Q000000000001AAA';
const OWNER = '005000000000002AAA';
const TASK_ID = '00T000000000001AAA';
const NOW = Date.UTC(2026, 10, 24, 9, 48);

const lead = (id = LEAD_ID) => ({ crm: 'salesforce' as const, objectType: 'lead' as const, id });
const connector = (
  settings: Record<string, unknown> = {},
  auth: SalesforceAuth = { kind: 'access_token', accessToken: 'tok-fixed' },
  extra: { usage?: ApiUsage } = {},
) =>
  createSalesforceConnector({
    instanceUrl: INSTANCE,
    loginUrl: LOGIN,
    auth,
    config: Salesforce.parse({ timeoutMs: 2_000, ...settings }),
    now: () => NOW,
    ...extra,
  });
const handoff = (over: Partial<HandoffWrite> = {}): HandoffWrite => ({
  lead: lead(),
  handoffId: 'hf.sf.1',
  stage: 'mql',
  knownStage: 'Open - Not Contacted',
  ownerId: OWNER,
  score: testScore(62),
  note: {
    subject: 'Call Ada (MQL, score 62)',
    text: 'Why now: pricing ×3\nHandoff ID: hf.sf.1',
    html: '<p>Why now: pricing ×3</p><p>Handoff ID: hf.sf.1</p>',
  },
  task: {
    subject: 'Call Ada (MQL, score 62)',
    body: 'ignored: the note is the body',
    dueAt: Date.UTC(2026, 10, 25, 15, 30),
    ownerId: OWNER,
    priority: 'HIGH',
    type: 'CALL',
  },
  mayExist: false,
  ...over,
});
const created = (referenceId: string, id: string) => ({
  body: { id, success: true, errors: [] },
  httpHeaders: {},
  httpStatusCode: 201,
  referenceId,
});
const patched = { body: null, httpHeaders: {}, httpStatusCode: 204, referenceId: 'record' };
const scoreFields = {
  Leadflow_Score__c: 62,
  Leadflow_Fit_Score__c: 30,
  Leadflow_Engagement_Score__c: 32,
  Leadflow_Score_Reasons__c: 'Title matches (+30)',
};

type Composite = { allOrNone: boolean; compositeRequest: Record<string, unknown>[] };

/** Exact request shapes the real jsforce client sends, pinned with nock. */
describe('Salesforce connector request shapes', () => {
  pinRequests();

  it('writes a handoff as ONE composite: record with Sforce-Auto-Assign FALSE, then the rep task', async () => {
    const bodies: Composite[] = [];
    nock(INSTANCE, { reqheaders: { authorization: 'Bearer tok-fixed' } })
      .post(`${DATA}/composite`, (b: Composite) => bodies.push(b) > 0)
      .reply(200, { compositeResponse: [patched, created('task', TASK_ID)] });

    const written = await connector().writeHandoff(handoff());
    expect(written).toEqual({
      stage: 'Marketing Qualified',
      advanced: true,
      note: { id: TASK_ID, created: true },
      task: { id: TASK_ID, created: true },
    });
    expect(bodies[0]).toEqual({
      allOrNone: true,
      compositeRequest: [
        {
          method: 'PATCH',
          url: `${DATA}/sobjects/Lead/${LEAD_ID}`,
          referenceId: 'record',
          body: { ...scoreFields, Status: 'Marketing Qualified', OwnerId: OWNER },
          httpHeaders: { 'Sforce-Auto-Assign': 'FALSE' },
        },
        {
          method: 'POST',
          url: `${DATA}/sobjects/Task`,
          referenceId: 'task',
          body: {
            WhoId: LEAD_ID,
            OwnerId: OWNER,
            Subject: 'Call Ada (MQL, score 62)',
            Description: 'Why now: pricing ×3\nHandoff ID: hf.sf.1',
            ActivityDate: '2026-11-25',
            Status: 'Not Started',
            Priority: 'High',
            TaskSubtype: 'Call',
          },
          // A trigger on Task that updates the Lead would re-run assignment rules without it.
          httpHeaders: { 'Sforce-Auto-Assign': 'FALSE' },
        },
      ],
    });
  });

  it('leaves owner and assignment to the org when routing is delegated to assignment rules', async () => {
    const bodies: Composite[] = [];
    nock(INSTANCE)
      .post(`${DATA}/composite`, (b: Composite) => bodies.push(b) > 0)
      .reply(200, { compositeResponse: [patched, created('task', TASK_ID)] });

    await connector({ routing: 'assignment_rules' }).writeHandoff(handoff());
    const [record, task] = bodies[0]!.compositeRequest;
    expect(record).toEqual({
      method: 'PATCH',
      url: `${DATA}/sobjects/Lead/${LEAD_ID}`,
      referenceId: 'record',
      body: { ...scoreFields, Status: 'Marketing Qualified' },
    });
    expect(task).not.toHaveProperty('httpHeaders');
  });

  it('creates a rep task alone with Sforce-Auto-Assign FALSE', async () => {
    nock(INSTANCE, { reqheaders: { 'sforce-auto-assign': 'FALSE' } })
      .post(`${DATA}/sobjects/Task`)
      .reply(201, { id: TASK_ID, success: true, errors: [] });
    await expect(connector().createRepTask(lead(), 'hf.sf.1', handoff().task!, false)).resolves.toEqual({
      id: TASK_ID,
      created: true,
    });
  });

  it('carries the note in a completed Task when there is no rep task, and never moves a stage back', async () => {
    const bodies: Composite[] = [];
    nock(INSTANCE)
      .post(`${DATA}/composite`, (b: Composite) => bodies.push(b) > 0)
      .reply(200, { compositeResponse: [patched, created('task', TASK_ID)] });

    const written = await connector().writeHandoff(handoff({ task: null, knownStage: 'Sales Qualified' }));
    expect(written).toEqual({
      stage: 'Sales Qualified',
      advanced: false,
      note: { id: TASK_ID, created: true },
      task: null,
    });
    const [record, task] = bodies[0]!.compositeRequest;
    // Already past MQL: scores only, no stage, no owner.
    expect(record).toMatchObject({ body: scoreFields, httpHeaders: { 'Sforce-Auto-Assign': 'FALSE' } });
    expect(task).toMatchObject({
      body: {
        WhoId: LEAD_ID,
        OwnerId: OWNER,
        Subject: 'Call Ada (MQL, score 62)',
        Status: 'Completed',
        ActivityDate: '2026-11-24',
        Description: 'Why now: pricing ×3\nHandoff ID: hf.sf.1',
      },
    });
  });

  it('throws the real cause of a failed composite, not its PROCESSING_HALTED sibling', async () => {
    nock(INSTANCE)
      .post(`${DATA}/composite`)
      .reply(200, {
        compositeResponse: [
          {
            body: [
              {
                errorCode: 'UNABLE_TO_LOCK_ROW',
                message: 'unable to obtain exclusive access to this record',
              },
            ],
            httpHeaders: {},
            httpStatusCode: 400,
            referenceId: 'record',
          },
          {
            body: [{ errorCode: 'PROCESSING_HALTED', message: 'The transaction was rolled back.' }],
            httpHeaders: {},
            httpStatusCode: 400,
            referenceId: 'task',
          },
        ],
      });
    const err: unknown = await connector()
      .writeHandoff(handoff())
      .catch((e: unknown) => e);
    expect(isCrmError(err) && err.failure.code).toBe('UNABLE_TO_LOCK_ROW');
    expect(isCrmError(err) && classifyFailure(err.failure, NOW).action).toBe('backoff');
  });

  it('after a lost composite answer, a retry finds the task by its marker and creates no second one', async () => {
    const bodies: Composite[] = [];
    nock(INSTANCE)
      .post(`${DATA}/composite`, (b: Composite) => bodies.push(b) > 0)
      .replyWithError(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }))
      .get(`${DATA}/query`)
      .query((q) => {
        expect(q.q).toBe(
          `SELECT Id, Description FROM Task WHERE WhoId = '${LEAD_ID}' AND CreatedDate >= 2026-10-25T09:48:00Z ORDER BY CreatedDate DESC`,
        );
        return true;
      })
      .reply(200, {
        totalSize: 2,
        done: true,
        records: [
          { attributes: { type: 'Task' }, Id: '00T000000000009AAA', Description: 'Handoff ID: hf.sf.10' },
          { attributes: { type: 'Task' }, Id: TASK_ID, Description: 'Why now\nHandoff ID: hf.sf.1' },
        ],
      })
      .post(`${DATA}/composite`, (b: Composite) => bodies.push(b) > 0)
      .reply(200, { compositeResponse: [patched] });

    const c = connector();
    const lost: unknown = await c.writeHandoff(handoff()).catch((e: unknown) => e);
    expect(isCrmError(lost) && lost.failure.network).toBe(true);
    const retried = await c.writeHandoff(handoff({ mayExist: true }));
    expect(retried.task).toEqual({ id: TASK_ID, created: false });
    expect(bodies[1]!.compositeRequest.map((r) => r.referenceId)).toEqual(['record']);
  });

  it('writes 450 scores as collections of 200/200/50 and maps a failed record to its lead', async () => {
    const bodies: { allOrNone: boolean; records: { id: string; attributes: { type: string } }[] }[] = [];
    nock(INSTANCE, { reqheaders: { 'sforce-auto-assign': 'FALSE' } })
      .patch(`${DATA}/composite/sobjects`, (b: (typeof bodies)[number]) => bodies.push(b) > 0)
      .times(3)
      .reply(200, (_uri, body: (typeof bodies)[number]) =>
        body.records.map((r) =>
          r.id === id(217)
            ? {
                success: false,
                errors: [
                  { statusCode: 'FIELD_CUSTOM_VALIDATION_EXCEPTION', message: 'Score locked', fields: [] },
                ],
              }
            : { id: r.id, success: true, errors: [] },
        ),
      );
    const id = (i: number) => `00Q${String(i).padStart(12, '0')}AAA`;
    const writes = Array.from({ length: 450 }, (_, i) => ({ lead: lead(id(i)), score: testScore(62) }));

    const failures = await connector().writeScores(writes);
    expect(bodies.map((b) => b.records.length)).toEqual([200, 200, 50]);
    expect(bodies[0]).toMatchObject({ allOrNone: false });
    expect(bodies[0]!.records[0]).toEqual({ attributes: { type: 'Lead' }, id: id(0), ...scoreFields });
    expect(failures.map((f) => f.lead.id)).toEqual([id(217)]);
    expect(failures[0]!.error.failure).toMatchObject({
      status: 400,
      code: 'FIELD_CUSTOM_VALIDATION_EXCEPTION',
      message: 'Score locked',
    });
  });

  it('pauses on REQUEST_LIMIT_EXCEEDED and records the usage Salesforce reported', async () => {
    const redis = testRedis();
    const prefix = uniquePrefix('sf-usage');
    const usage = new ApiUsage(redis, keys(prefix), 'salesforce');
    try {
      nock(INSTANCE)
        .get(`${DATA}/sobjects/Lead/${LEAD_ID}`)
        .query(true)
        .reply(403, [{ message: 'TotalRequests Limit exceeded.', errorCode: 'REQUEST_LIMIT_EXCEEDED' }], {
          'Sforce-Limit-Info': 'api-usage=15000/15000',
        });
      const err: unknown = await connector({}, undefined, { usage })
        .readProfile(lead())
        .catch((e: unknown) => e);
      expect(isCrmError(err) && err.failure).toMatchObject({ status: 403, code: 'REQUEST_LIMIT_EXCEEDED' });
      expect(isCrmError(err) && classifyFailure(err.failure, NOW)).toMatchObject({
        action: 'pause',
        scope: 'daily',
      });
      expect(await usage.get()).toEqual({ used: 15000, max: 15000, at: NOW });
    } finally {
      await cleanPrefix(redis, prefix);
      redis.disconnect();
    }
  });

  describe('sessions', () => {
    const refreshAuth: SalesforceAuth = {
      kind: 'refresh_token',
      clientId: 'client-id',
      clientSecret: 'client-secret-value',
      refreshToken: 'refresh-token-value',
      accessToken: 'tok-old',
    };
    const tokenGranted = (token: string) => ({
      access_token: token,
      instance_url: INSTANCE,
      id: `${LOGIN}/id/00D000000000001AAA/005000000000001AAA`,
      token_type: 'Bearer',
      issued_at: String(NOW),
      signature: 'sig',
    });
    const expired = [{ message: 'Session expired or invalid', errorCode: 'INVALID_SESSION_ID' }];
    const record = { attributes: { type: 'Lead' }, Id: LEAD_ID, Email: 'ada@x.io' };

    it('refreshes once on INVALID_SESSION_ID and resends the request', async () => {
      const grants: Record<string, string>[] = [];
      nock(INSTANCE, { reqheaders: { authorization: 'Bearer tok-old' } })
        .get(`${DATA}/sobjects/Lead/${LEAD_ID}`)
        .query(true)
        .reply(401, expired);
      nock(LOGIN)
        .post('/services/oauth2/token', (b: Record<string, string>) => grants.push(b) > 0)
        .reply(200, tokenGranted('tok-new'));
      nock(INSTANCE, { reqheaders: { authorization: 'Bearer tok-new' } })
        .get(`${DATA}/sobjects/Lead/${LEAD_ID}`)
        .query(true)
        .reply(200, record);

      const c = connector({}, refreshAuth);
      let refreshed = 0;
      c.onRefresh(() => refreshed++);
      expect(await c.readProfile(lead())).toMatchObject({ email: 'ada@x.io' });
      expect(refreshed).toBe(1);
      expect(grants).toEqual([
        {
          grant_type: 'refresh_token',
          client_id: 'client-id',
          refresh_token: 'refresh-token-value',
          client_secret: 'client-secret-value',
        },
      ]);
    });

    it('never loops: a fresh token refused as well fails as an auth outage after one refresh', async () => {
      // The org keeps refusing for a while; a client that refreshed on every 401 would get through.
      let reads = 0;
      let grants = 0;
      nock(INSTANCE)
        .get(`${DATA}/sobjects/Lead/${LEAD_ID}`)
        .query(true)
        .times(6)
        .reply(() => (++reads <= 5 ? [401, expired] : [200, record]));
      nock(LOGIN)
        .post('/services/oauth2/token')
        .times(5)
        .reply(() => [200, tokenGranted(`tok-${++grants}`)]);

      const err: unknown = await connector({}, refreshAuth)
        .readProfile(lead())
        .catch((e: unknown) => e);
      expect(isCrmError(err) && err.failure).toMatchObject({ status: 401, code: 'INVALID_SESSION_ID' });
      expect(isCrmError(err) && classifyFailure(err.failure, NOW).action).toBe('auth_outage');
      expect([reads, grants]).toEqual([2, 1]);
      nock.cleanAll();
    });

    it('keeps tokens and secrets out of an auth failure', async () => {
      nock(LOGIN).post('/services/oauth2/token').reply(400, {
        error: 'invalid_grant',
        error_description: 'expired access/refresh token refresh-token-value',
      });

      const err: unknown = await connector({}, { ...refreshAuth, accessToken: undefined })
        .readProfile(lead())
        .catch((e: unknown) => e);
      expect(isCrmError(err) && classifyFailure(err.failure, NOW).action).toBe('auth_outage');
      const text = `${String(err)} ${JSON.stringify(isCrmError(err) ? err.failure : {})}`;
      expect(text).toContain('expired access/refresh token');
      for (const secret of ['refresh-token-value', 'client-secret-value', 'tok-old'])
        expect(text).not.toContain(secret);
    });

    it('mints a token with a signed RS256 JWT bearer assertion before the first call', async () => {
      const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      const assertions: string[] = [];
      nock(LOGIN)
        .post('/services/oauth2/token', (b: Record<string, string>) => {
          expect(b.grant_type).toBe('urn:ietf:params:oauth:grant-type:jwt-bearer');
          return assertions.push(b.assertion!) > 0;
        })
        .reply(200, tokenGranted('tok-jwt'));
      nock(INSTANCE, { reqheaders: { authorization: 'Bearer tok-jwt' } })
        .get(`${DATA}/sobjects/Lead/${LEAD_ID}`)
        .query(true)
        .reply(200, record);

      const c = connector(
        {},
        {
          kind: 'jwt_bearer',
          clientId: 'client-id',
          username: 'integration@acme.test',
          privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
        },
      );
      await c.readProfile(lead());
      const [header, claims, signature] = assertions[0]!.split('.');
      const decode = (part: string): unknown => JSON.parse(Buffer.from(part, 'base64url').toString());
      expect(decode(header!)).toMatchObject({ alg: 'RS256' });
      expect(decode(claims!)).toEqual({
        iss: 'client-id',
        sub: 'integration@acme.test',
        // Posted to the login URL, but audienced at login.salesforce.com: never the token host.
        aud: 'https://login.salesforce.com',
        exp: Math.floor(NOW / 1000) + 180,
      });
      expect(
        verify(
          'RSA-SHA256',
          Buffer.from(`${header}.${claims}`),
          publicKey,
          Buffer.from(signature!, 'base64url'),
        ),
      ).toBe(true);
    });

    it.each([
      ['https://login.salesforce.com', 'https://login.salesforce.com'],
      ['https://test.salesforce.com/', 'https://test.salesforce.com'],
      ['https://acme.my.salesforce.com', 'https://login.salesforce.com'],
      ['https://acme--uat.sandbox.my.salesforce.com', 'https://test.salesforce.com'],
      ['http://127.0.0.1:4010', 'https://login.salesforce.com'],
    ])('audiences a JWT posted to %s at %s', (loginUrl, aud) => {
      expect(jwtAudience(loginUrl)).toBe(aud);
    });

    it('takes SALESFORCE_JWT_AUDIENCE (an Experience Cloud site) over the derived audience', () => {
      const env = Env.parse({
        SALESFORCE_CLIENT_ID: 'cid',
        SALESFORCE_USERNAME: 'integration@acme.test',
        SALESFORCE_JWT_PRIVATE_KEY: 'pem',
        SALESFORCE_JWT_AUDIENCE: 'https://acme.my.site.com/partners',
      });
      expect(salesforceAuthFromEnv(env)).toMatchObject({
        kind: 'jwt_bearer',
        audience: 'https://acme.my.site.com/partners',
      });
      expect(Env.safeParse({ SALESFORCE_JWT_AUDIENCE: 'http://login.salesforce.com' }).success).toBe(false);
    });
  });
});
