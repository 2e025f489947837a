import { describe, expect, it } from 'vitest';
import { HubSpotWebhookBatch, normalizeHubSpotEvents } from '../../connectors/hubspot/webhook.js';
import { loadConfig } from '../../src/config/load.js';

const config = loadConfig('config/default.yaml');
const base = { portalId: 33, appId: 1160452, subscriptionId: 25, attemptNumber: 0 };

function change(
  eventId: number,
  objectId: number,
  propertyName: string,
  propertyValue: string,
  occurredAt = 1000,
) {
  return {
    ...base,
    eventId,
    objectId,
    propertyName,
    propertyValue,
    occurredAt,
    subscriptionType: 'contact.propertyChange',
  };
}

describe('HubSpot webhook payloads', () => {
  it('accepts subscriptionType or eventType and rejects neither', () => {
    expect(HubSpotWebhookBatch.safeParse([change(1, 2, 'jobtitle', 'VP')]).success).toBe(true);
    const noType: Record<string, unknown> = { ...change(1, 2, 'jobtitle', 'VP') };
    delete noType.subscriptionType;
    expect(HubSpotWebhookBatch.safeParse([{ ...noType, eventType: 'contact.propertyChange' }]).success).toBe(
      true,
    );
    expect(HubSpotWebhookBatch.safeParse([noType]).success).toBe(false);
  });

  it.each([
    ['empty array', []],
    ['more than 100 events', Array.from({ length: 101 }, (_, i) => change(i, 1, 'jobtitle', 'x'))],
    ['an object instead of an array', change(1, 2, 'jobtitle', 'VP')],
    ['negative occurredAt', [change(1, 2, 'jobtitle', 'VP', -1)]],
    ['non-numeric objectId', [{ ...change(1, 2, 'jobtitle', 'VP'), objectId: 'abc' }]],
  ])('rejects %s', (_label, payload) => {
    expect(HubSpotWebhookBatch.safeParse(payload).success).toBe(false);
  });

  it('maps profile properties to canonical fields and signals to engagement events', () => {
    const events = HubSpotWebhookBatch.parse([
      change(1, 7, 'jobtitle', 'VP Marketing', 1000),
      change(2, 7, 'hs_analytics_last_url', 'https://acme.io/pricing', 2000),
      change(3, 7, 'recent_conversion_event_name', 'Request a demo', 3000),
      change(4, 7, 'recent_conversion_event_name', 'Ebook: RevOps 101', 4000),
      change(5, 7, 'hs_email_optout', 'false', 5000),
      change(6, 8, 'favorite_color', 'blue', 6000),
      {
        ...base,
        eventId: 7,
        objectId: 9,
        occurredAt: 7000,
        subscriptionType: 'contact.creation',
        changeFlag: 'CREATED',
      },
      { ...base, eventId: 8, objectId: 10, occurredAt: 8000, subscriptionType: 'deal.creation' },
    ]);
    const out = normalizeHubSpotEvents(events, config.hubspot);
    expect(out.profile).toEqual([
      {
        id: 'hubspot:33:1:7:jobtitle',
        lead: { crm: 'hubspot', objectType: 'contact', id: '7' },
        field: 'jobTitle',
        value: 'VP Marketing',
        occurredAt: 1000,
        source: 'hubspot.webhook',
      },
    ]);
    expect(out.engagement.map((e) => [e.type, e.properties])).toEqual([
      ['page_view', { url: 'https://acme.io/pricing' }],
      ['demo_request', { form: 'Request a demo' }],
      ['form_submission', { form: 'Ebook: RevOps 101' }],
    ]);
    expect(out.created.map((l) => l.id)).toEqual(['9']);
    expect(out.leads.map((l) => l.id)).toEqual(['7', '9']);
    expect(out.ignored).toBe(3); // opt-out false, unmapped property, deal event
  });

  it('keeps our copy of the lifecycle stage from its property changes', () => {
    const out = normalizeHubSpotEvents(
      HubSpotWebhookBatch.parse([change(9, 7, 'lifecyclestage', 'customer')]),
      config.hubspot,
    );
    expect(out.profile.map((p) => [p.field, p.value])).toEqual([['lifecycleStage', 'customer']]);
  });

  it('gives the same delivery the same ids, and different changes different ids', () => {
    const events = HubSpotWebhookBatch.parse([
      change(1, 7, 'jobtitle', 'A'),
      change(1, 7, 'jobtitle', 'A'),
      change(1, 7, 'industry', 'B'),
    ]);
    const ids = normalizeHubSpotEvents(events, config.hubspot).profile.map((p) => p.id);
    expect(ids[0]).toBe(ids[1]);
    expect(ids[2]).not.toBe(ids[0]);
  });

  it('turns deletions and merges into forget and move instructions', () => {
    const lead = (id: string) => ({ crm: 'hubspot', objectType: 'contact', id });
    const events = HubSpotWebhookBatch.parse([
      { ...base, eventId: 1, objectId: 11, occurredAt: 1, subscriptionType: 'contact.deletion' },
      { ...base, eventId: 2, objectId: 12, occurredAt: 1, subscriptionType: 'contact.privacyDeletion' },
      {
        ...base,
        eventId: 3,
        objectId: 20,
        occurredAt: 1,
        subscriptionType: 'contact.merge',
        primaryObjectId: 20,
        mergedObjectIds: [21, 22],
      },
      {
        ...base,
        eventId: 4,
        objectId: 30,
        occurredAt: 1,
        eventType: 'contact.merge',
        primaryObjectId: '30',
        mergedObjectIds: ['31'],
        newObjectId: '32',
      },
    ]);
    const batch = normalizeHubSpotEvents(events, config.hubspot);
    expect(batch.deleted).toEqual([lead('11'), lead('12')]);
    expect(batch.merged).toEqual([
      { from: [lead('21'), lead('22')], into: lead('20') },
      { from: [lead('31'), lead('30')], into: lead('32') },
    ]);
    expect(batch.leads).toEqual([]);
  });
});
