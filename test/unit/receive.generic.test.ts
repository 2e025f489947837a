import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { genericReceiver, signGeneric } from '../../src/receive/generic.js';
import type { Delivery } from '../../src/receive/index.js';

const SECRET = 'events-secret-0123456789';
const NOW = 1_732_000_000_000;
const config = loadConfig('config/default.yaml');
const LEAD = { crm: 'hubspot', objectType: 'contact', id: '101' } as const;

function delivery(body: string | Buffer, headers = signGeneric(body, SECRET, NOW)): Delivery {
  return {
    method: 'POST',
    origin: 'http://127.0.0.1:3000',
    path: '/webhooks/events',
    headers: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v])),
    rawBody: Buffer.from(body),
    receivedAt: NOW,
    requestId: 'req-2',
  };
}

describe('generic events receiver', () => {
  const receiver = genericReceiver(config, SECRET);

  it('turns a signed batch into the ingest shape: ids namespaced, ISO times in ms', () => {
    const body = JSON.stringify({
      events: [{ id: 'w-1', lead: LEAD, type: 'webinar_attended', occurredAt: '2026-11-20T17:00:00Z' }],
      profile: [{ id: 'e-1', lead: LEAD, field: 'companySize', value: 240, occurredAt: NOW - 5 }],
    });
    expect(receiver.receive(delivery(body))).toEqual({
      ok: true,
      reply: { json: { accepted: 2 } },
      job: {
        source: 'generic',
        receivedAt: NOW,
        requestId: 'req-2',
        batch: {
          engagement: [
            {
              id: 'generic:w-1',
              lead: LEAD,
              type: 'webinar_attended',
              occurredAt: Date.parse('2026-11-20T17:00:00Z'),
              properties: {},
              source: 'generic.webhook',
            },
          ],
          profile: [
            {
              id: 'generic:e-1',
              lead: LEAD,
              field: 'companySize',
              value: 240,
              occurredAt: NOW - 5,
              source: 'generic.webhook',
            },
          ],
          leads: [LEAD],
          created: [],
          deleted: [],
          merged: [],
          ignored: 0,
        },
      },
    });
  });

  it.each([
    ['no signature', delivery('{}', {}), 401, /missing X-Leadflow-Timestamp/],
    [
      'a wrong secret',
      delivery('{}', signGeneric('{}', 'another-secret-0123456789', NOW)),
      401,
      /does not match/,
    ],
    [
      'an old timestamp',
      delivery('{}', signGeneric('{}', SECRET, NOW - 600_000)),
      401,
      /outside the allowed window/,
    ],
    ['no events at all', delivery('{}'), 400, /needs at least one event/],
  ])('rejects %s with %i', (_label, input, status, reason) => {
    const receipt = receiver.receive(input);
    expect(receipt).toMatchObject({ ok: false, status });
    expect(receipt.ok ? '' : receipt.reason).toMatch(reason);
  });

  it('refuses a correctly signed body that is not valid UTF-8 with 400', () => {
    const json = JSON.stringify({
      events: [{ id: 'w-1', lead: LEAD, type: 'webinar_attended', occurredAt: NOW }],
    });
    // An overlong encoding of "w" (0xC1 0xB7): never valid UTF-8.
    const body = Buffer.concat([
      Buffer.from(json.slice(0, json.indexOf('w-1'))),
      Buffer.from([0xc1, 0xb7]),
      Buffer.from(json.slice(json.indexOf('w-1') + 1)),
    ]);
    expect(receiver.receive(delivery(body))).toEqual({ ok: false, status: 400, reason: 'body is not UTF-8' });
  });

  it.each([
    ['a HubSpot id with a colon', { crm: 'hubspot', objectType: 'contact', id: 'x:y' }],
    ['a HubSpot id that is a path', { crm: 'hubspot', objectType: 'contact', id: '../../admin' }],
    ['a HubSpot id that is not a number', { crm: 'hubspot', objectType: 'contact', id: '12a' }],
    ['a 100 KB HubSpot id', { crm: 'hubspot', objectType: 'contact', id: '1'.repeat(100_000) }],
    ['a Salesforce id of 16 characters', { crm: 'salesforce', objectType: 'lead', id: '00Q000000000001A' }],
    ['a Salesforce id with a dot', { crm: 'salesforce', objectType: 'lead', id: '00Q000000000.01AAA' }],
    ['a 100 KB Salesforce id', { crm: 'salesforce', objectType: 'lead', id: 'a'.repeat(100_000) }],
  ])('refuses %s as a lead id with 400, in events and profile changes', (_label, lead) => {
    for (const payload of [
      { events: [{ id: 'w-1', lead, type: 'webinar_attended', occurredAt: NOW }] },
      { profile: [{ id: 'e-1', lead, field: 'title', value: 'CEO', occurredAt: NOW }] },
    ]) {
      const receipt = receiver.receive(delivery(JSON.stringify(payload)));
      expect(receipt).toMatchObject({ ok: false, status: 400 });
      expect(receipt.ok ? '' : receipt.reason).toMatch(/not a record id of that CRM[\s\S]*lead\.id/);
    }
  });

  it.each([
    ['HubSpot', { crm: 'hubspot', objectType: 'contact', id: '98765432101' }],
    ['Salesforce (15)', { crm: 'salesforce', objectType: 'lead', id: '00Q5g000004bXyZ' }],
    ['Salesforce (18)', { crm: 'salesforce', objectType: 'contact', id: '0035g000004bXyZEAU' }],
  ])('accepts a %s record id', (_label, lead) => {
    const body = JSON.stringify({ events: [{ id: 'w-1', lead, type: 'webinar_attended', occurredAt: NOW }] });
    expect(receiver.receive(delivery(body))).toMatchObject({ ok: true, job: { batch: { leads: [lead] } } });
  });

  it('answers 503 while no signing secret is configured', () => {
    expect(genericReceiver(config, undefined).receive(delivery('{}'))).toMatchObject({
      ok: false,
      status: 503,
    });
  });
});
