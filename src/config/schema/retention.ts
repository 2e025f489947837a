import { z } from 'zod';

/** How much Redis keeps, so its memory is bounded by the number of leads, not by their history. */
export const Retention = z.strictObject({
  /**
   * Events a lead's timeline keeps as they are; older ones are folded into counts per scoring
   * rule and day, so one very active lead costs no more to store or score than this many.
   */
  timelineEvents: z.number().int().min(10).max(10_000).default(100),
  /**
   * A lead's timeline, profile and state expire after the longest decay window (when its
   * engagement has decayed to nothing), but never sooner than this: a disposition or SLA round
   * weeks after the handoff still finds the lead. At least 30, the connectors' marker lookback: a
   * lead forgotten sooner could reuse a handoff id whose earlier note a retry would take for its own.
   */
  minLeadDays: z.number().int().min(30).max(3_650).default(30),
  /**
   * Whole UTC days the audit stream keeps as entries; older days are kept as the report's counters
   * (one per day) and their entries trimmed. At least a week: the dashboard reads the last 7 days' entries.
   */
  auditDays: z.number().int().min(7).max(3_650).default(90),
});
export type Retention = z.infer<typeof Retention>;
