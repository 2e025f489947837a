import { z } from 'zod';
import { Every } from './common.js';

const SalesforceField = z.string().regex(/^[A-Za-z][A-Za-z0-9_]*$/, 'not a valid Salesforce field API name');
const SalesforceValue = z.union([z.string(), z.boolean()]);

/** Our canonical fields → Salesforce field API names, per sObject that holds leads. */
export const SalesforceFields = z.strictObject({
  lead: z.record(z.string(), SalesforceField).default({
    email: 'Email',
    firstName: 'FirstName',
    lastName: 'LastName',
    jobTitle: 'Title',
    company: 'Company',
    industry: 'Industry',
    companySize: 'NumberOfEmployees',
    city: 'City',
    state: 'State',
    country: 'Country',
    phone: 'Phone',
    source: 'LeadSource',
    ownerId: 'OwnerId',
    leadStatus: 'Status',
    dispositionReason: 'Leadflow_Disposition_Reason__c',
  }),
  contact: z.record(z.string(), SalesforceField).default({
    email: 'Email',
    firstName: 'FirstName',
    lastName: 'LastName',
    jobTitle: 'Title',
    city: 'MailingCity',
    state: 'MailingState',
    country: 'MailingCountry',
    phone: 'Phone',
    source: 'LeadSource',
    ownerId: 'OwnerId',
    leadStatus: 'Leadflow_Lifecycle_Stage__c',
    dispositionReason: 'Leadflow_Disposition_Reason__c',
  }),
  score: SalesforceField.default('Leadflow_Score__c'),
  fitScore: SalesforceField.default('Leadflow_Fit_Score__c'),
  engagementScore: SalesforceField.default('Leadflow_Engagement_Score__c'),
  scoreReasons: SalesforceField.default('Leadflow_Score_Reasons__c'),
  /**
   * The lifecycle field we move: Lead `Status`, and on Contacts (which have no status) a picklist
   * of the admin's choosing. Values are picklist API names; `config check --crm` verifies them.
   */
  lifecycle: z
    .strictObject({
      lead: SalesforceField.default('Status'),
      contact: SalesforceField.default('Leadflow_Lifecycle_Stage__c'),
    })
    .prefault({}),
  stages: z
    .strictObject({
      /** The values a lead starts at, before marketing qualifies it; a handoff moves only forward from them. */
      open: z.array(z.string().min(1)).min(1).default(['Open - Not Contacted']),
      mql: z.string().min(1).default('Marketing Qualified'),
      sql: z.string().min(1).default('Sales Qualified'),
      recycled: z.string().min(1).default('Recycled'),
      disqualified: z.string().min(1).default('Closed - Not Converted'),
    })
    .prefault({}),
  /** Values that mean sales converted the lead (for conversion reports). */
  convertedStages: z.array(z.string().min(1)).default(['Closed - Converted']),
  /** Written to remove a lead from marketing sends (the `unmarket` disposition). */
  unmarketable: z
    .strictObject({
      field: SalesforceField.default('HasOptedOutOfEmail'),
      value: SalesforceValue.default(true),
    })
    .prefault({}),
  /** Checkbox flagging records sales marked as bad data. */
  badData: SalesforceField.default('Leadflow_Bad_Data__c'),
});
export type SalesforceFields = z.infer<typeof SalesforceFields>;

const SalesforcePollSource = z.strictObject({
  everySeconds: Every,
  pageSize: z.number().int().min(1).max(2000).default(200),
});

export const SalesforcePolling = z.strictObject({
  /** Leads and Contacts changed since the watermark (`SystemModstamp`): missed profile changes. */
  leads: SalesforcePollSource.optional(),
  contacts: SalesforcePollSource.optional(),
  /** Tasks and Events on leads (calls, emails, meetings): engagement, and proof a rep acted. */
  activities: SalesforcePollSource.optional(),
  /** Campaign responses; a campaign whose name matches `webinar` gives `webinar_attended`. */
  campaignMembers: SalesforcePollSource.extend({
    /** Campaign name pattern (case-insensitive) → our event type; the first match wins. */
    types: z
      .array(z.strictObject({ campaign: z.string().min(1), event: z.string().min(1) }))
      .default([{ campaign: 'webinar', event: 'webinar_attended' }]),
    /** Event type for responses to campaigns no pattern matches. */
    event: z.string().min(1).default('campaign_response'),
  }).optional(),
});
export type SalesforcePolling = z.infer<typeof SalesforcePolling>;

export const Salesforce = z.strictObject({
  apiVersion: z
    .string()
    .regex(/^\d+\.0$/, 'like "62.0"')
    .default('62.0'),
  fields: SalesforceFields.prefault({}),
  /**
   * `leadflow`: we pick the owner and send `Sforce-Auto-Assign: FALSE`. `assignment_rules`: the
   * org's lead assignment rules pick it (we send no owner and let them run).
   */
  routing: z.enum(['leadflow', 'assignment_rules']).default('leadflow'),
  /** Rep tasks: the status a new one gets (an open one: a closed status would count as the rep acting). */
  taskStatus: z.string().min(1).default('Not Started'),
  /**
   * Handoff notes are Tasks written already closed, with this status: one of the org's closed
   * statuses (TaskStatus.IsClosed; `config check --crm` verifies it).
   */
  noteStatus: z.string().min(1).default('Completed'),
  /** Requests per second shared by every worker and poller (Salesforce counts per 24 h; this smooths bursts). */
  requestsPerSecond: z.number().int().min(1).max(1_000).default(20),
  /**
   * Share of the org's daily API allocation (from `Sforce-Limit-Info`) after which polling slows,
   * and after which it stops until usage falls; handoffs keep going until the org's own limit.
   */
  dailyUsage: z
    .strictObject({
      slowAt: z.number().min(0).max(1).default(0.8),
      stopAt: z.number().min(0).max(1).default(0.95),
    })
    .prefault({}),
  timeoutMs: z.number().int().min(100).max(120_000).default(20_000),
  /** Change Data Capture channels; off unless listed. */
  cdc: z
    .strictObject({
      channels: z
        .array(z.string().regex(/^\/(data|event)\/[A-Za-z0-9_]+$/, 'a channel like /data/LeadChangeEvent'))
        .default(['/data/LeadChangeEvent', '/data/ContactChangeEvent']),
    })
    .optional(),
  polling: SalesforcePolling.prefault({}),
});
export type Salesforce = z.infer<typeof Salesforce>;
