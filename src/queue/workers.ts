import { RateLimitError, UnrecoverableError, Worker, type Job } from 'bullmq';
import type { z } from 'zod';
import { PermanentJobError } from './errors.js';
import { isCrmError } from '../../connectors/errors.js';
import { LeadRef, leadKey } from '../domain/index.js';
import { QUEUES, type QueueName } from './catalog.js';
import type { JobContext } from './context.js';
import { classifyFailure } from './retry.js';

/** A queue's job payload, parsed with its catalog schema. */
export type JobData<N extends QueueName> = z.output<(typeof QUEUES)[N]['schema']>;

/**
 * One processor per queue, handed in by jobs/index.ts so the queue layer knows no job. Each gets
 * the payload already parsed, and the BullMQ job (a retry shows in `attemptsMade`).
 */
export type Processors = {
  [N in QueueName]: (ctx: JobContext, data: JobData<N>, job: Job) => Promise<unknown>;
};

/** Queues whose jobs call the CRM. */
const CRM_QUEUES: QueueName[] = ['score', 'writeback', 'followup', 'poll'];

export interface WorkerOptions {
  concurrency: number;
  queues?: QueueName[];
}

/**
 * Starts one BullMQ worker per queue. Failures are translated once, here:
 * - a payload that does not parse, or a permanent CRM error → UnrecoverableError (straight to the failed set, our DLQ);
 * - a CRM rate limit → the whole queue pauses for the server's wait and the job runs again without spending an attempt;
 * - anything else → rethrown, so BullMQ retries with exponential backoff and jitter.
 */
export function startWorkers(ctx: JobContext, processors: Processors, opts: WorkerOptions): Worker[] {
  const names = opts.queues ?? (Object.keys(QUEUES) as QueueName[]);
  return names.map((name) => {
    // TypeScript cannot tie processors[name] to QUEUES[name]; the Processors type does, for callers.
    const run = processors[name] as (ctx: JobContext, data: unknown, job: Job) => Promise<unknown>;
    const worker = new Worker(
      QUEUES[name].name,
      async (job) => {
        try {
          const result = await run(ctx, QUEUES[name].schema.parse(job.data), job);
          ctx.metrics.jobs.inc({ queue: name, outcome: 'completed' });
          return result;
        } catch (err) {
          throw await translateFailure(ctx, name, job, err);
        }
      },
      {
        connection: ctx.redis,
        prefix: ctx.config.redis.prefix,
        concurrency: opts.concurrency,
        lockDuration: ctx.config.pipeline.jobLockMs,
        stalledInterval: ctx.config.pipeline.jobLockMs,
        autorun: true,
      },
    );
    worker.on('failed', (job, err) => {
      if (!job) return;
      const final = err instanceof UnrecoverableError || job.attemptsMade >= (job.opts.attempts ?? 1);
      ctx.metrics.jobs.inc({ queue: name, outcome: final ? 'dead_lettered' : 'retried' });
      ctx.logger[final ? 'error' : 'warn'](
        { queue: name, jobId: job.id, lead: leadOf(job.data), attempt: job.attemptsMade, err: err.message },
        final ? 'job dead-lettered' : 'job will be retried',
      );
    });
    worker.on('error', (err) => ctx.logger.error({ queue: name, err: err.message }, 'worker error'));
    return worker;
  });
}

async function translateFailure(ctx: JobContext, name: QueueName, job: Job, err: unknown): Promise<Error> {
  if (err instanceof Error && (err.name === 'ZodError' || err instanceof PermanentJobError)) {
    return new UnrecoverableError(`${name} job ${job.id}: ${err.message}`);
  }
  if (!isCrmError(err)) return err instanceof Error ? err : new Error(String(err));

  const decision = classifyFailure(err.failure, ctx.now());
  ctx.metrics.crmFailures.inc({ crm: err.failure.crm, decision: decision.action });
  switch (decision.action) {
    case 'pause':
      ctx.metrics.rateLimitPauses.inc({ crm: err.failure.crm, scope: decision.scope });
      ctx.logger[decision.scope === 'daily' ? 'error' : 'warn'](
        { queue: name, waitMs: decision.waitMs, reason: decision.reason },
        decision.scope === 'daily'
          ? 'CRM daily limit reached: writes paused'
          : 'CRM rate limit: queue paused',
      );
      // The limit is the CRM account's, so every queue that calls the CRM waits, not just this one.
      await Promise.all(CRM_QUEUES.map((q) => ctx.queues[q].rateLimit(decision.waitMs)));
      return new RateLimitError();
    case 'backoff':
      return err;
    case 'reauth':
    case 'fail':
      return new UnrecoverableError(decision.reason);
  }
}

/** The lead a job is about, for log correlation (handoff ids embed it too). */
function leadOf(data: unknown): string | undefined {
  const parsed = LeadRef.safeParse((data as { lead?: unknown } | null)?.lead);
  return parsed.success ? leadKey(parsed.data) : undefined;
}
