import type { Client } from '@hubspot/api-client';
import { z } from 'zod';
import type { HubSpotFields } from '../../src/config/schema.js';
import type { Score } from '../../src/domain/index.js';
import { CrmError, isCrmError } from '../errors.js';
import type { RecordFailure, ScoreWrite } from '../types.js';

/** A batch update takes at most 100 records. */
const BATCH_MAX = 100;

/** The slice of HubSpot's error entries we rely on in a 207 answer. */
const BatchErrors = z.array(
  z.object({
    message: z.string().default(''),
    category: z.string().optional(),
    context: z.record(z.string(), z.array(z.string())).optional(),
  }),
);

type ContactsBatchUpdate = Client['crm']['contacts']['batchApi']['update'];
/** One contacts batch/update, through the call wrapper; a 207 answer carries `errors`. */
export type BatchUpdate = (
  inputs: Parameters<ContactsBatchUpdate>[0]['inputs'],
) => ReturnType<ContactsBatchUpdate>;

/** Scores in batches of 100; the failures are the records' own, every other record is written. */
export async function writeScores(
  writes: ScoreWrite[],
  fields: HubSpotFields,
  update: BatchUpdate,
): Promise<RecordFailure[]> {
  const failures: RecordFailure[] = [];
  for (let i = 0; i < writes.length; i += BATCH_MAX)
    failures.push(...(await writeScoreBatch(writes.slice(i, i + BATCH_MAX), fields, update)));
  return failures;
}

/**
 * One batch/update. HubSpot may answer 207 with per-record errors, or refuse the whole batch
 * (400/404) when one of its ids was deleted or merged away: then the ids it names fail and the
 * rest is sent again; when it names none, the batch is split in halves until the culprit stands
 * alone, so the others' writes are never lost.
 */
async function writeScoreBatch(
  chunk: ScoreWrite[],
  fields: HubSpotFields,
  update: BatchUpdate,
): Promise<RecordFailure[]> {
  const inputs = chunk.map((w) => ({ id: w.lead.id, properties: scoreProperties(fields, w.score) }));
  let response;
  try {
    response = await update(inputs);
  } catch (err) {
    if (!(isCrmError(err) && (err.failure.status === 400 || err.failure.status === 404))) throw err;
    const named = chunk.filter((w) => err.failure.ids?.includes(w.lead.id));
    const rest = chunk.filter((w) => !named.includes(w));
    if (named.length && rest.length)
      return [
        ...named.map((w) => ({ lead: w.lead, error: err })),
        ...(await writeScoreBatch(rest, fields, update)),
      ];
    // Only a missing record is worth narrowing down; any other refusal is every record's.
    if (chunk.length === 1 || named.length || err.failure.code !== 'OBJECT_NOT_FOUND')
      return chunk.map((w) => ({ lead: w.lead, error: err }));
    const half = Math.ceil(chunk.length / 2);
    return [
      ...(await writeScoreBatch(chunk.slice(0, half), fields, update)),
      ...(await writeScoreBatch(chunk.slice(half), fields, update)),
    ];
  }
  if (!('errors' in response) || !response.errors?.length) return [];
  // 207: some records failed. Map each error back to its leads by the ids in its context.
  const failures: RecordFailure[] = [];
  for (const error of BatchErrors.parse(response.errors)) {
    const ids = error.context?.ids ?? error.context?.id ?? [];
    for (const w of chunk.filter((c) => ids.includes(c.lead.id))) {
      failures.push({
        lead: w.lead,
        error: new CrmError({
          crm: 'hubspot',
          status: 400,
          code: error.category,
          message: error.message,
        }),
      });
    }
  }
  return failures;
}

function scoreProperties(fields: HubSpotFields, score: Score): Record<string, string> {
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
