import type { EngagementEvent, Handoff, LeadRef, LeadState, Score, Stage } from '../domain/index.js';
import { leadKey } from '../domain/index.js';

const RANK: Record<Stage, number> = { lead: 0, mql: 1, sql: 2 };
/** Enough to recognise replays of recent hand-raises without growing forever. */
const HANDLED_HAND_RAISES_KEPT = 50;

export interface DecisionInput {
  lead: LeadRef;
  state: LeadState;
  score: Score;
  thresholds: { mql: number; sql: number };
  /** Points under the MQL threshold a recycled lead must fall to before it can be handed off again (default 0). */
  hysteresis?: number;
  handRaiseTypes: readonly string[];
  /**
   * What the guardrails make of a hand-raise from this lead (default `urgent`): `standard` hands it
   * off at standard urgency, `hold` does not hand it off (the score alone decides).
   */
  handRaiseAction?: 'urgent' | 'standard' | 'hold';
  /** The lead's timeline: events with the time each reached us. */
  events: readonly { e: EngagementEvent; r: number }[];
  now: number;
}

export interface Decision {
  state: LeadState;
  handoff: Handoff | null;
  /** The hand-raise the guardrails held back (`hold`): handled, and handed off for nothing. */
  heldHandRaise: EngagementEvent | null;
}

/** Deterministic, so a replayed decision yields the same handoff id and therefore the same writes. */
export function handoffId(lead: LeadRef, cycle: number, stage: Stage): string {
  return `hf.${leadKey(lead)}.${cycle}.${stage}`;
}

/**
 * Pure. Stages only move up here (a score dipping under the threshold does not undo a handoff:
 * that is the hysteresis); moving down is a sales disposition's job. A recycled lead is handed off
 * again once it is re-armed (its score fell under MQL − hysteresis) and past its re-eligibility
 * date, or at once on a hand-raise: someone asking for sales gets sales, unless the guardrails
 * hold it back. A disqualified lead is never handed off again by us.
 */
export function decide(input: DecisionInput): Decision {
  const { state, score, thresholds } = input;
  const handled = new Set(state.handledHandRaises);
  const raised = [...input.events]
    .reverse()
    .find(({ e }) => input.handRaiseTypes.includes(e.type) && !handled.has(e.id));
  const handledHandRaises = raised
    ? [...state.handledHandRaises, raised.e.id].slice(-HANDLED_HAND_RAISES_KEPT)
    : state.handledHandRaises;
  // A held hand-raise is handled all the same: a later recompute must not hand it off after all.
  const held = raised && input.handRaiseAction === 'hold' ? raised : undefined;
  const handRaise = held ? undefined : raised;
  const heldHandRaise = held?.e ?? null;

  if (state.status === 'disqualified')
    return { state: { ...state, score, handledHandRaises }, handoff: null, heldHandRaise: null };
  const armed = state.armed || score.total < thresholds.mql - (input.hysteresis ?? 0);
  const eligible =
    !handRaise && state.status === 'recycled' ? armed && input.now >= (state.recycle?.eligibleAt ?? 0) : true;

  let target: Stage = state.stage;
  if (eligible) {
    if (score.total >= thresholds.sql) target = higher(target, 'sql');
    else if (score.total >= thresholds.mql) target = higher(target, 'mql');
    if (handRaise) target = higher(target, 'mql');
  }

  const next: LeadState = { ...state, stage: target, score, armed, handledHandRaises };
  if (RANK[target] <= RANK[state.stage]) return { state: next, handoff: null, heldHandRaise };

  const trigger = handRaise ?? latestArrival(input.events);
  const id = handoffId(input.lead, state.cycle, target);
  return {
    state: { ...next, status: 'open', handoffId: id },
    handoff: {
      id,
      lead: input.lead,
      stage: target as Exclude<Stage, 'lead'>,
      trigger: handRaise ? 'hand_raise' : 'threshold',
      triggerEventId: trigger?.e.id ?? null,
      receivedAt: trigger?.r ?? input.now,
      decidedAt: input.now,
      score,
      ...(handRaise && input.handRaiseAction === 'standard' ? { urgency: 'standard' as const } : {}),
    },
    heldHandRaise,
  };
}

function higher(a: Stage, b: Stage): Stage {
  return RANK[a] >= RANK[b] ? a : b;
}

function latestArrival<T extends { r: number }>(events: readonly T[]): T | undefined {
  let latest: T | undefined;
  for (const entry of events) if (!latest || entry.r > latest.r) latest = entry;
  return latest;
}
