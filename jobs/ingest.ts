import { normalizeHubSpotEvents } from '../connectors/hubspot/webhook.js';
import { leadKey, type LeadRef } from '../src/domain/index.js';
import { normalizeGenericEvents } from '../src/http/generic-webhook.js';
import type { IngestJob } from '../src/queue/catalog.js';
import type { JobContext } from '../src/queue/context.js';
import { enqueueScore } from '../src/queue/queues.js';

export interface IngestResult {
  recorded: number;
  duplicates: number;
  ignored: number;
  rescored: number;
}

/**
 * Normalizes a delivery, records each new event once (dedupe and append are one atomic step), then
 * asks for a debounced rescore of every lead that changed. On a retry every lead of the batch is
 * rescored, since the first attempt may have recorded events and died before enqueueing.
 */
export async function processIngest(
  ctx: JobContext,
  job: IngestJob,
  isRetry: boolean,
): Promise<IngestResult> {
  const batch =
    job.source === 'hubspot'
      ? normalizeHubSpotEvents(job.events, ctx.config.hubspot)
      : normalizeGenericEvents(job.batch);
  const changed = new Map<string, { lead: LeadRef; urgent: boolean }>();
  const touch = (lead: LeadRef, urgent: boolean) => {
    const key = leadKey(lead);
    const entry = changed.get(key);
    changed.set(key, { lead, urgent: urgent || (entry?.urgent ?? false) });
  };

  // Ordered by the sources' own time, so profile changes apply oldest first.
  const engagement = [...batch.engagement].sort((a, b) => a.occurredAt - b.occurredAt);
  const profile = [...batch.profile].sort((a, b) => a.occurredAt - b.occurredAt);
  const [eventResults, profileResults] = await Promise.all([
    Promise.all(engagement.map((e) => ctx.timeline.recordEvent(e, job.receivedAt))),
    Promise.all(profile.map((p) => ctx.timeline.recordProfileChange(p))),
  ]);

  let recorded = 0;
  engagement.forEach((event, i) => {
    if (!eventResults[i]) return;
    recorded++;
    touch(event.lead, ctx.config.handRaise.includes(event.type));
  });
  profile.forEach((change, i) => {
    if (!profileResults[i]) return;
    recorded++;
    touch(change.lead, false);
  });
  for (const lead of batch.created) touch(lead, false);
  if (isRetry) for (const lead of batch.leads) touch(lead, false);

  const duplicates = engagement.length + profile.length - recorded;
  await Promise.all(
    [...changed.values()].map(({ lead, urgent }) =>
      enqueueScore(ctx.queues, lead, { debounceMs: ctx.config.pipeline.scoreDebounceMs, urgent }),
    ),
  );
  ctx.metrics.events.inc({ source: job.source, outcome: 'recorded' }, recorded);
  ctx.metrics.events.inc({ source: job.source, outcome: 'duplicate' }, duplicates);
  ctx.metrics.events.inc({ source: job.source, outcome: 'ignored' }, batch.ignored);
  const result = { recorded, duplicates, ignored: batch.ignored, rescored: changed.size };
  ctx.logger.debug({ requestId: job.requestId, source: job.source, ...result }, 'delivery ingested');
  return result;
}
