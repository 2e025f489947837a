import {
  OUTBOUND_ACK,
  isSameOrg,
  mapOutboundMessage,
  parseOutboundMessage,
  soapFault,
} from '../../connectors/salesforce/outbound.js';
import type { Config } from '../config/schema.js';
import { batchOf, type ProfileChange } from '../domain/index.js';
import type { IngestJob } from '../queue/catalog.js';
import { reject, type Origin, type WebhookReceiver } from './receipt.js';

/**
 * POST /webhooks/salesforce: Salesforce Outbound Messages (SOAP). Every answer is SOAP: the Ack
 * once the changes are queued, else a fault whose faultstring Salesforce shows the admin in its
 * Outbound Message queue. Without the Ack, Salesforce retries for 24 hours, so nothing that could
 * not be queued is acknowledged.
 *
 * Outbound Messages carry no signature. What Salesforce offers is the OrganizationId inside the
 * message (checked against SALESFORCE_ORG_ID here) plus HTTPS and allow-listing Salesforce's IP
 * ranges in front of this endpoint; deploy it with both.
 */
export function salesforceOutboundReceiver(config: Config, orgId: string | undefined): WebhookReceiver {
  return {
    source: 'salesforce',
    fault: (status, message) => ({ xml: soapFault(status, message) }),
    receive(delivery) {
      if (!orgId)
        return reject(503, 'Salesforce Outbound Messages are not configured: set SALESFORCE_ORG_ID');
      const parsed = parseOutboundMessage(delivery.rawBody);
      if (!parsed.ok) return reject(400, parsed.reason);
      const { message } = parsed;
      if (!isSameOrg(message.organizationId, orgId))
        return reject(403, 'OrganizationId does not match SALESFORCE_ORG_ID', {
          message: 'Outbound Message from another Salesforce org',
          detail: { organizationId: message.organizationId, actionId: message.actionId },
        });
      const { profile, ignored, repeated } = mapOutboundMessage(
        message,
        config.salesforce.fields,
        delivery.receivedAt,
      );
      return {
        ok: true,
        // Only other sObjects or unmapped fields: nothing to queue, and nothing lost by acknowledging.
        ...(profile.length > 0 ? { job: salesforceIngest(profile, delivery) } : {}),
        reply: { xml: OUTBOUND_ACK },
        // Whole notifications left out before anything is queued, so counted here.
        counted: { ignored, duplicate: repeated },
        note: {
          message: 'Outbound Message queued',
          detail: {
            actionId: message.actionId,
            notifications: message.notifications.length,
            changes: profile.length,
            ignored,
            repeated,
          },
        },
      };
    },
  };
}

/**
 * Salesforce profile changes → the ingest job. Outbound Messages and CDC events share it, and so
 * do Salesforce jobs queued in the legacy shape.
 */
export function salesforceIngest(profile: ProfileChange[], { receivedAt, requestId }: Origin): IngestJob {
  return { source: 'salesforce', receivedAt, requestId, batch: batchOf([], profile) };
}
