import { z } from 'zod';

/** How much Redis keeps, so its memory is bounded by the number of leads, not by their history. */
export const Retention = z.strictObject({
  /**
   * Events a lead's timeline keeps as they are; older ones are folded into counts per scoring
   * rule and day, so one very active lead costs no more to store or score than this many.
   */
  timelineEvents: z.number().int().min(10).max(10_000).default(100),
});
export type Retention = z.infer<typeof Retention>;
