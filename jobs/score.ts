import type { JobContext } from '../src/queue/context.js';
import type { ScoreJob } from '../src/queue/catalog.js';
import { enqueueHandoffWriteback, enqueueScoreFlush } from '../src/queue/queues.js';
import { computeScore } from '../src/scoring/index.js';
import { decide } from '../src/handoff/decide.js';
import { composeHandoffNote } from '../src/handoff/note.js';
import { leadKey } from '../src/domain/index.js';

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
    await ctx.timeline.mergeFetchedProfile(lead, await ctx.connector.readProfile(lead), now);
    profile = (await ctx.timeline.profile(lead)).profile;
  }

  const events = entries.map((entry) => entry.e);
  const score = computeScore(profile, events, ctx.config.scoring, now);
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
    const note = composeHandoffNote({ handoff, profile, events });
    await ctx.handoffs.save({ handoff, note });
    await enqueueHandoffWriteback(ctx.queues, handoff.id);
    await ctx.handoffs.audit({
      type: 'handoff',
      handoffId: handoff.id,
      lead: leadKey(lead),
      detail: {
        stage: handoff.stage,
        trigger: handoff.trigger,
        score: score.total,
        breakdown: score.breakdown,
      },
      at: now,
    });
    const owner = typeof profile.ownerId === 'string' && profile.ownerId ? profile.ownerId : 'unassigned';
    ctx.metrics.handoffs.inc({ stage: handoff.stage, trigger: handoff.trigger, owner });
    ctx.logger.info(
      {
        lead: leadKey(lead),
        handoffId: handoff.id,
        stage: handoff.stage,
        trigger: handoff.trigger,
        score: score.total,
      },
      'handoff decided',
    );
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
