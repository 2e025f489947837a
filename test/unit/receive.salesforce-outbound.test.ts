import { describe, expect, it } from 'vitest';
import { OUTBOUND_ACK, soapFault } from '../../connectors/salesforce/outbound.js';
import { loadConfig } from '../../src/config/load.js';
import { Config } from '../../src/config/schema.js';
import type { Caller, Delivery } from '../../src/receive/index.js';
import { salesforceOutboundReceiver } from '../../src/receive/salesforce-outbound.js';
import { ORG_ID, leadNotification, outboundXml, sfId } from '../helpers/outbound-message.js';

const NOW = Date.parse('2026-11-24T10:00:00Z');
const config = loadConfig('config/default.yaml');
const TOKEN = 'current-outbound-token-0123456789abcdef';
const PREVIOUS = 'previous-outbound-token-0123456789abcdef';
/** A certificate fingerprint as node and most proxies print it (upper case, colons). */
const FINGERPRINT = Array.from({ length: 32 }, (_, i) => (i * 7).toString(16).padStart(2, '0'))
  .join(':')
  .toUpperCase();

function caller(over: Partial<Caller> = {}): Caller {
  return { pathToken: TOKEN, ip: '13.108.1.1', headers: {}, peerCertificate: undefined, ...over };
}

/** The default config with `webhooks.salesforce` and `http` adjusted, parsed like a config file. */
function configWith(salesforce: object, http: object = {}): Config {
  return Config.parse({
    ...config,
    http: { ...config.http, ...http },
    webhooks: { ...config.webhooks, salesforce: { ...config.webhooks.salesforce, ...salesforce } },
  });
}

function delivery(xml: string): Delivery {
  return {
    method: 'POST',
    origin: 'http://127.0.0.1:3000',
    path: '/webhooks/salesforce',
    headers: { 'content-type': 'text/xml' },
    rawBody: Buffer.from(xml),
    receivedAt: NOW,
    requestId: 'req-3',
  };
}

describe('Salesforce Outbound Message receiver', () => {
  const receiver = salesforceOutboundReceiver(config, ORG_ID, [TOKEN]);

  it('turns a message into the ingest shape, counting other sObjects and repeats at the edge', () => {
    const lead = { crm: 'salesforce', objectType: 'lead', id: sfId('00Q', 1) };
    const account = { id: sfId('04l', 2), sObject: 'Account', fields: { Id: sfId('001', 2) } };
    const xml = outboundXml({ notifications: [leadNotification(1), leadNotification(1), account] });
    const receipt = receiver.receive(delivery(xml));
    expect(receipt).toMatchObject({
      ok: true,
      reply: { xml: OUTBOUND_ACK },
      counted: { ignored: 1, duplicate: 1 },
      job: {
        source: 'salesforce',
        receivedAt: NOW,
        requestId: 'req-3',
        batch: { engagement: [], leads: [lead], created: [], deleted: [], merged: [], ignored: 0 },
      },
    });
    const profile = receipt.ok ? (receipt.job?.batch.profile ?? []) : [];
    expect(profile).toContainEqual({
      id: `salesforce:om:${sfId('04l', 1)}:email`,
      lead,
      field: 'email',
      value: 'lead1@example.com',
      occurredAt: Date.parse('2026-11-24T09:48:00.000Z'),
      source: 'salesforce.outbound',
    });
  });

  it('acknowledges a message with nothing to queue, and makes no job', () => {
    const account = { id: sfId('04l', 2), sObject: 'Account', fields: { Id: sfId('001', 2) } };
    const receipt = receiver.receive(delivery(outboundXml({ notifications: [account] })));
    expect(receipt).toMatchObject({ ok: true, reply: { xml: OUTBOUND_ACK }, counted: { ignored: 1 } });
    expect(receipt.ok && receipt.job).toBeUndefined();
  });

  it('rejects another org with 403 and a note naming it', () => {
    const other = '00D000000000001AAA';
    const receipt = receiver.receive(
      delivery(outboundXml({ orgId: other, notifications: [leadNotification(1)] })),
    );
    expect(receipt).toMatchObject({
      ok: false,
      status: 403,
      reason: 'OrganizationId does not match SALESFORCE_ORG_ID',
      note: { detail: { organizationId: other } },
    });
  });

  it('rejects what is not an Outbound Message with 400, and answers failures as SOAP faults', () => {
    expect(receiver.receive(delivery('<nope'))).toMatchObject({ ok: false, status: 400 });
    expect(receiver.fault?.(400, 'bad')).toEqual({ xml: soapFault(400, 'bad') });
  });

  it('answers 503 while no org id is configured', () => {
    expect(salesforceOutboundReceiver(config, undefined, [TOKEN]).receive(delivery('<x/>'))).toMatchObject({
      ok: false,
      status: 503,
    });
  });

  describe('admission, before the body is read', () => {
    it('admits the current and the previous token, and nothing else, naming the setting', () => {
      const rotating = salesforceOutboundReceiver(config, ORG_ID, [TOKEN, PREVIOUS]);
      expect(rotating.admit?.(caller())).toBeUndefined();
      expect(rotating.admit?.(caller({ pathToken: PREVIOUS }))).toBeUndefined();
      for (const pathToken of [undefined, '', TOKEN.slice(0, -1), `${TOKEN}x`, TOKEN.toUpperCase()])
        expect(rotating.admit?.(caller({ pathToken }))).toMatchObject({
          ok: false,
          status: 404,
          reason:
            'no such endpoint: the Outbound Message URL must end in /webhooks/salesforce/<SALESFORCE_OUTBOUND_TOKEN>',
        });
      // Once rotated, the previous token is refused.
      expect(receiver.admit?.(caller({ pathToken: PREVIOUS }))).toMatchObject({ status: 404 });
    });

    it('refuses everyone with 503 naming the setting while no token is configured', () => {
      const open = salesforceOutboundReceiver(config, ORG_ID, [undefined, undefined]);
      for (const pathToken of [undefined, TOKEN])
        expect(open.admit?.(caller({ pathToken }))).toEqual({
          ok: false,
          status: 503,
          reason: 'Salesforce Outbound Messages are not configured: set SALESFORCE_OUTBOUND_TOKEN',
        });
      // A previous token alone does not open the endpoint either.
      const previousOnly = salesforceOutboundReceiver(config, ORG_ID, [undefined, PREVIOUS]);
      expect(previousOnly.admit?.(caller({ pathToken: PREVIOUS }))).toMatchObject({ status: 503 });
    });

    it('admits only addresses in webhooks.salesforce.allowIps (IPv4, IPv6, IPv4-mapped)', () => {
      const listed = salesforceOutboundReceiver(
        configWith({ allowIps: ['13.108.0.0/14', '2a01:111:f400::/48'] }),
        ORG_ID,
        [TOKEN],
      );
      for (const ip of ['13.108.1.1', '13.111.255.254', '::ffff:13.109.0.1', '2a01:111:f400:1::5'])
        expect(listed.admit?.(caller({ ip }))).toBeUndefined();
      for (const ip of ['13.112.0.1', '10.0.0.1', '::ffff:10.0.0.1', '2a01:111:f401::1', '::1', ''])
        expect(listed.admit?.(caller({ ip }))).toMatchObject({
          ok: false,
          status: 403,
          reason: 'source address not allowed by webhooks.salesforce.allowIps',
          note: { detail: { ip } },
        });
      // The token is checked first: a stranger inside the ranges still needs it.
      expect(listed.admit?.(caller({ pathToken: 'nope' }))).toMatchObject({ status: 404 });
    });

    it('demands an allowed client certificate from the trusted proxy header', () => {
      const withCert = salesforceOutboundReceiver(
        configWith(
          { clientCertificate: { header: 'X-Client-Cert-SHA256', fingerprints: [FINGERPRINT] } },
          { trustProxy: 1 },
        ),
        ORG_ID,
        [TOKEN],
      );
      const plain = FINGERPRINT.replace(/:/g, '').toLowerCase();
      for (const value of [FINGERPRINT, plain])
        expect(withCert.admit?.(caller({ headers: { 'x-client-cert-sha256': value } }))).toBeUndefined();
      for (const headers of [{}, { 'x-client-cert-sha256': plain.replace(/^../, 'ff') }])
        expect(withCert.admit?.(caller({ headers, peerCertificate: FINGERPRINT }))).toMatchObject({
          ok: false,
          status: 403,
          reason: 'client certificate missing or not in webhooks.salesforce.clientCertificate',
        });
    });

    it('demands an allowed client certificate from the TLS connection when no header is configured', () => {
      const withCert = salesforceOutboundReceiver(
        configWith({ clientCertificate: { fingerprints: [FINGERPRINT] } }),
        ORG_ID,
        [TOKEN],
      );
      expect(withCert.admit?.(caller({ peerCertificate: FINGERPRINT }))).toBeUndefined();
      // Without a proxy in front, a header is anyone's to send.
      expect(withCert.admit?.(caller({ headers: { 'x-client-cert-sha256': FINGERPRINT } }))).toMatchObject({
        status: 403,
      });
    });
  });

  it('keeps the body limit small and bounds concurrent parses', () => {
    // 100 realistic notifications are about 203 KB (see the config's comment): 384 KiB by default.
    expect(receiver.limits).toEqual({ maxBodyBytes: 384 * 1024, maxConcurrent: 2 });
  });
});
