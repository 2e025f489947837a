import { z } from 'zod';
import type { SalesforceFields } from '../../src/config/schema.js';
import type { LeadRef, ProfileChange, PropertyValue } from '../../src/domain/index.js';
import type { PollJob } from '../../src/queue/catalog.js';

/*
 * How Salesforce records become profile changes, for every way they reach us: the configured field
 * mapping (Outbound Messages, CDC and the poller use it) and the mapping of one CDC change event.
 * Pure; the CDC subscriber (cdc.ts) and the receivers (src/receive) do the I/O.
 */

export const CDC_SOURCE = 'salesforce.cdc';
/** Salesforce commits and publishes a change event a moment apart: a reconciliation reads from a bit earlier. */
export const RECONCILE_OVERLAP_MS = 60_000;

const ChangeEventHeader = z.object({
  entityName: z.string().min(1),
  // Empty on GAP_OVERFLOW.
  recordIds: z.array(z.string().min(1)),
  changeType: z.enum([
    'CREATE',
    'UPDATE',
    'DELETE',
    'UNDELETE',
    'GAP_CREATE',
    'GAP_UPDATE',
    'GAP_DELETE',
    'GAP_UNDELETE',
    'GAP_OVERFLOW',
  ]),
  commitTimestamp: z.number().int().nonnegative(),
  transactionKey: z.string().min(1),
  sequenceNumber: z.number().int().nonnegative(),
  changedFields: z.array(z.string()).optional(),
});

/** Just enough to know where the stream stands, even when the rest of the message is not understood. */
const Positioned = z.object({
  data: z.object({ event: z.object({ replayId: z.number().int().nonnegative() }) }),
});

export const CdcMessage = z.object({
  channel: z.string().min(1),
  data: z.object({
    event: z.object({ replayId: z.number().int().nonnegative() }),
    payload: z.looseObject({ ChangeEventHeader }),
  }),
});
export type CdcMessage = z.infer<typeof CdcMessage>;

/** Where a channel stands once a message is handled; stored only after its work is queued. */
export interface StreamPosition {
  replayId: number;
  /** Absent when the message could not be read far enough to know it. */
  commitTimestamp?: number;
}

export type CdcOutcome =
  /** Not even a replay id: nothing to act on and nothing to store. */
  | { kind: 'invalid'; reason: string }
  /** An entity or shape we do not act on; its position is stored so it is not read again. */
  | { kind: 'skipped'; position: StreamPosition; reason: string }
  /** Created, updated or undeleted: the mapped fields present in the event. */
  | { kind: 'mapped'; position: StreamPosition; profile: ProfileChange[] }
  /**
   * Deleted: nothing to score. The ingest job has no deletion variant for Salesforce, so the lead's
   * history stays until its timeline ages out; the event is counted and logged.
   */
  | { kind: 'deleted'; position: StreamPosition; leads: LeadRef[] }
  /** Salesforce could not produce the event (GAP_*): re-read the entity from the commit time. */
  | { kind: 'gap'; position: StreamPosition; poll: PollJob };

export const ENTITIES = {
  Lead: { objectType: 'lead', source: 'leads' },
  Contact: { objectType: 'contact', source: 'contacts' },
} as const;
type Entity = keyof typeof ENTITIES;

export function isEntity(name: string): name is Entity {
  return Object.hasOwn(ENTITIES, name);
}

/** Salesforce field → every canonical field it feeds, per object type. */
export type CdcFieldMap = Record<LeadRef['objectType'], Map<string, string[]>>;

/** Inverts the configured mapping; the lifecycle field also feeds `lifecycleStage`. */
export function cdcFieldMap(fields: SalesforceFields): CdcFieldMap {
  const invert = (mapping: Record<string, string>, lifecycleField: string) => {
    const bySalesforce = new Map<string, string[]>();
    for (const [canonical, field] of [...Object.entries(mapping), ['lifecycleStage', lifecycleField]])
      bySalesforce.set(field!, [...(bySalesforce.get(field!) ?? []), canonical!]);
    return bySalesforce;
  };
  return {
    lead: invert(fields.lead, fields.lifecycle.lead),
    contact: invert(fields.contact, fields.lifecycle.contact),
  };
}

/**
 * CDC nests compound fields: `Name: {FirstName, LastName}`, `Address: {Country}`, `MailingAddress:
 * {Country}`, geolocation `Loc__c: {Latitude}`. A component's sObject field is its compound's prefix
 * plus the component name: Country of MailingAddress is MailingCountry, of Lead Address is Country.
 */
export function flattenCompoundFields(payload: Record<string, unknown>): Record<string, unknown> {
  const flat: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(payload)) {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      flat[name] = value;
      continue;
    }
    for (const [component, inner] of Object.entries(value as Record<string, unknown>))
      flat[compoundComponentField(name, component)] = inner;
  }
  return flat;
}

function compoundComponentField(compound: string, component: string): string {
  if (compound.endsWith('__c')) return `${compound.slice(0, -1)}${component}__s`;
  if (compound.endsWith('Address')) return `${compound.slice(0, -'Address'.length)}${component}`;
  return component;
}

function isPropertyValue(value: unknown): value is PropertyValue {
  return value === null || ['string', 'number', 'boolean'].includes(typeof value);
}

/** Pure: one CometD change event → what to do about it. Never throws. */
export function mapCdcMessage(message: unknown, fieldMap: CdcFieldMap): CdcOutcome {
  const positioned = Positioned.safeParse(message);
  if (!positioned.success) return { kind: 'invalid', reason: 'no replay id' };
  const parsed = CdcMessage.safeParse(message);
  if (!parsed.success)
    return {
      kind: 'skipped',
      position: { replayId: positioned.data.data.event.replayId },
      reason: `not a change event: ${z.prettifyError(parsed.error)}`,
    };
  const { event, payload } = parsed.data.data;
  const { ChangeEventHeader: header, ...fields } = payload;
  const position = { replayId: event.replayId, commitTimestamp: header.commitTimestamp };
  if (!isEntity(header.entityName))
    return { kind: 'skipped', position, reason: `entity ${header.entityName} is not a lead` };
  const { objectType, source } = ENTITIES[header.entityName];

  if (header.changeType.startsWith('GAP_'))
    return {
      kind: 'gap',
      position,
      poll: {
        crm: 'salesforce',
        source,
        since: Math.max(0, header.commitTimestamp - RECONCILE_OVERLAP_MS),
      },
    };
  const leads = header.recordIds.map((id): LeadRef => ({ crm: 'salesforce', objectType, id }));
  if (header.changeType === 'DELETE') return { kind: 'deleted', position, leads };

  // CometD leaves out null and unchanged fields: whatever is present changed (or is new).
  const present = Object.entries(flattenCompoundFields(fields)).filter(
    (entry): entry is [string, PropertyValue] => isPropertyValue(entry[1]),
  );
  const profile = leads.flatMap((lead) =>
    present.flatMap(([field, value]) =>
      (fieldMap[objectType].get(field) ?? []).map((canonical): ProfileChange => ({
        id: `salesforce:cdc:${header.transactionKey}:${header.sequenceNumber}:${lead.id}:${canonical}`,
        lead,
        field: canonical,
        value,
        occurredAt: header.commitTimestamp,
        source: CDC_SOURCE,
      })),
    ),
  );
  return { kind: 'mapped', position, profile };
}
