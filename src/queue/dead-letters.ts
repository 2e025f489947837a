import type { Job } from 'bullmq';
import type { QueueName } from './catalog.js';
import type { Queues } from './queues.js';
import { redactEmails } from '../logger.js';

/**
 * BullMQ's failed set is the dead-letter list: a job lands there only when it can never succeed
 * (UnrecoverableError) or has spent its attempts, with the reason it failed. Replaying retries it
 * in place, so its id (and with it idempotency) is kept.
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
