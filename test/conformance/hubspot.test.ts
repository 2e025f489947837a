import { createHubSpotConnector } from '../../connectors/hubspot/index.js';
import { HubSpotFields } from '../../src/config/schema.js';
import type { LeadRef } from '../../src/domain/index.js';
import { startSandbox } from '../sandbox/index.js';
import { connectorConformance } from './suite.js';

connectorConformance('HubSpot (real @hubspot/api-client against the sandbox)', async () => {
  const sandbox = await startSandbox();
  const fields = HubSpotFields.parse({});
  const connector = createHubSpotConnector({ accessToken: 'conformance', basePath: sandbox.url, fields });
  const state = sandbox.hubspot;
  state.owners.push({ id: '999', firstName: 'Gone', lastName: 'Away', email: 'gone@x.io', archived: true });
  const canonical = Object.fromEntries(Object.entries(fields.stages).map(([k, v]) => [v, k]));
  const contact = (lead: LeadRef) => state.contacts.get(lead.id) ?? {};
  const tasksOf = (lead: LeadRef) =>
    state.tasks.filter((t) => t.associations.some((a) => a.to.id === lead.id));
  let next = 1;
  return {
    connector,
    seedLead: (profile) => {
      const id = String(80_000 + next++);
      const properties: Record<string, string> = { lifecyclestage: 'lead' };
      for (const [field, value] of Object.entries(profile))
        if (fields.profile[field] && value !== null) properties[fields.profile[field]] = String(value);
      sandbox.seedContacts([{ id, properties }]);
      return Promise.resolve({ crm: 'hubspot', objectType: 'contact', id });
    },
    // Beyond both the seeded ids (80,001 on) and the ones the sandbox assigns to what the API creates (1 on).
    missingLead: () => ({ crm: 'hubspot', objectType: 'contact', id: '9999999999' }),
    // `lead` is both HubSpot's early stage and where recycled leads go back to.
    stage: (lead) => {
      const value = contact(lead).lifecyclestage ?? '';
      return value === fields.stages.recycled && contact(lead).hs_lead_status === fields.leadStatus.recycled
        ? 'recycled'
        : (canonical[value] ?? value);
    },
    owner: (lead) => contact(lead).hubspot_owner_id || null,
    score: (lead) => (contact(lead).leadflow_score ? Number(contact(lead).leadflow_score) : null),
    notes: (lead) =>
      state.notes
        .filter((n) => n.associations.some((a) => a.to.id === lead.id))
        .map((n) => n.properties.hs_note_body ?? ''),
    tasks: (lead) =>
      tasksOf(lead).map((t) => ({
        id: t.id,
        ownerId: t.properties.hubspot_owner_id || null,
        dueAt: Date.parse(t.properties.hs_timestamp ?? ''),
        body: t.properties.hs_task_body ?? '',
      })),
    completeTask: (id) => {
      const found = state.tasks.find((t) => t.id === id);
      if (found) found.properties.hs_task_status = 'COMPLETED';
    },
    option: { field: 'source', value: 'ORGANIC_SEARCH', label: 'Organic Search' },
    // Portal id and web app domain as the account-info API gives them.
    recordUrl: (lead) => `https://app.hubspot.com/contacts/62515/record/0-1/${lead.id}`,
    owners: { active: '101', other: '102', deactivated: '999' },
    loseNextCreate: (kind) =>
      sandbox.setFaults({
        loseResponse: {
          method: 'POST',
          path: kind === 'note' ? '/crm/v3/objects/notes' : '/crm/v3/objects/tasks',
          count: 1,
        },
      }),
    backdateActivities: (lead, days) => {
      const at = new Date(Date.now() - days * 86_400_000).toISOString();
      for (const record of [...state.notes, ...state.tasks])
        if (record.associations.some((a) => a.to.id === lead.id)) record.createdAt = at;
    },
    close: () => sandbox.close(),
  };
});
