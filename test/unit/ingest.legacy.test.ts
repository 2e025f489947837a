import { describe, expect, it } from 'vitest';
import { upgradeLegacyIngest } from '../../jobs/ingest.js';
import { loadConfig } from '../../src/config/load.js';
import { batchOf, type EngagementEvent, type ProfileChange } from '../../src/domain/index.js';
import { QUEUES } from '../../src/queue/catalog.js';
import { genericIngest } from '../../src/receive/generic.js';
import { hubspotIngest } from '../../src/receive/hubspot.js';
import { HubSpotWebhookBatch } from '../../connectors/hubspot/webhook.js';
import { GenericEventBatch } from '../../src/domain/generic-events.js';

/* Ingest jobs queued by the release before the receivers must still run after a rolling upgrade. */

const config = loadConfig('config/default.yaml');
const RECEIVED = 1_732_000_000_000;
const HS_LEAD = { crm: 'hubspot', objectType: 'contact', id: '101' } as const;
const SF_LEAD = { crm: 'salesforce', objectType: 'lead', id: '00Q000000000001AAA' } as const;

const rawHubSpot = [
  {
    eventId: 7,
    portalId: 33,
    objectId: 101,
    occurredAt: RECEIVED - 10,
    subscriptionType: 'contact.propertyChange',
    propertyName: 'hs_analytics_last_url',
    propertyValue: 'https://acme.io/pricing',
  },
];
const genericBatch = {
  events: [{ id: 'w-1', lead: HS_LEAD, type: 'webinar_attended', occurredAt: '2026-11-20T17:00:00Z' }],
};
const event: EngagementEvent = {
  id: 'hubspot:form:1',
  lead: HS_LEAD,
  type: 'form_submission',
  occurredAt: RECEIVED - 20,
  source: 'hubspot.poll',
  properties: {},
};
const change: ProfileChange = {
  id: 'salesforce:om:04l000000000001AAA:jobTitle',
  lead: SF_LEAD,
  field: 'jobTitle',
  value: 'CTO',
  occurredAt: RECEIVED - 30,
  source: 'salesforce.outbound',
};

/** A payload as it sits in Redis, parsed the way the ingest worker parses it. */
function queued(payload: unknown) {
  const parsed = QUEUES.ingest.schema.parse(JSON.parse(JSON.stringify(payload)));
  if (!('legacy' in parsed)) throw new Error('not recognised as a legacy payload');
  return parsed.legacy;
}

describe('legacy ingest payloads', () => {
  it('a HubSpot job of raw events goes through the HubSpot receiver’s normalization', () => {
    const old = { source: 'hubspot', receivedAt: RECEIVED, requestId: 'r1', events: rawHubSpot };
    const upgraded = upgradeLegacyIngest(queued(old), config);
    expect(upgraded).toEqual(
      hubspotIngest(HubSpotWebhookBatch.parse(rawHubSpot), config.hubspot, {
        receivedAt: RECEIVED,
        requestId: 'r1',
      }),
    );
    expect(upgraded.batch.engagement).toMatchObject([{ type: 'page_view', lead: HS_LEAD }]);
  });

  it('a generic job of the batch as posted goes through the generic receiver', () => {
    const old = { source: 'generic', receivedAt: RECEIVED, requestId: 'r2', batch: genericBatch };
    expect(upgradeLegacyIngest(queued(old), config)).toEqual(
      genericIngest(GenericEventBatch.parse(genericBatch), { receivedAt: RECEIVED, requestId: 'r2' }),
    );
  });

  it('Salesforce and poll jobs of domain lists become one batch each', () => {
    const sf = { source: 'salesforce', receivedAt: RECEIVED, requestId: 'r3', events: [], profile: [change] };
    expect(upgradeLegacyIngest(queued(sf), config)).toEqual({
      source: 'salesforce',
      receivedAt: RECEIVED,
      requestId: 'r3',
      batch: batchOf([], [change]),
    });
    const poll = { source: 'poll', receivedAt: RECEIVED, poller: 'hubspot:forms', events: [event] };
    expect(upgradeLegacyIngest(queued(poll), config)).toEqual({
      source: 'poll',
      receivedAt: RECEIVED,
      poller: 'hubspot:forms',
      batch: batchOf([event], []),
    });
  });

  it('a job in today’s shape is not mistaken for a legacy one', () => {
    const current = hubspotIngest(HubSpotWebhookBatch.parse(rawHubSpot), config.hubspot, {
      receivedAt: RECEIVED,
    });
    expect(QUEUES.ingest.schema.parse(JSON.parse(JSON.stringify(current)))).toEqual(current);
  });
});
