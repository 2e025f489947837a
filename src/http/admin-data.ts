import type { RedisClient } from '../store/redis.js';
import { SCORE_BANDS } from '../domain/index.js';
import { summarizeSpeed, type SpeedSummary } from '../reports/index.js';
import { QueueName } from '../queue/catalog.js';
import { countJobs } from '../queue/depth.js';
import type { Queues } from '../queue/queues.js';
import { HandoffStore, type AuditEntry } from '../store/handoffs.js';
import { keys } from '../store/keys.js';
import { LeadStore } from '../store/leads.js';

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
  topReasons: string[];
  at: number;
  speedToLeadMs: number | null;
}

export interface Overview {
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
        topReasons: breakdown.slice(0, 3).map((l) => text(l.reason)),
        at: e.at,
        speedToLeadMs: speed.get(e.handoffId!) ?? null,
      };
    });
}

function text(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

/** Everything the dashboard shows, read from Redis in one go. */
export async function readOverview(redis: RedisClient, queues: Queues, prefix: string): Promise<Overview> {
  const k = keys(prefix);
  const audit = new HandoffStore(redis, k);
  const leads = new LeadStore(redis, k);
  const [counts, entries, bands] = await Promise.all([
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
    Promise.all(
      SCORE_BANDS.map(async ([lo, hi]) => ({ band: `${lo}–${hi}`, leads: await leads.countByScore(lo, hi) })),
    ),
  ]);
  const speeds = entries
    .filter((e) => e.type === 'writeback' && typeof e.detail.speedToLeadMs === 'number')
    .slice(0, 1_000)
    .map((e) => e.detail.speedToLeadMs as number);
  return {
    queues: Object.fromEntries(counts) as Record<QueueName, QueueCounts>,
    handoffs: recentHandoffs(entries, 50),
    speedToLead: summarizeSpeed(speeds),
    scoreDistribution: bands,
  };
}
