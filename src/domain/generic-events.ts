import { z } from 'zod';
import { ExternalLeadRef, PropertyValue, type LeadRef, leadKey, type NormalizedBatch } from './index.js';

/** Epoch milliseconds, or an ISO 8601 datetime with its offset. */
const When = z.union([
  z.number().int().nonnegative(),
  z.iso.datetime({ offset: true }).transform((s) => Date.parse(s)),
]);

/**
 * What POST /webhooks/events accepts (engagement from anything that is not a CRM), already close to
 * the domain shape; the HTTP layer parses it, the ingest queue carries it and the ingest job
 * normalizes it.
 */
export const GenericEventBatch = z
  .strictObject({
    events: z
      .array(
        z.strictObject({
          id: z.string().min(1).max(200),
          lead: ExternalLeadRef,
          type: z.string().min(1).max(100),
          occurredAt: When,
          properties: z.record(z.string(), PropertyValue).default({}),
        }),
      )
      .max(1000)
      .default([]),
    profile: z
      .array(
        z.strictObject({
          id: z.string().min(1).max(200),
          lead: ExternalLeadRef,
          field: z.string().min(1),
          value: PropertyValue,
          occurredAt: When,
        }),
      )
      .max(1000)
      .default([]),
  })
  .refine((b) => b.events.length + b.profile.length > 0, 'needs at least one event or profile change');
export type GenericEventBatch = z.infer<typeof GenericEventBatch>;

/** Already in domain shape: only namespace the ids so they never collide with a CRM's. */
export function normalizeGenericEvents(batch: GenericEventBatch): NormalizedBatch {
  const leads = new Map<string, LeadRef>();
  for (const item of [...batch.events, ...batch.profile]) leads.set(leadKey(item.lead), item.lead);
  return {
    engagement: batch.events.map((e) => ({ ...e, id: `generic:${e.id}`, source: 'generic.webhook' })),
    profile: batch.profile.map((p) => ({ ...p, id: `generic:${p.id}`, source: 'generic.webhook' })),
    leads: [...leads.values()],
    created: [],
    deleted: [],
    merged: [],
    ignored: 0,
  };
}
