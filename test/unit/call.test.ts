import nock from 'nock';
import { describe, expect, it } from 'vitest';
import { CallTimeoutError, crmCaller, withTimeout } from '../../connectors/call.js';
import { isCrmError, type CrmFailure } from '../../connectors/errors.js';
import { createHubSpotConnector } from '../../connectors/hubspot/index.js';
import { toCrmFailure } from '../../connectors/hubspot/errors.js';
import { toSalesforceFailure } from '../../connectors/salesforce/errors.js';
import { createSalesforceConnector } from '../../connectors/salesforce/index.js';
import type { CrmCallObservation } from '../../connectors/types.js';
import { HubSpotFields, Salesforce } from '../../src/config/schema.js';

const rejection = (p: Promise<unknown>): Promise<unknown> =>
  p.then(
    () => undefined,
    (e: unknown) => e,
  );
const never = () => new Promise<never>(() => undefined);

describe('connectors/call.ts: the call wrapper every CRM adapter shares', () => {
  it('aborts the signal it passed on and fails with one timeout error when the call takes too long', async () => {
    let signal: AbortSignal | undefined;
    const err = await rejection(
      withTimeout(20, (s) => {
        signal = s;
        return never();
      }),
    );
    expect(err).toBeInstanceOf(CallTimeoutError);
    expect(signal?.aborted).toBe(true);
    expect(signal?.reason).toBe(err);
    // Both CRMs read it as a network failure: the request may or may not have reached the CRM.
    expect(toCrmFailure(err).network).toBe(true);
    expect(toSalesforceFailure(err).network).toBe(true);
  });

  it("maps a failure through the CRM's reading, keeps what the client threw as cause, and observes it", async () => {
    const calls: CrmCallObservation[] = [];
    const order: string[] = [];
    const call = crmCaller({
      crm: 'hubspot',
      timeoutMs: 1_000,
      onCall: (c) => calls.push(c),
      toFailure: (e): CrmFailure => ({ crm: 'hubspot', status: 409, message: (e as Error).message }),
      before: () => Promise.resolve(void order.push('before')),
      refine: (failure, endpoint) => {
        order.push(`refine ${endpoint}`);
        failure.code = 'CONFLICT';
        return Promise.resolve();
      },
    });
    const sdkError = new Error('already exists');
    const err = await rejection(call('notes.create', 'create note', () => Promise.reject(sdkError)));
    expect(isCrmError(err) && err.failure).toEqual({
      crm: 'hubspot',
      status: 409,
      code: 'CONFLICT',
      message: 'create note: already exists',
    });
    expect((err as Error).cause).toBe(sdkError);
    expect(order).toEqual(['before', 'refine notes.create']);

    expect(await call('notes.get', 'read note', () => Promise.resolve(7))).toBe(7);
    expect(calls.map((c) => [c.endpoint, c.outcome])).toEqual([
      ['notes.create', '409'],
      ['notes.get', 'ok'],
    ]);
  });

  it('counts a timed-out call as a network outcome', async () => {
    const calls: CrmCallObservation[] = [];
    const call = crmCaller({
      crm: 'salesforce',
      timeoutMs: 20,
      onCall: (c) => calls.push(c),
      toFailure: toSalesforceFailure,
    });
    const err = await rejection(call('query', 'query Lead', never));
    expect(isCrmError(err) && err.failure.network).toBe(true);
    expect((err as Error).cause).toBeInstanceOf(CallTimeoutError);
    expect(calls.map((c) => c.outcome)).toEqual(['network']);
  });

  it("HubSpot: the SDK's ApiException is the CrmError's cause", async () => {
    const base = 'http://hubspot-cause.test';
    nock(base)
      .get(/\/crm\/v3\/objects\/contacts\/42/)
      .reply(404, { status: 'error', category: 'OBJECT_NOT_FOUND', message: 'Object not found' });
    const hubspot = createHubSpotConnector({
      accessToken: 'pat-test',
      basePath: base,
      fields: HubSpotFields.parse({}),
    });
    const err = await rejection(hubspot.readProfile({ crm: 'hubspot', objectType: 'contact', id: '42' }));
    expect(isCrmError(err) && err.failure.status).toBe(404);
    expect((err as Error).cause).toMatchObject({ code: 404 });
    nock.cleanAll();
  });

  it("Salesforce: jsforce's error is the CrmError's cause", async () => {
    const base = 'http://salesforce-cause.test';
    const config = Salesforce.parse({});
    nock(base)
      .get(`/services/data/v${config.apiVersion}/sobjects/Lead/00Q000000000042`)
      .query(true)
      .reply(404, [{ errorCode: 'NOT_FOUND', message: 'The requested resource does not exist' }]);
    const salesforce = createSalesforceConnector({
      instanceUrl: base,
      loginUrl: base,
      auth: { kind: 'access_token', accessToken: 'tok-test' },
      config,
    });
    const err = await rejection(
      salesforce.readProfile({ crm: 'salesforce', objectType: 'lead', id: '00Q000000000042' }),
    );
    expect(isCrmError(err) && err.failure).toMatchObject({ status: 404, code: 'NOT_FOUND' });
    expect((err as Error).cause).toMatchObject({ errorCode: 'NOT_FOUND' });
    nock.cleanAll();
  });
});
