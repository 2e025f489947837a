import type { Config } from '../config/schema.js';
import { genericReceiver } from './generic.js';
import { hubspotReceiver } from './hubspot.js';
import { salesforceOutboundReceiver } from './salesforce-outbound.js';
import type { WebhookReceiver } from './receipt.js';

export type { Caller, Delivery, Receipt, Reply, WebhookReceiver } from './receipt.js';

/** The secrets the receivers check deliveries against; a receiver without its secret answers 503. */
export interface ReceiverSecrets {
  hubspotClientSecret?: string | undefined;
  eventsSigningSecret?: string | undefined;
  salesforceOrgId?: string | undefined;
  salesforceOutboundToken?: string | undefined;
  /** Still accepted while Salesforce is moved to the new token. */
  salesforceOutboundTokenPrevious?: string | undefined;
}

/**
 * Every webhook source, by the name its route is mounted under (`/webhooks/<name>`) and its
 * requests are counted by. A new source is one receiver file and one line here.
 */
export function webhookReceivers(config: Config, secrets: ReceiverSecrets): Record<string, WebhookReceiver> {
  return {
    hubspot: hubspotReceiver(config, secrets.hubspotClientSecret),
    salesforce: salesforceOutboundReceiver(config, secrets.salesforceOrgId, [
      secrets.salesforceOutboundToken,
      secrets.salesforceOutboundTokenPrevious,
    ]),
    events: genericReceiver(config, secrets.eventsSigningSecret),
  };
}
