import { NOTE_SUBJECT } from '../../connectors/salesforce/tasks.js';
import { createSalesforceConnector } from '../../connectors/salesforce/index.js';
import type { LeadRef } from '../../src/domain/index.js';
import { config, seedLead, tasksOf } from '../helpers/salesforce-seed.js';
import { startSandbox } from '../sandbox/index.js';
import { sfDatetime } from '../sandbox/salesforce/errors.js';
import { ADMIN_USER_ID, DEFAULT_API_VERSION, INACTIVE_USER_ID, REP_USER_ID } from '../sandbox/salesforce.js';
import { connectorConformance } from './suite.js';

const fields = config.fields;
const TASK_PATH = `/services/data/v${DEFAULT_API_VERSION}/sobjects/Task`;

connectorConformance('Salesforce (real jsforce against the sandbox)', async () => {
  const sandbox = await startSandbox();
  const state = sandbox.salesforce;
  const connector = createSalesforceConnector({
    instanceUrl: sandbox.url,
    loginUrl: sandbox.url,
    auth: { kind: 'access_token', accessToken: 'conformance' },
    config,
  });
  const canonical: Record<string, string> = {
    ...Object.fromEntries(fields.stages.open.map((v) => [v, 'lead'])),
    [fields.stages.mql]: 'mql',
    [fields.stages.sql]: 'sql',
    [fields.stages.recycled]: 'recycled',
    [fields.stages.disqualified]: 'disqualified',
  };
  const lead = (ref: LeadRef) => state.get('Lead', ref.id) ?? { Id: ref.id };
  return {
    connector,
    seedLead: (profile) => Promise.resolve(seedLead(state, profile)),
    missingLead: () => ({ crm: 'salesforce', objectType: 'lead', id: '00Q000000MISSNG' }),
    stage: (ref) => {
      const value = String(lead(ref).Status ?? '');
      return canonical[value] ?? value;
    },
    owner: (ref) => (lead(ref).OwnerId as string | null) ?? null,
    score: (ref) => (lead(ref).Leadflow_Score__c as number | null) ?? null,
    notes: (ref) =>
      tasksOf(state, ref)
        .filter((t) => t.Subject === NOTE_SUBJECT)
        .map((t) => String(t.Description ?? '')),
    tasks: (ref) =>
      tasksOf(state, ref)
        .filter((t) => t.Subject !== NOTE_SUBJECT)
        .map((t) => ({
          id: t.Id,
          ownerId: (t.OwnerId as string | null) ?? null,
          dueAt: Date.parse(String(t.ActivityDate)),
          body: String(t.Description ?? ''),
        })),
    completeTask: (id) => state.update('Task', id, { Status: 'Completed' }),
    option: { field: 'source', value: 'Phone Inquiry', label: 'Phone Inquiry' },
    recordUrl: (ref) => `${sandbox.url}/lightning/r/Lead/${ref.id}/view`,
    owners: { active: ADMIN_USER_ID, other: REP_USER_ID, deactivated: INACTIVE_USER_ID },
    dueDayOnly: true,
    loseNextCreate: () => sandbox.setFaults({ loseResponse: { method: 'POST', path: TASK_PATH, count: 1 } }),
    backdateActivities: (ref, days) => {
      const at = sfDatetime(Date.now() - days * 86_400_000);
      for (const t of tasksOf(state, ref)) state.update('Task', t.Id, { CreatedDate: at });
    },
    close: () => sandbox.close(),
  };
});
