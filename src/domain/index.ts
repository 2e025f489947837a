import { z } from 'zod';

export { parseCountRange, type CountRange } from './range.js';
export { escapeHtml, escapeSlack, textToHtml } from './html.js';
export { FREE_EMAIL_DOMAINS, domainListed, domainOf } from './mailbox.js';
export type { HistoryBucket } from './history.js';

/** The CRMs we write to. */
export const Crm = z.enum(['hubspot', 'salesforce']);
export type Crm = z.infer<typeof Crm>;

/** A lead as the CRM knows it: HubSpot contact, Salesforce Lead or Contact. */
export const LeadRef = z.object({
  crm: Crm,
  objectType: z.enum(['contact', 'lead']),
  id: z.string().min(1),
});
export type LeadRef = z.infer<typeof LeadRef>;

/** Record ids as each CRM issues them: HubSpot object ids are numbers, Salesforce ids 15 or 18 characters. */
export const CRM_RECORD_ID: Record<Crm, RegExp> = {
  hubspot: /^[1-9][0-9]{0,19}$/,
  salesforce: /^[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?$/,
};

/** A LeadRef named by an outside sender: its id must be one the CRM could have issued. */
export const ExternalLeadRef = LeadRef.refine((lead) => CRM_RECORD_ID[lead.crm].test(lead.id), {
  message: 'not a record id of that CRM (HubSpot: digits; Salesforce: 15 or 18 letters and digits)',
  path: ['id'],
});

/** Stable string form of a LeadRef, used in Redis keys and job ids (no ':' inside ids is assumed). */
export function leadKey(lead: LeadRef): string {
  return `${lead.crm}.${lead.objectType}.${lead.id}`;
}

/** The LeadRef a leadKey names; null for anything that is not one. */
export function parseLeadKey(key: string): LeadRef | null {
  const [crm, objectType, ...id] = key.split('.');
  const lead = LeadRef.safeParse({ crm, objectType, id: id.join('.') });
  return lead.success ? lead.data : null;
}

export const PropertyValue = z.union([z.string(), z.number(), z.boolean(), z.null()]);
export type PropertyValue = z.infer<typeof PropertyValue>;

/**
 * Something a lead did. `id` is the source's own event id, namespaced by source
 * (e.g. `hubspot:3816279340`), so the same delivery twice is the same event.
 */
export const EngagementEvent = z.object({
  id: z.string().min(1),
  lead: LeadRef,
  type: z.string().min(1),
  occurredAt: z.number().int().nonnegative(),
  source: z.string().min(1),
  properties: z.record(z.string(), PropertyValue).default({}),
});
export type EngagementEvent = z.infer<typeof EngagementEvent>;

/** A change to who the lead is, in our canonical field names. */
export const ProfileChange = z.object({
  id: z.string().min(1),
  lead: LeadRef,
  field: z.string().min(1),
  value: PropertyValue,
  occurredAt: z.number().int().nonnegative(),
  source: z.string().min(1),
});
export type ProfileChange = z.infer<typeof ProfileChange>;

/** What one delivery from any source amounts to, once normalized. */
export interface NormalizedBatch {
  engagement: EngagementEvent[];
  profile: ProfileChange[];
  /** Every lead the batch is about. */
  leads: LeadRef[];
  /** Leads whose creation the batch announces: scored for fit even before any engagement. */
  created: LeadRef[];
  /** Leads deleted in the CRM: we forget them. */
  deleted: LeadRef[];
  /** Records merged in the CRM: the history of `from` moves to `into`. */
  merged: { from: LeadRef[]; into: LeadRef }[];
  /** Items we do not act on (e.g. other object types), counted for metrics. */
  ignored: number;
}

/** A batch of events and changes already in domain shape (pollers, Salesforce): nothing created, deleted or merged. */
export function batchOf(
  engagement: EngagementEvent[],
  profile: ProfileChange[],
  ignored = 0,
): NormalizedBatch {
  const leads = new Map([...engagement, ...profile].map((item) => [leadKey(item.lead), item.lead]));
  return { engagement, profile, leads: [...leads.values()], created: [], deleted: [], merged: [], ignored };
}

/** Who the lead is: canonical field name → value. */
export type Profile = Record<string, PropertyValue>;

/** One traceable contribution to a score. */
export interface ScoreLine {
  ruleId: string;
  kind: 'fit' | 'engagement';
  /** Points this rule contributed after decay and cap (may be negative). */
  points: number;
  /** Human-readable reason, e.g. "Visited pricing page ×3 (cap 15)". */
  reason: string;
  /** Events behind the points (engagement rules only). */
  eventIds: string[];
  capped: boolean;
}

export interface Score {
  fit: number;
  engagement: number;
  /** fit + engagement, clamped to 0–100 and rounded. */
  total: number;
  breakdown: ScoreLine[];
  computedAt: number;
}

export type Stage = 'lead' | 'mql' | 'sql';

/** What we remember about a lead between recomputes. */
export const LeadState = z.object({
  stage: z.enum(['lead', 'mql', 'sql']).default('lead'),
  /** `recycled` and `disqualified` come from sales dispositions; a new handoff makes it `open` again. */
  status: z.enum(['open', 'recycled', 'disqualified']).default('open'),
  /** Bumped when a lead is recycled, so its next handoff gets a fresh id. */
  cycle: z.number().int().nonnegative().default(0),
  /** Hand-raise events already handed off, so a recompute never hands the same one off twice. */
  handledHandRaises: z.array(z.string()).default([]),
  score: z.custom<Score>().optional(),
  /** Set by a recycle: engagement before `at` counts × `factor`; no handoff before `eligibleAt`. */
  recycle: z.object({ at: z.number(), factor: z.number(), eligibleAt: z.number() }).optional(),
  /** After a recycle: false until the score has dropped under the MQL threshold minus the hysteresis. */
  armed: z.boolean().default(true),
  /** The latest handoff, for SLA checks and rep-action tracking. */
  handoffId: z.string().optional(),
  /** `handoffId:status:reason` of the last disposition applied, so it is applied once. */
  lastDisposition: z.string().optional(),
  /** Optimistic lock: every write must name the version it read. */
  version: z.number().int().nonnegative().default(0),
});
export type LeadState = z.infer<typeof LeadState>;

/** A decision to pass a lead to sales. Its id makes every write for it idempotent. */
export interface Handoff {
  id: string;
  lead: LeadRef;
  stage: Exclude<Stage, 'lead'>;
  trigger: 'threshold' | 'hand_raise';
  /** The event that triggered it (hand-raise) or the last event before crossing. */
  triggerEventId: string | null;
  /** When the first event that led here reached us (for speed-to-lead). */
  receivedAt: number;
  decidedAt: number;
  score: Score;
  /**
   * A hand-raise the guardrails handed off at standard priority (a student, a free mailbox …): the
   * threshold SLA and task priority apply. Absent means urgent, as every hand-raise was before.
   */
  urgency?: 'standard';
}

/** Which SLA clock a handoff runs on: a hand-raise's, unless the guardrails made it a standard one. */
export function slaKind(handoff: Pick<Handoff, 'trigger' | 'urgency'>): 'hand_raise' | 'threshold' {
  return handoff.trigger === 'hand_raise' && handoff.urgency !== 'standard' ? 'hand_raise' : 'threshold';
}

/** What the CRM shows for the values of its option fields: canonical field → stored value → label. */
export type FieldLabels = Record<string, Record<string, string>>;

/** Score reasons shown for a handoff at a glance: the dashboard's list, and all the audit log keeps. */
export const TOP_REASONS = 3;

/** Score bands used by reports and the dashboard (inclusive bounds). */
export const SCORE_BANDS: readonly (readonly [number, number])[] = [
  [0, 19],
  [20, 39],
  [40, 59],
  [60, 79],
  [80, 100],
];

/** A CRM user leads are assigned to. */
export interface Owner {
  id: string;
  name?: string;
  email?: string;
  active: boolean;
}

/** Why a lead went to whom: every routing decision lands in the audit log with this. */
export interface RoutingDecision {
  /** null when no rule yielded a rep and no fallback is configured. */
  ownerId: string | null;
  /** The routing rule that chose, `fallback`, or null when nothing did. */
  ruleId: string | null;
  strategy: 'account_owner' | 'round_robin' | 'fallback' | 'none';
  reason: string;
  /** Reps passed over on the way, and why. */
  skipped: {
    repId: string;
    ruleId: string;
    why: 'inactive' | 'out_of_office' | 'at_capacity' | 'excluded';
  }[];
}

/** What sales said about a handed-off lead. */
export interface Disposition {
  lead: LeadRef;
  status: string;
  reason: string | null;
  at: number;
}

/** The handoff note as composed once: every retry and every CRM writes this same text. */
export interface HandoffNote {
  subject: string;
  /** Plain text, for CRMs and channels that take no markup. */
  text: string;
  /** HubSpot-safe HTML (paragraphs, lists, bold, http(s) links; everything else escaped). */
  html: string;
}

/** The rep's follow-up task for a handoff. */
export interface RepTask {
  subject: string;
  /** Plain text (escaped where the CRM renders HTML); carries the handoff marker so a retry can find the task. */
  body: string;
  dueAt: number;
  ownerId: string | null;
  priority: 'LOW' | 'MEDIUM' | 'HIGH';
  type: 'CALL' | 'EMAIL' | 'TODO';
}

/** The lead key a handoff id names (`hf.<lead key>.<cycle>.<stage>`, see handoff/decide), or null for any other id. */
export function leadOfHandoff(id: string): string | null {
  return /^hf\.(.+)\.\d+\.(?:mql|sql)$/.exec(id)?.[1] ?? null;
}

/** The line a connector searches for to recognise a note it already wrote. */
export function handoffMarker(handoffId: string): string {
  return `Handoff ID: ${handoffId}`;
}

/** Whether a body carries this exact key's marker (not a longer key that starts with it). */
export function containsMarker(body: string, key: string): boolean {
  const marker = handoffMarker(key);
  for (let at = body.indexOf(marker); at >= 0; at = body.indexOf(marker, at + 1)) {
    if (!/[A-Za-z0-9._-]/.test(body.charAt(at + marker.length))) return true;
  }
  return false;
}
