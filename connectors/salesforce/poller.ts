import { z } from 'zod';
import type { Salesforce } from '../../src/config/schema.js';
import {
  PropertyValue,
  handoffMarker,
  type EngagementEvent,
  type LeadRef,
  type ProfileChange,
} from '../../src/domain/index.js';
import type { Logger } from '../../src/logger.js';
import { usedShare, type Usage } from '../../src/store/api-usage.js';
import type { EngagementSource, PolledPage } from '../types.js';
import { cdcFieldMap, type CdcFieldMap } from './mapping.js';
import { RECORD_ID, salesforceTime, soqlDatetime } from './soql.js';

/*
 * SOQL polling on `SystemModstamp` (it moves on automation too, unlike LastModifiedDate): Leads and
 * Contacts for missed profile changes, Tasks and Events for sales activity, CampaignMembers for
 * campaign responses. Pages are keyset-paginated on (SystemModstamp, Id), so each page is a fresh
 * query that a failure or a slowed run can resume from the stored watermark. Mapping is pure; the
 * only I/O is the `soql` function and the usage read.
 */

export const POLL_SOURCE = 'salesforce.poll';
/** Page size of a source that is polled without being configured (a reconciliation after a CDC gap). */
const DEFAULT_PAGE_SIZE = 200;
/** The line our handoff notes and rep tasks carry; a task holding it was written by us. */
const HANDOFF_MARKER = handoffMarker('').trimEnd();

/** Pages of raw records for one SOQL query (the connector follows `nextRecordsUrl`). */
export type Soql = (query: string) => AsyncIterable<Record<string, unknown>[]>;

export interface SalesforcePollerOptions {
  soql: Soql;
  config: Salesforce;
  /** The org's daily API usage as its answers report it; without it polling is never slowed. */
  usage?: { get(): Promise<Usage | null> };
  logger?: Logger;
}

// ---------------------------------------------------------------------------------------------
// Daily usage

export type PollPace = 'full' | 'slow' | 'stopped';

/**
 * A reading this old no longer stops polling on its own: with polling stopped and no handoffs, no
 * answer would ever refresh it. A slowed page brings a fresh one.
 */
export const USAGE_STALE_MS = 15 * 60_000;

/**
 * Pure: how much a poll may read given the org's daily API usage. From `stopAt` nothing (the rest
 * is for handoffs), from `slowAt` one page per run (it keeps up slowly), below that every page.
 */
export function pollPace(usage: Usage | null, limits: Salesforce['dailyUsage'], now: number): PollPace {
  const share = usedShare(usage);
  if (usage && share >= limits.stopAt) return now - usage.at < USAGE_STALE_MS ? 'stopped' : 'slow';
  if (share >= limits.slowAt) return 'slow';
  return 'full';
}

// ---------------------------------------------------------------------------------------------
// Queries

/** Where a page starts: every record from `stamp` on, or only those after (`stamp`, `afterId`). */
export interface Cursor {
  stamp: number;
  afterId?: string;
}

/**
 * The keyset condition of a page. The first page of a run reads from the watermark inclusively
 * (records sharing its instant must not be skipped; re-reading them is harmless, their ids are
 * stable). Later pages continue strictly after the last record read, so a page whose records all
 * share one instant cannot be read again and again.
 */
export function keysetCondition(cursor: Cursor): string {
  const at = soqlDatetime(cursor.stamp);
  if (cursor.afterId === undefined) return `SystemModstamp >= ${at}`;
  return `((SystemModstamp = ${at} AND Id > '${cursor.afterId}') OR SystemModstamp > ${at})`;
}

export interface PageQuery {
  sObject: string;
  fields: readonly string[];
  /** A further criterion, ANDed with the keyset condition (filterable fields only). */
  filter?: string;
}

export function pageQuery(query: PageQuery, cursor: Cursor, pageSize: number): string {
  const where = [query.filter, keysetCondition(cursor)].filter(Boolean).join(' AND ');
  return (
    `SELECT ${[...new Set(query.fields)].join(', ')} FROM ${query.sObject} WHERE ${where} ` +
    `ORDER BY SystemModstamp, Id LIMIT ${pageSize}`
  );
}

// ---------------------------------------------------------------------------------------------
// Records

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
const Positioned = z.object({ Id: SalesforceId, SystemModstamp: Datetime });
type Positioned = z.infer<typeof Positioned>;

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

const DAY_MS = 86_400_000;

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

// ---------------------------------------------------------------------------------------------
// The poller

/** One query's answer, mapped: what the page holds and where its stream stands afterwards. */
interface StreamPage {
  events: EngagementEvent[];
  profile: ProfileChange[];
  skipped: number;
  /** Records the query answered, usable or not: fewer than the page size means the end. */
  records: number;
  /** The last record read (keyset position), if any was. */
  last?: Positioned;
}

/**
 * The Salesforce poll sources (`leads`, `contacts`, `activities`, `campaignMembers`). Each page
 * reads up to `pageSize` records per sObject from the watermark, oldest first; its watermark is
 * the instant before which every sObject of the source has been read whole. Ids derive from the
 * records, so a page read twice records nothing twice.
 */
export class SalesforcePoller implements EngagementSource {
  private readonly soql: Soql;
  private readonly config: Salesforce;
  private readonly usage: SalesforcePollerOptions['usage'];
  private readonly logger: Logger | undefined;
  private readonly fieldMap: CdcFieldMap;

  constructor(options: SalesforcePollerOptions) {
    this.soql = options.soql;
    this.config = options.config;
    this.usage = options.usage;
    this.logger = options.logger;
    this.fieldMap = cdcFieldMap(options.config.fields);
  }

  poll(source: string, watermark: number, now: number): AsyncIterable<PolledPage> {
    return this.read(source, this.streams(source), watermark, now);
  }

  private streams(source: string): PollStream[] {
    switch (source) {
      case 'leads':
        return [profileStream('lead', this.fieldMap)];
      case 'contacts':
        return [profileStream('contact', this.fieldMap)];
      case 'activities':
        return [taskStream, eventStream];
      case 'campaignMembers': {
        const config = this.config.polling.campaignMembers;
        if (!config) throw new Error('Salesforce campaign member polling is not configured');
        return [campaignMemberStream(config)];
      }
      default:
        throw new Error(`unknown Salesforce poll source "${source}"`);
    }
  }

  /**
   * Pages until every stream is read to the end, or the daily usage says stop (checked before each
   * page, so a long backlog slows as usage climbs). A slowed run reads one page that moves the
   * watermark: a page that does not (all of it at the watermark's instant) does not count, or a
   * slowed poll would read that page forever.
   */
  private async *read(
    source: string,
    streams: PollStream[],
    since: number,
    now: number,
  ): AsyncIterable<PolledPage> {
    const settings: Partial<Record<string, { pageSize: number }>> = this.config.polling;
    const pageSize = settings[source]?.pageSize ?? DEFAULT_PAGE_SIZE;
    const cursors: Cursor[] = streams.map(() => ({ stamp: since }));
    let open = streams.map((_, i) => i);
    let watermark = since;
    let newest = since;
    let advanced = 0;
    let slowLogged = false;
    while (open.length) {
      const pace = this.usage ? pollPace(await this.usage.get(), this.config.dailyUsage, now) : 'full';
      if (pace === 'stopped') {
        this.logger?.warn(
          { source, stopAt: this.config.dailyUsage.stopAt },
          'Salesforce daily API usage is near the limit: polling paused',
        );
        return;
      }
      if (pace === 'slow') {
        if (advanced >= 1) return;
        if (!slowLogged)
          this.logger?.info(
            { source, slowAt: this.config.dailyUsage.slowAt },
            'Salesforce daily API usage is high: one page per poll',
          );
        slowLogged = true;
      }
      const page: Required<PolledPage> = { events: [], profile: [], watermark, skipped: 0 };
      let read = false;
      // Streams with a full page may hold more: everything before their last instant is read.
      const fullAt: number[] = [];
      const stillOpen: number[] = [];
      for (const i of open) {
        const stream = streams[i]!;
        const found = await this.page(stream, cursors[i]!, pageSize);
        page.events.push(...found.events);
        page.profile.push(...found.profile);
        page.skipped += found.skipped;
        if (found.records) read = true;
        if (!found.last) continue;
        newest = Math.max(newest, found.last.SystemModstamp);
        if (found.records < pageSize) continue;
        cursors[i] = { stamp: found.last.SystemModstamp, afterId: found.last.Id };
        fullAt.push(found.last.SystemModstamp);
        stillOpen.push(i);
      }
      open = stillOpen;
      page.watermark = open.length ? Math.max(watermark, Math.min(...fullAt)) : newest;
      if (!read && page.watermark === watermark) return;
      if (page.watermark > watermark) advanced++;
      watermark = page.watermark;
      yield page;
    }
  }

  /** One query of one stream: every record mapped, malformed ones counted and logged. */
  private async page(stream: PollStream, cursor: Cursor, pageSize: number): Promise<StreamPage> {
    const out: StreamPage = { events: [], profile: [], skipped: 0, records: 0 };
    for await (const batch of this.soql(pageQuery(stream, cursor, pageSize))) {
      for (const raw of batch) {
        out.records++;
        const position = Positioned.safeParse(raw);
        if (position.success) out.last = position.data;
        const outcome = stream.map(raw);
        if (outcome.kind === 'mapped') {
          out.events.push(...outcome.events);
          out.profile.push(...outcome.profile);
          continue;
        }
        out.skipped++;
        if (outcome.kind === 'invalid')
          this.logger?.warn(
            { sObject: stream.sObject, id: position.data?.Id, reason: outcome.reason },
            'skipped a malformed Salesforce record',
          );
      }
    }
    // Without a position the next page could not start after this one.
    if (out.records >= pageSize && !out.last)
      throw new Error(`a full page of ${stream.sObject} records without Id or SystemModstamp`);
    return out;
  }
}
