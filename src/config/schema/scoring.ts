import { z } from 'zod';
import { Matcher, RuleId, Score100 } from './common.js';

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

export const Scoring = z
  .strictObject({
    fit: z.array(FitRule).default([]),
    engagement: z.array(EngagementRule).default([]),
    /** Caps on each half before they are added up; the total is always clamped to 0–100. */
    caps: z.strictObject({ fit: Score100.default(100), engagement: Score100.default(100) }).prefault({}),
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
