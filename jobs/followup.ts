import type { FollowupJob } from '../src/queue/catalog.js';
import { connectorFor, type JobContext } from '../src/queue/context.js';
import { escapeSlack, handoffMarker, leadKey, type LeadRef } from '../src/domain/index.js';
import { enqueueSlaCheck } from '../src/queue/queues.js';
import { afterDisposition, planDisposition } from '../src/handoff/lifecycle.js';
import type { HandoffRecord } from '../src/store/handoffs.js';
import { assignOwner, slaDueAt } from './assign.js';
import { salesRecord } from './target.js';
import { NotDueError } from '../src/queue/errors.js';
import { processAlert, type AlertResult } from './alert.js';

export type FollowupResult =
  | { sla: 'stale' | 'met' | 'breached'; action?: string }
  | { disposition: string; reason?: string | null }
  | AlertResult;

export function processFollowup(ctx: JobContext, job: FollowupJob): Promise<FollowupResult> {
  switch (job.kind) {
    case 'sla':
      return checkSla(ctx, job.handoffId, job.round);
    case 'disposition':
      return applyDisposition(ctx, job.lead);
    case 'alert':
      return processAlert(ctx, job.handoffId);
  }
}

/**
 * At the SLA due time: did the rep act? Our record of the first action (from webhooks) is checked
 * first, then the CRM (task completed, call or email logged). On a breach the configured action
 * runs; each of its writes is recorded so a retried job neither counts the breach twice nor
 * creates a second escalation task.
 */
async function checkSla(ctx: JobContext, handoffId: string, round: number): Promise<FollowupResult> {
  const record = await ctx.handoffs.get(handoffId);
  if (!record?.task) return { sla: 'stale' };
  const { handoff } = record;
  const [progress, state] = await Promise.all([
    ctx.handoffs.progress(handoffId),
    ctx.leads.get(handoff.lead),
  ]);
  // Recycled, disqualified or handed off again since: this clock no longer runs.
  if (state.handoffId !== handoffId || state.status !== 'open') return { sla: 'stale' };
  if (progress.actedAt) return { sla: 'met' };
  // A worker whose clock runs ahead promotes delayed jobs early: the due time is checked on Redis' clock.
  const now = await ctx.sharedNow();
  const dueAt = Number(progress[`due.${round}`] ?? record.task.dueAt);
  if (now < dueAt) throw new NotDueError(dueAt - now);

  const since = Number(progress.completedAt ?? handoff.decidedAt);
  const target = await salesRecord(ctx, handoff.lead);
  const activity = await connectorFor(ctx, target.crm).repActivity(target, since, progress.task ?? null);
  const ownerId = progress.ownerId ?? record.routing?.ownerId ?? null;
  if (activity) {
    await recordRepAction(ctx, record, activity.what, activity.at, since, ownerId);
    return { sla: 'met' };
  }

  const policy = ctx.config.sla;
  const action =
    policy.onBreach === 'reassign' && round >= policy.maxReassignments ? 'notify' : policy.onBreach;
  if (await ctx.handoffs.markOnce(handoffId, `breach.${round}`, String(now))) {
    ctx.metrics.slaBreaches.inc({ action });
    await ctx.handoffs.audit({
      type: 'sla_breach',
      handoffId,
      lead: leadKey(handoff.lead),
      detail: { ownerId, action, dueAt: record.task.dueAt, round },
      at: now,
    });
    ctx.logger.warn({ lead: leadKey(handoff.lead), handoffId, ownerId, action }, 'SLA breached');
  }

  await notifyBreach(ctx, record, round, ownerId, action);
  if (action === 'escalate') await escalate(ctx, record, round, ownerId);
  if (action === 'reassign') await reassign(ctx, record, round, ownerId, now);
  return { sla: 'breached', action };
}

/**
 * Posts the breach to `sla.notifyUrl` once per round: marked only after the endpoint accepted it,
 * so a failed post fails the job and is tried again with it.
 */
async function notifyBreach(
  ctx: JobContext,
  record: HandoffRecord,
  round: number,
  ownerId: string | null,
  action: string,
): Promise<void> {
  const url = ctx.config.sla.notifyUrl;
  const field = `notified.${round}` as const;
  if (!url || (await ctx.handoffs.progress(record.handoff.id))[field]) return;
  const rep = ctx.config.routing.reps.find((r) => r.id === ownerId)?.name ?? ownerId ?? 'nobody';
  const due = new Date(record.task?.dueAt ?? 0).toISOString();
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      // Slack mrkdwn escaping; other JSON consumers get the same readable line.
      text: escapeSlack(`SLA missed: ${record.note.subject} — ${rep} had until ${due}; action: ${action}`),
      handoffId: record.handoff.id,
      lead: leadKey(record.handoff.lead),
      ownerId,
      dueAt: record.task?.dueAt ?? null,
      action,
      round,
    }),
    signal: AbortSignal.timeout(10_000),
  });
  if (!res.ok) throw new Error(`SLA notification to sla.notifyUrl answered ${res.status}`);
  await ctx.handoffs.mark(record.handoff.id, field, String(ctx.now()));
}

async function escalate(ctx: JobContext, record: HandoffRecord, round: number, ownerId: string | null) {
  const { handoff, task } = record;
  const managerId = ctx.config.routing.reps.find((r) => r.id === ownerId)?.managerId;
  if (!task || !managerId) {
    ctx.logger.warn({ handoffId: handoff.id, ownerId }, 'SLA escalation: the rep has no manager configured');
    return;
  }
  const field = `escalation.${round}` as const;
  const progress = await ctx.handoffs.progress(handoff.id);
  if (progress[field] && progress[field] !== 'started') return;
  if (!progress[field]) await ctx.handoffs.mark(handoff.id, field, 'started');
  const rep = ctx.config.routing.reps.find((r) => r.id === ownerId)?.name ?? ownerId ?? 'nobody';
  const target = await salesRecord(ctx, handoff.lead);
  const created = await connectorFor(ctx, target.crm).createRepTask(
    target,
    `${handoff.id}.escalation.${round}`,
    {
      ...task,
      subject: `SLA missed by ${rep}: ${task.subject}`,
      ownerId: managerId,
      dueAt: slaDueAt(ctx, handoff, managerId, ctx.now()),
      body: task.body.replace(handoffMarker(handoff.id), handoffMarker(`${handoff.id}.escalation.${round}`)),
    },
    progress[field] === 'started',
  );
  await ctx.handoffs.mark(handoff.id, field, created.id);
}

/**
 * Routes the lead again without the reps who let it lapse, moves lead and task, and restarts the
 * clock. The new owner is recorded before the CRM writes, so a retried job moves the lead to the
 * same rep instead of spending another round-robin turn.
 */
async function reassign(
  ctx: JobContext,
  record: HandoffRecord,
  round: number,
  ownerId: string | null,
  now: number,
) {
  const { handoff } = record;
  const field = `reassigned.${round}` as const;
  const progress = await ctx.handoffs.progress(handoff.id);
  let next = progress[field];
  if (!next) {
    const exclude = [record.routing?.ownerId, ownerId].filter((id): id is string => !!id);
    const { profile } = await ctx.timeline.profile(handoff.lead);
    const decision = await assignOwner(ctx, handoff.lead, profile, exclude, `${handoff.id}.${field}`);
    if (!decision.ownerId || decision.ownerId === ownerId) {
      ctx.logger.warn(
        { handoffId: handoff.id, reason: decision.reason },
        'SLA reassignment found nobody else',
      );
      return;
    }
    next = decision.ownerId;
    await ctx.handoffs.mark(handoff.id, field, next);
    await ctx.handoffs.audit({
      type: 'reassign',
      handoffId: handoff.id,
      lead: leadKey(handoff.lead),
      detail: { from: ownerId, ownerId: next, ruleId: decision.ruleId, reason: decision.reason, round },
      at: now,
    });
  }
  const target = await salesRecord(ctx, handoff.lead);
  await connectorFor(ctx, target.crm).reassign(target, next, progress.task ?? null);
  await ctx.handoffs.mark(handoff.id, 'ownerId', next);
  const due = slaDueAt(ctx, handoff, next, now);
  await ctx.handoffs.mark(handoff.id, `due.${round + 1}`, String(due));
  await enqueueSlaCheck(ctx.queues, handoff.id, round + 1, due - now);
}

/** Records the rep's first action on a handoff once, with the time it took. */
export async function recordRepAction(
  ctx: JobContext,
  record: HandoffRecord,
  what: string,
  at: number,
  since: number,
  ownerId: string | null,
): Promise<void> {
  const { handoff } = record;
  if (!(await ctx.handoffs.markOnce(handoff.id, 'actedAt', String(at)))) return;
  await ctx.handoffs.mark(handoff.id, 'actedWhat', what);
  const afterMs = Math.max(0, at - since);
  ctx.metrics.timeToFirstAction.observe(afterMs / 1000);
  await ctx.handoffs.audit({
    type: 'rep_action',
    handoffId: handoff.id,
    lead: leadKey(handoff.lead),
    detail: { ownerId, what, afterMs },
    at,
  });
}

/**
 * A sales disposition: reads the lead's current status and reason code, runs the configured action
 * in the CRM, then updates our lifecycle. An unknown reason code is reported (audit, metric, log)
 * and nothing is done. The state remembers the last disposition applied, so a retried job or the
 * echo of our own status write does not recycle twice.
 */
async function applyDisposition(ctx: JobContext, lead: LeadRef): Promise<FollowupResult> {
  const { statusField, reasonField } = ctx.config.dispositions;
  const [{ profile }, state] = await Promise.all([ctx.timeline.profile(lead), ctx.leads.get(lead)]);
  const status = typeof profile[statusField] === 'string' ? profile[statusField] : '';
  const reasonValue = profile[reasonField];
  const reason = typeof reasonValue === 'string' && reasonValue !== '' ? reasonValue : null;
  const plan = planDisposition(ctx.config.dispositions, status, reason);
  if (plan.action === 'none') return { disposition: 'none' };

  // Per handoff: the same status and reason after a later handoff is a new disposition.
  const key = `${state.handoffId ?? '-'}:${status}:${reason ?? ''}`;
  if (state.lastDisposition === key) return { disposition: 'already-applied', reason };
  const now = ctx.now();
  const ownerId = typeof profile.ownerId === 'string' ? profile.ownerId : null;
  const detail = { status, reason, score: state.score?.total ?? null, ownerId, stage: state.stage };

  if (plan.action === 'unknown') {
    ctx.metrics.dispositions.inc({ action: 'unknown' });
    ctx.logger.warn(
      { lead: leadKey(lead), status, reason },
      'disposition with an unknown reason code: nothing done',
    );
    await ctx.leads.put(lead, { ...state, lastDisposition: key });
    await ctx.handoffs.audit({
      type: 'disposition',
      handoffId: state.handoffId,
      lead: leadKey(lead),
      detail: { ...detail, action: 'unknown' },
      at: now,
    });
    return { disposition: 'unknown', reason };
  }

  const target = await salesRecord(ctx, lead);
  await connectorFor(ctx, target.crm).applyDisposition(target, plan.action);
  await ctx.leads.put(lead, { ...afterDisposition(state, plan, now), lastDisposition: key });
  ctx.metrics.dispositions.inc({ action: plan.action });
  await ctx.handoffs.audit({
    type: 'disposition',
    handoffId: state.handoffId,
    lead: leadKey(lead),
    detail: { ...detail, action: plan.action },
    at: now,
  });
  ctx.logger.info({ lead: leadKey(lead), status, reason, action: plan.action }, 'disposition applied');
  return { disposition: plan.action, reason };
}
