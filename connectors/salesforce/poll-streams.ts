import { z } from 'zod';
import type { Salesforce } from '../../src/config/schema.js';
import {
  PropertyValue,
  handoffMarker,
  type EngagementEvent,
  type LeadRef,
  type ProfileChange,
} from '../../src/domain/index.js';
import type { CdcFieldMap } from './mapping.js';
import type { PageQuery } from './poll-query.js';
import { RECORD_ID, salesforceTime } from './soql.js';
import { DAY_MS } from '../../src/domain/time.js';

/** What the poller reads of each sObject, and how a record maps to events and profile changes. Pure. */

export const POLL_SOURCE = 'salesforce.poll';
/** The line our handoff notes and rep tasks carry; a task holding it was written by us. */
const HANDOFF_MARKER = handoffMarker('').trimEnd();

const SalesforceId = z.string().regex(RECORD_ID, 'a 15- or 18-character Salesforce id');

/** A Salesforce datetime (`2026-11-24T09:48:00.000+0000`) as ms. */
const Datetime = z.string().transform((text, ctx) => {
  const ms = salesforceTime(text);
  if (Number.isNaN(ms)) {
    ctx.issues.push({ code: 'custom', message: `not a date-time: "${text}"`, input: text });
    return z.NEVER;
  }
  return ms;
});

/** What every polled record has: it places the record in the keyset order. */
export const Positioned = z.object({ Id: SalesforceId, SystemModstamp: Datetime });
export type Positioned = z.infer<typeof Positioned>;

const TaskRecord = Positioned.extend({
  WhoId: SalesforceId.nullable(),
  Subject: z.string().nullable(),
  Description: z.string().nullable(),
  Status: z.string().nullable(),
  IsClosed: z.boolean(),
  OwnerId: SalesforceId.nullable(),
  TaskSubtype: z.string().nullable(),
  CreatedDate: Datetime,
  CompletedDateTime: Datetime.nullable(),
});

const EventRecord = Positioned.extend({
  WhoId: SalesforceId.nullable(),
  Subject: z.string().nullable(),
  OwnerId: SalesforceId.nullable(),
  CreatedDate: Datetime,
  ActivityDateTime: Datetime.nullable(),
});

const CampaignMemberRecord = Positioned.extend({
  LeadId: SalesforceId.nullable(),
  ContactId: SalesforceId.nullable(),
  Status: z.string().nullable(),
  HasResponded: z.boolean(),
  FirstRespondedDate: z.iso.date().nullable(),
  Campaign: z.object({ Name: z.string().nullable() }).nullable(),
});

/** What one record amounts to. */
export type RecordOutcome =
  | { kind: 'mapped'; events: EngagementEvent[]; profile: ProfileChange[] }
  /** Read but of no use to us (activity on no lead, our own open task). */
  | { kind: 'skipped' }
  | { kind: 'invalid'; reason: string };

const skipped: RecordOutcome = { kind: 'skipped' };
/** Canonical fields a converted Lead still reports (its converted status). */
const STATUS_FIELDS = new Set(['leadStatus', 'lifecycleStage']);

function invalid(error: z.ZodError): RecordOutcome {
  return { kind: 'invalid', reason: z.prettifyError(error).replace(/\s+/g, ' ') };
}

/** One sObject read by a poll source: what to select and how a record maps. */
export interface PollStream extends PageQuery {
  map(record: unknown): RecordOutcome;
}

const iso = (ms: number) => new Date(ms).toISOString();

/** The lead a `WhoId` points at, by key prefix; null for anything else (or nothing). */
export function whoLead(whoId: string | null): LeadRef | null {
  if (whoId?.startsWith('00Q')) return { crm: 'salesforce', objectType: 'lead', id: whoId };
  if (whoId?.startsWith('003')) return { crm: 'salesforce', objectType: 'contact', id: whoId };
  return null;
}

/** Leads or Contacts: a profile change per mapped field, named by the record's modification. */
export function profileStream(objectType: LeadRef['objectType'], fieldMap: CdcFieldMap): PollStream {
  const mapped = fieldMap[objectType];
  const isLead = objectType === 'lead';
  const schema = Positioned.extend({
    ...(isLead ? { IsConverted: z.boolean() } : {}),
    ...Object.fromEntries([...mapped.keys()].map((field) => [field, PropertyValue.optional()])),
  });
  return {
    sObject: isLead ? 'Lead' : 'Contact',
    fields: ['Id', 'SystemModstamp', ...(isLead ? ['IsConverted'] : []), ...mapped.keys()],
    map(raw) {
      const parsed = schema.safeParse(raw);
      if (!parsed.success) return invalid(parsed.error);
      const record = parsed.data as Positioned & Record<string, PropertyValue | undefined>;
      // A converted lead lives on as a Contact (and an Account); of the Lead only its converted
      // status still matters: it is what conversion reports count.
      const converted = record.IsConverted === true;
      const lead: LeadRef = { crm: 'salesforce', objectType, id: record.Id };
      const at = record.SystemModstamp;
      const profile = [...mapped].flatMap(([field, canonicals]) => {
        const value = record[field];
        if (value === undefined) return [];
        const kept = converted ? canonicals.filter((c) => STATUS_FIELDS.has(c)) : canonicals;
        return kept.map((canonical) => ({
          id: `salesforce:poll:${record.Id}:${at}:${canonical}`,
          lead,
          field: canonical,
          value,
          occurredAt: at,
          source: POLL_SOURCE,
        }));
      });
      if (converted && profile.length === 0) return skipped;
      return { kind: 'mapped', events: [], profile };
    },
  };
}

/** The rep's action as the pipeline's SLA logic reads it: a `lastSalesActivity` change. */
function salesActivity(activityId: string, lead: LeadRef, at: number): ProfileChange {
  return {
    id: `salesforce:poll:${activityId}:lastSalesActivity`,
    lead,
    field: 'lastSalesActivity',
    value: iso(at),
    occurredAt: at,
    source: POLL_SOURCE,
  };
}

const TASK_TYPES: Record<string, string> = { Call: 'sales_call', Email: 'sales_email' };

/**
 * Tasks on leads: a call, an email or another task, and the rep's action. The handoff task we
 * create ourselves (its Subject or Description carries the handoff marker; Description is long
 * text, which SOQL cannot filter, so it is checked here) is no rep activity until it is completed:
 * the rep completing it is the rep acting.
 */
export const taskStream: PollStream = {
  sObject: 'Task',
  fields: [
    'Id',
    'SystemModstamp',
    'WhoId',
    'Subject',
    'Description',
    'Status',
    'IsClosed',
    'OwnerId',
    'TaskSubtype',
    'CreatedDate',
    'CompletedDateTime',
  ],
  filter: 'WhoId != null',
  map(raw) {
    const parsed = TaskRecord.safeParse(raw);
    if (!parsed.success) return invalid(parsed.error);
    const task = parsed.data;
    const lead = whoLead(task.WhoId);
    if (!lead) return skipped;
    const ours = [task.Subject, task.Description].some((text) => text?.includes(HANDOFF_MARKER));
    // Closed by any of the org's closed statuses, not only 'Completed'.
    if (ours && !task.IsClosed) return skipped;
    const actedAt = ours ? (task.CompletedDateTime ?? task.SystemModstamp) : task.CreatedDate;
    return {
      kind: 'mapped',
      events: [
        {
          id: `salesforce:task:${task.Id}`,
          lead,
          type: (task.TaskSubtype && TASK_TYPES[task.TaskSubtype]) ?? 'sales_task',
          occurredAt: task.CreatedDate,
          source: POLL_SOURCE,
          properties: { subject: task.Subject, status: task.Status, ownerId: task.OwnerId },
        },
      ],
      profile: [salesActivity(task.Id, lead, actedAt)],
    };
  },
};

/** Events (meetings) on leads; booking one is the rep's action. Events have no status. */
export const eventStream: PollStream = {
  sObject: 'Event',
  fields: ['Id', 'SystemModstamp', 'WhoId', 'Subject', 'OwnerId', 'CreatedDate', 'ActivityDateTime'],
  filter: 'WhoId != null',
  map(raw) {
    const parsed = EventRecord.safeParse(raw);
    if (!parsed.success) return invalid(parsed.error);
    const event = parsed.data;
    const lead = whoLead(event.WhoId);
    if (!lead) return skipped;
    return {
      kind: 'mapped',
      events: [
        {
          id: `salesforce:event:${event.Id}`,
          lead,
          type: 'meeting',
          // All-day events have no time of day.
          occurredAt: event.ActivityDateTime ?? event.CreatedDate,
          source: POLL_SOURCE,
          properties: { subject: event.Subject, ownerId: event.OwnerId },
        },
      ],
      profile: [salesActivity(event.Id, lead, event.CreatedDate)],
    };
  },
};

type CampaignPolling = NonNullable<Salesforce['polling']['campaignMembers']>;

/** Pure: the event type of a response to this campaign; the first pattern found in its name wins. */
export function campaignEventType(
  campaignName: string | null,
  config: Pick<CampaignPolling, 'types' | 'event'>,
): string {
  const name = campaignName?.toLowerCase() ?? '';
  return config.types.find((t) => name.includes(t.campaign.toLowerCase()))?.event ?? config.event;
}

/** Campaign responses. */
export function campaignMemberStream(config: Pick<CampaignPolling, 'types' | 'event'>): PollStream {
  return {
    sObject: 'CampaignMember',
    fields: [
      'Id',
      'LeadId',
      'ContactId',
      'Status',
      'HasResponded',
      'FirstRespondedDate',
      'Campaign.Name',
      'SystemModstamp',
    ],
    filter: 'HasResponded = true',
    map(raw) {
      const parsed = CampaignMemberRecord.safeParse(raw);
      if (!parsed.success) return invalid(parsed.error);
      const member = parsed.data;
      // A converted lead's membership names both: the Contact is the record that lives on.
      const lead: LeadRef | null = member.ContactId
        ? { crm: 'salesforce', objectType: 'contact', id: member.ContactId }
        : member.LeadId
          ? { crm: 'salesforce', objectType: 'lead', id: member.LeadId }
          : null;
      if (!lead || !member.HasResponded) return skipped;
      // FirstRespondedDate is a date only: the modification stamp is the closer time when it is
      // that same day (a membership usually changes when its member responds).
      const day = member.FirstRespondedDate ? Date.parse(member.FirstRespondedDate) : null;
      const occurredAt =
        day === null || Math.floor(member.SystemModstamp / DAY_MS) * DAY_MS === day
          ? member.SystemModstamp
          : day;
      const campaign = member.Campaign?.Name ?? null;
      return {
        kind: 'mapped',
        events: [
          {
            id: `salesforce:cm:${member.Id}`,
            lead,
            type: campaignEventType(campaign, config),
            occurredAt,
            source: POLL_SOURCE,
            properties: { campaign, status: member.Status },
          },
        ],
        profile: [],
      };
    },
  };
}
