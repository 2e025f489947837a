/** Salesforce Outbound Message envelopes for tests, shaped like the ones Salesforce sends. */

export const ORG_ID = '00D5g000004bXyZEAU';

/** An 18-character id with a real key prefix: `sfId('00Q', 7)` → `00Q000000000007AAA`. */
export function sfId(prefix: string, n: number): string {
  return `${prefix}${String(n).padStart(12, '0')}AAA`;
}

export interface TestNotification {
  id: string;
  /** `Lead` unless given. */
  sObject?: string;
  /** Field API name → value; null is sent as `xsi:nil="true"`. Include `Id`. */
  fields: Record<string, string | null>;
}

const escape = (text: string) =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function field(name: string, value: string | null): string {
  return value === null ? `<sf:${name} xsi:nil="true"/>` : `<sf:${name}>${escape(value)}</sf:${name}>`;
}

export function outboundXml(opts: {
  orgId?: string;
  notifications: TestNotification[];
  /** Inserted verbatim after the XML declaration (DTD payloads). */
  prolog?: string;
}): string {
  const notifications = opts.notifications
    .map(
      (n) =>
        `<Notification><Id>${n.id}</Id><sObject xsi:type="sf:${n.sObject ?? 'Lead'}" ` +
        `xmlns:sf="urn:sobject.enterprise.soap.sforce.com">` +
        Object.entries(n.fields)
          .map(([name, value]) => field(name, value))
          .join('') +
        '</sObject></Notification>',
    )
    .join('\n');
  return `<?xml version="1.0" encoding="UTF-8"?>${opts.prolog ?? ''}
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
 <soapenv:Body>
  <notifications xmlns="http://soap.sforce.com/2005/09/outbound">
   <OrganizationId>${opts.orgId ?? ORG_ID}</OrganizationId>
   <ActionId>04k5g000000PqRsAAK</ActionId>
   <SessionId xsi:nil="true"/>
   <EnterpriseUrl>https://acme.my.salesforce.com/services/Soap/c/62.0/00D5g000004bXyZ</EnterpriseUrl>
   <PartnerUrl>https://acme.my.salesforce.com/services/Soap/u/62.0/00D5g000004bXyZ</PartnerUrl>
${notifications}
  </notifications>
 </soapenv:Body>
</soapenv:Envelope>`;
}

/** A Lead notification with the usual fields. */
export function leadNotification(n: number, fields: Record<string, string | null> = {}): TestNotification {
  return {
    id: sfId('04l', n),
    fields: {
      Id: sfId('00Q', n),
      Email: `lead${n}@example.com`,
      FirstName: 'Ada',
      LastName: `Lovelace ${n}`,
      Status: 'Open - Not Contacted',
      SystemModstamp: '2026-11-24T09:48:00.000Z',
      ...fields,
    },
  };
}

/** DTD payloads that must all be refused before parsing. */
export const DTD_PAYLOADS: Record<string, { prolog: string; value: string }> = {
  XXE: {
    prolog: '<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
    value: '&xxe;',
  },
  'billion laughs': {
    prolog:
      '<!DOCTYPE lolz [<!ENTITY lol "lol">' +
      Array.from(
        { length: 9 },
        (_, i) => `<!ENTITY lol${i + 1} "${`&lol${i === 0 ? '' : i};`.repeat(10)}">`,
      ).join('') +
      ']>',
    value: '&lol9;',
  },
  'a parameter entity': {
    prolog:
      '<!DOCTYPE foo [<!ENTITY % remote SYSTEM "http://127.0.0.1:9/evil.dtd"> %remote; <!ENTITY % file SYSTEM "file:///etc/hostname">]>',
    value: 'x',
  },
  'a DOCTYPE without entities': { prolog: '<!DOCTYPE soapenv:Envelope>', value: 'x' },
  'a lower-case doctype split over lines': {
    prolog: '<!doctype\n\tfoo\n[ <!entity  x "y"> ]>',
    value: '&x;',
  },
};
