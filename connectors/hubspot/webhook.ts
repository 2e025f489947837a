import { z } from 'zod';
import type { HubSpotFields, HubSpotSignal } from '../../src/config/schema.js';
import type { LeadRef, NormalizedBatch } from '../../src/domain/index.js';
import { matches } from '../../src/scoring/match.js';

const Id = z.union([z.number().int().nonnegative(), z.string().regex(/^\d{1,20}$/)]).transform(String);

/** One event of a HubSpot webhook delivery. Some docs name the type field `eventType`: accept both. */
export const HubSpotWebhookEvent = z
  .object({
    eventId: Id,
    portalId: Id,
    objectId: Id,
    occurredAt: z.number().int().nonnegative(),
    subscriptionType: z.string().min(1).optional(),
    eventType: z.string().min(1).optional(),
    subscriptionId: z.number().optional(),
    appId: z.number().optional(),
    attemptNumber: z.number().int().nonnegative().optional(),
    propertyName: z.string().max(256).optional(),
    propertyValue: z.string().max(65_536).nullable().optional(),
    changeSource: z.string().optional(),
    changeFlag: z.string().optional(),
    // contact.merge: the secondary records went into the primary, which may get a new id.
    primaryObjectId: Id.optional(),
    mergedObjectIds: z.array(Id).max(100).optional(),
    newObjectId: Id.optional(),
  })
  .refine((e) => e.subscriptionType ?? e.eventType, 'needs subscriptionType or eventType');
export type HubSpotWebhookEvent = z.infer<typeof HubSpotWebhookEvent>;

/** HubSpot sends up to 100 events per request. */
export const HubSpotWebhookBatch = z.array(HubSpotWebhookEvent).min(1).max(100);

export interface HubSpotNormalizeRules {
  fields: HubSpotFields;
  signals: HubSpotSignal[];
}

/** Turns validated webhook events into domain events. Pure. */
export function normalizeHubSpotEvents(
  events: HubSpotWebhookEvent[],
  rules: HubSpotNormalizeRules,
): NormalizedBatch {
  const profileFieldByProperty = new Map(
    Object.entries(rules.fields.profile).map(([field, prop]) => [prop, field]),
  );
  // Our copy of the stage lets a handoff write it without reading the contact first.
  profileFieldByProperty.set(rules.fields.lifecycleStage, 'lifecycleStage');
  const out: NormalizedBatch = {
    engagement: [],
    profile: [],
    leads: [],
    created: [],
    deleted: [],
    merged: [],
    ignored: 0,
  };
  const seenLeads = new Set<string>();

  for (const e of events) {
    const type = (e.subscriptionType ?? e.eventType ?? '').toLowerCase();
    if (!type.startsWith('contact.')) {
      out.ignored++;
      continue;
    }
    const lead: LeadRef = { crm: 'hubspot', objectType: 'contact', id: e.objectId };
    // eventId alone is not guaranteed unique, so the dedupe id pins the whole change.
    const id = `hubspot:${e.portalId}:${e.eventId}:${e.objectId}:${e.propertyName ?? type}`;
    let used = false;
    if (type === 'contact.creation') {
      out.created.push(lead);
      used = true;
    }
    if (type === 'contact.deletion' || type === 'contact.privacydeletion') {
      out.deleted.push(lead);
      continue;
    }
    if (type === 'contact.merge') {
      const into = e.newObjectId ?? e.primaryObjectId ?? e.objectId;
      const from = [...(e.mergedObjectIds ?? []), e.primaryObjectId, e.objectId].filter(
        (id): id is string => id !== undefined && id !== into,
      );
      out.merged.push({
        from: [...new Set(from)].map((id) => ({ ...lead, id })),
        into: { ...lead, id: into },
      });
      continue;
    }

    if (type === 'contact.propertychange' && e.propertyName) {
      const value = e.propertyValue ?? null;
      const field = profileFieldByProperty.get(e.propertyName);
      if (field) {
        out.profile.push({ id, lead, field, value, occurredAt: e.occurredAt, source: 'hubspot.webhook' });
        used = true;
      }
      const signal = rules.signals.find(
        (s) => s.property === e.propertyName && (s.when === undefined || matches(s.when, value)),
      );
      if (signal) {
        out.engagement.push({
          id,
          lead,
          type: signal.event,
          occurredAt: e.occurredAt,
          source: 'hubspot.webhook',
          properties: signal.valueAs ? { [signal.valueAs]: value } : {},
        });
        used = true;
      }
    }

    if (!used) {
      out.ignored++;
      continue;
    }
    if (!seenLeads.has(lead.id)) {
      seenLeads.add(lead.id);
      out.leads.push(lead);
    }
  }
  return out;
}
