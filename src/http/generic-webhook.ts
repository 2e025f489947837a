import { createHmac } from 'node:crypto';
import { z } from 'zod';
import { LeadRef, PropertyValue, leadKey, type NormalizedBatch } from '../domain/index.js';
import { secureEqual } from '../secure-compare.js';

/**
 * POST /webhooks/events: engagement from anything that is not a CRM (webinar platform, product
 * analytics, a data warehouse). Signed like Stripe: `X-Leadflow-Timestamp` (ms) and
 * `X-Leadflow-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<raw body>">`.
 */
const When = z.union([
  z.number().int().nonnegative(),
  z.iso.datetime({ offset: true }).transform((s) => Date.parse(s)),
]);

export const GenericEventBatch = z
  .strictObject({
    events: z
      .array(
        z.strictObject({
          id: z.string().min(1).max(200),
          lead: LeadRef,
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
          lead: LeadRef,
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

export function signGeneric(
  body: string | Buffer,
  secret: string,
  timestamp: number,
): Record<string, string> {
  const mac = createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex');
  return { 'X-Leadflow-Timestamp': String(timestamp), 'X-Leadflow-Signature': `sha256=${mac}` };
}

export function verifyGeneric(
  rawBody: Buffer,
  headers: Record<string, string | string[] | undefined>,
  secret: string,
  now: number,
  maxSkewMs: number,
): { ok: true } | { ok: false; reason: string } {
  const timestamp = headers['x-leadflow-timestamp'];
  const signature = headers['x-leadflow-signature'];
  if (typeof timestamp !== 'string' || typeof signature !== 'string')
    return { ok: false, reason: 'missing X-Leadflow-Timestamp or X-Leadflow-Signature header' };
  if (!/^\d{1,16}$/.test(timestamp))
    return { ok: false, reason: 'timestamp is not a number of milliseconds' };
  if (Math.abs(now - Number(timestamp)) > maxSkewMs)
    return { ok: false, reason: 'timestamp outside the allowed window' };
  const expected = signGeneric(rawBody, secret, Number(timestamp))['X-Leadflow-Signature']!;
  return secureEqual(signature, expected) ? { ok: true } : { ok: false, reason: 'signature does not match' };
}

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
