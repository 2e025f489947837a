import {
  OUTBOUND_ACK,
  isSameOrg,
  mapOutboundMessage,
  parseOutboundMessage,
  soapFault,
} from '../../connectors/salesforce/outbound.js';
import { BlockList, isIPv4, isIPv6 } from 'node:net';
import type { Config } from '../config/schema.js';
import { batchOf, type ProfileChange } from '../domain/index.js';
import type { IngestJob } from '../queue/catalog.js';
import { secureEqual } from '../secure-compare.js';
import { reject, type Caller, type Origin, type WebhookReceiver } from './receipt.js';

/**
 * POST /webhooks/salesforce/<SALESFORCE_OUTBOUND_TOKEN>: Salesforce Outbound Messages (SOAP). Every
 * answer is SOAP: the Ack once the changes are queued, else a fault whose faultstring Salesforce
 * shows the admin in its Outbound Message queue. Without the Ack, Salesforce retries for 24 hours,
 * so nothing that could not be queued is acknowledged.
 *
 * Outbound Messages carry no signature, and the OrganizationId inside is public (every Web-to-Lead
 * form carries it). So a caller is admitted, before its body is read, on what the admin configures
 * on both sides: the secret token in the endpoint URL (always; `tokens` holds the current one and,
 * while rotating, the previous one), and optionally Salesforce's source addresses and the client
 * certificate it sends. The OrganizationId is checked after that.
 */
export function salesforceOutboundReceiver(
  config: Config,
  orgId: string | undefined,
  tokens: (string | undefined)[],
): WebhookReceiver {
  const endpoint = config.webhooks.salesforce;
  const accepted = tokens.filter((t): t is string => t !== undefined);
  const allowed = endpoint.allowIps.length > 0 ? blockListOf(endpoint.allowIps) : undefined;
  const certificate = endpoint.clientCertificate;
  return {
    source: 'salesforce',
    fault: (status, message) => ({ xml: soapFault(status, message) }),
    limits: { maxBodyBytes: endpoint.maxBodyBytes, maxConcurrent: endpoint.maxConcurrent },
    admit(caller) {
      if (tokens[0] === undefined)
        return reject(503, 'Salesforce Outbound Messages are not configured: set SALESFORCE_OUTBOUND_TOKEN');
      if (!orgId)
        return reject(503, 'Salesforce Outbound Messages are not configured: set SALESFORCE_ORG_ID');
      // Every accepted token is compared, in constant time, whichever matches.
      const given = caller.pathToken ?? '';
      if (!accepted.map((token) => secureEqual(given, token)).includes(true))
        return reject(
          404,
          'no such endpoint: the Outbound Message URL must end in /webhooks/salesforce/<SALESFORCE_OUTBOUND_TOKEN>',
          { message: 'Outbound Message without a valid URL token', detail: { ip: caller.ip } },
        );
      if (allowed && !allowed.check(...addressOf(caller.ip)))
        return reject(403, 'source address not allowed by webhooks.salesforce.allowIps', {
          message: 'Outbound Message from an address outside webhooks.salesforce.allowIps',
          detail: { ip: caller.ip },
        });
      if (certificate && !certificate.fingerprints.includes(fingerprintOf(caller, certificate.header)))
        return reject(403, 'client certificate missing or not in webhooks.salesforce.clientCertificate', {
          message: 'Outbound Message without an allowed client certificate',
          detail: { ip: caller.ip },
        });
      return undefined;
    },
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

function blockListOf(cidrs: string[]): BlockList {
  const list = new BlockList();
  for (const cidr of cidrs) {
    const [address, prefix] = cidr.split('/') as [string, string];
    list.addSubnet(address, Number(prefix), isIPv6(address) ? 'ipv6' : 'ipv4');
  }
  return list;
}

/** An address and its family; an IPv4 client on a dual-stack socket shows as `::ffff:a.b.c.d`. */
function addressOf(ip: string): [string, 'ipv4' | 'ipv6'] {
  const mapped = /^::ffff:(.+)$/i.exec(ip)?.[1];
  if (mapped && isIPv4(mapped)) return [mapped, 'ipv4'];
  return [ip, isIPv6(ip) ? 'ipv6' : 'ipv4'];
}

/** The caller's certificate fingerprint, normalized like the configured ones; '' when there is none. */
function fingerprintOf(caller: Caller, header: string | undefined): string {
  const given = header ? caller.headers[header] : caller.peerCertificate;
  return typeof given === 'string' ? given.trim().replace(/:/g, '').toLowerCase() : '';
}
