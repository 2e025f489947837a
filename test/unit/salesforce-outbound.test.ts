import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  OUTBOUND_ACK,
  isSameOrg,
  mapOutboundMessage,
  parseOutboundMessage,
  soapFault,
  type OutboundMessage,
} from '../../connectors/salesforce/outbound.js';
import { SalesforceFields } from '../../src/config/schema.js';
import type { LeadRef } from '../../src/domain/index.js';
import {
  DTD_PAYLOADS,
  ORG_ID,
  leadNotification,
  outboundXml,
  sfId,
  type TestNotification,
} from '../helpers/outbound-message.js';

const fields = SalesforceFields.parse({});
const RECEIVED = Date.parse('2026-11-24T10:00:00Z');

function parse(xml: string) {
  return parseOutboundMessage(Buffer.from(xml, 'utf8'));
}

function message(notifications: TestNotification[]): OutboundMessage {
  const parsed = parse(outboundXml({ notifications }));
  if (!parsed.ok) throw new Error(parsed.reason);
  return parsed.message;
}

function rejection(xml: string | Buffer): string {
  const parsed = parseOutboundMessage(typeof xml === 'string' ? Buffer.from(xml, 'utf8') : xml);
  if (parsed.ok) throw new Error('expected a rejection');
  return parsed.reason;
}

describe('parseOutboundMessage', () => {
  it('reads the envelope, the sObject type, fields and nil fields', () => {
    const msg = message([leadNotification(1, { Phone: null, NumberOfEmployees: '0120' })]);
    expect(msg).toEqual({
      organizationId: ORG_ID,
      actionId: '04k5g000000PqRsAAK',
      notifications: [
        {
          id: sfId('04l', 1),
          sObject: {
            type: 'Lead',
            id: sfId('00Q', 1),
            modifiedAt: Date.parse('2026-11-24T09:48:00.000Z'),
            fields: {
              Id: sfId('00Q', 1),
              Email: 'lead1@example.com',
              FirstName: 'Ada',
              LastName: 'Lovelace 1',
              Status: 'Open - Not Contacted',
              SystemModstamp: '2026-11-24T09:48:00.000Z',
              Phone: null,
              // Numbers stay strings: no leading zero or long id is ever mangled.
              NumberOfEmployees: '0120',
            },
          },
        },
      ],
    });
  });

  it('keeps the session id out of the result', () => {
    const xml = outboundXml({ notifications: [leadNotification(1)] }).replace(
      '<SessionId xsi:nil="true"/>',
      '<SessionId>00D5g000004bXyZ!AQ0AQSecretSessionToken</SessionId>',
    );
    const parsed = parse(xml);
    expect(parsed.ok).toBe(true);
    expect(JSON.stringify(parsed)).not.toContain('SecretSessionToken');
  });

  it('decodes the predefined entities and character references', () => {
    const xml = outboundXml({ notifications: [leadNotification(1)] }).replace(
      '<sf:FirstName>Ada</sf:FirstName>',
      '<sf:FirstName>A&amp;B &lt;&gt; &quot;&apos; &#233;&#x1F600;</sf:FirstName>',
    );
    const parsed = parse(xml);
    expect(parsed.ok && parsed.message.notifications[0]?.sObject.fields.FirstName).toBe('A&B <> "\' é😀');
  });

  it('accepts 100 notifications and refuses none or 101', () => {
    const hundred = Array.from({ length: 100 }, (_, i) => leadNotification(i + 1));
    expect(message(hundred).notifications).toHaveLength(100);
    expect(rejection(outboundXml({ notifications: [...hundred, leadNotification(101)] }))).toMatch(
      /^not an Outbound Message: Envelope\.Body\.notifications\.Notification: Too big: expected array to have <=100 items/,
    );
    expect(rejection(outboundXml({ notifications: [] }))).toMatch(/^not an Outbound Message: /);
  });

  it.each(Object.entries(DTD_PAYLOADS))('refuses %s before parsing', (_label, { prolog, value }) => {
    const xml = outboundXml({ prolog, notifications: [leadNotification(1, { FirstName: 'PLACEHOLDER' })] });
    expect(rejection(xml.replace('PLACEHOLDER', value))).toBe(
      'DTDs and entity declarations are not allowed (SOAP 1.1 forbids them)',
    );
  });

  it('refuses an entity nobody declared, and a character XML forbids', () => {
    const xml = outboundXml({ notifications: [leadNotification(1, { FirstName: 'PLACEHOLDER' })] });
    expect(rejection(xml.replace('PLACEHOLDER', '&xxe;'))).toBe('malformed XML: undefined entity &xxe;');
    expect(rejection(xml.replace('PLACEHOLDER', '&#0;'))).toBe(
      'malformed XML: invalid character reference &#0;',
    );
  });

  it.each([
    [
      'an unclosed tag',
      '<soapenv:Envelope>',
      /^malformed XML: Unclosed tag 'soapenv:Envelope'\. \(line 1, column 1\)$/,
    ],
    [
      'unclosed tags',
      '<soapenv:Envelope><soapenv:Body>',
      /^malformed XML: Invalid '\[ "soapenv:Envelope", "soapenv:Body"\]' found\. \(line 1, column 1\)$/,
    ],
    ['mismatched tags', '<a><b></a>', /^malformed XML: Expected closing tag 'b'/],
    ['an empty body', '', /^malformed XML: /],
    ['JSON', '{"OrganizationId":"00D"}', /^malformed XML: /],
    ['a reserved element name', '<a><__proto__>x</__proto__></a>', /^malformed XML: .*reserved/],
    ['some other SOAP message', '<Envelope><Body><hello/></Body></Envelope>', /^not an Outbound Message: /],
  ])('refuses %s with a short reason', (_label, xml, reason) => {
    const got = rejection(xml);
    expect(got).toMatch(reason);
    expect(got).not.toMatch(/\n\s+at /);
  });

  it('refuses a body that is not UTF-8', () => {
    expect(rejection(Buffer.from([0x3c, 0x61, 0x3e, 0xff, 0xfe, 0x3c, 0x2f, 0x61, 0x3e]))).toBe(
      'body is not UTF-8',
    );
  });

  it.each([
    [
      'a missing OrganizationId',
      (x: string) => x.replace(/<OrganizationId>.*<\/OrganizationId>/, ''),
      /OrganizationId/,
    ],
    [
      'an org id that is not one',
      (x: string) => x.replace(ORG_ID, '001000000000001AAA'),
      /org id starting with 00D/,
    ],
    [
      'a notification without Id',
      (x: string) => x.replace(`<Id>${sfId('04l', 1)}</Id>`, ''),
      /Notification\.0\.Id/,
    ],
    ['an sObject without type', (x: string) => x.replace(' xsi:type="sf:Lead"', ''), /sObject\.@type/],
    [
      'an sObject without Id',
      (x: string) => x.replace(`<sf:Id>${sfId('00Q', 1)}</sf:Id>`, ''),
      /sObject\.Id/,
    ],
    [
      'a field sent twice',
      (x: string) => x.replace('<sf:FirstName>', '<sf:FirstName>Ada</sf:FirstName><sf:FirstName>'),
      /FirstName/,
    ],
    [
      'a nested field',
      (x: string) => x.replace('<sf:FirstName>Ada</sf:FirstName>', '<sf:FirstName><x>1</x></sf:FirstName>'),
      /FirstName/,
    ],
    [
      'an unreadable SystemModstamp',
      (x: string) => x.replace('2026-11-24T09:48:00.000Z', 'yesterday'),
      /not a date-time/,
    ],
  ])('refuses %s', (_label, edit, reason) => {
    const got = rejection(edit(outboundXml({ notifications: [leadNotification(1)] })));
    expect(got).toMatch(/^not an Outbound Message: /);
    expect(got).toMatch(reason);
  });

  it('keeps the reason one bounded line however much is unclosed', () => {
    const got = rejection('<a>'.repeat(100_000));
    expect(got).toMatch(/^malformed XML: Invalid '\[ "a", "a", .*…/);
    expect(got.length).toBeLessThan(300);
  });

  it('never throws, whatever the body', () => {
    const envelope = outboundXml({ notifications: [leadNotification(1)] });
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 512 }).map((bytes) => Buffer.from(bytes)),
          fc.string({ maxLength: 512 }).map((text) => Buffer.from(text)),
          // A real envelope with a slice replaced by junk: mostly well-formed, subtly wrong.
          fc
            .tuple(fc.nat(envelope.length), fc.nat(40), fc.string({ maxLength: 20 }))
            .map(([at, cut, junk]) => Buffer.from(envelope.slice(0, at) + junk + envelope.slice(at + cut))),
        ),
        (body) => {
          const parsed = parseOutboundMessage(body);
          expect(parsed.ok || parsed.reason.length > 0).toBe(true);
        },
      ),
      { numRuns: 2_000 },
    );
  });

  it('keeps a faultstring short when many notifications are wrong', () => {
    const bad = Array.from({ length: 50 }, (_, i) => ({ id: 'nope', fields: { Id: sfId('00Q', i) } }));
    const got = rejection(outboundXml({ notifications: bad }));
    expect(got).toMatch(/\(and 47 more\)$/);
    expect(got.length).toBeLessThan(400);
  });
});

describe('isSameOrg', () => {
  it('matches the 15-character id against the 18 Salesforce sends, case-sensitively', () => {
    expect(isSameOrg(ORG_ID, ORG_ID)).toBe(true);
    expect(isSameOrg(ORG_ID, ORG_ID.slice(0, 15))).toBe(true);
    expect(isSameOrg(ORG_ID.slice(0, 15), ORG_ID)).toBe(true);
    // Different 15-character ids can differ only in case: they are different orgs.
    expect(isSameOrg(ORG_ID, ORG_ID.slice(0, 15).toLowerCase())).toBe(false);
    expect(isSameOrg(ORG_ID, '00D5g000004bXyAEAU')).toBe(false);
  });
});

describe('mapOutboundMessage', () => {
  const LEAD = { crm: 'salesforce', objectType: 'lead', id: sfId('00Q', 1) } as const;
  const AT = Date.parse('2026-11-24T09:48:00.000Z');
  const change = (
    field: string,
    value: string | null,
    lead: LeadRef = LEAD,
    notification = sfId('04l', 1),
    at = AT,
  ) => ({
    id: `salesforce:om:${notification}:${field}`,
    lead,
    field,
    value,
    occurredAt: at,
    source: 'salesforce.outbound',
  });

  it('maps a Lead: canonical names, Status as leadStatus and lifecycleStage, nil as null', () => {
    const msg = message([leadNotification(1, { Phone: null, Rating: 'Hot' })]);
    const { profile, ignored, repeated } = mapOutboundMessage(msg, fields, RECEIVED);
    expect(ignored).toBe(0);
    expect(repeated).toBe(0);
    // Rating and SystemModstamp are not mapped: dropped.
    expect(profile).toEqual([
      change('email', 'lead1@example.com'),
      change('firstName', 'Ada'),
      change('lastName', 'Lovelace 1'),
      change('leadStatus', 'Open - Not Contacted'),
      change('lifecycleStage', 'Open - Not Contacted'),
      change('phone', null),
    ]);
  });

  it('maps a Contact with its own fields', () => {
    const contact = { crm: 'salesforce', objectType: 'contact', id: sfId('003', 7) } as const;
    const msg = message([
      {
        id: sfId('04l', 7),
        sObject: 'Contact',
        fields: {
          Id: contact.id,
          MailingCountry: 'Germany',
          Country: 'not a Contact field',
          Leadflow_Lifecycle_Stage__c: 'Sales Qualified',
          Leadflow_Disposition_Reason__c: null,
          LastModifiedDate: '2026-11-23T08:00:00.000+0000',
        },
      },
    ]);
    const at = Date.parse('2026-11-23T08:00:00Z');
    expect(mapOutboundMessage(msg, fields, RECEIVED).profile).toEqual([
      change('country', 'Germany', contact, sfId('04l', 7), at),
      change('leadStatus', 'Sales Qualified', contact, sfId('04l', 7), at),
      change('lifecycleStage', 'Sales Qualified', contact, sfId('04l', 7), at),
      change('dispositionReason', null, contact, sfId('04l', 7), at),
    ]);
  });

  it('follows a custom field mapping from the config', () => {
    const custom = SalesforceFields.parse({
      lead: { email: 'Email', territory: 'Sales_Territory__c' },
      lifecycle: { lead: 'Lifecycle__c' },
    });
    const msg = message([
      leadNotification(1, { Sales_Territory__c: 'EMEA', Lifecycle__c: 'MQL', FirstName: 'unmapped now' }),
    ]);
    expect(mapOutboundMessage(msg, custom, RECEIVED).profile).toEqual([
      change('email', 'lead1@example.com'),
      change('territory', 'EMEA'),
      change('lifecycleStage', 'MQL'),
    ]);
  });

  it('prefers SystemModstamp, then LastModifiedDate, then the receipt time', () => {
    const msg = message([
      leadNotification(1, { LastModifiedDate: '2026-11-01T00:00:00.000Z' }),
      leadNotification(2, { SystemModstamp: null, LastModifiedDate: '2026-11-01T00:00:00.000Z' }),
      leadNotification(3, { SystemModstamp: null }),
    ]);
    const at = (n: number) =>
      new Set(
        mapOutboundMessage(msg, fields, RECEIVED)
          .profile.filter((p) => p.lead.id === sfId('00Q', n))
          .map((p) => p.occurredAt),
      );
    expect(at(1)).toEqual(new Set([AT]));
    expect(at(2)).toEqual(new Set([Date.parse('2026-11-01T00:00:00.000Z')]));
    expect(at(3)).toEqual(new Set([RECEIVED]));
  });

  it('collapses a notification repeated inside the message, and ignores other sObjects', () => {
    const msg = message([
      leadNotification(1),
      { id: sfId('04l', 9), sObject: 'Account', fields: { Id: sfId('001', 9), Name: 'Acme' } },
      leadNotification(1, { FirstName: 'the repeat is dropped' }),
      leadNotification(2),
    ]);
    const { profile, ignored, repeated } = mapOutboundMessage(msg, fields, RECEIVED);
    expect(ignored).toBe(1);
    expect(repeated).toBe(1);
    expect(new Set(profile.map((p) => p.lead.id))).toEqual(new Set([sfId('00Q', 1), sfId('00Q', 2)]));
    expect(profile.find((p) => p.lead.id === sfId('00Q', 1) && p.field === 'firstName')?.value).toBe('Ada');
    expect(new Set(profile.map((p) => p.id)).size).toBe(profile.length);
  });

  it('gives a redelivered notification the same ids', () => {
    const once = mapOutboundMessage(message([leadNotification(1)]), fields, RECEIVED);
    const again = mapOutboundMessage(message([leadNotification(1)]), fields, RECEIVED + 3_600_000);
    expect(again.profile.map((p) => p.id)).toEqual(once.profile.map((p) => p.id));
  });
});

describe('SOAP answers', () => {
  it('acknowledges with the exact envelope Salesforce expects', () => {
    expect(OUTBOUND_ACK).toBe(
      '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><notificationsResponse xmlns="http://soap.sforce.com/2005/09/outbound"><Ack>true</Ack></notificationsResponse></soapenv:Body></soapenv:Envelope>',
    );
  });

  it('faults as Client or Server with an escaped faultstring', () => {
    expect(soapFault(400, 'bad <tag> & "quotes"')).toContain(
      '<soapenv:Fault><faultcode>soapenv:Client</faultcode><faultstring>bad &lt;tag&gt; &amp; &quot;quotes&quot;</faultstring></soapenv:Fault>',
    );
    expect(soapFault(503, 'queue unavailable')).toContain('<faultcode>soapenv:Server</faultcode>');
    // A fault is itself an envelope our own parser reads without complaint.
    expect(rejection(soapFault(400, 'x'))).toMatch(/^not an Outbound Message: /);
  });
});
