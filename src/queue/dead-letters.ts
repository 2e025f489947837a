import type { Job } from 'bullmq';
import type { QueueName } from './catalog.js';
import type { JobContext } from './context.js';
import type { Queues } from './queues.js';
import { redactEmails } from '../logger.js';
import { DAY_MS } from '../domain/time.js';

/**
 * BullMQ's failed set is the dead-letter list: a job lands there only when it can never succeed
 * (UnrecoverableError) or has spent its attempts, with the reason it failed. Replaying retries it
 * in place, so its id (and with it idempotency) is kept. However many there are, each is kept for
 * `pipeline.deadLetters.retentionDays`; only the sweep drops them, counting and logging each drop.
 */
export interface DeadLetter {
  queue: QueueName;
  id: string;
  name: string;
  attemptsMade: number;
  failedReason: string;
  failedAt: number | null;
  data: unknown;
}

export interface DeadLetterSelection {
  queue?: QueueName;
  id?: string;
}

function toDeadLetter(queue: QueueName, job: Job): DeadLetter {
  return {
    queue,
    id: String(job.id),
    name: job.name,
    attemptsMade: job.attemptsMade,
    // Also for reasons stored before the workers redacted them, or by a worker not ours.
    failedReason: redactEmails(job.failedReason),
    failedAt: job.finishedOn ?? null,
    data: job.data as unknown,
  };
}

async function selected(
  queues: Queues,
  sel: DeadLetterSelection,
  limit: number,
): Promise<[QueueName, Job][]> {
  const names = sel.queue ? [sel.queue] : (Object.keys(queues) as QueueName[]);
  const found: [QueueName, Job][] = [];
  for (const name of names) {
    if (sel.id) {
      const job = await queues[name].getJob(sel.id);
      if (job && (await job.isFailed())) found.push([name, job]);
    } else {
      for (const job of await queues[name].getFailed(0, limit - 1)) found.push([name, job]);
    }
  }
  return found;
}

export async function listDeadLetters(
  queues: Queues,
  sel: DeadLetterSelection = {},
  limit = 100,
): Promise<DeadLetter[]> {
  const jobs = await selected(queues, sel, limit);
  return jobs
    .map(([queue, job]) => toDeadLetter(queue, job))
    .sort((a, b) => (b.failedAt ?? 0) - (a.failedAt ?? 0))
    .slice(0, limit);
}

/** Moves the selected failed jobs back to waiting; returns how many. */
export async function replayDeadLetters(
  queues: Queues,
  sel: DeadLetterSelection,
  limit = 10_000,
): Promise<number> {
  const jobs = await selected(queues, sel, limit);
  for (const [, job] of jobs) await job.retry('failed');
  return jobs.length;
}

/** Deletes the selected failed jobs for good; returns how many. */
export async function purgeDeadLetters(
  queues: Queues,
  sel: DeadLetterSelection,
  limit = 10_000,
): Promise<number> {
  const jobs = await selected(queues, sel, limit);
  for (const [, job] of jobs) await job.remove();
  return jobs.length;
}

/** Job ids named in the log line of one sweep's drops; the metric counts them all. */
const DROPS_NAMED = 20;

/**
 * Removes the dead letters that failed more than `retentionMs` before `redisNow`; their ids per
 * queue. BullMQ measures the grace on this process's clock: corrected to Redis' (`TIME`), so a
 * worker whose clock runs fast drops nothing early.
 */
export async function dropExpiredDeadLetters(
  queues: Queues,
  retentionMs: number,
  redisNow: number,
): Promise<[QueueName, string[]][]> {
  const grace = retentionMs + (Date.now() - redisNow);
  const names = Object.keys(queues) as QueueName[];
  return Promise.all(
    names.map(async (name): Promise<[QueueName, string[]]> => [
      name,
      await queues[name].clean(grace, 0, 'failed'),
    ]),
  );
}

type SweepContext = Pick<JobContext, 'queues' | 'config' | 'logger' | 'metrics' | 'sharedNow'>;

/**
 * One sweep: drops what outlived its retention, each drop counted (`leadflow_dead_letters_dropped_total`)
 * and logged as an error, and counts what is kept (`leadflow_dead_letters`). Returns how many it dropped.
 */
export async function sweepDeadLetters(ctx: SweepContext): Promise<number> {
  const { retentionDays } = ctx.config.pipeline.deadLetters;
  const dropped = await dropExpiredDeadLetters(ctx.queues, retentionDays * DAY_MS, await ctx.sharedNow());
  let total = 0;
  for (const [queue, ids] of dropped) {
    total += ids.length;
    if (ids.length === 0) continue;
    ctx.metrics.deadLettersDropped.inc({ queue }, ids.length);
    ctx.logger.error(
      { queue, count: ids.length, retentionDays, jobIds: ids.slice(0, DROPS_NAMED) },
      'dead letters dropped after their retention: replay or purge them sooner, or keep them longer',
    );
  }
  for (const [queue] of dropped)
    ctx.metrics.deadLetters.set({ queue }, await ctx.queues[queue].getFailedCount());
  return total;
}

/** Sweeps now and every `pipeline.deadLetters.sweepEveryMs`; stopped by the returned function. */
export function keepSweepingDeadLetters(ctx: SweepContext): () => void {
  const sweep = () =>
    void sweepDeadLetters(ctx).catch((err: unknown) =>
      ctx.logger.warn({ err: (err as Error).message }, 'dead-letter sweep failed: tried again at the next'),
    );
  sweep();
  const timer = setInterval(sweep, ctx.config.pipeline.deadLetters.sweepEveryMs);
  timer.unref();
  return () => clearInterval(timer);
}
