import { HubSpotWebhookBatch } from '../connectors/hubspot/webhook.js';
import type { Config } from '../src/config/schema.js';
import {
  batchOf,
  leadKey,
  type Crm,
  type LeadRef,
  type NormalizedBatch,
  type ProfileChange,
} from '../src/domain/index.js';
import type { IngestJob, LegacyIngestJob } from '../src/queue/catalog.js';
import { handoffCrm, type JobContext } from '../src/queue/context.js';
import { enqueueDisposition, enqueueScore } from '../src/queue/queues.js';
import { genericIngest } from '../src/receive/generic.js';
import { hubspotIngest } from '../src/receive/hubspot.js';
import { recordRepAction } from './followup.js';

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
  queued: IngestJob | { legacy: LegacyIngestJob },
  isRetry: boolean,
): Promise<IngestResult> {
  const job = 'legacy' in queued ? upgradeLegacyIngest(queued.legacy, ctx.config) : queued;
  const batch = await toMarketingLeads(ctx, job.batch);
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
  for (const { from, into } of batch.merged) {
    for (const lead of from) {
      // Events first, then forget: a crash in between leaves a copy, never a loss.
      await ctx.timeline.moveEvents(lead, into);
      await forgetLead(ctx, lead, `merged into ${into.id}`);
      changed.delete(leadKey(lead));
    }
    touch(into, false);
  }
  for (const lead of batch.deleted) {
    await forgetLead(ctx, lead, 'deleted in the CRM');
    changed.delete(leadKey(lead));
  }
  if (isRetry) for (const lead of batch.leads) touch(lead, false);

  // On a retry, changes the first attempt recorded are followed up again (each step is idempotent).
  await followUp(
    ctx,
    profile.filter((_, i) => profileResults[i] || isRetry),
  );

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
  const origin = 'poller' in job ? { poller: job.poller } : { requestId: job.requestId };
  ctx.logger.debug({ ...origin, source: job.source, ...result }, 'delivery ingested');
  return result;
}

/** Profile fields whose change means a rep worked the lead. */
const REP_ACTIVITY_FIELDS = ['lastSalesActivity'];
/** A status and its reason code often arrive as two webhooks a moment apart. */
const DISPOSITION_SETTLE_MS = 2_000;

/**
 * Sales' side of the loop, seen in profile changes: a new lead status or a logged activity is the
 * rep's first action on the open handoff (the status we set ourselves excepted); a stage such as
 * opportunity or customer is a conversion; a status or reason code change may be a disposition,
 * checked by its own job.
 */
async function followUp(ctx: JobContext, changes: ProfileChange[]): Promise<void> {
  const { statusField, reasonField } = ctx.config.dispositions;
  for (const change of changes) {
    const { ownStatuses, convertedStages } = salesSide(ctx, handoffCrm(ctx, change.lead));
    // The echo of the status a handoff writes is neither a disposition nor a rep's action.
    const salesStatus =
      change.field === statusField && change.value !== null && !ownStatuses.includes(String(change.value));
    if (salesStatus || change.field === reasonField)
      await enqueueDisposition(ctx.queues, change.lead, DISPOSITION_SETTLE_MS);
    const converted = change.field === 'lifecycleStage' && convertedStages.includes(String(change.value));
    const isAction = REP_ACTIVITY_FIELDS.includes(change.field) || salesStatus;
    if (!isAction && !converted) continue;
    const state = await ctx.leads.get(change.lead);
    const record = state.handoffId ? await ctx.handoffs.get(state.handoffId) : null;
    if (!record) continue;
    if (
      converted &&
      (await ctx.handoffs.markOnce(record.handoff.id, 'convertedAt', String(change.occurredAt)))
    )
      await ctx.handoffs.audit({
        type: 'converted',
        handoffId: record.handoff.id,
        lead: leadKey(change.lead),
        detail: { stage: change.value, score: record.handoff.score.total },
        at: change.occurredAt,
      });
    const progress = await ctx.handoffs.progress(record.handoff.id);
    if (!isAction || !progress.completedAt || progress.actedAt) continue;
    await recordRepAction(
      ctx,
      record,
      `${change.field} → ${String(change.value)}`,
      change.occurredAt,
      Number(progress.completedAt),
      progress.ownerId ?? null,
    );
  }
}

/** The status values a handoff writes (not a rep's action) and the stages that mean converted, per CRM. */
function salesSide(ctx: JobContext, crm: Crm): { ownStatuses: string[]; convertedStages: string[] } {
  if (crm === 'hubspot') {
    const { leadStatus, convertedStages } = ctx.config.hubspot.fields;
    return { ownStatuses: [leadStatus.handedOff], convertedStages };
  }
  const { stages, convertedStages } = ctx.config.salesforce.fields;
  return { ownStatuses: [stages.mql, stages.sql], convertedStages };
}

/**
 * Cross-CRM: what happens to a sales CRM record matched to a marketing lead (status, reason code,
 * activity, conversion) belongs to that lead's history, so the loop closes where it was scored.
 */
async function toMarketingLeads(ctx: JobContext, batch: NormalizedBatch): Promise<NormalizedBatch> {
  const sales = ctx.config.crossCrm?.handoffTo;
  if (!sales) return batch;
  const linked = new Map<string, LeadRef>();
  const salesLeads = batch.leads.filter((l) => l.crm === sales);
  const marketing = await Promise.all(salesLeads.map((lead) => ctx.links.marketingLeadOf(lead)));
  salesLeads.forEach((lead, i) => {
    if (marketing[i]) linked.set(leadKey(lead), marketing[i]);
  });
  if (!linked.size) return batch;
  const map = (lead: LeadRef) => linked.get(leadKey(lead)) ?? lead;
  return {
    ...batch,
    engagement: batch.engagement.map((e) => ({ ...e, lead: map(e.lead) })),
    profile: batch.profile.map((p) => ({ ...p, lead: map(p.lead) })),
    leads: batch.leads.map(map),
    created: batch.created.map(map),
  };
}

/** A pending score write for a forgotten lead finds no score and is dropped by the flush. */
async function forgetLead(ctx: JobContext, lead: LeadRef, why: string): Promise<void> {
  await ctx.leads.forget(lead);
  ctx.logger.info({ lead: leadKey(lead), why }, 'lead forgotten');
}

/**
 * LEGACY: an ingest job queued in a shape from before the receivers (see LegacyIngestJob), made
 * into today's shape by the same receivers, with this worker's config as the old job would have.
 * Goes together with LegacyIngestJob.
 */
export function upgradeLegacyIngest(job: LegacyIngestJob, config: Config): IngestJob {
  switch (job.source) {
    case 'hubspot':
      return hubspotIngest(HubSpotWebhookBatch.parse(job.events), config.hubspot, job);
    case 'generic':
      return genericIngest(job.batch, job);
    // Already domain lists (Salesforce's receivers queued profile changes, pollers both kinds).
    case 'salesforce': {
      const { events, profile, ...origin } = job;
      return { ...origin, batch: batchOf(events, profile) };
    }
    case 'poll': {
      const { events, profile, ...origin } = job;
      return { ...origin, batch: batchOf(events, profile) };
    }
  }
}
