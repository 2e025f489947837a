import { LeadRef, leadKey, type Score } from '../domain/index.js';
import type { Config } from '../config/schema.js';
import { computeScore } from '../scoring/index.js';
import type { TimelineEntry } from '../store/timeline.js';
import type { HistoryBucket, LeadState, Profile } from '../domain/index.js';
import { table } from './format.js';

const DAY_MS = 86_400_000;

/** `hubspot.contact.123`, `hubspot:contact:123` or a bare HubSpot contact id. */
export function parseLeadArg(arg: string): LeadRef {
  const parts = arg.split(/[.:/]/);
  if (parts.length === 1) return LeadRef.parse({ crm: 'hubspot', objectType: 'contact', id: arg });
  const [crm, objectType, ...id] = parts;
  return LeadRef.parse({ crm, objectType, id: id.join('.') });
}

export interface Explanation {
  lead: string;
  stage: LeadState['stage'];
  stored: Score | undefined;
  /** The score as of now: decay may have moved it since it was stored. */
  current: Score;
  events: number;
  profile: Profile;
}

/** Pure: recomputes the lead's score now and pairs it with what was stored. */
export function explain(
  lead: LeadRef,
  state: LeadState,
  profile: Profile,
  entries: TimelineEntry[],
  config: Config,
  now: number,
  history: readonly HistoryBucket[] = [],
): Explanation {
  const since = now - config.pipeline.timelineDays * DAY_MS;
  const events = entries.filter((e) => e.e.occurredAt >= since).map((e) => e.e);
  const folded = history.filter((b) => b.hi >= since);
  return {
    lead: leadKey(lead),
    stage: state.stage,
    stored: state.score,
    current: computeScore(profile, events, config.scoring, now, folded),
    events: events.length,
    profile,
  };
}

export function formatExplanation(x: Explanation, thresholds: Config['thresholds']): string {
  const s = x.current;
  const head = [
    `Lead ${x.lead}: score ${s.total}/100 (fit ${s.fit}, engagement ${s.engagement}), stage ${x.stage.toUpperCase()}`,
    `MQL at ${thresholds.mql}, SQL at ${thresholds.sql}; ${x.events} events on the timeline.`,
  ];
  if (x.stored && x.stored.total !== s.total)
    head.push(
      `Stored score ${x.stored.total} was computed ${new Date(x.stored.computedAt).toISOString()}; decay has moved it since.`,
    );
  const lines = s.breakdown.map((l) => [
    l.kind,
    l.ruleId,
    (l.points > 0 ? '+' : '') + String(l.points),
    l.reason,
  ]);
  const body = lines.length
    ? table(['kind', 'rule', 'points', 'why'], lines)
    : 'No rule matches this lead.\n';
  return `${head.join('\n')}\n\n${body}`;
}
