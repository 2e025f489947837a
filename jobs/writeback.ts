import { randomUUID } from 'node:crypto';
import { connectorFor, type JobContext } from '../src/queue/context.js';
import type { WritebackJob } from '../src/queue/catalog.js';
import { leadKey, type Crm, type Handoff, type LeadRef, type Score } from '../src/domain/index.js';
import type { HandoffRecord, ProgressField, WritebackStep } from '../src/store/handoffs.js';
import type { CrmConnector, ScoreWrite, StageAdvance } from '../connectors/types.js';
import { salesRecord } from './target.js';
import {
  enqueueLeadScore,
  enqueueRepAlert,
  enqueueScoreFlush,
  enqueueSlaCheck,
} from '../src/queue/queues.js';
import type { CrmError } from '../connectors/errors.js';
import { classifyFailure } from '../src/queue/retry.js';
import { NotDueError, PermanentJobError } from '../src/queue/errors.js';
import { Lease } from '../src/store/lease.js';
import { redactEmails } from '../src/logger.js';
import { recordsMayBeLost } from '../src/store/epoch.js';
import { UNGATED, type Slot } from '../src/queue/gate.js';

/**
 * Writes a handoff to the sales CRM's record of the lead: score fields, lifecycle stage with owner,
 * the note and the rep task, in one request where the connector can, else in parallel steps. Note
 * and task are marked `started` before their create calls: a retry that finds `started` asks the
 * connector to look for one from the earlier attempt before creating it, so a crash between the
 * CRM call and our record never yields a second note or task. The CRM writes are waited for with
 * the job's computing place given up (`slot`): under a burst they wait for a shared batch request.
 */
export async function processWriteback(
  ctx: JobContext,
  job: WritebackJob,
  slot: Slot = UNGATED,
): Promise<{ written: WritebackStep[] }> {
  if (job.kind === 'scores') return flushScores(ctx);
  if (job.kind === 'lead-score') {
    const { score } = await ctx.leads.get(job.lead);
    if (score) await writeScore(connectorFor(ctx, job.lead.crm), job.lead, score);
    return { written: score ? ['scores'] : [] };
  }

  const record = await ctx.handoffs.get(job.handoffId);
  if (!record) throw new PermanentJobError(`handoff ${job.handoffId} has no record`);
  return underWriteLease(ctx, job.handoffId, () => writeRecord(ctx, record, slot));
}

/**
 * One run at a time writes a handoff, across processes. A worker blocked past its job lock loses the
 * job to another worker while its own run goes on; the second run would find the note `started`,
 * look for it before the first run's create has landed, and create a second. It waits instead, for
 * as long as the lease has left (a crashed holder's lease lapses), without spending an attempt.
 */
async function underWriteLease<T>(ctx: JobContext, handoffId: string, write: () => Promise<T>): Promise<T> {
  const ttlMs = ctx.config.pipeline.jobLockMs;
  const key = ctx.keys.writeLease(handoffId);
  const lease = new Lease(ctx.redis, key, randomUUID());
  if (!(await lease.acquire(ttlMs))) throw new NotDueError(Math.max(100, await ctx.redis.pttl(key)));
  // Renewed as BullMQ renews a job's lock, so a long write keeps it; a lost renewal only shortens it.
  const renewal = setInterval(() => void lease.renew(ttlMs).catch(() => undefined), ttlMs / 3);
  try {
    return await write();
  } finally {
    clearInterval(renewal);
    await lease.release().catch(() => undefined);
  }
}

async function writeRecord(
  ctx: JobContext,
  record: HandoffRecord,
  slot: Slot,
): Promise<{ written: WritebackStep[] }> {
  const { handoff } = record;
  const { progress, recovered } = await afterDataLoss(ctx, await ctx.handoffs.progress(handoff.id));
  if (progress.completedAt) return { written: [] };
  const target = await salesRecord(ctx, handoff.lead);
  const connector = connectorFor(ctx, target.crm);
  const writeHandoff = connector.writeHandoff?.bind(connector);
  const { written, converted, created } = await slot.idle(
    writeHandoff
      ? writeAtOnce(ctx, connector, writeHandoff, record, target, progress)
      : writeInSteps(ctx, connector, record, target, progress).then((w) => ({ ...w, converted: false })),
  );
  // Found written in full after a data loss: its rep was alerted and its speed to lead counted before.
  const foundWritten = recovered && !created;

  // Redis' clock, as the SLA check uses: a worker's skewed clock skews neither speed to lead nor the SLA delay.
  const completedAt = await ctx.sharedNow();
  const { task } = record;
  const ownerId = record.routing?.ownerId ?? null;
  const after = await ctx.handoffs.progress(handoff.id);
  if (after.stage === STAGE_MOVED_ON) {
    // Sales had the record already: no SLA clock for an owner who was not given it, no speed to lead,
    // and none of what was written beside the stage for the routed rep. A converted lead's note went
    // to what it became, with no owner or due time: that one stays as context for sales.
    if (!converted) await withdrawActivities(ctx, connector, handoff.id, target, after);
    await ctx.handoffs.complete(record, completedAt);
    ctx.logger.warn({ lead: leadKey(handoff.lead), handoffId: handoff.id }, 'stage had moved on: no handoff');
    return { written };
  }
  // The SLA clock is queued before the handoff counts as complete, so a crash cannot lose it. A
  // lead sales already converted has no rep task to chase.
  if (task && !converted) await enqueueSlaCheck(ctx.queues, handoff.id, 0, task.dueAt - completedAt);
  // The rep alert is a job of its own, queued once the writes are done: it never holds them up.
  const alertPending = ctx.alerts.length > 0 && ownerId !== null && !converted && !foundWritten;
  if (alertPending) await enqueueRepAlert(ctx.queues, handoff.id);
  await ctx.handoffs.complete(record, completedAt, alertPending);
  if (!foundWritten) ctx.metrics.speedToLead.observe((completedAt - handoff.receivedAt) / 1000);
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
  return { written };
}

type Progress = Partial<Record<ProgressField, string>>;

/**
 * While Redis recovers from a data loss, a handoff with no record of its steps may have been written
 * before the loss: each step missing counts as started, as on a retry, so the note and the task are
 * looked up by marker before any is created, and a stage found set is checked for our routed owner
 * before it counts as sales'.
 */
async function afterDataLoss(
  ctx: JobContext,
  progress: Progress,
): Promise<{ progress: Progress; recovered: boolean }> {
  if (!(await recordsMayBeLost(ctx.redis, ctx.keys))) return { progress, recovered: false };
  return {
    progress: { stage: STARTED, note: STARTED, task: STARTED, ...progress },
    // Nothing recorded of this handoff since the loss: what is found was written before it.
    recovered: progress.note === undefined,
  };
}

/**
 * Score fields, lifecycle stage with owner, note and task as separate calls in parallel. Each step
 * is recorded when the CRM acknowledges it, so a retry redoes only what is missing.
 */
async function writeInSteps(
  ctx: JobContext,
  connector: CrmConnector,
  { handoff, note, task, routing }: HandoffRecord,
  target: LeadRef,
  progress: Progress,
): Promise<{ written: WritebackStep[]; created: boolean }> {
  const ownerId = routing?.ownerId ?? null;
  const steps: Promise<WritebackStep>[] = [];
  let created = false;
  if (!progress.scores) {
    steps.push(
      (async (): Promise<WritebackStep> => {
        await writeScore(connector, target, await freshestScore(ctx, handoff));
        await ctx.handoffs.mark(handoff.id, 'scores', 'done');
        return 'scores';
      })(),
    );
  }
  if (!progress.stage || progress.stage === STARTED) {
    const retried = progress.stage === STARTED;
    steps.push(
      (async (): Promise<WritebackStep> => {
        if (!retried) await ctx.handoffs.mark(handoff.id, 'stage', STARTED);
        const known = await knownStage(ctx, handoff.lead, target);
        const result = await connector.advanceStage(target, handoff.stage, known, ownerId);
        await stageWritten(ctx, connector, handoff, target, result, ownerId, retried);
        return 'stage';
      })(),
    );
  }
  // A retry after the stage showed it had moved on creates nothing more for the routed rep, but still
  // finds what an earlier attempt may have created, so it can be withdrawn.
  const movedOn = progress.stage === STAGE_MOVED_ON;
  if ((!progress.note && !movedOn) || progress.note === 'started') {
    const mayExist = progress.note === 'started';
    steps.push(
      (async (): Promise<WritebackStep> => {
        if (!mayExist) await ctx.handoffs.mark(handoff.id, 'note', 'started');
        const result = await connector.createHandoffNote(target, handoff.id, note.html, mayExist);
        created ||= result.created;
        await ctx.handoffs.mark(handoff.id, 'note', result.id);
        return 'note';
      })(),
    );
  }
  if (task && ((!progress.task && !movedOn) || progress.task === 'started')) {
    const mayExist = progress.task === 'started';
    steps.push(
      (async (): Promise<WritebackStep> => {
        if (!mayExist) await ctx.handoffs.mark(handoff.id, 'task', 'started');
        const result = await connector.createRepTask(target, handoff.id, task, mayExist);
        created ||= result.created;
        await ctx.handoffs.mark(handoff.id, 'task', result.id);
        return 'task';
      })(),
    );
  }
  const settled = await Promise.allSettled(steps);
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) throw failed.reason;
  return { written: settled.map((s) => (s as PromiseFulfilledResult<WritebackStep>).value), created };
}

/**
 * The whole handoff in one all-or-nothing request (Salesforce composite), the note as the task's
 * body. Note and task are marked `started` first: a retry after a lost answer asks the connector to
 * find the task the earlier attempt created instead of creating a second.
 *
 * When sales had already converted the record, the connector wrote the scores and the note to what
 * it became: the handoff counts as converted (as a conversion seen later does), and from now on the
 * lead's writes, SLA checks and dispositions go to the new record. No dead letter: that is sales
 * doing its job, not a failure.
 */
async function writeAtOnce(
  ctx: JobContext,
  connector: CrmConnector,
  writeHandoff: NonNullable<CrmConnector['writeHandoff']>,
  { handoff, note, task, routing }: HandoffRecord,
  target: LeadRef,
  progress: Progress,
): Promise<{ written: WritebackStep[]; converted: boolean; created: boolean }> {
  // Sales had the record already (an earlier attempt found so): nothing more is written for our rep.
  if (progress.stage === STAGE_MOVED_ON) return { written: [], converted: false, created: false };
  const ownerId = routing?.ownerId ?? null;
  const mayExist = progress.note === 'started';
  if (!mayExist) {
    await ctx.handoffs.mark(handoff.id, 'note', 'started');
    if (task) await ctx.handoffs.mark(handoff.id, 'task', 'started');
  }
  const result = await writeHandoff({
    lead: target,
    handoffId: handoff.id,
    stage: handoff.stage,
    knownStage: await knownStage(ctx, handoff.lead, target),
    ownerId,
    score: await freshestScore(ctx, handoff),
    note: { subject: note.subject, text: note.text, html: note.html },
    task: task ?? null,
    mayExist,
  });
  const converted = result.convertedTo;
  await stageWritten(ctx, connector, handoff, target, result, converted ? null : ownerId, mayExist);
  await ctx.handoffs.mark(handoff.id, 'scores', 'done');
  await ctx.handoffs.mark(handoff.id, 'note', result.note.id);
  if (result.task) await ctx.handoffs.mark(handoff.id, 'task', result.task.id);
  if (converted) await recordConversion(ctx, handoff, target, converted, result.stage);
  return {
    written: result.task ? ['scores', 'stage', 'note', 'task'] : ['scores', 'stage', 'note'],
    converted: converted !== undefined,
    created: result.note.created || (result.task?.created ?? false),
  };
}

async function recordConversion(
  ctx: JobContext,
  handoff: Handoff,
  from: LeadRef,
  to: LeadRef,
  stage: string,
): Promise<void> {
  await ctx.links.converted(from, to);
  ctx.logger.info(
    { lead: leadKey(handoff.lead), handoffId: handoff.id, convertedTo: leadKey(to) },
    'sales had converted the lead: handoff written to what it became, counted as converted',
  );
  if (await ctx.handoffs.markOnce(handoff.id, 'convertedAt', String(ctx.now())))
    await ctx.handoffs.audit({
      type: 'converted',
      handoffId: handoff.id,
      lead: leadKey(handoff.lead),
      detail: { stage, score: handoff.score.total },
      at: ctx.now(),
    });
}

/** The freshest score: a later rescore may already be saved (or this one not yet). */
async function freshestScore(ctx: JobContext, handoff: Handoff): Promise<Score> {
  const saved = (await ctx.leads.get(handoff.lead)).score;
  return saved && saved.computedAt > handoff.score.computedAt ? saved : handoff.score;
}

/** Our copy of the record's stage, which lets the connector skip reading it; none for a record in the other CRM. */
async function knownStage(ctx: JobContext, lead: LeadRef, target: LeadRef): Promise<string | undefined> {
  if (target !== lead) return undefined;
  const { profile } = await ctx.timeline.profile(lead);
  return typeof profile.lifecycleStage === 'string' ? profile.lifecycleStage : undefined;
}

/** progress.stage of a handoff whose record was at or past its stage in the CRM. */
const STAGE_MOVED_ON = 'moved_on';
/** progress.stage while the stage write is under way: a retry knows an earlier attempt may have made it. */
const STARTED = 'started';
/** progress.note / progress.task once deleted from the CRM. */
const WITHDRAWN = 'withdrawn';

/**
 * Deletes the note and rep task written in parallel with a stage write that did not stick. The task
 * would have the routed rep call a lead sales already works, and the note names that rep as owner
 * with a due time no SLA enforces; completing the task would read as the rep's first action, and
 * reassigning it would hand marketing's call task to sales' owner. The decision stays in the audit
 * log. Ids are recorded as withdrawn one by one, so a retry deletes only what is left.
 */
async function withdrawActivities(
  ctx: JobContext,
  connector: CrmConnector,
  handoffId: string,
  target: LeadRef,
  progress: Progress,
): Promise<void> {
  const deleted = new Set<string>();
  for (const kind of ['task', 'note'] as const) {
    const id = progress[kind];
    if (!id || id === 'started' || id === WITHDRAWN) continue;
    // Salesforce's note is its rep task: one record, deleted once.
    if (!deleted.has(id)) await connector.deleteActivity(target, kind, id);
    deleted.add(id);
    await ctx.handoffs.mark(handoffId, kind, WITHDRAWN);
  }
}

/**
 * Records what the stage write did. A record the CRM already had at or past the stage is sales':
 * the case goes to the audit log (with what the connector put back), and the handoff is marked so
 * it is completed without counting as one.
 */
async function stageWritten(
  ctx: JobContext,
  connector: CrmConnector,
  handoff: Handoff,
  target: LeadRef,
  result: StageAdvance,
  ownerId: string | null,
  retried: boolean,
): Promise<void> {
  await ctx.timeline.mergeFetchedProfile(target, { lifecycleStage: result.stage }, ctx.now());
  if (!result.advanced && !(retried && (await ownWrite(connector, target, ownerId)))) {
    await ctx.handoffs.audit({
      type: 'stage_moved_on',
      handoffId: handoff.id,
      lead: leadKey(handoff.lead),
      detail: {
        stage: result.stage,
        wanted: handoff.stage,
        ownerId,
        restored: result.restored ?? [],
      },
      at: ctx.now(),
    });
    await ctx.handoffs.mark(handoff.id, 'stage', STAGE_MOVED_ON);
    return;
  }
  if (ownerId) await ctx.handoffs.markOnce(handoff.id, 'ownerId', ownerId);
  await ctx.handoffs.mark(handoff.id, 'stage', handoff.stage);
}

/**
 * A retry that finds the record at or past the stage may be looking at its own earlier write (the
 * answer, or our record of it, was lost): the record then has the owner we routed it to. Without a
 * routed owner there is no proof, and the record counts as sales'.
 */
async function ownWrite(connector: CrmConnector, target: LeadRef, ownerId: string | null): Promise<boolean> {
  if (!ownerId) return false;
  const profile = await connector.readProfile(target);
  return profile.ownerId !== undefined && String(profile.ownerId) === ownerId;
}

async function writeScore(connector: CrmConnector, lead: LeadRef, score: Score): Promise<void> {
  const failures = await connector.writeScores([{ lead, score }]);
  if (failures[0]) throw failures[0].error;
}

/** HubSpot's batch limit; Salesforce collections take 200, so 100 suits both. */
export const SCORE_BATCH_SIZE = 100;

/**
 * A full batch is flushed at once; fewer wait `scoreWriteDelayMs` for others to join them, so a
 * trickle of single score changes costs a call per delay, not one per pending few.
 */
export async function scheduleScoreFlush(ctx: JobContext, pending: number): Promise<void> {
  if (pending === 0) return;
  const delayMs = pending >= SCORE_BATCH_SIZE ? 0 : ctx.config.pipeline.scoreWriteDelayMs;
  await enqueueScoreFlush(ctx.queues, delayMs);
}

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
  // Each CRM's records in one call; the connector splits into its own batch size.
  const byCrm = new Map<Crm, ScoreWrite[]>();
  for (const w of writes) {
    const group = byCrm.get(w.lead.crm);
    if (group) group.push(w);
    else byCrm.set(w.lead.crm, [w]);
  }
  const failures = (
    await Promise.all([...byCrm].map(([crm, group]) => connectorFor(ctx, crm).writeScores(group)))
  ).flat();

  const retry = new Set<string>();
  let firstTransient: CrmError | undefined;
  for (const failure of failures) {
    const decision = classifyFailure(failure.error.failure, ctx.now());
    if (decision.action === 'fail') {
      await ctx.handoffs.audit({
        type: 'dead_letter',
        lead: leadKey(failure.lead),
        detail: { step: 'scores', reason: redactEmails(decision.reason) },
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
  // What arrived during this flush waits its delay too, unless it already fills a batch.
  await scheduleScoreFlush(ctx, await ctx.pendingScores.size());
  return { written: ['scores'] };
}
