import { randomUUID } from 'node:crypto';
import { ErrorCode, Queue } from 'bullmq';
import type { RedisClient } from '../store/redis.js';
import type { LeadRef } from '../domain/index.js';
import { leadKey } from '../domain/index.js';
import type { Config } from '../config/schema.js';
import {
  POLL_SOURCES,
  QUEUES,
  ROUTINE,
  pollName,
  raisesHand,
  type IngestJob,
  type PollJob,
  type QueueName,
} from './catalog.js';
import { Crm } from '../domain/index.js';

export type Queues = Record<QueueName, Queue>;

/**
 * BullMQ keys go under the same hash-tagged prefix as ours, so one Cluster slot holds everything.
 * `backoffMs` (`pipeline.retryBackoffMs`) replaces each queue's first retry delay in the jobs added.
 */
export function openQueues(
  connection: RedisClient,
  prefix: string,
  onError: (err: Error) => void,
  backoffMs?: number,
): Queues {
  const open = (name: QueueName) => {
    const { options } = QUEUES[name];
    const queue = new Queue(QUEUES[name].name, {
      connection,
      prefix,
      defaultJobOptions:
        backoffMs === undefined ? options : { ...options, backoff: { ...options.backoff, delay: backoffMs } },
    });
    // An unhandled 'error' event would crash the process while Redis is away.
    queue.on('error', onError);
    return queue;
  };
  return {
    ingest: open('ingest'),
    score: open('score'),
    writeback: open('writeback'),
    followup: open('followup'),
    poll: open('poll'),
  };
}

export async function closeQueues(queues: Queues): Promise<void> {
  await Promise.all(Object.values(queues).map((q) => q.close()));
}

/** A delivery with a hand-raise (one of `handRaise`, the config's types) skips the ingest backlog. */
export async function enqueueIngest(
  queues: Queues,
  job: IngestJob,
  handRaise: readonly string[],
): Promise<void> {
  await queues.ingest.add(job.source, job, raisesHand(job.batch, handRaise) ? {} : ROUTINE);
}

/**
 * One recompute per lead per debounce window: later events in the window fold into the pending job;
 * events that arrive while it runs get exactly one follow-up (keepLastIfActive). A hand-raise pulls
 * the pending job forward to now (reschedule) instead of waiting out the window, and into the urgent
 * lane: a pending job keeps the priority it was added with, so it is changed (on a delayed job
 * BullMQ records it for when the job is promoted; on an active one it only marks the hash, and the
 * follow-up kept for it was stored with these options). An urgent add carries an id of its own, so a
 * job it created (the id comes back) is urgent already and costs no second round trip.
 */
export async function enqueueScore(
  queues: Queues,
  lead: LeadRef,
  opts: { debounceMs: number; urgent: boolean },
): Promise<void> {
  const dedupeId = `score.${leadKey(lead)}`;
  const ownId = opts.urgent ? `${dedupeId}.${randomUUID()}` : undefined;
  const job = await queues.score.add(
    'score',
    { lead },
    {
      ...(opts.urgent ? { jobId: ownId } : ROUTINE),
      delay: opts.urgent ? 0 : opts.debounceMs,
      deduplication: { id: dedupeId, keepLastIfActive: true, reschedule: opts.urgent },
    },
  );
  if (opts.urgent && job.id !== ownId)
    await job.changePriority({ priority: 0 }).catch((err: unknown) => {
      // The job it folded into finished and was trimmed meanwhile: its follow-up is urgent already.
      if ((err as { code?: unknown }).code !== ErrorCode.JobNotExist) throw err;
    });
}

/** Job ids make enqueueing a handoff idempotent: a replayed decision adds nothing. Urgent lane. */
export async function enqueueHandoffWriteback(queues: Queues, handoffId: string): Promise<void> {
  await queues.writeback.add('handoff', { kind: 'handoff', handoffId }, { jobId: handoffId });
}

/**
 * One pending flush at a time: changes arriving within `delayMs` go out in the same batch, and
 * changes arriving while a flush runs get exactly one follow-up.
 */
export async function enqueueScoreFlush(queues: Queues, delayMs: number): Promise<void> {
  await queues.writeback.add(
    'scores',
    { kind: 'scores' },
    {
      ...ROUTINE,
      delay: delayMs,
      // One flush at a time (and one waiting). A later add never postpones a waiting flush, so a
      // steady trickle cannot starve it; only "now" (a full batch) brings a waiting one forward.
      deduplication: { id: 'scores.flush', keepLastIfActive: true, reschedule: delayMs === 0 },
    },
  );
}

/**
 * The SLA check of one round of a handoff, at its due time; the job id makes it once per round while
 * it waits. Done, it is removed: the round's outcome is in the progress hash (`breach.N` …), which
 * the check reads, so a late re-enqueue decides nothing twice.
 */
export async function enqueueSlaCheck(
  queues: Queues,
  handoffId: string,
  round: number,
  delayMs: number,
): Promise<void> {
  await queues.followup.add(
    'sla',
    { kind: 'sla', handoffId, round },
    { jobId: `sla.${handoffId}.${round}`, delay: Math.max(0, delayMs), removeOnComplete: true },
  );
}

/** The rep alert of a handoff; the job id makes it once per handoff (the send is recorded as well). */
export async function enqueueRepAlert(queues: Queues, handoffId: string): Promise<void> {
  await queues.followup.add('alert', { kind: 'alert', handoffId }, { jobId: `alert.${handoffId}` });
}

/**
 * A status and its reason code often arrive as two property changes: wait a moment so one job sees
 * both, and fold repeats into that job.
 */
export async function enqueueDisposition(queues: Queues, lead: LeadRef, delayMs: number): Promise<void> {
  await queues.followup.add(
    'disposition',
    { kind: 'disposition', lead },
    { delay: delayMs, deduplication: { id: `disposition.${leadKey(lead)}`, keepLastIfActive: true } },
  );
}

/** One lead's score written on its own; the job id keeps one such job per lead at a time. */
export async function enqueueLeadScore(queues: Queues, lead: LeadRef): Promise<void> {
  await queues.writeback.add(
    'lead-score',
    { kind: 'lead-score', lead },
    { ...ROUTINE, jobId: `lead-score.${leadKey(lead)}` },
  );
}

/**
 * A poll outside the schedule, reading from `since` instead of the watermark (after a CDC gap, or a
 * replay id the server no longer has). The job id makes a redelivered gap event enqueue nothing new.
 */
export async function enqueueReconciliationPoll(queues: Queues, job: PollJob): Promise<void> {
  await queues.poll.add(
    `${job.crm}.${job.source}.reconcile`,
    job,
    job.since === undefined ? {} : { jobId: `reconcile.${job.crm}.${job.source}.${job.since}` },
  );
}

/** One BullMQ job scheduler per configured poll source; sources taken out of the config stop. */
export async function schedulePolls(queues: Queues, config: Config): Promise<void> {
  for (const crm of Crm.options)
    for (const source of POLL_SOURCES[crm]) {
      const polling: Partial<Record<string, { everySeconds: number }>> = config[crm].polling;
      const every = polling[source]?.everySeconds;
      const id = pollName(crm, source);
      if (every)
        await queues.poll.upsertJobScheduler(
          id,
          { every: every * 1000 },
          { name: `${crm}.${source}`, data: { crm, source } },
        );
      else await queues.poll.removeJobScheduler(id);
    }
}
