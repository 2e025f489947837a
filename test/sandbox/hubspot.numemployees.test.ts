import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { EMPLOYEE_RANGES } from './hubspot.js';
import { callSandbox } from '../helpers/sandbox-call.js';
import { startSandbox, type Sandbox } from './index.js';

let sandbox: Sandbox;
beforeAll(async () => {
  sandbox = await startSandbox();
});
afterAll(() => sandbox.close());
beforeEach(() => {
  sandbox.reset();
  sandbox.seedContacts([{ id: '1', properties: { email: 'ada@example.org', numemployees: '25-50' } }]);
});

const call = (method: string, path: string, body?: unknown) => callSandbox(sandbox.url, method, path, body);

describe('HubSpot sandbox: numemployees is a dropdown of ranges', () => {
  it('describes numemployees as an enumeration with the range options', async () => {
    const { status, body } = await call('GET', '/crm/v3/properties/contacts/numemployees');
    expect(status).toBe(200);
    expect(body).toMatchObject({ name: 'numemployees', type: 'enumeration', fieldType: 'select' });
    expect((body.options as { value: string }[]).map((o) => o.value)).toEqual(EMPLOYEE_RANGES);
  });

  it('accepts an option value, and an empty value that clears it', async () => {
    expect(
      (await call('PATCH', '/crm/v3/objects/contacts/1', { properties: { numemployees: '100-500' } })).status,
    ).toBe(200);
    expect(sandbox.hubspot.contacts.get('1')?.numemployees).toBe('100-500');
    expect(
      (await call('PATCH', '/crm/v3/objects/contacts/1', { properties: { numemployees: '' } })).status,
    ).toBe(200);
    expect(sandbox.hubspot.contacts.get('1')?.numemployees).toBe('');
  });

  it.each([
    ['a count', '300'],
    ['a number', 300],
    ['a near miss', '100 - 500'],
  ])('refuses %s that is no option with HubSpot INVALID_OPTION 400, writing nothing', async (_, value) => {
    const writes = [
      call('PATCH', '/crm/v3/objects/contacts/1', { properties: { firstname: 'Ada', numemployees: value } }),
      call('POST', '/crm/v3/objects/contacts/batch/update', {
        inputs: [{ id: '1', properties: { firstname: 'Ada', numemployees: value } }],
      }),
      call('POST', '/crm/v3/objects/contacts', {
        properties: { email: 'bob@example.org', numemployees: value },
      }),
    ];
    for (const { status, body } of await Promise.all(writes)) {
      expect(status).toBe(400);
      expect(body).toMatchObject({ status: 'error', category: 'VALIDATION_ERROR' });
      const message = String(body.message);
      expect(message.startsWith('Property values were not valid: ')).toBe(true);
      expect(JSON.parse(message.slice('Property values were not valid: '.length))).toEqual([
        {
          isValid: false,
          message: `${value} was not one of the allowed options: [${EMPLOYEE_RANGES.join(', ')}]`,
          error: 'INVALID_OPTION',
          name: 'numemployees',
        },
      ]);
    }
    expect(sandbox.hubspot.contacts.get('1')).toMatchObject({ numemployees: '25-50' });
    expect(sandbox.hubspot.contacts.get('1')?.firstname).toBeUndefined();
    expect(sandbox.hubspot.contacts.size).toBe(1);
  });
});
