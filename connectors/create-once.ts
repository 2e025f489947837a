import { containsMarker } from '../src/domain/index.js';
import type { CreatedRecord } from './types.js';

// "Find by marker, else create", for every CRM: each note or task we write carries the marker line
// of its key (src/domain), so a retry whose earlier attempt's answer was lost finds that record
// instead of creating a second one.

/**
 * How far back a retry looks for what an earlier attempt created: job retries span hours, a
 * redelivery after Redis lost its records a day or two. An older record with the same marker is an
 * earlier life of the handoff id (a lead kept under `retention.minLeadDays`, ≥ this, then forgotten
 * starts again at cycle 0), not this handoff's: counting it would leave the rep without a note.
 */
export const MARKER_LOOKBACK_MS = 30 * 86_400_000;

/** A record an earlier attempt may have made: its id and the text that would carry the marker. */
export interface MarkedRecord {
  id: string;
  body: string;
}

/** The first record whose text carries the marker of `key`; pages are read only until it is found. */
export async function findMarked(
  pages: AsyncIterable<MarkedRecord[]>,
  key: string,
): Promise<string | undefined> {
  for await (const records of pages) {
    const found = records.find((r) => containsMarker(r.body, key));
    if (found) return found.id;
  }
  return undefined;
}

/**
 * The record for `key`: on a retry (`mayExist`) the one an earlier attempt made, when `candidates`
 * hold it; else a new one from `create` (which answers its id).
 */
export async function createOnce(
  key: string,
  mayExist: boolean,
  candidates: () => AsyncIterable<MarkedRecord[]>,
  create: () => Promise<string>,
): Promise<CreatedRecord> {
  const existing = mayExist ? await findMarked(candidates(), key) : undefined;
  if (existing) return { id: existing, created: false };
  return { id: await create(), created: true };
}
