import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createHubSpotConnector } from '../../connectors/hubspot/index.js';
import type { HubSpotConnector } from '../../connectors/hubspot/connector.js';
import { HubSpotFields } from '../../src/config/schema.js';
import type { LeadRef } from '../../src/domain/index.js';
import { startSandbox, type Sandbox } from '../sandbox/index.js';
import { customProperty } from '../sandbox/hubspot.js';
import { testScore } from '../helpers/score.js';

/** HubSpot's write-side behaviours, with the real SDK against the sandbox. */
describe('HubSpot writes against the sandbox', () => {
  const fields = HubSpotFields.parse({});
  let sandbox: Sandbox;
  let connector: HubSpotConnector;
  const lead = (id: string): LeadRef => ({ crm: 'hubspot', objectType: 'contact', id });

  beforeAll(async () => {
    sandbox = await startSandbox();
  });
  afterAll(() => sandbox.close());
  beforeEach(() => {
    sandbox.reset();
    connector = createHubSpotConnector({ accessToken: 'writes', basePath: sandbox.url, fields });
  });

  it('finds an earlier note among more than 100 on the contact, reading them 100 at a time', async () => {
    sandbox.seedContacts([{ id: '500', properties: { email: 'many@x.io', lifecyclestage: 'lead' } }]);
    for (let i = 0; i < 150; i++)
      await connector.createHandoffNote(
        lead('500'),
        `hf.other.${i}`,
        `<p>Handoff ID: hf.other.${i}</p>`,
        false,
      );
    await connector.createHandoffNote(lead('500'), 'hf.lost', '<p>Handoff ID: hf.lost</p>', false);
    const reads = () => sandbox.calls.filter((c) => c.path === '/crm/v3/objects/notes/batch/read');
    const found = await connector.createHandoffNote(
      lead('500'),
      'hf.lost',
      '<p>Handoff ID: hf.lost</p>',
      true,
    );
    expect(found.created).toBe(false);
    expect(sandbox.hubspot.notes.filter((n) => n.properties.hs_note_body?.includes('hf.lost'))).toHaveLength(
      1,
    );
    expect(reads().map((c) => c.status)).toEqual([200, 200]);
  });

  it('writes the other scores of a batch HubSpot refused whole for one deleted id, and fails only that one', async () => {
    await connector.ensureSchema();
    sandbox.seedContacts(['601', '602', '604'].map((id) => ({ id, properties: { lifecyclestage: 'lead' } })));
    const failures = await connector.writeScores(
      ['601', '602', '603', '604'].map((id) => ({ lead: lead(id), score: testScore(70) })),
    );
    expect(failures.map((f) => [f.lead.id, f.error.failure.code])).toEqual([['603', 'OBJECT_NOT_FOUND']]);
    expect(['601', '602', '604'].map((id) => sandbox.hubspot.contacts.get(id)?.leadflow_score)).toEqual([
      '70',
      '70',
      '70',
    ]);
    const updates = sandbox.calls.filter((c) => c.path === '/crm/v3/objects/contacts/batch/update');
    expect(updates.map((c) => c.status)).toEqual([404, 200]);
  });

  it('hands over in one PATCH, and puts back owner and status when the stage had moved on', async () => {
    sandbox.seedContacts([
      { id: '700', properties: { lifecyclestage: 'lead' } },
      { id: '701', properties: { lifecyclestage: 'opportunity', hubspot_owner_id: '102' } },
    ]);
    expect(await connector.advanceStage(lead('700'), 'mql', 'lead', '101')).toEqual({
      stage: 'marketingqualifiedlead',
      advanced: true,
    });
    expect(sandbox.calls.map((c) => `${c.method} ${c.path}`)).toEqual(['PATCH /crm/v3/objects/contacts/700']);

    // Our copy still says "lead", but sales moved the record on: the stage stays, and so do its owner and status.
    const stale = await connector.advanceStage(lead('701'), 'mql', 'lead', '101');
    expect(stale).toEqual({
      stage: 'opportunity',
      advanced: false,
      restored: ['hs_lead_status', 'hubspot_owner_id'],
    });
    const contact = sandbox.hubspot.contacts.get('701')!;
    expect([contact.lifecyclestage, contact.hubspot_owner_id, contact.hs_lead_status]).toEqual([
      'opportunity',
      '102',
      '',
    ]);
  });

  it('unmarkets by unsubscribing the contact from all email (v4), never by writing hs_marketable_status', async () => {
    sandbox.seedContacts([{ id: '710', properties: { email: 'Opt.Out@x.io', lifecyclestage: 'lead' } }]);
    await connector.applyDisposition(lead('710'), 'unmarket');
    expect(sandbox.calls.map((c) => `${c.method} ${c.path} ${c.status}`)).toEqual([
      'GET /crm/v3/objects/contacts/710 200',
      'POST /communication-preferences/v4/statuses/Opt.Out%40x.io/unsubscribe-all 200',
    ]);
    expect([...sandbox.hubspot.unsubscribedAll.keys()]).toEqual(['opt.out@x.io']);
    expect(sandbox.hubspot.contacts.get('710')).toMatchObject({ hs_email_optout: 'true' });
    expect(sandbox.hubspot.contacts.get('710')!.hs_marketable_status).toBeUndefined();
    // A retry unsubscribes again, harmlessly.
    await connector.applyDisposition(lead('710'), 'unmarket');
    expect(sandbox.hubspot.unsubscribedAll.size).toBe(1);
  });

  it('unmarket also sets the configured workflow property, and needs a communication preferences write scope', async () => {
    sandbox.seedContacts([{ id: '711', properties: { email: 'wf@x.io' } }]);
    sandbox.hubspot.properties.set(
      'leadflow_unmarket',
      customProperty('leadflow_unmarket', 'string', 'text'),
    );
    const withProperty = createHubSpotConnector({
      accessToken: 'writes',
      basePath: sandbox.url,
      fields: HubSpotFields.parse({ unmarket: { property: { name: 'leadflow_unmarket', value: 'yes' } } }),
    });
    sandbox.hubspot.grantedScopes = new Set(['crm.objects.contacts.read', 'crm.objects.contacts.write']);
    await expect(withProperty.applyDisposition(lead('711'), 'unmarket')).rejects.toMatchObject({
      failure: { status: 403, code: 'MISSING_SCOPES' },
    });
    sandbox.hubspot.grantedScopes.add('communication_preferences.write');
    await withProperty.applyDisposition(lead('711'), 'unmarket');
    expect(sandbox.hubspot.contacts.get('711')).toMatchObject({
      leadflow_unmarket: 'yes',
      hs_email_optout: 'true',
    });
  });
});
