import type { HandoffWrite } from '../../connectors/types.js';
import { Salesforce } from '../../src/config/schema.js';
import { handoffMarker, type LeadRef, type Profile } from '../../src/domain/index.js';
import { REP_USER_ID, type SalesforceState } from '../sandbox/salesforce.js';
import { testScore } from './score.js';

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

/** A handoff of an open lead to the rep as the writeback job gives it: MQL, score 64, a call task. */
export function handoffWrite(
  ref: LeadRef,
  handoffId: string,
  over: Partial<HandoffWrite> = {},
): HandoffWrite {
  return {
    lead: ref,
    handoffId,
    stage: 'mql',
    knownStage: fields.stages.open[0],
    ownerId: REP_USER_ID,
    score: testScore(64),
    note: {
      subject: 'Call Ada (MQL, score 64)',
      text: `Why now: pricing ×3\n${handoffMarker(handoffId)}`,
      html: `<p>Why now: pricing ×3</p><p>${handoffMarker(handoffId)}</p>`,
    },
    task: {
      subject: 'Call Ada (MQL, score 64)',
      body: 'unused',
      dueAt: Date.UTC(2030, 0, 7, 15, 0),
      ownerId: REP_USER_ID,
      priority: 'HIGH',
      type: 'CALL',
    },
    mayExist: false,
    ...over,
  };
}
