import { afterEach, describe, expect, it } from 'vitest';
import { createHubSpotConnector } from '../../connectors/hubspot/index.js';
import { MAX_IN_FLIGHT } from '../../connectors/hubspot/api.js';
import { isCrmError } from '../../connectors/errors.js';
import { createSalesforceConnector } from '../../connectors/salesforce/index.js';
import { HubSpotFields, Salesforce } from '../../src/config/schema.js';
import { waitFor } from '../helpers/wait.js';
import { startSandbox, type Sandbox } from '../sandbox/index.js';

const LEAD = { crm: 'hubspot', objectType: 'contact', id: '9' } as const;

describe('HubSpot transport: the SDK client against the sandbox', () => {
  let sandbox: Sandbox | undefined;
  afterEach(async () => {
    await sandbox?.close();
    sandbox = undefined;
  });

  it('answers chunked, as HubSpot does, when asked to', async () => {
    sandbox = await startSandbox({ chunked: true });
    sandbox.seedContacts([{ id: '9', properties: { email: 'x@y.io' } }]);
    const res = await fetch(`${sandbox.url}/crm/v3/objects/contacts/9`, {
      headers: { authorization: 'Bearer t' },
    });
    expect(res.headers.get('transfer-encoding')).toBe('chunked');
    expect(res.headers.get('content-length')).toBeNull();
    expect(await res.json()).toMatchObject({ id: '9', properties: { email: 'x@y.io' } });
  });

  it('many more concurrent calls than sockets on chunked answers: none fails (node-fetch#1767)', async () => {
    sandbox = await startSandbox({ chunked: true, latencyMs: 20 });
    sandbox.seedContacts([{ id: '9', properties: { email: 'x@y.io' } }]);
    const connector = createHubSpotConnector({
      accessToken: 't',
      basePath: sandbox.url,
      fields: HubSpotFields.parse({}),
    });
    const reads = await Promise.allSettled(
      Array.from({ length: 3 * MAX_IN_FLIGHT }, () => connector.readProfile(LEAD)),
    );
    const failed = reads.flatMap((r) => (r.status === 'rejected' ? [String(r.reason)] : []));
    expect(failed).toEqual([]);
    expect(sandbox.calls.filter((c) => c.status === 200)).toHaveLength(3 * MAX_IN_FLIGHT);
  });

  it('a CRM that takes the request but never answers: every call ends at its timeout, socket destroyed', async () => {
    sandbox = await startSandbox();
    sandbox.seedContacts([{ id: '9', properties: { email: 'x@y.io' } }]);
    const hubspot = createHubSpotConnector({
      accessToken: 't',
      basePath: sandbox.url,
      fields: HubSpotFields.parse({}),
      timeoutMs: 300,
    });
    const salesforce = createSalesforceConnector({
      instanceUrl: sandbox.url,
      loginUrl: sandbox.url,
      auth: { kind: 'access_token', accessToken: 'tok-sandbox' },
      config: Salesforce.parse({ timeoutMs: 300 }),
    });
    sandbox.setFaults({ stall: true });
    const failures = await Promise.all(
      [
        hubspot.readProfile(LEAD), // a generated SDK client
        hubspot.emailEvents(0, Date.now(), undefined), // the SDK's generic request
        salesforce.readProfile({ crm: 'salesforce', objectType: 'lead', id: '00Q000000000001AAA' }),
      ].map((call) =>
        call.then(
          () => undefined,
          (err: unknown) => (isCrmError(err) ? err.failure : err),
        ),
      ),
    );
    expect(failures).toMatchObject([{ network: true }, { network: true }, { network: true }]);
    // The client gave up on each request and closed its connection: none is left on the CRM.
    await waitFor(() => sandbox!.stalledConnections() === 0, { what: 'stalled connections closed' });
    sandbox.setFaults({ stall: false });
    expect(await hubspot.readProfile(LEAD)).toMatchObject({ email: 'x@y.io' });
  });
});
