import { z } from 'zod';

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
