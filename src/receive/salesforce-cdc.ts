import {
  mapCdcMessage,
  type CdcFieldMap,
  type CdcOutcome,
  type StreamPosition,
} from '../../connectors/salesforce/mapping.js';
import type { IngestJob } from '../queue/catalog.js';
import { salesforceIngest } from './salesforce-outbound.js';

/**
 * What the CDC subscriber does with one change event: the outcomes of mapCdcMessage, with mapped
 * changes made into the one ingest shape (no job when none of the event's fields is mapped).
 */
export type CdcReceipt =
  Exclude<CdcOutcome, { kind: 'mapped' }> | { kind: 'mapped'; position: StreamPosition; job?: IngestJob };

/**
 * Salesforce Change Data Capture: one CometD message → the ingest job, or what else to do about it
 * (skip, gap, delete). Pure; the subscriber (connectors/salesforce/cdc.ts) queues and stores the
 * replay position.
 */
export function receiveCdcMessage(message: unknown, fieldMap: CdcFieldMap, receivedAt: number): CdcReceipt {
  const outcome = mapCdcMessage(message, fieldMap);
  if (outcome.kind !== 'mapped') return outcome;
  const { position, profile } = outcome;
  return profile.length
    ? { kind: 'mapped', position, job: salesforceIngest(profile, { receivedAt }) }
    : { kind: 'mapped', position };
}
