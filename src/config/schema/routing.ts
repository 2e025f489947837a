import { z } from 'zod';
import { Day, Matcher, RuleId } from './common.js';
import { WorkingHours } from './sla.js';

const OwnerId = z.string().regex(/^[A-Za-z0-9_-]+$/, 'an owner id from the CRM (letters, digits, "-", "_")');

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
    .prefault({}),
  /** The rep's working hours; defaults to `sla.workingHours`. */
  workingHours: WorkingHours.optional(),
  /** Who an SLA breach escalates to. */
  managerId: OwnerId.optional(),
  /** Where the rep's handoff alerts go (default: the CRM owner's email). */
  email: z.email().optional(),
  /** The rep's Slack member id; without it the rep is looked up by email. */
  slackUserId: z
    .string()
    .regex(/^[UW][A-Z0-9]{2,}$/, 'a Slack member id such as U024BE7LH')
    .optional(),
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
