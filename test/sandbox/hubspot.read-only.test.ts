import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { READ_ONLY_PROPERTIES } from './hubspot.js';
import { callSandbox } from '../helpers/sandbox-call.js';
import { startSandbox, type Sandbox } from './index.js';

let sandbox: Sandbox;
beforeAll(async () => {
  sandbox = await startSandbox();
});
afterAll(() => sandbox.close());
beforeEach(() => {
  sandbox.reset();
  sandbox.seedContacts([{ id: '1', properties: { email: 'ada@example.org', lifecyclestage: 'lead' } }]);
});

const call = (method: string, path: string, body?: unknown) => callSandbox(sandbox.url, method, path, body);

const refusal = {
  status: 'error',
  message:
    'Property values were not valid: [{"isValid":false,"message":"\\"hs_marketable_status\\" is a read only property; its value cannot be set.","error":"READ_ONLY_VALUE","name":"hs_marketable_status"}]',
  correlationId: '00000000-0000-4000-8000-000000000000',
  category: 'VALIDATION_ERROR',
};

describe('HubSpot sandbox: read-only (calculated) properties', () => {
  it('lists them with modificationMetadata.readOnlyValue, and our own properties as writable', async () => {
    const { body } = await call('GET', '/crm/v3/properties/contacts');
    const readOnly = (body.results as { name: string; modificationMetadata: { readOnlyValue: boolean } }[])
      .filter((p) => p.modificationMetadata.readOnlyValue)
      .map((p) => p.name);
    expect(readOnly.sort()).toEqual([...READ_ONLY_PROPERTIES].sort());
    await call('POST', '/crm/v3/properties/contacts', {
      name: 'leadflow_score',
      label: 'Lead score',
      type: 'number',
      fieldType: 'number',
      groupName: 'contactinformation',
    });
    const created = await call('GET', '/crm/v3/properties/contacts/leadflow_score');
    expect(created.body.modificationMetadata).toMatchObject({ readOnlyValue: false });
  });

  it('refuses a PATCH, batch update or create naming hs_marketable_status with 400 READ_ONLY_VALUE, applying nothing', async () => {
    const properties = { hs_marketable_status: 'false', firstname: 'Ada' };
    expect(await call('PATCH', '/crm/v3/objects/contacts/1', { properties })).toEqual({
      status: 400,
      body: refusal,
    });
    expect(
      await call('POST', '/crm/v3/objects/contacts/batch/update', { inputs: [{ id: '1', properties }] }),
    ).toEqual({ status: 400, body: refusal });
    expect(
      await call('POST', '/crm/v3/objects/contacts', { properties: { ...properties, email: 'b@x.io' } }),
    ).toEqual({ status: 400, body: refusal });
    expect(sandbox.hubspot.contacts.get('1')!.firstname).toBeUndefined();
    expect(sandbox.hubspot.contacts.size).toBe(1);
  });
});
