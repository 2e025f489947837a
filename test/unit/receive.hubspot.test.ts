import { describe, expect, it } from 'vitest';
import { signV3 } from '../../connectors/hubspot/signature.js';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { hubspotReceiver } from '../../src/receive/hubspot.js';
import type { Delivery } from '../../src/receive/index.js';

const SECRET = 'test-client-secret';
const NOW = 1_732_000_000_000;
const config = loadConfig('config/default.yaml');
const LEAD = { crm: 'hubspot', objectType: 'contact', id: '101' };

const change = (eventId: number, propertyName: string, propertyValue: string) => ({
  eventId,
  portalId: 33,
  objectId: 101,
  occurredAt: NOW - 1_000,
  subscriptionType: 'contact.propertyChange',
  propertyName,
  propertyValue,
});

function delivery(
  body: string | Buffer,
  opts: { url?: string; secret?: string; at?: number } = {},
): Delivery {
  const url = opts.url ?? 'http://127.0.0.1:3000/webhooks/hubspot';
  return {
    method: 'POST',
    origin: 'http://127.0.0.1:3000',
    path: '/webhooks/hubspot',
    headers: Object.fromEntries(
      Object.entries(signV3('POST', url, body, opts.secret ?? SECRET, opts.at ?? NOW)).map(([k, v]) => [
        k.toLowerCase(),
        v,
      ]),
    ),
    rawBody: Buffer.from(body),
    receivedAt: NOW,
    requestId: 'req-1',
  };
}

describe('HubSpot receiver', () => {
  const receiver = hubspotReceiver(config, SECRET);

  it('turns a signed delivery into the ingest shape, normalized with the config’s fields and signals', () => {
    const body = JSON.stringify([
      change(1, 'jobtitle', 'VP Sales'),
      change(2, 'hs_analytics_last_url', 'https://acme.io/pricing'),
      { ...change(3, 'name', 'Acme'), subscriptionType: 'company.propertyChange' },
    ]);
    const receipt = receiver.receive(delivery(body));
    expect(receipt).toEqual({
      ok: true,
      reply: { json: { accepted: 3 } },
      job: {
        source: 'hubspot',
        receivedAt: NOW,
        requestId: 'req-1',
        batch: {
          engagement: [
            {
              id: 'hubspot:33:2:101:hs_analytics_last_url',
              lead: LEAD,
              type: 'page_view',
              occurredAt: NOW - 1_000,
              source: 'hubspot.webhook',
              properties: { url: 'https://acme.io/pricing' },
            },
          ],
          profile: [
            {
              id: 'hubspot:33:1:101:jobtitle',
              lead: LEAD,
              field: 'jobTitle',
              value: 'VP Sales',
              occurredAt: NOW - 1_000,
              source: 'hubspot.webhook',
            },
          ],
          leads: [LEAD],
          created: [],
          deleted: [],
          merged: [],
          ignored: 1,
        },
      },
    });
  });

  it('checks the signature against the configured public URL when behind a proxy', () => {
    const publicUrl = 'https://leads.example.com/';
    const behindProxy: Config = {
      ...config,
      webhooks: { ...config.webhooks, hubspot: { ...config.webhooks.hubspot, publicUrl } },
    };
    const body = JSON.stringify([change(1, 'jobtitle', 'VP Sales')]);
    const signedForPublic = delivery(body, { url: 'https://leads.example.com/webhooks/hubspot' });
    expect(hubspotReceiver(behindProxy, SECRET).receive(signedForPublic).ok).toBe(true);
    expect(receiver.receive(signedForPublic)).toMatchObject({ ok: false, status: 401 });
  });

  it.each([
    [
      'a wrong secret',
      delivery('[]', { secret: 'nope' }),
      401,
      /invalid signature: signature does not match/,
    ],
    ['a stale timestamp', delivery('[]', { at: NOW - 6 * 60_000 }), 401, /timestamp is too old/],
    ['malformed JSON', delivery('[{"eventId":'), 400, /body is not valid JSON/],
    ['an empty batch', delivery('[]'), 400, /unexpected payload/],
  ])('rejects %s with %i', (_label, input, status, reason) => {
    const receipt = receiver.receive(input);
    expect(receipt).toMatchObject({ ok: false, status });
    expect(receipt.ok ? '' : receipt.reason).toMatch(reason);
  });

  it('refuses a correctly signed body that is not valid UTF-8 with 400, never storing U+FFFD', () => {
    const json = Buffer.from(JSON.stringify([change(1, 'jobtitle', 'VP Sales')]));
    // 0xC3 alone (the first byte of a two-byte sequence) in place of the "V" of the value.
    const body = Buffer.from(json);
    body[json.indexOf('VP Sales')] = 0xc3;
    expect(receiver.receive(delivery(body))).toEqual({ ok: false, status: 400, reason: 'body is not UTF-8' });
  });

  it('answers 503 while no client secret is configured', () => {
    expect(hubspotReceiver(config, undefined).receive(delivery('[]'))).toEqual({
      ok: false,
      status: 503,
      reason: 'HubSpot webhooks are not configured: set HUBSPOT_CLIENT_SECRET',
    });
  });
});
