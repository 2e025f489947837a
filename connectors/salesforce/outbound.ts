import { XMLParser, XMLValidator, type EntityDecoderOptions } from 'fast-xml-parser';
import { z } from 'zod';
import type { SalesforceFields } from '../../src/config/schema.js';
import type { LeadRef, ProfileChange } from '../../src/domain/index.js';
import { cdcFieldMap } from './mapping.js';

/*
 * Outbound Messages: a workflow rule or flow POSTs a SOAP 1.1 envelope holding 1–100 notifications,
 * each one Lead or Contact with the fields the admin picked, and retries until it gets the Ack.
 * Everything here is pure (decode, parse, validate, map, answer); the HTTP edge is
 * src/receive/salesforce-outbound.ts.
 */

export const OUTBOUND_SOURCE = 'salesforce.outbound';

/** The answer that tells Salesforce the message is ours: sent only once it is safely queued. */
export const OUTBOUND_ACK =
  '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>' +
  '<notificationsResponse xmlns="http://soap.sforce.com/2005/09/outbound"><Ack>true</Ack>' +
  '</notificationsResponse></soapenv:Body></soapenv:Envelope>';

/**
 * A SOAP fault. Salesforce shows `faultstring` in its Outbound Message queue, where the admin looks
 * when deliveries fail, so it says what is wrong in words.
 */
export function soapFault(status: number, message: string): string {
  const code = status >= 500 ? 'soapenv:Server' : 'soapenv:Client';
  return (
    '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>' +
    `<soapenv:Fault><faultcode>${code}</faultcode><faultstring>${escapeXml(message)}</faultstring>` +
    '</soapenv:Fault></soapenv:Body></soapenv:Envelope>'
  );
}

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&apos;',
};

function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

/**
 * SOAP 1.1 forbids DTDs, so any markup declaration (`<!DOCTYPE`, `<!ENTITY`, `<!ELEMENT` …, in any
 * case and however spaced) is refused before the parser sees the text: no external entities (XXE),
 * no entity expansion (billion laughs). Comments and CDATA are the only `<!` constructs let through.
 */
const MARKUP_DECLARATION = /<!(?!--|\[CDATA\[)/;

const PREDEFINED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
const REFERENCE = /&(?:#x([0-9a-fA-F]{1,6})|#([0-9]{1,7})|([A-Za-z_][\w.-]*));/g;

/** Code points XML allows in a document (the `Char` production). */
function isXmlChar(cp: number): boolean {
  return (
    cp === 0x9 ||
    cp === 0xa ||
    cp === 0xd ||
    (cp >= 0x20 && cp <= 0xd7ff) ||
    (cp >= 0xe000 && cp <= 0xfffd) ||
    (cp >= 0x10000 && cp <= 0x10ffff)
  );
}

function refuseDeclaredEntities(entities: Record<string, string>): void {
  if (Object.keys(entities).length > 0) throw new Error('entity declarations are not allowed');
}

/**
 * Only XML's own references: the five predefined entities and character references. The parser's
 * default decoder would also take entities a DOCTYPE declares; this one refuses them (a second
 * guard behind MARKUP_DECLARATION) and rejects references to anything else.
 */
const xmlReferencesOnly: EntityDecoderOptions = {
  decode: (text) =>
    text.replace(REFERENCE, (_ref, hex?: string, dec?: string, name?: string) => {
      if (name !== undefined) {
        const value = Object.hasOwn(PREDEFINED, name) ? PREDEFINED[name] : undefined;
        if (value === undefined) throw new Error(`undefined entity &${name};`);
        return value;
      }
      const cp = hex !== undefined ? parseInt(hex, 16) : Number(dec);
      if (!isXmlChar(cp)) throw new Error(`invalid character reference ${_ref}`);
      return String.fromCodePoint(cp);
    }),
  addInputEntities: refuseDeclaredEntities,
  setExternalEntities: refuseDeclaredEntities,
  reset: () => undefined,
  setXmlVersion: () => undefined,
};

const NOTIFICATION_PATH = 'Envelope.Body.notifications.Notification';

const parser = new XMLParser({
  // Salesforce always uses soapenv:/sf:/xsi:, but a prefix is the sender's choice: match local names.
  removeNSPrefix: true,
  // xsi:type names the sObject, xsi:nil marks an empty field.
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  // Ids, numbers and dates stay the strings Salesforce sent.
  parseTagValue: false,
  parseAttributeValue: false,
  processEntities: true,
  entityDecoder: xmlReferencesOnly,
  ignoreDeclaration: true,
  ignorePiTags: true,
  isArray: (_tag, path) => path === NOTIFICATION_PATH,
});

const SalesforceId = z
  .string()
  .regex(/^[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?$/, 'a 15- or 18-character Salesforce id');
const OrgId = z.string().regex(/^00D[A-Za-z0-9]{12}(?:[A-Za-z0-9]{3})?$/, 'an org id starting with 00D');
/** `<sf:Phone xsi:nil="true"/>`: the field is empty in Salesforce. */
const Nil = z.object({ '@nil': z.literal('true') }).transform(() => null);
const FieldValue = z.union([z.string(), Nil]);

/** The record's own change time; receipt time stands in when the admin did not send these fields. */
const MODIFIED_AT_FIELDS = ['SystemModstamp', 'LastModifiedDate'];

const SObject = z
  .object({ '@type': z.string().regex(/^(?:\w+:)?\w+$/, 'an sObject type like sf:Lead'), Id: SalesforceId })
  .catchall(FieldValue)
  .transform((record, ctx) => {
    const fields: Record<string, string | null> = {};
    for (const [name, value] of Object.entries(record)) if (!name.startsWith('@')) fields[name] = value;
    const stamp = MODIFIED_AT_FIELDS.map((name) => fields[name]).find((v) => typeof v === 'string');
    const modifiedAt = stamp === undefined ? undefined : Date.parse(stamp);
    if (Number.isNaN(modifiedAt)) {
      ctx.issues.push({ code: 'custom', message: `not a date-time: "${stamp}"`, input: stamp });
      return z.NEVER;
    }
    return { type: record['@type'].replace(/^\w+:/, ''), id: record.Id, fields, modifiedAt };
  });

const Envelope = z
  .object({
    Envelope: z.object({
      Body: z.object({
        notifications: z.object({
          OrganizationId: OrgId,
          ActionId: SalesforceId,
          // A live session token when the admin ticks "Send Session ID": checked, then dropped
          // here so it is never queued or logged.
          SessionId: FieldValue,
          EnterpriseUrl: z.url(),
          PartnerUrl: z.url(),
          Notification: z
            .array(z.object({ Id: SalesforceId, sObject: SObject }))
            .min(1)
            .max(100),
        }),
      }),
    }),
  })
  .transform(({ Envelope: { Body } }) => ({
    organizationId: Body.notifications.OrganizationId,
    actionId: Body.notifications.ActionId,
    notifications: Body.notifications.Notification.map((n) => ({ id: n.Id, sObject: n.sObject })),
  }));
export type OutboundMessage = z.output<typeof Envelope>;

export type ParsedOutbound = { ok: true; message: OutboundMessage } | { ok: false; reason: string };

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Raw body → validated message, or a short reason fit for a 400 (never a stack). */
export function parseOutboundMessage(body: Uint8Array): ParsedOutbound {
  let xml: string;
  try {
    xml = utf8.decode(body);
  } catch {
    return { ok: false, reason: 'body is not UTF-8' };
  }
  // Checked on the very string the parser reads, so no encoding trick can slip a DTD past it.
  if (MARKUP_DECLARATION.test(xml))
    return { ok: false, reason: 'DTDs and entity declarations are not allowed (SOAP 1.1 forbids them)' };
  const wellFormed = XMLValidator.validate(xml);
  if (wellFormed !== true) {
    const { msg, line, col } = wellFormed.err;
    return { ok: false, reason: `malformed XML: ${brief(msg)} (line ${line}, column ${col})` };
  }
  let tree: unknown;
  try {
    tree = parser.parse(xml);
  } catch (err) {
    return { ok: false, reason: `malformed XML: ${brief((err as Error).message)}` };
  }
  const parsed = Envelope.safeParse(tree);
  if (!parsed.success) return { ok: false, reason: `not an Outbound Message: ${firstIssues(parsed.error)}` };
  return { ok: true, message: parsed.data };
}

/** The parser's message on one line and bounded (it lists every unclosed tag, however many). */
function brief(text: string, max = 200): string {
  const line = text.replace(/\s+/g, ' ');
  return line.length > max ? `${line.slice(0, max)}…` : line;
}

/** A hundred bad notifications would make a faultstring nobody reads: the first few say enough. */
function firstIssues(error: z.ZodError, max = 3): string {
  const shown = error.issues
    .slice(0, max)
    .map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`);
  const more = error.issues.length - shown.length;
  return shown.join('; ') + (more > 0 ? ` (and ${more} more)` : '');
}

/**
 * Org ids are 15 case-sensitive characters, or 18 with a case checksum appended: the first 15
 * decide, so a configured 15-character id matches the 18 Salesforce sends.
 */
export function isSameOrg(received: string, configured: string): boolean {
  return received.slice(0, 15) === configured.slice(0, 15);
}

const OBJECT_TYPES: Record<string, LeadRef['objectType']> = { Lead: 'lead', Contact: 'contact' };

export interface MappedOutbound {
  profile: ProfileChange[];
  /** Notifications about other sObjects: acknowledged, not acted on. */
  ignored: number;
  /** Notifications repeated inside the message (same notification Id), collapsed into one. */
  repeated: number;
}

/**
 * Notifications → profile changes in canonical field names (the mapping CDC uses too; unmapped
 * fields are dropped). Ids derive from the notification Id, so a redelivered notification is the
 * same change and the timeline records it once.
 */
export function mapOutboundMessage(
  message: OutboundMessage,
  fields: SalesforceFields,
  receivedAt: number,
): MappedOutbound {
  const fieldMap = cdcFieldMap(fields);
  const out: MappedOutbound = { profile: [], ignored: 0, repeated: 0 };
  const seen = new Set<string>();
  for (const { id, sObject } of message.notifications) {
    if (seen.has(id)) {
      out.repeated++;
      continue;
    }
    seen.add(id);
    const objectType = Object.hasOwn(OBJECT_TYPES, sObject.type) ? OBJECT_TYPES[sObject.type] : undefined;
    if (!objectType) {
      out.ignored++;
      continue;
    }
    const lead: LeadRef = { crm: 'salesforce', objectType, id: sObject.id };
    for (const [name, value] of Object.entries(sObject.fields))
      for (const field of fieldMap[objectType].get(name) ?? [])
        out.profile.push({
          id: `salesforce:om:${id}:${field}`,
          lead,
          field,
          value,
          occurredAt: sObject.modifiedAt ?? receivedAt,
          source: OUTBOUND_SOURCE,
        });
  }
  return out;
}
