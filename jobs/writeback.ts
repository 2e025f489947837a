import type { JobContext } from '../src/queue/context.js';
import type { WritebackJob } from '../src/queue/catalog.js';
import { leadKey, type LeadRef, type Score } from '../src/domain/index.js';
import type { WritebackStep } from '../src/store/handoffs.js';
import { enqueueLeadScore, enqueueScoreFlush, enqueueSlaCheck } from '../src/queue/queues.js';
import type { CrmError } from '../connectors/errors.js';
import { classifyFailure } from '../src/queue/retry.js';

/** Raised for a job that can never succeed (e.g. its handoff record is gone): no retry. */
export class PermanentJobError extends Error {
  override name = 'PermanentJobError';
}

/**
 * Writes a handoff to the CRM: score fields, lifecycle stage with owner, the note and the rep task,
 * in parallel. Each step is recorded when the CRM acknowledges it, so a retry redoes only what is
 * missing. Note and task are marked `started` before their create calls: a retry that finds
 * `started` asks the connector to look for one from the earlier attempt before creating it, so a
 * crash between the CRM call and our record never yields a second note or task.
 */
export async function processWriteback(
  ctx: JobContext,
  job: WritebackJob,
): Promise<{ written: WritebackStep[] }> {
  if (job.kind === 'scores') return flushScores(ctx);
  if (job.kind === 'lead-score') {
    const { score } = await ctx.leads.get(job.lead);
    if (score) await writeScore(ctx, job.lead, score);
    return { written: score ? ['scores'] : [] };
  }

  const record = await ctx.handoffs.get(job.handoffId);
  if (!record) throw new PermanentJobError(`handoff ${job.handoffId} has no record`);
  const { handoff, note, task } = record;
  const ownerId = record.routing?.ownerId ?? null;
  const progress = await ctx.handoffs.progress(handoff.id);
  if (progress.completedAt) return { written: [] };

  const steps: Promise<WritebackStep>[] = [];
  if (!progress.scores) {
    steps.push(
      (async (): Promise<WritebackStep> => {
        // The freshest score: a later rescore may already be saved (or this one not yet).
        const saved = (await ctx.leads.get(handoff.lead)).score;
        const score = saved && saved.computedAt > handoff.score.computedAt ? saved : handoff.score;
        await writeScore(ctx, handoff.lead, score);
        await ctx.handoffs.mark(handoff.id, 'scores', 'done');
        return 'scores';
      })(),
    );
  }
  if (!progress.stage) {
    steps.push(
      (async (): Promise<WritebackStep> => {
        const { profile } = await ctx.timeline.profile(handoff.lead);
        const known = typeof profile.lifecycleStage === 'string' ? profile.lifecycleStage : undefined;
        const now = await ctx.connector.advanceStage(handoff.lead, handoff.stage, known, ownerId);
        await ctx.timeline.mergeFetchedProfile(handoff.lead, { lifecycleStage: now }, ctx.now());
        if (ownerId) await ctx.handoffs.markOnce(handoff.id, 'ownerId', ownerId);
        await ctx.handoffs.mark(handoff.id, 'stage', handoff.stage);
        return 'stage';
      })(),
    );
  }
  if (!progress.note || progress.note === 'started') {
    const mayExist = progress.note === 'started';
    steps.push(
      (async (): Promise<WritebackStep> => {
        if (!mayExist) await ctx.handoffs.mark(handoff.id, 'note', 'started');
        const result = await ctx.connector.createHandoffNote(handoff.lead, handoff.id, note.html, mayExist);
        await ctx.handoffs.mark(handoff.id, 'note', result.id);
        return 'note';
      })(),
    );
  }

  if (task && (!progress.task || progress.task === 'started')) {
    const mayExist = progress.task === 'started';
    steps.push(
      (async (): Promise<WritebackStep> => {
        if (!mayExist) await ctx.handoffs.mark(handoff.id, 'task', 'started');
        const result = await ctx.connector.createRepTask(handoff.lead, handoff.id, task, mayExist);
        await ctx.handoffs.mark(handoff.id, 'task', result.id);
        return 'task';
      })(),
    );
  }

  const settled = await Promise.allSettled(steps);
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) throw failed.reason;

  const completedAt = ctx.now();
  // The SLA clock is queued before the handoff counts as complete, so a crash cannot lose it.
  if (task) await enqueueSlaCheck(ctx.queues, handoff.id, 0, task.dueAt - completedAt);
  await ctx.handoffs.mark(handoff.id, 'completedAt', String(completedAt));
  ctx.metrics.speedToLead.observe((completedAt - handoff.receivedAt) / 1000);
  ctx.logger.info(
    { lead: leadKey(handoff.lead), handoffId: handoff.id, speedToLeadMs: completedAt - handoff.receivedAt },
    'handoff written',
  );
  await ctx.handoffs.audit({
    type: 'writeback',
    handoffId: handoff.id,
    lead: leadKey(handoff.lead),
    detail: { speedToLeadMs: completedAt - handoff.receivedAt, ownerId },
    at: completedAt,
  });
  return { written: settled.map((s) => (s as PromiseFulfilledResult<WritebackStep>).value) };
}

async function writeScore(ctx: JobContext, lead: LeadRef, score: Score): Promise<void> {
  const failures = await ctx.connector.writeScores([{ lead, score }]);
  if (failures[0]) throw failures[0].error;
}

/** HubSpot's batch limit; Salesforce collections take 200, so 100 suits both. */
export const SCORE_BATCH_SIZE = 100;

/**
 * Writes one batch of pending score-only updates. Records the CRM rejected for good are dropped
 * from the pending set, logged to the audit trail and retried alone, so the CRM's refusal lands in
 * the dead-letter list where it can be replayed; a transient failure keeps its records pending
 * and fails the job, so the flush is retried with backoff (or paused on a rate limit).
 */
async function flushScores(ctx: JobContext): Promise<{ written: WritebackStep[] }> {
  const batch = await ctx.pendingScores.take(SCORE_BATCH_SIZE);
  if (batch.length === 0) return { written: [] };
  const states = await Promise.all(batch.map((entry) => ctx.leads.get(entry.lead)));
  const writes = batch.flatMap((entry, i) => {
    const score = states[i]?.score;
    return score ? [{ lead: entry.lead, score }] : [];
  });
  const failures = writes.length ? await ctx.connector.writeScores(writes) : [];

  const retry = new Set<string>();
  let firstTransient: CrmError | undefined;
  for (const failure of failures) {
    const decision = classifyFailure(failure.error.failure, ctx.now());
    if (decision.action === 'fail') {
      await ctx.handoffs.audit({
        type: 'dead_letter',
        lead: leadKey(failure.lead),
        detail: { step: 'scores', reason: decision.reason },
        at: ctx.now(),
      });
      await enqueueLeadScore(ctx.queues, failure.lead);
    } else {
      retry.add(leadKey(failure.lead));
      firstTransient ??= failure.error;
    }
  }
  await ctx.pendingScores.clear(batch.filter((entry) => !retry.has(leadKey(entry.lead))));
  if (firstTransient) throw firstTransient;
  if ((await ctx.pendingScores.size()) > 0) await enqueueScoreFlush(ctx.queues, 0);
  return { written: ['scores'] };
}
