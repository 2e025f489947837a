/*
 * The replay simulate did before it scored incrementally: every lead's whole history rescored from
 * scratch at every event. Slow (quadratic per lead) but plainly right, so the incremental replay is
 * checked against it.
 */
import type { Config } from '../../src/config/schema.js';
import { LeadState, SCORE_BANDS } from '../../src/domain/index.js';
import { decide } from '../../src/handoff/decide.js';
import { guardHandRaise } from '../../src/handoff/guardrails.js';
import { computeScore } from '../../src/scoring/index.js';
import { isoWeek, type LeadHistory, type SimulationReport } from '../../src/cli/simulate.js';

export function referenceSimulate(
  histories: LeadHistory[],
  config: Config,
  alternatives: number[],
): SimulationReport {
  const { thresholds } = config;
  const mqlThresholds = alternatives;
  const weeks = new Map<string, { mql: number; sql: number }>();
  const report: SimulationReport = {
    leads: histories.length,
    events: histories.reduce((n, h) => n + h.events.length, 0),
    thresholds,
    mql: 0,
    sql: 0,
    byTrigger: { threshold: 0, hand_raise: 0 },
    perWeek: [],
    whatIf: mqlThresholds.map((t) => ({ mqlThreshold: t, mql: 0 })),
    finalBands: SCORE_BANDS.map(([lo, hi]) => ({ band: `${lo}–${hi}`, leads: 0 })),
  };

  for (const history of histories) {
    const replay = replayLead(history, config, thresholds);
    if (replay.firstHandoff) {
      report.byTrigger[replay.firstHandoff.trigger]++;
      const week = isoWeek(replay.firstHandoff.at);
      const bucket = weeks.get(week) ?? { mql: 0, sql: 0 };
      if (replay.reachedMql) bucket.mql++;
      if (replay.reachedSql) bucket.sql++;
      weeks.set(week, bucket);
    }
    if (replay.reachedMql) report.mql++;
    if (replay.reachedSql) report.sql++;
    const band =
      report.finalBands[
        SCORE_BANDS.findIndex(([lo, hi]) => replay.finalScore >= lo && replay.finalScore <= hi)
      ];
    if (band) band.leads++;
    report.whatIf.forEach((row) => {
      if (
        replayLead(history, config, {
          mql: row.mqlThreshold,
          sql: Math.max(row.mqlThreshold, thresholds.sql),
        }).reachedMql
      )
        row.mql++;
    });
  }
  report.perWeek = [...weeks.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([week, c]) => ({ week, ...c }));
  return report;
}

function replayLead(history: LeadHistory, config: Config, thresholds: { mql: number; sql: number }) {
  const events = [...history.events].sort((a, b) => a.occurredAt - b.occurredAt || a.id.localeCompare(b.id));
  let state = LeadState.parse({});
  let firstHandoff: { at: number; trigger: 'threshold' | 'hand_raise' } | undefined;
  let finalScore = 0;
  for (let i = 0; i < events.length; i++) {
    const at = events[i]!.occurredAt;
    const seen = events.slice(0, i + 1);
    const score = computeScore(history.profile, seen, config.scoring, at);
    const decision = decide({
      lead: history.lead,
      state,
      score,
      thresholds,
      hysteresis: config.lifecycle.hysteresis,
      handRaiseTypes: config.handRaise,
      handRaiseAction: guardHandRaise(history.profile, score, config.guardrails).verdict.action,
      events: seen.map((e) => ({ e, r: e.occurredAt })),
      now: at,
    });
    if (decision.handoff && !firstHandoff) firstHandoff = { at, trigger: decision.handoff.trigger };
    state = decision.state;
    finalScore = score.total;
  }
  return {
    firstHandoff,
    reachedMql: state.stage !== 'lead',
    reachedSql: state.stage === 'sql',
    finalScore,
  };
}
