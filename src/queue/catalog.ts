import type { JobsOptions } from 'bullmq';
import { z } from 'zod';
import { Crm, EngagementEvent, LeadRef, ProfileChange, type NormalizedBatch } from '../domain/index.js';
import { GenericEventBatch } from '../domain/generic-events.js';

/** Every queue and the shape of its jobs. Payloads are parsed again when a job runs: Redis is a boundary too. */

/** A delivery once normalized (see NormalizedBatch): what every receiver and poller hands the ingest job. */
export const IngestBatch: z.ZodType<NormalizedBatch> = z.object({
  engagement: z.array(EngagementEvent),
  profile: z.array(ProfileChange),
  leads: z.array(LeadRef),
  created: z.array(LeadRef),
  deleted: z.array(LeadRef),
  merged: z.array(z.object({ from: z.array(LeadRef), into: LeadRef })),
  ignored: z.number().int().nonnegative(),
});

/** Where a delivery came from: the receiver's name, which also labels the ingest metrics. */
export const IngestSource = z.enum(['hubspot', 'generic', 'salesforce']);
export type IngestSource = z.infer<typeof IngestSource>;

/**
 * The one ingest shape: a receiver (src/receive) or a poller normalized the delivery already, with
 * ids that derive from the source's own (a redelivery or a re-read page dedupes).
 */
export const IngestJob = z.discriminatedUnion('source', [
  z.object({
    source: IngestSource,
    receivedAt: z.number(),
    requestId: z.string().optional(),
    batch: IngestBatch,
  }),
  z.object({ source: z.literal('poll'), receivedAt: z.number(), poller: z.string(), batch: IngestBatch }),
]);
export type IngestJob = z.infer<typeof IngestJob>;

/**
 * LEGACY: the ingest payloads queued before receivers normalized at the edge (raw HubSpot events,
 * the generic batch as posted, Salesforce and poll pages as domain lists). jobs/ingest.ts converts
 * them through today's receivers. Remove this (and upgradeLegacyIngest) one release after the
 * receivers shipped, once no ingest job older than that is waiting or failed in any deployment.
 */
export const LegacyIngestJob = z.discriminatedUnion('source', [
  z.object({
    source: z.literal('hubspot'),
    receivedAt: z.number(),
    requestId: z.string().optional(),
    events: z.array(z.unknown()),
  }),
  z.object({
    source: z.literal('generic'),
    receivedAt: z.number(),
    requestId: z.string().optional(),
    batch: GenericEventBatch,
  }),
  z.object({
    source: z.literal('salesforce'),
    receivedAt: z.number(),
    requestId: z.string().optional(),
    events: z.array(EngagementEvent).default([]),
    profile: z.array(ProfileChange).default([]),
  }),
  z.object({
    source: z.literal('poll'),
    receivedAt: z.number(),
    poller: z.string(),
    events: z.array(EngagementEvent).default([]),
    profile: z.array(ProfileChange).default([]),
  }),
]);
export type LegacyIngestJob = z.infer<typeof LegacyIngestJob>;

/** What the ingest worker accepts: today's shape, or a legacy one marked for conversion. */
const QueuedIngestJob = z.union([IngestJob, LegacyIngestJob.transform((legacy) => ({ legacy }))]);

export const ScoreJob = z.object({ lead: LeadRef });
export type ScoreJob = z.infer<typeof ScoreJob>;

export const WritebackJob = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('handoff'), handoffId: z.string().min(1) }),
  /** Writes a batch of pending score-only updates. */
  z.object({ kind: z.literal('scores') }),
  /**
   * One lead's score, alone: a record the CRM refused inside a batch. Refused again, it lands in the
   * dead-letter list with the CRM's message, to be replayed once the cause is fixed.
   */
  z.object({ kind: z.literal('lead-score'), lead: LeadRef }),
]);
export type WritebackJob = z.infer<typeof WritebackJob>;

/** What happens after a handoff: the rep alert, the SLA check at the due time, and sales dispositions. */
export const FollowupJob = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('sla'), handoffId: z.string().min(1), round: z.number().int().nonnegative() }),
  z.object({ kind: z.literal('disposition'), lead: LeadRef }),
  /** Tells the assigned rep (Slack, email) once the handoff is written. */
  z.object({ kind: z.literal('alert'), handoffId: z.string().min(1) }),
]);
export type FollowupJob = z.infer<typeof FollowupJob>;

/** What each CRM's poller reads; the names are the keys of `<crm>.polling` in the config. */
export const POLL_SOURCES = {
  hubspot: ['contacts', 'emailEvents', 'forms', 'marketingEvents'],
  salesforce: ['leads', 'contacts', 'activities', 'campaignMembers'],
} as const satisfies Record<Crm, readonly string[]>;

export const PollJob = z
  .object({
    // Jobs queued before Salesforce existed carry no CRM.
    crm: Crm.default('hubspot'),
    source: z.string().min(1),
    /** A reconciliation poll (after a CDC gap) reads from this instant instead of the watermark. */
    since: z.number().int().nonnegative().optional(),
  })
  .refine((j) => (POLL_SOURCES[j.crm] as readonly string[]).includes(j.source), {
    message: 'unknown poll source for this CRM',
    path: ['source'],
  });
export type PollJob = z.infer<typeof PollJob>;

/** A poll's name in scheduler ids and metrics; HubSpot's kept their pre-Salesforce form. */
export function pollName(crm: Crm, source: string): string {
  return crm === 'hubspot' ? `poll.${source}` : `poll.${crm}.${source}`;
}

export const QueueName = z.enum(['ingest', 'score', 'writeback', 'followup', 'poll']);
export type QueueName = z.infer<typeof QueueName>;

/**
 * Lanes inside the ingest, score and writeback queues, so a hand-raise or a handoff overtakes a
 * backlog of score-only work. BullMQ serves jobs without a priority (its wait list) before any
 * prioritized job, FIFO within each; so urgent work carries no priority and routine work this one
 * (a prioritized add is O(log n) in the prioritized set: negligible next to the job itself).
 */
export const ROUTINE = { priority: 1 } as const satisfies JobsOptions;

/** A delivery that holds a hand-raise event (by its normalized type) takes the urgent lane. */
export function raisesHand(
  batch: Pick<NormalizedBatch, 'engagement'>,
  handRaise: readonly string[],
): boolean {
  return batch.engagement.some((e) => handRaise.includes(e.type));
}

/**
 * Exponential backoff with jitter; finished jobs kept for inspection, failed ones as the dead-letter
 * list. Those are never capped by count (BullMQ would drop the oldest silently): the dead-letter
 * sweep drops them by age, and reports every one it drops.
 */
function retried(attempts: number, delay: number) {
  return {
    attempts,
    backoff: { type: 'exponential', delay, jitter: 0.5 },
    removeOnComplete: { count: 1000 },
    removeOnFail: false,
  } as const;
}

export const QUEUES = {
  ingest: { name: 'ingest', schema: QueuedIngestJob, options: retried(10, 250) },
  score: { name: 'score', schema: ScoreJob, options: retried(8, 500) },
  // ~17 minutes of backoff in all: enough to ride out a CRM incident, short enough to surface in the DLQ.
  writeback: { name: 'writeback', schema: WritebackJob, options: retried(12, 500) },
  followup: { name: 'followup', schema: FollowupJob, options: retried(12, 500) },
  // A failed poll is simply done again by the next scheduled run, from the same watermark.
  poll: { name: 'poll', schema: PollJob, options: retried(3, 1_000) },
} as const satisfies Record<QueueName, { name: string; schema: z.ZodType; options: JobsOptions }>;
