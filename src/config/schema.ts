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
    })
    .default({ mql: 'marketingqualifiedlead', sql: 'salesqualifiedlead' }),
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
      })
      .default({
        scoreDebounceMs: 250,
        scoreWriteDelayMs: 500,
        dedupeTtlHours: 72,
        timelineDays: 365,
        jobLockMs: 30_000,
      }),
    webhooks: z
      .strictObject({
        maxBodyBytes: z
          .number()
          .int()
          .min(1024)
          .max(10 * 1024 * 1024)
          .default(1024 * 1024),
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
      .default({ maxBodyBytes: 1024 * 1024, hubspot: { signatureVersion: 'v3', maxSkewMs: 300_000 } }),
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
      })
      .default({ fields: HubSpotFields.parse({}), signals: [], requestsPer10s: 100, timeoutMs: 10_000 }),
  })
  .superRefine((c, ctx) => {
    if (c.thresholds.sql < c.thresholds.mql)
      ctx.addIssue({ code: 'custom', path: ['thresholds', 'sql'], message: 'must be ≥ thresholds.mql' });
  });
export type Config = z.infer<typeof Config>;
