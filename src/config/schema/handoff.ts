import { z } from 'zod';
import { Score100 } from './common.js';

export const Thresholds = z.strictObject({ mql: Score100, sql: Score100 });
export type Thresholds = z.infer<typeof Thresholds>;

/** Event types that hand a lead off at once, whatever its score. */
export const HandRaise = z.array(z.string().min(1)).default(['demo_request']);
export type HandRaise = z.infer<typeof HandRaise>;

export const HandoffNote = z.strictObject({
  /** Which sections the note shows, in order. */
  sections: z
    .array(z.enum(['who', 'where', 'what', 'when', 'why', 'score', 'source', 'account', 'next']))
    .min(1)
    .default(['who', 'where', 'what', 'when', 'why', 'score', 'source', 'account', 'next']),
  /**
   * Link to the lead's full timeline, `{id}` replaced by the CRM record id (e.g. HubSpot's
   * `https://app.hubspot.com/contacts/<portal>/record/0-1/{id}`); without it the last events
   * are appended to the note.
   */
  timelineUrl: z
    .string()
    .regex(/^https:\/\/\S+\{id\}\S*$/, 'an https URL with {id} where the record id goes')
    .optional(),
});
export type HandoffNote = z.infer<typeof HandoffNote>;

export const Lifecycle = z.strictObject({
  /**
   * A recycled lead is handed off again only after its score has been this many points under
   * the MQL threshold, so a lead hovering at the line is not passed back and forth.
   */
  hysteresis: z.number().int().min(0).max(100).default(10),
});
export type Lifecycle = z.infer<typeof Lifecycle>;
