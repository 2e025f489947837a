import { XMLParser } from 'fast-xml-parser';
import { z } from 'zod';
import { DEFAULT_API_VERSION, DEFAULT_ORG_ID } from './state.js';

/** Outbound Messages: the SOAP envelope Salesforce POSTs, and the Ack it needs back. */

export const OUTBOUND_NAMESPACE = 'http://soap.sforce.com/2005/09/outbound';

const ElementName = z.string().regex(/^[A-Za-z][A-Za-z0-9_]*$/, 'not a Salesforce field API name');
export const OutboundMessage = z.object({
  orgId: z
    .string()
    .regex(/^00D[A-Za-z0-9]{12}(?:[A-Za-z0-9]{3})?$/)
    .default(DEFAULT_ORG_ID),
  actionId: z.string().default('04k000000000001AAA'),
  instanceUrl: z.string().default('https://leadflow-sandbox.my.salesforce.com'),
  sessionId: z.string().nullable().default(null),
  sObject: z.enum(['Lead', 'Contact']),
  notifications: z
    .array(
      z.object({
        id: z.string().min(1),
        fields: z
          .record(ElementName, z.string().nullable())
          .refine((f) => typeof f.Id === 'string', 'every notification carries the record Id'),
      }),
    )
    .min(1)
    .max(100),
});
export type OutboundMessage = z.input<typeof OutboundMessage>;

const escapeXml = (s: string) =>
  s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');

/** The SOAP envelope Salesforce POSTs for an Outbound Message (record Id first, nulls as xsi:nil). */
export function outboundMessageXml(message: OutboundMessage): string {
  const m = OutboundMessage.parse(message);
  const version = DEFAULT_API_VERSION;
  const org15 = m.orgId.slice(0, 15);
  const notifications = m.notifications.map((n) => {
    const { Id, ...rest } = n.fields;
    const fields = Object.entries({ Id, ...rest }).map(([name, value]) =>
      value === null
        ? `     <sf:${name} xsi:nil="true"/>`
        : `     <sf:${name}>${escapeXml(value!)}</sf:${name}>`,
    );
    return [
      '   <Notification>',
      `    <Id>${escapeXml(n.id)}</Id>`,
      `    <sObject xsi:type="sf:${m.sObject}" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">`,
      ...fields,
      '    </sObject>',
      '   </Notification>',
    ].join('\n');
  });
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">',
    ' <soapenv:Body>',
    `  <notifications xmlns="${OUTBOUND_NAMESPACE}">`,
    `   <OrganizationId>${escapeXml(m.orgId)}</OrganizationId>`,
    `   <ActionId>${escapeXml(m.actionId)}</ActionId>`,
    m.sessionId === null
      ? '   <SessionId xsi:nil="true"/>'
      : `   <SessionId>${escapeXml(m.sessionId)}</SessionId>`,
    `   <EnterpriseUrl>${escapeXml(`${m.instanceUrl}/services/Soap/c/${version}/${org15}`)}</EnterpriseUrl>`,
    `   <PartnerUrl>${escapeXml(`${m.instanceUrl}/services/Soap/u/${version}/${org15}`)}</PartnerUrl>`,
    ...notifications,
    '  </notifications>',
    ' </soapenv:Body>',
    '</soapenv:Envelope>',
    '',
  ].join('\n');
}

const ackParser = new XMLParser({ removeNSPrefix: true, processEntities: false, ignoreDeclaration: true });
const AckEnvelope = z.object({
  Envelope: z.object({
    Body: z.object({ notificationsResponse: z.object({ Ack: z.union([z.boolean(), z.string()]) }) }),
  }),
});

/** Whether an answer is a SOAP notificationsResponse with `<Ack>true</Ack>` (what Salesforce needs). */
export function isAck(status: number, body: string): boolean {
  if (status < 200 || status >= 300) return false;
  try {
    const parsed = AckEnvelope.safeParse(ackParser.parse(body));
    return parsed.success && String(parsed.data.Envelope.Body.notificationsResponse.Ack) === 'true';
  } catch {
    return false;
  }
}

/** POSTs an Outbound Message as Salesforce does and reports whether the receiver acknowledged it. */
export async function sendOutboundMessage(
  url: string,
  message: OutboundMessage,
): Promise<{ status: number; acked: boolean; body: string }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'text/xml; charset=utf-8', SOAPAction: '""' },
    body: outboundMessageXml(message),
  });
  const body = await res.text();
  return { status: res.status, acked: isAck(res.status, body), body };
}
