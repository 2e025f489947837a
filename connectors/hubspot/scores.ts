import type { Client } from '@hubspot/api-client';
import { z } from 'zod';
import type { HubSpotFields } from '../../src/config/schema.js';
import type { Score } from '../../src/domain/index.js';
import { CrmError, isCrmError } from '../errors.js';
import type { RecordFailure, ScoreWrite } from '../types.js';

/** A batch update takes at most 100 records. */
export const BATCH_MAX = 100;

/** The slice of HubSpot's error entries we rely on in a 207 answer. */
const BatchErrors = z.array(
  z.object({
    message: z.string().default(''),
    category: z.string().optional(),
    context: z.record(z.string(), z.array(z.string())).optional(),
  }),
);
/** The slice of a batch answer's records we rely on: matched by id, since their order is not guaranteed. */
const BatchResults = z.array(
  z.object({
    id: z.string(),
    properties: z.record(z.string(), z.string().nullable()),
    updatedAt: z.date().optional(),
  }),
);

type ContactsBatchUpdate = Client['crm']['contacts']['batchApi']['update'];
/** One contacts batch/update, through the call wrapper; a 207 answer carries `errors`. */
export type BatchUpdate = (
  inputs: Parameters<ContactsBatchUpdate>[0]['inputs'],
) => ReturnType<ContactsBatchUpdate>;

/** Properties to write on one contact. */
export interface ContactUpdate {
  id: string;
  properties: Record<string, string>;
}

/** A contact as the update's answer shows it: its properties afterwards, and when HubSpot wrote them. */
export interface UpdatedContact {
  properties: Record<string, string | null>;
  updatedAt?: Date;
}

/**
 * One update's outcome: the contact afterwards (undefined when the answer did not list it, which
 * without an error of its own means written), or the error that is that record's alone.
 */
export type UpdateOutcome = { ok: true; value: UpdatedContact | undefined } | { ok: false; error: CrmError };

/** Scores in batches of 100; the failures are the records' own, every other record is written. */
export async function writeScores(
  writes: ScoreWrite[],
  fields: HubSpotFields,
  update: BatchUpdate,
): Promise<RecordFailure[]> {
  const outcomes = await updateContacts(
    writes.map((w) => ({ id: w.lead.id, properties: scoreProperties(fields, w.score) })),
    update,
  );
  return writes.flatMap((w, i) => {
    const outcome = outcomes[i]!;
    return outcome.ok ? [] : [{ lead: w.lead, error: outcome.error }];
  });
}

/** Contact updates in batches of 100, one outcome per input in the inputs' order. */
export async function updateContacts(inputs: ContactUpdate[], update: BatchUpdate): Promise<UpdateOutcome[]> {
  const outcomes: UpdateOutcome[] = [];
  for (let i = 0; i < inputs.length; i += BATCH_MAX)
    outcomes.push(...(await updateBatch(inputs.slice(i, i + BATCH_MAX), update)));
  return outcomes;
}

/**
 * One batch/update. HubSpot may answer 207 with per-record errors, or refuse the whole batch
 * (400/404) when one of its ids was deleted or merged away: then the ids it names fail and the
 * rest is sent again; when it names none, the batch is split in halves until the culprit stands
 * alone, so the others' writes are never lost.
 */
async function updateBatch(chunk: ContactUpdate[], update: BatchUpdate): Promise<UpdateOutcome[]> {
  let response;
  try {
    response = await update(chunk);
  } catch (err) {
    if (!(isCrmError(err) && (err.failure.status === 400 || err.failure.status === 404))) throw err;
    const failed = (): UpdateOutcome => ({ ok: false, error: err });
    const named = chunk.filter((c) => err.failure.ids?.includes(c.id));
    const rest = chunk.filter((c) => !named.includes(c));
    if (named.length && rest.length) {
      const resent = await updateBatch(rest, update);
      return chunk.map((c) => (named.includes(c) ? failed() : resent[rest.indexOf(c)]!));
    }
    // Only a missing record is worth narrowing down; any other refusal is every record's.
    if (chunk.length === 1 || named.length || err.failure.code !== 'OBJECT_NOT_FOUND')
      return chunk.map(failed);
    const half = Math.ceil(chunk.length / 2);
    return [
      ...(await updateBatch(chunk.slice(0, half), update)),
      ...(await updateBatch(chunk.slice(half), update)),
    ];
  }
  // 207: some records failed. Map each error back to its records by the ids in its context.
  const errors = new Map<string, CrmError>();
  if ('errors' in response && response.errors?.length)
    for (const error of BatchErrors.parse(response.errors))
      for (const id of error.context?.ids ?? error.context?.id ?? [])
        errors.set(
          id,
          new CrmError({ crm: 'hubspot', status: 400, code: error.category, message: error.message }),
        );
  const results = new Map(BatchResults.parse(response.results).map((r) => [r.id, r]));
  return chunk.map((c): UpdateOutcome => {
    const error = errors.get(c.id);
    return error ? { ok: false, error } : { ok: true, value: results.get(c.id) };
  });
}

export function scoreProperties(fields: HubSpotFields, score: Score): Record<string, string> {
  return {
    [fields.score]: String(score.total),
    [fields.fitScore]: String(score.fit),
    [fields.engagementScore]: String(score.engagement),
    [fields.scoreReasons]: score.breakdown
      .slice(0, 10)
      .map((l) => l.reason)
      .join('\n'),
  };
}
