import { Salesforce } from '../../src/config/schema.js';
import type { LeadRef, Profile } from '../../src/domain/index.js';
import type { SalesforceState } from '../sandbox/salesforce.js';

/** The default Salesforce config the sandbox tests run with. */
export const config = Salesforce.parse({});
const fields = config.fields;

/** Seeds a Lead as a marketing lead starts: open status, required fields filled. */
export function seedLead(state: SalesforceState, profile: Profile): LeadRef {
  const record: Record<string, string | number | boolean | null> = {
    LastName: 'Lovelace',
    Company: 'Analytical Engines',
    Status: fields.stages.open[0]!,
  };
  for (const [field, value] of Object.entries(profile))
    if (fields.lead[field] && value !== null) record[fields.lead[field]] = value;
  return { crm: 'salesforce', objectType: 'lead', id: state.insert('Lead', record) };
}

export const tasksOf = (state: SalesforceState, lead: LeadRef) =>
  state.records('Task').filter((t) => t.WhoId === lead.id);
