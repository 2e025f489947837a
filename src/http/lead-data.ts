import { retentionTtls } from '../config/retention.js';
import { parseLeadKey, leadKey, type LeadRef, type Profile, type ScoreLine } from '../domain/index.js';
import { repName } from '../reports/index.js';
import { HandoffStore, type AuditEntry, type ProgressField } from '../store/handoffs.js';
import { keys } from '../store/keys.js';
import { LeadStore } from '../store/leads.js';
import { servers } from '../store/redis.js';
import { TimelineStore } from '../store/timeline.js';
import { displayName, recordUrlOf, type OverviewDeps } from './admin-data.js';

/** Where a handoff's SLA stands: its clock runs to `dueAt` (the latest round's). */
export interface SlaClock {
  state: 'acted' | 'breached' | 'running' | 'overdue';
  dueAt: number | null;
  /** Until the due time while running; negative once overdue. */
  remainingMs: number | null;
  actedAt: number | null;
  actedWhat: string | null;
  /** SLA rounds that lapsed (each one notified, escalated or reassigned). */
  breaches: number;
}

/**
 * Pure. The SLA clock from the handoff's progress hash: round 0 is due at the task's time, each
 * reassignment starts round N with its `due.N`; the first rep action stops it.
 */
export function slaClock(
  progress: Partial<Record<ProgressField, string>>,
  taskDueAt: number | null,
  now: number,
): SlaClock {
  const fields = Object.keys(progress);
  const rounds = fields.flatMap((f) => (/^due\.\d+$/.test(f) ? [Number(f.slice(4))] : []));
  const round = Math.max(0, ...rounds);
  const dueAt = round > 0 ? Number(progress[`due.${round}`]) : taskDueAt;
  const breaches = fields.filter((f) => /^breach\.\d+$/.test(f)).length;
  const actedAt = progress.actedAt ? Number(progress.actedAt) : null;
  const state =
    actedAt !== null
      ? 'acted'
      : progress[`breach.${round}`]
        ? 'breached'
        : dueAt !== null && now > dueAt
          ? 'overdue'
          : 'running';
  return {
    state,
    dueAt,
    remainingMs: state === 'running' || state === 'overdue' ? (dueAt === null ? null : dueAt - now) : null,
    actedAt,
    actedWhat: progress.actedWhat ?? null,
    breaches,
  };
}

export interface LeadSummary {
  lead: string;
  name: string | null;
  company: string | null;
  email: string | null;
  score: number | null;
}

export interface LeadStory extends LeadSummary {
  title: string | null;
  recordUrl: string | null;
  stage: string;
  status: string;
  fit: number | null;
  engagement: number | null;
  breakdown: Pick<ScoreLine, 'kind' | 'ruleId' | 'points' | 'reason'>[];
  /** The latest events, newest first. */
  events: { type: string; occurredAt: number; source: string }[];
  handoff: {
    id: string;
    stage: string;
    trigger: string;
    decidedAt: number;
    ownerName: string | null;
    /** The rule that chose, how, and the sentence the audit log keeps. */
    rule: string | null;
    strategy: string | null;
    reason: string | null;
    passedOver: { rep: string; rule: string; why: string }[];
    guardrail: string | null;
    sla: SlaClock | null;
  } | null;
  disposition: { status: string | null; reason: string | null; action: string } | null;
  /** This lead's audit entries among the latest AUDIT_SCAN, newest first. */
  audit: { type: string; at: number; detail: Record<string, unknown> }[];
}

const AUDIT_SCAN = 5_000;
const EVENTS_SHOWN = 50;
const SEARCH_SCAN = 20_000;
const SEARCH_RESULTS = 20;
const SUMMARY_FIELDS = ['firstName', 'lastName', 'email', 'company'] as const;

const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);

function summary(lead: string, profile: Profile, score: number | null): LeadSummary {
  return {
    lead,
    name: displayName(profile),
    company: str(profile.company),
    email: str(profile.email),
    score,
  };
}

function stores(deps: Pick<OverviewDeps, 'redis' | 'config'>) {
  const k = keys(deps.config.redis.prefix);
  return {
    k,
    leads: new LeadStore(deps.redis, k),
    timeline: new TimelineStore(deps.redis, k, retentionTtls(deps.config)),
    handoffs: new HandoffStore(deps.redis, k),
  };
}

/**
 * Leads whose key, name, email or company contains `query` (case-insensitive), best score first.
 * Walks the lead state keys, one per lead we track, and gives up after SEARCH_SCAN of them.
 */
export async function searchLeads(
  deps: Pick<OverviewDeps, 'redis' | 'config'>,
  query: string,
): Promise<LeadSummary[]> {
  const { k, leads, timeline } = stores(deps);
  const needle = query.trim().toLowerCase();
  if (!needle) return [];
  const matches: { key: string; ref: LeadRef; profile: Profile }[] = [];
  let scanned = 0;
  for (const server of await servers(deps.redis)) {
    if (scanned >= SEARCH_SCAN || matches.length >= SEARCH_RESULTS) break;
    let cursor = '0';
    do {
      const [next, found] = await server.scan(cursor, 'MATCH', `${k.leadStates}*`, 'COUNT', 500);
      cursor = next;
      const batch = found.flatMap((name) => {
        const key = name.slice(k.leadStates.length);
        const ref = parseLeadKey(key);
        return ref ? [{ key, ref }] : [];
      });
      scanned += batch.length;
      const profiles = await timeline.profileFields(
        batch.map((b) => b.ref),
        SUMMARY_FIELDS,
      );
      batch.forEach((b, i) => {
        const s = summary(b.key, profiles[i]!, null);
        const text = [s.lead, s.name, s.email, s.company].join(' ').toLowerCase();
        if (text.includes(needle)) matches.push({ ...b, profile: profiles[i]! });
      });
    } while (cursor !== '0' && scanned < SEARCH_SCAN && matches.length < SEARCH_RESULTS);
  }
  const found = await Promise.all(
    matches.map(async (m) => summary(m.key, m.profile, (await leads.get(m.ref)).score?.total ?? null)),
  );
  return found.sort((a, b) => (b.score ?? 0) - (a.score ?? 0)).slice(0, SEARCH_RESULTS);
}

/** One lead's whole story, or null when we hold nothing about it. */
export async function readLead(
  deps: Pick<OverviewDeps, 'redis' | 'config' | 'recordUrl' | 'now'>,
  lead: LeadRef,
): Promise<LeadStory | null> {
  const { leads, timeline, handoffs } = stores(deps);
  const key = leadKey(lead);
  const [state, { profile }, events, recent] = await Promise.all([
    leads.get(lead),
    timeline.profile(lead),
    timeline.events(lead, 0),
    handoffs.recentAudit(AUDIT_SCAN),
  ]);
  const audit = recent.filter((e) => e.lead === key);
  if (!state.score && !Object.keys(profile).length && !events.length && !audit.length) return null;
  const record = state.handoffId ? await handoffs.get(state.handoffId) : null;
  const progress = record ? await handoffs.progress(record.handoff.id) : {};
  const reps = deps.config.routing.reps;
  const ownerId = progress.ownerId ?? record?.routing?.ownerId ?? null;
  const disposition = audit.find((e) => e.type === 'disposition');
  return {
    ...summary(key, profile, state.score?.total ?? null),
    title: str(profile.jobTitle),
    recordUrl: await recordUrlOf(deps, lead),
    stage: state.stage,
    status: state.status,
    fit: state.score?.fit ?? null,
    engagement: state.score?.engagement ?? null,
    breakdown: (state.score?.breakdown ?? []).map(({ kind, ruleId, points, reason }) => ({
      kind,
      ruleId,
      points,
      reason,
    })),
    events: events
      .slice(-EVENTS_SHOWN)
      .reverse()
      .map(({ e }) => ({ type: e.type, occurredAt: e.occurredAt, source: e.source })),
    handoff: record && {
      id: record.handoff.id,
      stage: record.handoff.stage,
      trigger: record.handoff.trigger,
      decidedAt: record.handoff.decidedAt,
      ownerName: ownerId === null ? null : repName(reps, ownerId),
      rule: record.routing?.ruleId ?? null,
      strategy: record.routing?.strategy ?? null,
      reason: record.routing?.reason ?? null,
      passedOver: (record.routing?.skipped ?? []).map((s) => ({
        rep: repName(reps, s.repId),
        rule: s.ruleId,
        why: s.why.replaceAll('_', ' '),
      })),
      guardrail: record.guardrail ? record.guardrail.reasons.join('; ') : null,
      sla: record.task ? slaClock(progress, record.task.dueAt, deps.now) : null,
    },
    disposition: disposition ? dispositionOf(disposition) : null,
    audit: audit.map((e) => ({ type: e.type, at: e.at, detail: e.detail })),
  };
}

function dispositionOf(e: AuditEntry): LeadStory['disposition'] {
  return {
    status: str(e.detail.status),
    reason: str(e.detail.reason),
    action: str(e.detail.action) ?? 'unknown',
  };
}
