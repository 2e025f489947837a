import { batchOf } from '../src/domain/index.js';
import { pollName, type PollJob } from '../src/queue/catalog.js';
import type { JobContext } from '../src/queue/context.js';
import { enqueueIngest } from '../src/queue/queues.js';
import { PermanentJobError } from '../src/queue/errors.js';

export interface PollResult {
  pages: number;
  events: number;
  profileChanges: number;
  /** Records the poller could not use (no matching lead, malformed). */
  skipped: number;
  watermark: number;
}

/**
 * One scheduled poll: reads what changed since the source's watermark and queues it for ingest, page
 * by page, storing the page's watermark only once the page is queued. A failure or a 429 leaves the
 * watermark where the last queued page put it; the next run reads from there, and what it reads
 * twice carries the same ids, so nothing is recorded twice.
 */
export async function processPoll(ctx: JobContext, job: PollJob): Promise<PollResult> {
  const source = ctx.engagementSources[job.crm];
  if (!source) throw new PermanentJobError(`no ${job.crm} poller is configured in this process`);
  // HubSpot's pollers kept their pre-Salesforce names, so their watermarks carry over.
  const poller = `${job.crm}:${job.source}`;
  const now = ctx.now();
  const polling: Partial<Record<string, { everySeconds: number }>> = ctx.config[job.crm].polling;
  const interval = polling[job.source]?.everySeconds ?? 300;
  // A first run looks back one interval; older history is the backfill's job. A reconciliation poll
  // (after a change-event gap) reads from where the gap began, and moves the watermark only forward.
  let watermark = job.since ?? (await ctx.watermarks.get(poller)) ?? now - interval * 1000;
  const result = { pages: 0, events: 0, profileChanges: 0, skipped: 0, watermark };
  for await (const page of source.poll(job.source, watermark, now)) {
    if (page.events.length || page.profile.length)
      await enqueueIngest(
        ctx.queues,
        {
          source: 'poll',
          receivedAt: ctx.now(),
          poller,
          batch: batchOf(page.events, page.profile),
        },
        ctx.config.handRaise,
      );
    if (page.watermark > watermark) await ctx.watermarks.advance(poller, (watermark = page.watermark));
    result.pages++;
    result.events += page.events.length;
    result.profileChanges += page.profile.length;
    result.skipped += page.skipped ?? 0;
  }
  const metric = { source: pollName(job.crm, job.source) };
  ctx.metrics.events.inc({ ...metric, outcome: 'read' }, result.events + result.profileChanges);
  ctx.metrics.events.inc({ ...metric, outcome: 'skipped' }, result.skipped);
  ctx.logger.debug({ poller, ...result, watermark }, 'poll done');
  return { ...result, watermark };
}
