import { z } from 'zod';
import { Day } from './common.js';

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

/** What happens when the rep has not acted by the SLA due time. */
export const SlaPolicy = z.strictObject({
  /** Working minutes the rep has to act, by what triggered the handoff. */
  minutes: z
    .strictObject({
      hand_raise: z.number().int().positive().default(15),
      threshold: z.number().int().positive().default(240),
    })
    .prefault({}),
  workingHours: WorkingHours.prefault({}),
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
    .prefault({}),
});
export type SlaPolicy = z.infer<typeof SlaPolicy>;
