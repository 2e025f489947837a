import { verifyV1, verifyV3 } from '../../connectors/hubspot/signature.js';
import {
  HubSpotWebhookBatch,
  normalizeHubSpotEvents,
  type HubSpotNormalizeRules,
  type HubSpotWebhookEvent,
} from '../../connectors/hubspot/webhook.js';
import type { Config } from '../config/schema.js';
import type { IngestJob } from '../queue/catalog.js';
import { parseJson, reject, type Delivery, type Origin, type WebhookReceiver } from './receipt.js';

/**
 * POST /webhooks/hubspot: up to 100 webhook events, signed (v3, or v1 for old apps) over the raw
 * bytes and the URL HubSpot called; normalized here with the config's field mapping and signals.
 */
export function hubspotReceiver(config: Config, clientSecret: string | undefined): WebhookReceiver {
  const hub = config.webhooks.hubspot;
  return {
    source: 'hubspot',
    receive(delivery) {
      if (!clientSecret) return reject(503, 'HubSpot webhooks are not configured: set HUBSPOT_CLIENT_SECRET');
      const signed = {
        method: delivery.method,
        url: signedUrl(delivery, hub.publicUrl),
        rawBody: delivery.rawBody,
        headers: delivery.headers,
      };
      const check =
        hub.signatureVersion === 'v1'
          ? verifyV1(signed, clientSecret)
          : verifyV3(signed, clientSecret, delivery.receivedAt, hub.maxSkewMs);
      if (!check.ok) return reject(401, `invalid signature: ${check.reason}`);
      const events = parseJson(delivery.rawBody, HubSpotWebhookBatch);
      if (!events.ok) return events;
      return {
        ok: true,
        job: hubspotIngest(events.value, config.hubspot, delivery),
        reply: { json: { accepted: events.value.length } },
      };
    },
  };
}

/** Validated webhook events → the ingest job (also for HubSpot jobs queued in the legacy shape). */
export function hubspotIngest(
  events: HubSpotWebhookEvent[],
  rules: HubSpotNormalizeRules,
  { receivedAt, requestId }: Origin,
): IngestJob {
  return { source: 'hubspot', receivedAt, requestId, batch: normalizeHubSpotEvents(events, rules) };
}

/** The URL HubSpot signed: the configured public base (behind a proxy) or the one we were called on. */
function signedUrl(delivery: Delivery, publicUrl: string | undefined): string {
  return (publicUrl ? publicUrl.replace(/\/$/, '') : delivery.origin) + delivery.path;
}
