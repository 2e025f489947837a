import { describe, expect, it } from 'vitest';
import { OUTBOUND_ACK, soapFault } from '../../connectors/salesforce/outbound.js';
import { loadConfig } from '../../src/config/load.js';
import type { Delivery } from '../../src/receive/index.js';
import { salesforceOutboundReceiver } from '../../src/receive/salesforce-outbound.js';
import { ORG_ID, leadNotification, outboundXml, sfId } from '../helpers/outbound-message.js';

const NOW = Date.parse('2026-11-24T10:00:00Z');
const config = loadConfig('config/default.yaml');

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
  const receiver = salesforceOutboundReceiver(config, ORG_ID);

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
    expect(salesforceOutboundReceiver(config, undefined).receive(delivery('<x/>'))).toMatchObject({
      ok: false,
      status: 503,
    });
  });
});
