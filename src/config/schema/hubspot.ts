import { z } from 'zod';
import { Every, Matcher } from './common.js';

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
    phone: 'phone',
    city: 'city',
    state: 'state',
    country: 'country',
    // The contact's own time zone (an option such as america_slash_new_york), for "their time".
    timeZone: 'hs_timezone',
    // Original and latest traffic source with their drill-downs, as HubSpot's analytics set them.
    source: 'hs_analytics_source',
    sourceDetail: 'hs_analytics_source_data_1',
    latestSource: 'hs_latest_source',
    latestSourceDetail: 'hs_latest_source_data_1',
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
    .prefault({}),
  /** Stages that mean sales converted the lead (for conversion reports). */
  convertedStages: z.array(z.string().min(1)).default(['opportunity', 'customer']),
  /** `hs_lead_status` values we set: on handoff, and for the disposition actions. */
  leadStatus: z
    .strictObject({
      handedOff: z.string().default('NEW'),
      recycled: z.string().default('OPEN'),
      disqualified: z.string().default('UNQUALIFIED'),
    })
    .prefault({}),
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
    .prefault({}),
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

export const HubSpot = z.strictObject({
  fields: HubSpotFields.prefault({}),
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
  polling: HubSpotPolling.prefault({}),
});
export type HubSpot = z.infer<typeof HubSpot>;
