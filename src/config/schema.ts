import { z } from 'zod';

/**
 * How a profile property or event property is compared: exactly one of `equals`, `in`,
 * `contains`, `regex` (with optional `flags`) or a numeric range (`min` and/or `max`).
 * A flat object (not a union) so a mistake gets a precise message.
 */
export const Matcher = z
  .strictObject({
    equals: z.union([z.string(), z.number(), z.boolean()]).optional(),
    in: z
      .array(z.union([z.string(), z.number()]))
      .min(1)
      .optional(),
    contains: z.string().min(1).optional(),
    regex: z.string().refine(isValidRegex, 'not a valid regular expression').optional(),
    flags: z
      .string()
      .regex(/^[imsu]*$/, 'only the flags i, m, s and u are allowed')
      .optional(),
    min: z.number().optional(),
    max: z.number().optional(),
  })
  .superRefine((m, ctx) => {
    const operators = [
      m.equals !== undefined && 'equals',
      m.in !== undefined && 'in',
      m.contains !== undefined && 'contains',
      m.regex !== undefined && 'regex',
      (m.min !== undefined || m.max !== undefined) && 'min/max',
    ].filter(Boolean);
    if (operators.length !== 1)
      ctx.addIssue({
        code: 'custom',
        message:
          operators.length === 0
            ? 'needs one of equals, in, contains, regex, min/max'
            : `use only one of ${operators.join(', ')}`,
      });
    if (m.flags !== undefined && m.regex === undefined)
      ctx.addIssue({ code: 'custom', path: ['flags'], message: 'flags only go with regex' });
    if (m.min !== undefined && m.max !== undefined && m.min > m.max)
      ctx.addIssue({ code: 'custom', path: ['min'], message: 'min must be ≤ max' });
  });
export type Matcher = z.infer<typeof Matcher>;

function isValidRegex(source: string): boolean {
  try {
    new RegExp(source);
    return true;
  } catch {
    return false;
  }
}

const RuleId = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]*$/, 'use lowercase letters, digits, "-" and "_"')
  .max(64);

export const FitRule = z.strictObject({
  id: RuleId,
  description: z.string().optional(),
  /** Canonical profile field, e.g. `jobTitle`. */
  field: z.string().min(1),
  match: Matcher,
  /** May be negative (e.g. students, competitors). */
  points: z.number().int().min(-100).max(100),
});
export type FitRule = z.infer<typeof FitRule>;

/** Per-rule decay: points halve every `halfLifeDays`, or count fully inside `windowDays` and not after. */
export const Decay = z
  .strictObject({
    halfLifeDays: z.number().positive().optional(),
    windowDays: z.number().positive().optional(),
  })
  .refine(
    (d) => (d.halfLifeDays === undefined) !== (d.windowDays === undefined),
    'use exactly one of halfLifeDays or windowDays',
  );
export type Decay = z.infer<typeof Decay>;

export const EngagementRule = z.strictObject({
  id: RuleId,
  description: z.string().optional(),
  /** EngagementEvent.type this rule counts, e.g. `page_view`. */
  event: z.string().min(1),
  /** Every listed event property must match. */
  where: z.record(z.string(), Matcher).default({}),
  /** Points per matching event, before decay. May be negative (e.g. unsubscribe). */
  points: z.number().min(-100).max(100),
  /** Largest absolute contribution of this rule. */
  cap: z.number().positive().optional(),
  decay: Decay.optional(),
});
export type EngagementRule = z.infer<typeof EngagementRule>;

const Score100 = z.number().int().min(0).max(100);

export const Scoring = z
  .strictObject({
    fit: z.array(FitRule).default([]),
    engagement: z.array(EngagementRule).default([]),
    /** Caps on each half before they are added up; the total is always clamped to 0–100. */
    caps: z.strictObject({ fit: Score100.default(100), engagement: Score100.default(100) }).default({
      fit: 100,
      engagement: 100,
    }),
  })
  .superRefine((s, ctx) => {
    const seen = new Set<string>();
    for (const [kind, rules] of [
      ['fit', s.fit],
      ['engagement', s.engagement],
    ] as const) {
      rules.forEach((rule, i) => {
        if (seen.has(rule.id))
          ctx.addIssue({ code: 'custom', path: [kind, i, 'id'], message: `duplicate rule id "${rule.id}"` });
        seen.add(rule.id);
      });
    }
  });
export type Scoring = z.infer<typeof Scoring>;

const CrmProperty = z.string().regex(/^[A-Za-z][A-Za-z0-9_]*$/, 'not a valid CRM property name');

/** HubSpot's marketing contact status: read-only through the API (HubSpot knowledge base). */
const MARKETABLE_STATUS = 'hs_marketable_status';

/** Our canonical fields → the CRM's property names. */
export const HubSpotFields = z.strictObject({
  profile: z.record(z.string(), CrmProperty).default({
    email: 'email',
    firstName: 'firstname',
    lastName: 'lastname',
    jobTitle: 'jobtitle',
    company: 'company',
    industry: 'industry',
    companySize: 'numemployees',
    country: 'country',
    ownerId: 'hubspot_owner_id',
    leadStatus: 'hs_lead_status',
    dispositionReason: 'leadflow_disposition_reason',
    lastSalesActivity: 'hs_last_sales_activity_timestamp',
  }),
  score: CrmProperty.default('leadflow_score'),
  fitScore: CrmProperty.default('leadflow_fit_score'),
  engagementScore: CrmProperty.default('leadflow_engagement_score'),
  scoreReasons: CrmProperty.default('leadflow_score_reasons'),
  lifecycleStage: CrmProperty.default('lifecyclestage'),
  /** Internal values of `lifecyclestage` options; portals customize them, `config check` verifies. */
  stages: z
    .strictObject({
      mql: z.string().default('marketingqualifiedlead'),
      sql: z.string().default('salesqualifiedlead'),
      /** Where a recycled lead goes back to (a backward move: cleared, then set). */
      recycled: z.string().default('lead'),
      disqualified: z.string().default('other'),
    })
    .default({
      mql: 'marketingqualifiedlead',
      sql: 'salesqualifiedlead',
      recycled: 'lead',
      disqualified: 'other',
    }),
  /** Stages that mean sales converted the lead (for conversion reports). */
  convertedStages: z.array(z.string().min(1)).default(['opportunity', 'customer']),
  /** `hs_lead_status` values we set: on handoff, and for the disposition actions. */
  leadStatus: z
    .strictObject({
      handedOff: z.string().default('NEW'),
      recycled: z.string().default('OPEN'),
      disqualified: z.string().default('UNQUALIFIED'),
    })
    .default({ handedOff: 'NEW', recycled: 'OPEN', disqualified: 'UNQUALIFIED' }),
  /**
   * What the `unmarket` disposition does. HubSpot's API cannot set the marketing contact status
   * (`hs_marketable_status` is read-only), so: opt the contact out of all email through the
   * communication preferences API, and/or set a property a HubSpot workflow acts on (a workflow can
   * set the contact to non-marketing; the API cannot).
   */
  unmarket: z
    .strictObject({
      /** Unsubscribe the contact from all email (scope `communication_preferences.read_write`). */
      unsubscribeAllEmail: z.boolean().default(true),
      /** A property (of yours) that a HubSpot workflow watches to set "Marketing contact status" to non-marketing. */
      property: z
        .strictObject({
          name: CrmProperty.refine((name) => name !== MARKETABLE_STATUS, {
            error: `HubSpot's API cannot set ${MARKETABLE_STATUS}; name a property a HubSpot workflow watches instead`,
          }),
          value: z.string(),
        })
        .optional(),
    })
    .refine((u) => u.unsubscribeAllEmail || u.property, {
      error: 'set unsubscribeAllEmail, a property, or both: otherwise unmarket does nothing',
    })
    .default({ unsubscribeAllEmail: true }),
  /** Replaced by `unmarket`: refused with the reason, so an old config does not silently stop unmarketing. */
  unmarketable: z
    .never({
      error:
        `replaced by hubspot.fields.unmarket: HubSpot's API cannot set ${MARKETABLE_STATUS} (marketing contact ` +
        'status, read-only). Use unmarket: { unsubscribeAllEmail: true, property?: { name, value } } (see README)',
    })
    .optional(),
  /** Our property flagging records sales marked as bad data (created if missing). */
  badData: CrmProperty.default('leadflow_bad_data'),
});
export type HubSpotFields = z.infer<typeof HubSpotFields>;

/**
 * HubSpot has no webhooks for page views, forms or email events, but contact properties that
 * HubSpot maintains change when they happen. A signal turns such a property change into an
 * EngagementEvent. The first signal whose property and `when` match wins.
 */
export const HubSpotSignal = z.strictObject({
  property: CrmProperty,
  event: z.string().min(1),
  when: Matcher.optional(),
  /** Keep the new value as this event property (e.g. the form name as `form`). */
  valueAs: z.string().min(1).optional(),
});
export type HubSpotSignal = z.infer<typeof HubSpotSignal>;

const OwnerId = z.string().regex(/^[A-Za-z0-9_-]+$/, 'an owner id from the CRM (letters, digits, "-", "_")');
const Day = z.iso.date();
const TimeOfDay = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'use HH:MM (24-hour)');
const TimeZone = z.string().refine(isValidTimeZone, 'not an IANA time zone (e.g. "Europe/Berlin")');

function isValidTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** When a rep works: SLA clocks only run inside these hours, in the rep's own time zone. */
export const WorkingHours = z
  .strictObject({
    timeZone: TimeZone.default('UTC'),
    /** ISO weekdays: 1 = Monday … 7 = Sunday. */
    days: z.array(z.number().int().min(1).max(7)).min(1).default([1, 2, 3, 4, 5]),
    start: TimeOfDay.default('09:00'),
    end: TimeOfDay.default('17:00'),
    /** Dates (YYYY-MM-DD, in the time zone) nobody works. */
    holidays: z.array(Day).default([]),
  })
  .refine((w) => w.start < w.end, { message: 'start must be before end', path: ['end'] });
export type WorkingHours = z.infer<typeof WorkingHours>;

/** A sales rep leads can be routed to. `id` is the CRM owner id (HubSpot owner, Salesforce user). */
export const Rep = z.strictObject({
  id: OwnerId,
  name: z.string().min(1),
  /** Share of round-robin assignments relative to the others (2 = twice as many as 1). */
  weight: z.number().positive().max(100).default(1),
  /** Inactive reps get no new leads (left the team, on leave with no return date). */
  active: z.boolean().default(true),
  /** Absences (inclusive dates in the rep's time zone): no new leads then. */
  outOfOffice: z.array(z.strictObject({ from: Day, to: Day })).default([]),
  /** Most new leads per day / ISO week; unlimited when absent. */
  capacity: z
    .strictObject({
      daily: z.number().int().positive().optional(),
      weekly: z.number().int().positive().optional(),
    })
    .default({}),
  /** The rep's working hours; defaults to `sla.workingHours`. */
  workingHours: WorkingHours.optional(),
  /** Who an SLA breach escalates to. */
  managerId: OwnerId.optional(),
});
export type Rep = z.infer<typeof Rep>;

/** One routing rule; rules are tried in order and the first that yields an available rep wins. */
export const RoutingRule = z.strictObject({
  id: RuleId,
  description: z.string().optional(),
  /**
   * `account_owner`: whoever already owns a lead of the same company (email domain) in our records.
   * `round_robin`: the rep in `reps` whose turn it is (weights apply when they differ).
   */
  strategy: z.enum(['account_owner', 'round_robin']),
  /** Every listed profile field must match (territory: country, state, companySize, industry …). */
  when: z.record(z.string(), Matcher).default({}),
  /** Rep ids for round_robin. */
  reps: z.array(OwnerId).default([]),
});
export type RoutingRule = z.infer<typeof RoutingRule>;

export const Routing = z.strictObject({
  reps: z.array(Rep).default([]),
  rules: z.array(RoutingRule).default([]),
  /**
   * A rep back from absence either starts level with the others (`skip`: missed leads are gone)
   * or gets the leads missed while away, spread over the next turns (`catch_up`).
   */
  catchUp: z.enum(['skip', 'catch_up']).default('skip'),
  /** Owner (or queue user) when no rule yields an available rep; without it the lead stays unassigned. */
  fallbackOwnerId: OwnerId.optional(),
});
export type Routing = z.infer<typeof Routing>;

/** What happens when the rep has not acted by the SLA due time. */
export const SlaPolicy = z.strictObject({
  /** Working minutes the rep has to act, by what triggered the handoff. */
  minutes: z
    .strictObject({
      hand_raise: z.number().int().positive().default(15),
      threshold: z.number().int().positive().default(240),
    })
    .default({ hand_raise: 15, threshold: 240 }),
  workingHours: WorkingHours.default(WorkingHours.parse({})),
  /**
   * `notify`: record and alert only; `escalate`: also task the rep's manager; `reassign`: route the
   * lead again, excluding the reps who let it lapse, up to `maxReassignments` times.
   */
  onBreach: z.enum(['notify', 'escalate', 'reassign']).default('notify'),
  maxReassignments: z.number().int().min(0).max(10).default(1),
  /**
   * Every breach is also POSTed here as JSON (a Slack or Teams incoming webhook, an alerting
   * endpoint), whatever `onBreach` does besides.
   */
  notifyUrl: z.url().optional(),
  task: z
    .strictObject({
      priority: z.enum(['LOW', 'MEDIUM', 'HIGH']).default('HIGH'),
      type: z.enum(['CALL', 'EMAIL', 'TODO']).default('CALL'),
    })
    .default({ priority: 'HIGH', type: 'CALL' }),
});
export type SlaPolicy = z.infer<typeof SlaPolicy>;

/** What a sales disposition does to the lead. */
export const DispositionAction = z.discriminatedUnion('action', [
  z.strictObject({
    action: z.literal('recycle'),
    /** Points kept from before the recycle: 0 resets the score, 0.5 halves it. */
    scoreFactor: z.number().min(0).max(1).default(0),
    /** No new handoff before this many days have passed. */
    reEligibleAfterDays: z.number().int().min(0).default(30),
  }),
  z.strictObject({ action: z.literal('disqualify') }),
  z.strictObject({ action: z.literal('unmarket') }),
  z.strictObject({ action: z.literal('bad_data') }),
]);
export type DispositionAction = z.infer<typeof DispositionAction>;

export const Dispositions = z.strictObject({
  /** Canonical profile field holding the sales status (mapped per CRM, e.g. HubSpot `hs_lead_status`). */
  statusField: z.string().min(1).default('leadStatus'),
  /** Canonical profile field holding the reason code. */
  reasonField: z.string().min(1).default('dispositionReason'),
  /** Status values that mean "sales sent it back"; other status changes count as rep activity. */
  statuses: z.array(z.string().min(1)).default(['UNQUALIFIED']),
  /** Reason code → action. A code not listed here is reported and nothing is done. */
  reasons: z.record(z.string().min(1), DispositionAction).default({}),
});
export type Dispositions = z.infer<typeof Dispositions>;

const Every = z.number().int().min(10).max(86_400);

/**
 * What HubSpot has no webhooks for, polled on an interval (seconds) from a watermark kept in Redis.
 * A source without `everySeconds` is not polled.
 */
export const HubSpotPolling = z.strictObject({
  /** Contacts modified since the watermark (search API): profile changes webhooks may have missed. */
  contacts: z
    .strictObject({
      everySeconds: Every,
      /**
       * Search is eventually consistent: a change can show up after newer ones were read, so each poll
       * re-reads this far before the watermark (default 60); what it reads twice is recorded once.
       */
      overlapSeconds: z.number().int().min(0).max(3_600).optional(),
    })
    .optional(),
  /** Marketing email events; each HubSpot type maps to one of our event types. */
  emailEvents: z
    .strictObject({
      everySeconds: Every,
      types: z
        .partialRecord(z.enum(['OPEN', 'CLICK', 'BOUNCE', 'STATUSCHANGE', 'SPAMREPORT']), z.string().min(1))
        .default({
          OPEN: 'email_open',
          CLICK: 'email_click',
          BOUNCE: 'email_bounce',
          STATUSCHANGE: 'email_unsubscribe',
        }),
    })
    .optional(),
  /** Submissions of these forms, with the submitted values kept for the handoff note. */
  forms: z
    .strictObject({
      everySeconds: Every,
      forms: z
        .array(
          z.strictObject({
            guid: z.string().regex(/^[0-9a-f-]{8,64}$/i, 'a form GUID'),
            name: z.string().min(1),
            /** `form_submission`, or a hand-raise type such as `demo_request` for a demo form. */
            event: z.string().min(1).default('form_submission'),
          }),
        )
        .min(1),
    })
    .optional(),
  /** Participations (registered, attended …) in these marketing events, e.g. webinars. */
  marketingEvents: z
    .strictObject({
      everySeconds: Every,
      events: z
        .array(
          z.strictObject({
            externalAccountId: z.string().min(1),
            externalEventId: z.string().min(1),
            name: z.string().min(1),
          }),
        )
        .min(1),
      /** HubSpot attendance state → our event type; other states are skipped. */
      states: z
        .record(z.string().min(1), z.string().min(1))
        .default({ ATTENDED: 'webinar_attended', REGISTERED: 'webinar_registered' }),
    })
    .optional(),
});
export type HubSpotPolling = z.infer<typeof HubSpotPolling>;

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
    .strictObject({ field: SalesforceField, value: SalesforceValue })
    .default({ field: 'HasOptedOutOfEmail', value: true }),
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

/**
 * Where handoffs are written when marketing runs on one CRM and sales on the other: a lead from
 * the other CRM is matched by email in this one (and created there when `createMissing`).
 */
export const CrossCrm = z.strictObject({
  handoffTo: z.enum(['hubspot', 'salesforce']),
  matchBy: z.literal('email').default('email'),
  createMissing: z.boolean().default(true),
});
export type CrossCrm = z.infer<typeof CrossCrm>;

/** The node HTTP server: how long a client may take, and which proxies in front of it are believed. */
export const HttpServer = z
  .strictObject({
    /**
     * Proxies in front of leadflow (hops) whose `X-Forwarded-For` / `-Proto` are believed (express
     * `trust proxy`): the client address the Salesforce IP allow-list checks, the scheme HubSpot
     * signed. 0 (default): the peer address is the client, forwarded headers are ignored.
     */
    trustProxy: z.number().int().min(0).max(10).default(0),
    /** A client must have sent all its headers within this (slow-header attacks). */
    headersTimeoutMs: z.number().int().min(1_000).max(120_000).default(10_000),
    /** …and its whole request, body included, within this. */
    requestTimeoutMs: z.number().int().min(1_000).max(600_000).default(30_000),
    /** An idle keep-alive connection is closed after this (keep it above a load balancer's idle timeout). */
    keepAliveTimeoutMs: z.number().int().min(1_000).max(600_000).default(5_000),
  })
  .refine((h) => h.headersTimeoutMs <= h.requestTimeoutMs, {
    message: 'must not exceed requestTimeoutMs',
    path: ['headersTimeoutMs'],
  });
export type HttpServer = z.infer<typeof HttpServer>;

/** A TLS certificate's SHA-256 (or, as some proxies give it, SHA-1) fingerprint in hex, colons optional. */
const CertFingerprint = z
  .string()
  .transform((s) => s.replace(/:/g, '').toLowerCase())
  .pipe(z.string().regex(/^(?:[0-9a-f]{40}|[0-9a-f]{64})$/, 'a SHA-256 (or SHA-1) fingerprint in hex'));

/**
 * POST /webhooks/salesforce/<SALESFORCE_OUTBOUND_TOKEN>: Outbound Messages are unsigned, so besides
 * the URL secret an admin can demand Salesforce's source addresses and its client certificate.
 */
export const SalesforceOutboundEndpoint = z.strictObject({
  /**
   * A 100-notification message with 28 Lead fields (a 255-character description among them) is
   * 203 KB: 384 KiB leaves room, and keeps what an authenticated sender can make us parse small.
   */
  maxBodyBytes: z
    .number()
    .int()
    .min(16 * 1024)
    .max(10 * 1024 * 1024)
    .default(384 * 1024),
  /** Messages read and parsed at once (parsing is synchronous); more are answered 503 + Retry-After. */
  maxConcurrent: z.number().int().min(1).max(64).default(2),
  /**
   * CIDRs (IPv4 and IPv6) deliveries may come from, e.g. Salesforce's published ranges; empty
   * (default): any address. Behind a proxy, set `http.trustProxy`.
   */
  allowIps: z
    .array(z.union([z.cidrv4(), z.cidrv6()], { error: 'a CIDR such as 13.108.0.0/14 or 2a01:111:f400::/48' }))
    .default([]),
  /**
   * Demand the client certificate Salesforce sends (the org's or a chosen one): its fingerprint,
   * read from the TLS connection when TLS ends in this process, or from `header`, which a proxy that
   * verified the certificate sets (and overwrites when a client sends it).
   */
  clientCertificate: z
    .strictObject({
      header: z
        .string()
        .regex(/^[A-Za-z0-9-]+$/, 'an HTTP header name')
        .transform((h) => h.toLowerCase())
        .optional(),
      fingerprints: z.array(CertFingerprint).min(1),
    })
    .optional(),
});
export type SalesforceOutboundEndpoint = z.infer<typeof SalesforceOutboundEndpoint>;

export const Config = z
  .strictObject({
    $schema: z.string().optional(),
    redis: z
      .strictObject({
        /** Every key lives under this prefix; keep the braces so Redis Cluster puts them in one slot. */
        prefix: z
          .string()
          .regex(/^\{[A-Za-z0-9_-]+\}$/, 'use a hash tag like "{leadflow}"')
          .default('{leadflow}'),
      })
      .default({ prefix: '{leadflow}' }),
    scoring: Scoring,
    thresholds: z.strictObject({ mql: Score100, sql: Score100 }),
    /** Event types that hand a lead off at once, whatever its score. */
    handRaise: z.array(z.string().min(1)).default(['demo_request']),
    handoffNote: z
      .strictObject({
        /** Which sections the note shows, in order. */
        sections: z
          .array(z.enum(['who', 'where', 'what', 'when', 'why', 'score', 'source', 'next']))
          .min(1)
          .default(['who', 'where', 'what', 'when', 'why', 'score', 'source', 'next']),
        /**
         * Link to the lead's full timeline, `{id}` replaced by the CRM record id (e.g. HubSpot's
         * `https://app.hubspot.com/contacts/<portal>/record/0-1/{id}`); without it the last events
         * are appended to the note.
         */
        timelineUrl: z
          .string()
          .regex(/^https:\/\/\S+\{id\}\S*$/, 'an https URL with {id} where the record id goes')
          .optional(),
      })
      .default({ sections: ['who', 'where', 'what', 'when', 'why', 'score', 'source', 'next'] }),
    lifecycle: z
      .strictObject({
        /**
         * A recycled lead is handed off again only after its score has been this many points under
         * the MQL threshold, so a lead hovering at the line is not passed back and forth.
         */
        hysteresis: z.number().int().min(0).max(100).default(10),
      })
      .default({ hysteresis: 10 }),
    routing: Routing.default(Routing.parse({})),
    sla: SlaPolicy.default(SlaPolicy.parse({})),
    dispositions: Dispositions.default(Dispositions.parse({})),
    pipeline: z
      .strictObject({
        /** A burst of events for one lead within this window yields one recompute. */
        scoreDebounceMs: z.number().int().min(0).max(60_000).default(250),
        /** Score-only updates wait this long to be written together in batches. */
        scoreWriteDelayMs: z.number().int().min(0).max(60_000).default(500),
        /** How long an event id is remembered for de-duplication. */
        dedupeTtlHours: z.number().positive().default(72),
        /** Events older than this are dropped from a lead's timeline. */
        timelineDays: z.number().int().positive().default(365),
        /**
         * A worker holds a job's lock this long and renews it while alive; a crashed worker's jobs
         * are picked up again once the lock lapses.
         */
        jobLockMs: z.number().int().min(1_000).max(600_000).default(30_000),
        /**
         * While a CRM refuses our credentials (after a token refresh), its queues stay paused and one
         * job probes the token again this often.
         */
        authProbeMs: z.number().int().min(100).max(3_600_000).default(60_000),
      })
      .default({
        scoreDebounceMs: 250,
        scoreWriteDelayMs: 500,
        dedupeTtlHours: 72,
        timelineDays: 365,
        jobLockMs: 30_000,
        authProbeMs: 60_000,
      }),
    http: HttpServer.default(HttpServer.parse({})),
    webhooks: z
      .strictObject({
        maxBodyBytes: z
          .number()
          .int()
          .min(1024)
          .max(10 * 1024 * 1024)
          .default(1024 * 1024),
        salesforce: SalesforceOutboundEndpoint.default(SalesforceOutboundEndpoint.parse({})),
        hubspot: z
          .strictObject({
            /** The URL HubSpot calls, as configured in the app; needed behind a proxy. Defaults to the request's own URL. */
            publicUrl: z.url().optional(),
            /** v3 (timestamped HMAC) for current apps; v1 only for older apps that still send it. */
            signatureVersion: z.enum(['v3', 'v1']).default('v3'),
            maxSkewMs: z.number().int().positive().default(300_000),
          })
          .default({ signatureVersion: 'v3', maxSkewMs: 300_000 }),
      })
      .default({
        maxBodyBytes: 1024 * 1024,
        salesforce: SalesforceOutboundEndpoint.parse({}),
        hubspot: { signatureVersion: 'v3', maxSkewMs: 300_000 },
      }),
    hubspot: z
      .strictObject({
        fields: HubSpotFields.default(HubSpotFields.parse({})),
        signals: z.array(HubSpotSignal).default([]),
        /**
         * The portal's request limit per rolling 10 s, shared by every worker and poller: 100 (Free/
         * Starter private apps), 190 (Pro/Enterprise), 250 (with the API add-on), 110 (OAuth apps).
         * Leave some room for other integrations on the same portal.
         */
        requestsPer10s: z.number().int().min(1).max(100_000).default(100),
        /** Longest a single HubSpot call may take before it counts as a network failure and is retried. */
        timeoutMs: z.number().int().min(100).max(120_000).default(10_000),
        /** HubSpot's separate limit on search requests (per second, per portal). */
        searchPerSecond: z.number().int().min(1).max(100).default(5),
        polling: HubSpotPolling.default({}),
      })
      .default({
        fields: HubSpotFields.parse({}),
        signals: [],
        requestsPer10s: 100,
        timeoutMs: 10_000,
        searchPerSecond: 5,
        polling: {},
      }),
    salesforce: Salesforce.prefault({}),
    crossCrm: CrossCrm.optional(),
  })
  .superRefine((c, ctx) => {
    if (c.webhooks.salesforce.clientCertificate?.header && c.http.trustProxy === 0)
      ctx.addIssue({
        code: 'custom',
        path: ['webhooks', 'salesforce', 'clientCertificate', 'header'],
        message: 'a header is only believable from a proxy: set http.trustProxy',
      });
    if (c.webhooks.salesforce.maxBodyBytes > c.webhooks.maxBodyBytes)
      ctx.addIssue({
        code: 'custom',
        path: ['webhooks', 'salesforce', 'maxBodyBytes'],
        message: 'must not exceed webhooks.maxBodyBytes',
      });
    if (c.thresholds.sql < c.thresholds.mql)
      ctx.addIssue({ code: 'custom', path: ['thresholds', 'sql'], message: 'must be ≥ thresholds.mql' });
    const reps = new Set(c.routing.reps.map((r) => r.id));
    c.routing.reps.forEach((rep, i) => {
      if (c.routing.reps.findIndex((r) => r.id === rep.id) !== i)
        ctx.addIssue({
          code: 'custom',
          path: ['routing', 'reps', i, 'id'],
          message: `duplicate rep "${rep.id}"`,
        });
    });
    c.routing.rules.forEach((rule, i) => {
      if (rule.strategy === 'round_robin' && rule.reps.length === 0)
        ctx.addIssue({
          code: 'custom',
          path: ['routing', 'rules', i, 'reps'],
          message: 'round_robin needs reps',
        });
      rule.reps.forEach((id, j) => {
        if (!reps.has(id))
          ctx.addIssue({
            code: 'custom',
            path: ['routing', 'rules', i, 'reps', j],
            message: `"${id}" is not in routing.reps`,
          });
      });
    });
  });
export type Config = z.infer<typeof Config>;
