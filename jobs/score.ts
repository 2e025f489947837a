import { connectorFor, type JobContext } from '../src/queue/context.js';
import type { ScoreJob } from '../src/queue/catalog.js';
import { enqueueHandoffWriteback, enqueueScoreFlush } from '../src/queue/queues.js';
import { scoreLead } from '../src/handoff/lifecycle.js';
import { decide } from '../src/handoff/decide.js';
import { composeHandoffNote } from '../src/handoff/note.js';
import { leadKey, type EngagementEvent, type Handoff, type Profile } from '../src/domain/index.js';
import type { HandoffRecord } from '../src/store/handoffs.js';
import { assignOwner, slaDueAt } from './assign.js';

const DAY_MS = 86_400_000;

export interface ScoreResult {
  total: number;
  handoffId: string | null;
}

/**
 * Recomputes one lead's score from its timeline and profile, decides whether to hand it off, and
 * queues the writes. A handoff's writeback is enqueued before the lead's state is saved: if we die
 * in between, the retry decides the same handoff id again and the enqueue is a no-op.
 */
export async function processScore(ctx: JobContext, job: ScoreJob): Promise<ScoreResult> {
  const { lead } = job;
  const now = ctx.now();
  const since = now - ctx.config.pipeline.timelineDays * DAY_MS;
  const [entries, held, state] = await Promise.all([
    ctx.timeline.events(lead, since),
    ctx.timeline.profile(lead),
    ctx.leads.get(lead),
  ]);

  let profile = held.profile;
  if (!held.fetched) {
    // First time we see this lead: fill the fields no webhook told us about from the CRM.
    await ctx.timeline.mergeFetchedProfile(lead, await connectorFor(ctx, lead.crm).readProfile(lead), now);
    profile = (await ctx.timeline.profile(lead)).profile;
  }

  const events = entries.map((entry) => entry.e);
  const score = scoreLead(profile, events, ctx.config.scoring, now, state.recycle);
  const decision = decide({
    lead,
    state,
    score,
    thresholds: ctx.config.thresholds,
    hysteresis: ctx.config.lifecycle.hysteresis,
    handRaiseTypes: ctx.config.handRaise,
    events: entries,
    now,
  });

  const { handoff } = decision;
  if (handoff) {
    // A retry after a crash reuses the saved decision: routing again would spend another rep's turn.
    const saved = await ctx.handoffs.get(handoff.id);
    const record = saved ?? (await decideHandoff(ctx, handoff, profile, events));
    if (!saved) await ctx.handoffs.save(record);
    await enqueueHandoffWriteback(ctx.queues, handoff.id);
    // Once per handoff, however often a retry passes here.
    if (await ctx.handoffs.markOnce(handoff.id, 'audited', String(now))) await recordDecision(ctx, record);
    await ctx.leads.put(lead, decision.state);
  } else {
    // Saved before it is marked pending: a flush reads the score from here, and one running
    // between the two would otherwise write the previous score and clear the mark.
    await ctx.leads.put(lead, decision.state);
    if (!sameScore(state.score, score)) {
      await ctx.pendingScores.add(lead, now);
      await enqueueScoreFlush(ctx.queues, ctx.config.pipeline.scoreWriteDelayMs);
    }
  }
  await ctx.timeline.trim(lead, since);
  return { total: score.total, handoffId: handoff?.id ?? null };
}

function sameScore(a: { total: number; fit: number; engagement: number } | undefined, b: typeof a): boolean {
  return (
    a !== undefined &&
    b !== undefined &&
    a.total === b.total &&
    a.fit === b.fit &&
    a.engagement === b.engagement
  );
}

/** Owner, SLA due time, note and task of a new handoff, decided once. */
async function decideHandoff(
  ctx: JobContext,
  handoff: Handoff,
  profile: Profile,
  events: EngagementEvent[],
): Promise<HandoffRecord> {
  const routing = await assignOwner(ctx, handoff.lead, profile, [], handoff.id);
  const dueAt = slaDueAt(ctx, handoff.trigger, routing.ownerId, handoff.decidedAt);
  const rep = ctx.config.routing.reps.find((r) => r.id === routing.ownerId);
  const owner = routing.ownerId ? { id: routing.ownerId, name: rep?.name } : undefined;
  const note = composeHandoffNote({
    handoff,
    profile,
    events,
    owner,
    slaDueAt: dueAt,
    timeZone: (rep?.workingHours ?? ctx.config.sla.workingHours).timeZone,
    sections: ctx.config.handoffNote.sections,
    timelineUrl: ctx.config.handoffNote.timelineUrl?.replace('{id}', encodeURIComponent(handoff.lead.id)),
  });
  return {
    handoff,
    note,
    routing,
    task: {
      subject: note.subject,
      body: note.text,
      dueAt,
      ownerId: routing.ownerId,
      priority: handoff.trigger === 'hand_raise' ? 'HIGH' : ctx.config.sla.task.priority,
      type: ctx.config.sla.task.type,
    },
  };
}

/** The decision, its score breakdown and routing reason into the audit log, metrics and logs. */
async function recordDecision(ctx: JobContext, { handoff, routing }: HandoffRecord): Promise<void> {
  const lead = leadKey(handoff.lead);
  await ctx.handoffs.audit({
    type: 'handoff',
    handoffId: handoff.id,
    lead,
    detail: {
      stage: handoff.stage,
      trigger: handoff.trigger,
      score: handoff.score.total,
      breakdown: handoff.score.breakdown,
      receivedAt: handoff.receivedAt,
      ownerId: routing?.ownerId ?? null,
      ruleId: routing?.ruleId ?? null,
      routing: routing?.reason,
      skipped: routing?.skipped,
    },
    at: handoff.decidedAt,
  });
  ctx.metrics.handoffs.inc({
    stage: handoff.stage,
    trigger: handoff.trigger,
    owner: routing?.ownerId ?? 'unassigned',
  });
  ctx.logger.info(
    {
      lead,
      handoffId: handoff.id,
      stage: handoff.stage,
      trigger: handoff.trigger,
      score: handoff.score.total,
      ownerId: routing?.ownerId,
    },
    'handoff decided',
  );
}
