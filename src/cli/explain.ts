import { LeadRef, leadKey, type Handoff, type RoutingDecision, type Score } from '../domain/index.js';
import type { Config } from '../config/schema.js';
import { computeScore } from '../scoring/index.js';
import type { HandoffRecord, ProgressField } from '../store/handoffs.js';
import type { TimelineEntry } from '../store/timeline.js';
import type { HistoryBucket, LeadState, Profile } from '../domain/index.js';
import { table } from './format.js';
import { DAY_MS } from '../domain/time.js';

/** `hubspot.contact.123`, `hubspot:contact:123` or a bare HubSpot contact id. */
export function parseLeadArg(arg: string): LeadRef {
  const parts = arg.split(/[.:/]/);
  const [crm, objectType, ...id] = parts;
  const parsed = LeadRef.safeParse(
    parts.length === 1
      ? { crm: 'hubspot', objectType: 'contact', id: arg }
      : { crm, objectType, id: id.join('.') },
  );
  if (!parsed.success)
    throw new Error(
      `"${arg}" names no lead: use hubspot.contact.<id>, salesforce.lead.<id>, salesforce.contact.<id> or a HubSpot contact id`,
    );
  return parsed.data;
}

/** The latest handoff of a lead as the worker recorded it: whom routing chose and why, and its SLA clock. */
export interface HandoffView {
  id: string;
  stage: Handoff['stage'];
  trigger: Handoff['trigger'];
  decidedAt: number;
  /** The owner now: a reassignment after an SLA breach replaces the one routing chose. */
  ownerId: string | null;
  routing?: RoutingDecision;
  sla?: {
    /** Due time of the current round (each breach that reassigns starts a new one). */
    dueAt: number;
    breaches: number;
    actedAt?: number;
    actedWhat?: string;
  };
}

/** Pure: the stored handoff record and its progress hash, as the explanation shows them. */
export function handoffView(
  record: HandoffRecord,
  progress: Partial<Record<ProgressField, string>>,
): HandoffView {
  const fields = Object.keys(progress);
  const rounds = fields.flatMap((f) => (/^due\.\d+$/.test(f) ? [Number(f.slice(4))] : []));
  const round = Math.max(0, ...rounds);
  const { task } = record;
  return {
    id: record.handoff.id,
    stage: record.handoff.stage,
    trigger: record.handoff.trigger,
    decidedAt: record.handoff.decidedAt,
    ownerId: progress.ownerId ?? record.routing?.ownerId ?? task?.ownerId ?? null,
    routing: record.routing,
    sla: task && {
      dueAt: Number(progress[`due.${round}`] ?? task.dueAt),
      breaches: fields.filter((f) => f.startsWith('breach.')).length,
      actedAt: progress.actedAt === undefined ? undefined : Number(progress.actedAt),
      actedWhat: progress.actedWhat,
    },
  };
}

export interface Explanation {
  lead: string;
  stage: LeadState['stage'];
  stored: Score | undefined;
  /** The score as of now: decay may have moved it since it was stored. */
  current: Score;
  events: number;
  profile: Profile;
  handoff?: HandoffView;
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
  handoff?: HandoffView,
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
    ...(handoff && { handoff }),
  };
}

const utc = (ms: number) => `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`;

function minutes(ms: number): string {
  const m = Math.round(Math.abs(ms) / 60_000);
  return m < 120 ? `${m} min` : `${Math.round(m / 60)} h`;
}

/** Routing and SLA lines of a handoff; rep names from `routing.reps`. */
function formatHandoff(h: HandoffView, reps: Config['routing']['reps'], now: number): string[] {
  const rep = (id: string | null) => {
    if (id === null) return 'nobody';
    const name = reps.find((r) => r.id === id)?.name;
    return name ? `${name} (${id})` : id;
  };
  const lines = [
    `Handed off as ${h.stage.toUpperCase()} (${h.trigger === 'hand_raise' ? 'hand-raise' : 'threshold'}) ${utc(h.decidedAt)}, handoff ${h.id}.`,
  ];
  const r = h.routing;
  if (r) {
    lines.push(
      `Routing: ${rep(r.ownerId)} by ${r.ruleId ? `rule ${r.ruleId}` : 'no rule'} (${r.strategy}): ${r.reason}`,
    );
    for (const s of r.skipped)
      lines.push(`  passed over ${rep(s.repId)} in rule ${s.ruleId}: ${s.why.replace(/_/g, ' ')}`);
  }
  if (h.ownerId !== (r?.ownerId ?? null))
    lines.push(`Owner now: ${rep(h.ownerId)} (reassigned after an SLA breach).`);
  const sla = h.sla;
  if (!sla) lines.push('SLA: no rep task, so no SLA clock.');
  else {
    const breaches = sla.breaches ? `, ${sla.breaches} breach${sla.breaches > 1 ? 'es' : ''}` : '';
    if (sla.actedAt !== undefined)
      lines.push(
        `SLA: first rep action ${utc(sla.actedAt)}${sla.actedWhat ? ` (${sla.actedWhat})` : ''}, ` +
          `${minutes(sla.actedAt - h.decidedAt)} after the handoff${
            sla.breaches ? breaches : sla.actedAt <= sla.dueAt ? ', within the SLA' : ', after the due time'
          }.`,
      );
    else if (now <= sla.dueAt)
      lines.push(`SLA: open, due ${utc(sla.dueAt)} (in ${minutes(sla.dueAt - now)})${breaches}.`);
    else lines.push(`SLA: overdue by ${minutes(now - sla.dueAt)} (was due ${utc(sla.dueAt)})${breaches}.`);
  }
  return lines;
}

export function formatExplanation(
  x: Explanation,
  config: Pick<Config, 'thresholds' | 'routing'>,
  now: number,
): string {
  const { thresholds } = config;
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
  const handoff = x.handoff ? `\n${formatHandoff(x.handoff, config.routing.reps, now).join('\n')}\n` : '';
  return `${head.join('\n')}\n\n${body}${handoff}`;
}
