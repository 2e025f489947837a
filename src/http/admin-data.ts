import type { RedisClient } from '../store/redis.js';
import { retentionTtls } from '../config/retention.js';
import type { Config } from '../config/schema.js';
import { SCORE_BANDS, TOP_REASONS, parseLeadKey, type LeadRef, type Profile } from '../domain/index.js';
import { DAY_MS, startOfDay } from '../domain/time.js';
import { personName } from '../handoff/brief.js';
import { buildReport, repName, summarizeSpeed, type SpeedSummary } from '../reports/index.js';
import { QueueName } from '../queue/catalog.js';
import { countJobs } from '../queue/depth.js';
import type { Queues } from '../queue/queues.js';
import { HandoffStore, type AuditEntry } from '../store/handoffs.js';
import { keys } from '../store/keys.js';
import { LeadStore } from '../store/leads.js';
import { TimelineStore } from '../store/timeline.js';

/** What the overview reads besides Redis: the CRM record's page, when a connector can say. */
export interface OverviewDeps {
  redis: RedisClient;
  queues: Queues;
  config: Config;
  recordUrl?: ((lead: LeadRef) => Promise<string>) | undefined;
  now: number;
}

export interface QueueCounts {
  waiting: number;
  active: number;
  delayed: number;
  failed: number;
  completed: number;
}

export interface RecentHandoff {
  handoffId: string;
  lead: string;
  stage: string;
  trigger: string;
  score: number | null;
  /** Owner id the lead was routed to, or null when unassigned. */
  owner: string | null;
  /** The rep's name from routing.reps (the id for other owners), null when unassigned. */
  ownerName: string | null;
  /** Who the lead is, from the profile we hold: name (else email) and company. */
  name: string | null;
  company: string | null;
  /** The lead's page in its CRM. */
  recordUrl: string | null;
  topReasons: string[];
  at: number;
  speedToLeadMs: number | null;
}

/** The numbers at the top: today is the team's day (sla.workingHours' time zone). */
export interface Headline {
  handoffsToday: number;
  medianSpeedToLeadMs: number | null;
  /** Of today's handoffs' first actions and breaches, the share acted on in time. */
  slaMetPct: number | null;
  /** Handoffs of the last OPEN_BREACH_DAYS whose SLA lapsed with nobody acting since. */
  openBreaches: number;
}

export interface Overview {
  headline: Headline;
  queues: Record<QueueName, QueueCounts>;
  handoffs: RecentHandoff[];
  speedToLead: SpeedSummary;
  scoreDistribution: { band: string; leads: number }[];
}

/** Pure: joins handoff decisions with the writeback that completed them. */
export function recentHandoffs(entries: AuditEntry[], limit: number): RecentHandoff[] {
  const speed = new Map<string, number>();
  for (const e of entries) {
    const ms = e.detail.speedToLeadMs;
    if (e.type === 'writeback' && e.handoffId && typeof ms === 'number') speed.set(e.handoffId, ms);
  }
  return entries
    .filter((e) => e.type === 'handoff' && e.handoffId)
    .slice(0, limit)
    .map((e) => {
      const breakdown = Array.isArray(e.detail.breakdown)
        ? (e.detail.breakdown as { reason?: unknown }[])
        : [];
      return {
        handoffId: e.handoffId!,
        lead: e.lead ?? '',
        stage: text(e.detail.stage),
        trigger: text(e.detail.trigger),
        score: typeof e.detail.score === 'number' ? e.detail.score : null,
        owner: typeof e.detail.ownerId === 'string' ? e.detail.ownerId : null,
        ownerName: null,
        name: null,
        company: null,
        recordUrl: null,
        topReasons: breakdown.slice(0, TOP_REASONS).map((l) => text(l.reason)),
        at: e.at,
        speedToLeadMs: speed.get(e.handoffId!) ?? null,
      };
    });
}

function text(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

/** Pure: a lead's name for lists, from its profile; null when we hold neither name nor email. */
export function displayName(profile: Profile): string | null {
  const email = typeof profile.email === 'string' ? profile.email : '';
  return personName(profile) || email || null;
}

const OPEN_BREACH_DAYS = 7;

/** Everything the dashboard shows, read from Redis in one go. */
export async function readOverview(deps: OverviewDeps): Promise<Overview> {
  const { redis, queues, config, now } = deps;
  const k = keys(config.redis.prefix);
  const audit = new HandoffStore(redis, k);
  const leads = new LeadStore(redis, k);
  const [counts, entries, week, bands] = await Promise.all([
    Promise.all(
      QueueName.options.map(
        async (name) =>
          [
            name,
            await countJobs(queues[name], ['waiting', 'active', 'delayed', 'failed', 'completed']),
          ] as const,
      ),
    ),
    audit.recentAudit(2_000),
    audit.auditSince(now - OPEN_BREACH_DAYS * DAY_MS),
    Promise.all(
      SCORE_BANDS.map(async ([lo, hi]) => ({ band: `${lo}–${hi}`, leads: await leads.countByScore(lo, hi) })),
    ),
  ]);
  const speeds = entries
    .filter((e) => e.type === 'writeback' && typeof e.detail.speedToLeadMs === 'number')
    .slice(0, 1_000)
    .map((e) => e.detail.speedToLeadMs as number);
  const opts = { reps: config.routing.reps, bands: SCORE_BANDS };
  const today = buildReport(week, { ...opts, from: startOfDay(config.sla.workingHours.timeZone, now) });
  return {
    headline: {
      handoffsToday: today.handoffs,
      medianSpeedToLeadMs: today.speedToLead.p50,
      slaMetPct: today.slaMetPct,
      openBreaches: buildReport(week, opts).openBreaches,
    },
    queues: Object.fromEntries(counts) as Record<QueueName, QueueCounts>,
    handoffs: await named(deps, recentHandoffs(entries, 50)),
    speedToLead: summarizeSpeed(speeds),
    scoreDistribution: bands,
  };
}

const NAME_FIELDS = ['firstName', 'lastName', 'email', 'company'] as const;

/** The rows with who the lead and the rep are, and the link to the record. */
async function named(deps: OverviewDeps, rows: RecentHandoff[]): Promise<RecentHandoff[]> {
  const refs = rows.map((row) => parseLeadKey(row.lead));
  const known = refs.filter((ref): ref is LeadRef => ref !== null);
  const timeline = new TimelineStore(deps.redis, keys(deps.config.redis.prefix), retentionTtls(deps.config));
  const profiles = new Map(
    (await timeline.profileFields(known, NAME_FIELDS)).map((p, i) => [known[i]!, p] as const),
  );
  return Promise.all(
    rows.map(async (row, i) => {
      const ref = refs[i];
      const profile = (ref && profiles.get(ref)) || {};
      return {
        ...row,
        ownerName: row.owner === null ? null : repName(deps.config.routing.reps, row.owner),
        name: displayName(profile),
        company: typeof profile.company === 'string' ? profile.company : null,
        recordUrl: ref ? await recordUrlOf(deps, ref) : null,
      };
    }),
  );
}

/** A link is a convenience: a CRM that cannot say (no credentials, an outage) leaves it out. */
export async function recordUrlOf(
  deps: Pick<OverviewDeps, 'recordUrl'>,
  lead: LeadRef,
): Promise<string | null> {
  if (!deps.recordUrl) return null;
  try {
    const url = new URL(await deps.recordUrl(lead));
    return url.protocol === 'https:' || url.protocol === 'http:' ? url.href : null;
  } catch {
    return null;
  }
}
