import { connectorFor, type JobContext } from '../src/queue/context.js';
import type { ScoreJob } from '../src/queue/catalog.js';
import { enqueueHandoffWriteback } from '../src/queue/queues.js';
import { UNGATED, type Slot } from '../src/queue/gate.js';
import { evaluateLead } from '../src/handoff/evaluate.js';
import { composeHandoffNote } from '../src/handoff/note.js';
import { composeRepAlert, composeRepTask } from '../src/handoff/task.js';
import { describeVerdict, type HandRaiseVerdict, type LeadWarning } from '../src/handoff/guardrails.js';
import {
  leadKey,
  type EngagementEvent,
  type Handoff,
  type LeadRef,
  type Profile,
  type Score,
  TOP_REASONS,
} from '../src/domain/index.js';
import { emailDomain } from '../src/routing/index.js';
import type { HandoffRecord } from '../src/store/handoffs.js';
import type { TimelineEntry } from '../src/store/timeline.js';
import { foldHistory } from '../src/scoring/index.js';
import { accountContext, assignOwner, slaDueAt } from './assign.js';
import { scheduleScoreFlush } from './writeback.js';
import { DAY_MS } from '../src/domain/time.js';

export interface ScoreResult {
  total: number;
  handoffId: string | null;
}

/**
 * Recomputes one lead's score from its timeline and profile, decides whether to hand it off, and
 * queues the writes. A handoff's writeback is enqueued before the lead's state is saved: if we die
 * in between, the retry decides the same handoff id again and the enqueue is a no-op. The profile
 * read of a lead never seen waits for the CRM with the job's computing place given up (`slot`).
 */
export async function processScore(
  ctx: JobContext,
  job: ScoreJob,
  slot: Slot = UNGATED,
): Promise<ScoreResult> {
  const { lead } = job;
  const now = ctx.now();
  const since = now - ctx.config.pipeline.timelineDays * DAY_MS;
  // One read of the lead's record (events, profile, state), which its put then writes over.
  const [first, allHistory] = await Promise.all([
    ctx.timeline.read(lead, since),
    ctx.timeline.history(lead, 0),
  ]);
  let read = first;
  if (!read.fetched) {
    // First time we see this lead: fill the fields no webhook told us about from the CRM, then
    // read it again (the put packs the CRM's values instead of keeping them as its tail).
    const fetched = await slot.idle(connectorFor(ctx, lead.crm).readProfile(lead));
    await ctx.timeline.mergeFetchedProfile(lead, fetched, now);
    read = await ctx.timeline.read(lead, since);
  }
  const { entries, profile, held } = read;
  const state = ctx.leads.stateOf(lead, held);
  const history = allHistory.filter((b) => b.hi >= since);

  const { events, score, guard, decision } = evaluateLead({
    lead,
    profile,
    entries,
    history,
    state,
    config: ctx.config,
    now,
  });
  // Known per company domain, for the account context of later handoffs of the company's leads.
  const domain = emailDomain(profile.email);
  if (domain) await ctx.accounts.remember(domain, lead, now);
  if (decision.heldHandRaise) await recordHeld(ctx, lead, decision.heldHandRaise, guard.verdict, score);

  const { handoff } = decision;
  if (handoff) {
    // A retry after a crash reuses the saved decision: routing again would spend another rep's turn.
    const saved = await ctx.handoffs.get(handoff.id);
    const record = saved ?? (await decideHandoff(ctx, handoff, profile, events, guard));
    if (!saved) await ctx.handoffs.save(record);
    await enqueueHandoffWriteback(ctx.queues, handoff.id);
    // Once per handoff, however often a retry passes here.
    if (await ctx.handoffs.markOnce(handoff.id, 'audited', String(now))) await recordDecision(ctx, record);
    await ctx.leads.put(lead, decision.state, held);
  } else {
    // Saved before it is marked pending: a flush reads the score from here, and one running
    // between the two would otherwise write the previous score and clear the mark.
    await ctx.leads.put(lead, decision.state, held);
    if (!sameScore(state.score, score)) {
      await scheduleScoreFlush(ctx, await ctx.pendingScores.add(lead, now));
    }
  }
  // Nothing past the timeline's window: no rewrite.
  if (read.older > 0 || history.length < allHistory.length) await ctx.timeline.trim(lead, since);
  await foldOverflow(ctx, lead, entries, now);
  return { total: score.total, handoffId: handoff?.id ?? null };
}

/**
 * Past the cap, the oldest events are folded into the lead's history (counts per rule and day),
 * after they were scored and looked at for hand-raises: the next recompute reads at most the cap.
 */
async function foldOverflow(ctx: JobContext, lead: LeadRef, entries: TimelineEntry[], now: number) {
  const excess = entries.length - ctx.config.retention.timelineEvents;
  if (excess <= 0) return;
  // Oldest first; an event from the future stays until it is past, when its factor is ≤ 1.
  const folded = entries.slice(0, excess).filter((entry) => entry.e.occurredAt <= now);
  const kept = new Set(entries.slice(excess).map((entry) => entry.e.id));
  // The same event id twice (a merge) counts once, as the engine counts it: an id kept on the timeline not at all.
  const counted = folded.filter((entry) => !kept.has(entry.e.id)).map((entry) => entry.e);
  await ctx.timeline.fold(lead, folded, foldHistory(counted, ctx.config.scoring));
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

/**
 * Owner, SLA due time, note and task of a new handoff, decided once. The task and the note lead with
 * the action and the lead's warnings; a hand-raise the guardrails made standard gets the threshold
 * SLA and their priority, and says why.
 */
async function decideHandoff(
  ctx: JobContext,
  handoff: Handoff,
  profile: Profile,
  events: EngagementEvent[],
  guard: { warnings: LeadWarning[]; verdict: HandRaiseVerdict },
): Promise<HandoffRecord> {
  // The account as it was before this lead: routing may make its rep the account owner.
  const [labels, account] = await Promise.all([
    fieldLabels(ctx, handoff.lead),
    accountContext(ctx, handoff.lead, profile),
  ]);
  const routing = await assignOwner(ctx, handoff.lead, profile, [], handoff.id);
  const dueAt = slaDueAt(ctx, handoff, routing.ownerId, handoff.decidedAt);
  const rep = ctx.config.routing.reps.find((r) => r.id === routing.ownerId);
  const owner = routing.ownerId ? { id: routing.ownerId, name: rep?.name } : undefined;
  const verdict = handoff.trigger === 'hand_raise' ? guard.verdict : undefined;
  const timelineUrl = ctx.config.handoffNote.timelineUrl?.replace(
    '{id}',
    encodeURIComponent(handoff.lead.id),
  );
  const brief = {
    handoff,
    profile,
    events,
    owner,
    slaDueAt: dueAt,
    timeZone: (rep?.workingHours ?? ctx.config.sla.workingHours).timeZone,
    action: ctx.config.sla.task.type,
    warnings: guard.warnings,
    verdict,
    labels,
    account,
  };
  const note = composeHandoffNote({ ...brief, sections: ctx.config.handoffNote.sections, timelineUrl });
  const task = composeRepTask({ ...brief, timelineUrl });
  const { subject, lines } = composeRepAlert(brief);
  return {
    handoff,
    note,
    routing,
    task: {
      ...task,
      dueAt,
      ownerId: routing.ownerId,
      priority:
        handoff.trigger !== 'hand_raise'
          ? ctx.config.sla.task.priority
          : handoff.urgency === 'standard'
            ? ctx.config.guardrails.handRaise.standardPriority
            : 'HIGH',
      type: ctx.config.sla.task.type,
    },
    alert: { subject, lines },
    ...(verdict && verdict.action !== 'urgent' ? { guardrail: verdict } : {}),
  };
}

/**
 * The CRM's labels for option values, read once per process by the connector. Without them the
 * note falls back to readable codes: a failed read must not hold up the handoff.
 */
async function fieldLabels(ctx: JobContext, lead: LeadRef) {
  try {
    return await connectorFor(ctx, lead.crm).fieldLabels();
  } catch (err) {
    ctx.logger.warn({ lead: leadKey(lead), err: (err as Error).message }, 'option labels not read');
    return {};
  }
}

/** A hand-raise the guardrails held back: no handoff for it, and the audit log says why. */
async function recordHeld(
  ctx: JobContext,
  lead: LeadRef,
  event: EngagementEvent,
  verdict: HandRaiseVerdict,
  score: Score,
): Promise<void> {
  const why = describeVerdict(verdict);
  await ctx.handoffs.audit({
    type: 'hand_raise_held',
    lead: leadKey(lead),
    detail: {
      eventId: event.id,
      event: event.type,
      action: verdict.action,
      reasons: verdict.reasons,
      why,
      score: score.total,
      fit: score.fit,
    },
    at: ctx.now(),
  });
  ctx.logger.info(
    { lead: leadKey(lead), eventId: event.id, reasons: verdict.reasons },
    'hand-raise held by guardrails',
  );
}

/**
 * The decision, its score breakdown (every rule's points, the top reasons) and routing reason with the reps passed
 * over (when any) into the audit log, metrics and logs.
 */
async function recordDecision(
  ctx: JobContext,
  { handoff, routing, guardrail }: HandoffRecord,
): Promise<void> {
  const lead = leadKey(handoff.lead);
  await ctx.handoffs.audit({
    type: 'handoff',
    handoffId: handoff.id,
    lead,
    detail: {
      stage: handoff.stage,
      trigger: handoff.trigger,
      score: handoff.score.total,
      // Every rule's points, the reasons of those the dashboard shows (the note and the CRM's score
      // reasons have all of them); no event ids: the events are the lead's timeline.
      breakdown: handoff.score.breakdown.map(({ ruleId, points, reason }, i) =>
        i < TOP_REASONS ? { ruleId, points, reason } : { ruleId, points },
      ),
      receivedAt: handoff.receivedAt,
      ownerId: routing?.ownerId ?? null,
      ruleId: routing?.ruleId ?? null,
      routing: routing?.reason,
      ...(routing?.skipped.length ? { skipped: routing.skipped } : {}),
      ...(guardrail ? { guardrail: { ...guardrail, why: describeVerdict(guardrail) } } : {}),
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
