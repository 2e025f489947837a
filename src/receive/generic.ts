import { createHmac } from 'node:crypto';
import { GenericEventBatch, normalizeGenericEvents } from '../domain/generic-events.js';
import type { Config } from '../config/schema.js';
import type { IngestJob } from '../queue/catalog.js';
import { secureEqual } from '../secure-compare.js';
import { parseJson, reject, type Origin, type WebhookReceiver } from './receipt.js';

/**
 * POST /webhooks/events: engagement from anything that is not a CRM (webinar platform, product
 * analytics, a data warehouse). Signed like Stripe: `X-Leadflow-Timestamp` (ms) and
 * `X-Leadflow-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<raw body>">`.
 */
export function genericReceiver(config: Config, signingSecret: string | undefined): WebhookReceiver {
  return {
    source: 'generic',
    receive(delivery) {
      if (!signingSecret)
        return reject(503, 'the events endpoint is not configured: set EVENTS_SIGNING_SECRET');
      const check = verifyGeneric(
        delivery.rawBody,
        delivery.headers,
        signingSecret,
        delivery.receivedAt,
        config.webhooks.hubspot.maxSkewMs,
      );
      if (!check.ok) return reject(401, `invalid signature: ${check.reason}`);
      const batch = parseJson(delivery.rawBody, GenericEventBatch);
      if (!batch.ok) return batch;
      return {
        ok: true,
        job: genericIngest(batch.value, delivery),
        reply: { json: { accepted: batch.value.events.length + batch.value.profile.length } },
      };
    },
  };
}

/** A validated batch → the ingest job (also for generic jobs queued in the legacy shape). */
export function genericIngest(batch: GenericEventBatch, { receivedAt, requestId }: Origin): IngestJob {
  return { source: 'generic', receivedAt, requestId, batch: normalizeGenericEvents(batch) };
}

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
