import type { DispositionAction, Dispositions, Scoring } from '../config/schema.js';
import type { EngagementEvent, HistoryBucket, LeadState, Profile, Score } from '../domain/index.js';
import { computeScore } from '../scoring/index.js';
import { DAY_MS } from '../domain/time.js';

/**
 * Pure. The score of a lead that may have been recycled: engagement from before the recycle counts
 * × its factor (0 = a fresh start), shown as one explained line so the breakdown still adds up. Of
 * the folded history, a day's bucket is after the recycle when its oldest event is.
 */
export function scoreLead(
  profile: Profile,
  events: readonly EngagementEvent[],
  rules: Scoring,
  now: number,
  recycle: LeadState['recycle'],
  history: readonly HistoryBucket[] = [],
): Score {
  const all = computeScore(profile, events, rules, now, history);
  if (!recycle || recycle.factor >= 1) return all;
  const fresh = computeScore(
    profile,
    events.filter((e) => e.occurredAt >= recycle.at),
    rules,
    now,
    history.filter((b) => b.lo >= recycle.at),
  );
  const earlier = all.engagement - fresh.engagement;
  if (earlier === 0) return fresh;
  const engagement = Math.min(rules.caps.engagement, fresh.engagement + earlier * recycle.factor);
  const adjustment = Math.round((engagement - all.engagement) * 100) / 100;
  const date = new Date(recycle.at).toISOString().slice(0, 10);
  return {
    ...all,
    engagement,
    total: Math.max(0, Math.min(100, Math.round(all.fit + engagement))),
    breakdown: [
      ...all.breakdown,
      {
        ruleId: 'recycled',
        kind: 'engagement',
        points: adjustment,
        reason: `Recycled on ${date}: earlier engagement × ${recycle.factor} (${adjustment})`,
        eventIds: [],
        capped: false,
      },
    ],
  };
}

/** What to do about a disposition: the configured action, or `unknown` (reported, nothing done). */
export type DispositionPlan =
  | { action: 'none'; why: string }
  | { action: 'unknown'; reason: string | null }
  | ({ reason: string } & DispositionAction);

/** Pure. Maps a status and reason code to the configured action. */
export function planDisposition(
  config: Dispositions,
  status: string,
  reason: string | null,
): DispositionPlan {
  if (!config.statuses.includes(status))
    return { action: 'none', why: `status ${status} is not a disposition` };
  const action = reason !== null ? config.reasons[reason] : undefined;
  return action && reason !== null ? { ...action, reason } : { action: 'unknown', reason };
}

/** Pure. The lead's state after a disposition action. */
export function afterDisposition(state: LeadState, action: DispositionAction, now: number): LeadState {
  switch (action.action) {
    case 'recycle':
      return {
        ...state,
        stage: 'lead',
        status: 'recycled',
        cycle: state.cycle + 1,
        armed: false,
        recycle: {
          at: now,
          factor: action.scoreFactor,
          eligibleAt: now + action.reEligibleAfterDays * DAY_MS,
        },
      };
    case 'disqualify':
    case 'bad_data':
      return { ...state, status: 'disqualified' };
    case 'unmarket':
      return state;
  }
}
