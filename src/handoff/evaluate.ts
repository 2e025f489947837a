import type { Config } from '../config/schema.js';
import type { HistoryBucket, LeadRef, LeadState, Profile } from '../domain/index.js';
import { decide, type DecisionInput } from './decide.js';
import { guardHandRaise } from './guardrails.js';
import { scoreLead } from './lifecycle.js';

/**
 * Pure: what the score job decides for a lead now (its score, the hand-raise guardrails' verdict,
 * the handoff decision); the job and a backfill's dry run share it so they cannot disagree.
 */
export function evaluateLead(input: {
  lead: LeadRef;
  profile: Profile;
  entries: DecisionInput['events'];
  /** Older events folded into counts (the timeline cap). */
  history: readonly HistoryBucket[];
  state: LeadState;
  config: Config;
  now: number;
}) {
  const { lead, profile, entries, history, state, config, now } = input;
  const events = entries.map((entry) => entry.e);
  const score = scoreLead(profile, events, config.scoring, now, state.recycle, history);
  const guard = guardHandRaise(profile, score, config.guardrails);
  const decision = decide({
    lead,
    state,
    score,
    thresholds: config.thresholds,
    hysteresis: config.lifecycle.hysteresis,
    handRaiseTypes: config.handRaise,
    handRaiseAction: guard.verdict.action,
    events: entries,
    now,
  });
  return { events, score, guard, decision };
}
