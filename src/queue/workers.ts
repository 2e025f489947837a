import { DelayedError, RateLimitError, UnrecoverableError, Worker, type Job } from 'bullmq';
import type { z } from 'zod';
import { NotDueError, PermanentJobError } from './errors.js';
import { isCrmError } from '../../connectors/errors.js';
import { LeadRef, leadKey } from '../domain/index.js';
import { QUEUES, type QueueName } from './catalog.js';
import type { JobContext } from './context.js';
import { Gate, type Slot } from './gate.js';
import { classifyFailure, classifyInfra } from './retry.js';
import { redactEmails } from '../logger.js';

/** A queue's job payload, parsed with its catalog schema. */
export type JobData<N extends QueueName> = z.output<(typeof QUEUES)[N]['schema']>;

/**
 * One processor per queue, handed in by jobs/index.ts so the queue layer knows no job. Each gets
 * the payload already parsed, the BullMQ job (a retry shows in `attemptsMade`), and its place among
 * the queue's computing jobs, to give up while it waits for a CRM answer.
 */
export type Processors = {
  [N in QueueName]: (ctx: JobContext, data: JobData<N>, job: Job, slot: Slot) => Promise<unknown>;
};

/** Queues whose jobs call the CRM. */
const CRM_QUEUES: QueueName[] = ['score', 'writeback', 'followup', 'poll'];

export interface WorkerOptions {
  /** Jobs in flight: the same for every queue, or per queue. */
  concurrency: number | Record<QueueName, number>;
  /** Of those, how many compute at once per queue (see Gate); all of them unless given. */
  computing?: number;
  queues?: QueueName[];
}

/** What a worker process runs with: WORKER_CONCURRENCY for every queue when set, else the config's. */
export function workerOptions(
  env: { WORKER_CONCURRENCY?: number | undefined },
  pipeline: { concurrency: Record<QueueName, number>; computingJobs: number },
): WorkerOptions {
  return { concurrency: env.WORKER_CONCURRENCY ?? pipeline.concurrency, computing: pipeline.computingJobs };
}

/**
 * Starts one BullMQ worker per queue. Failures are translated once, here:
 * - a payload that does not parse, or a permanent CRM error → UnrecoverableError (straight to the failed set, our DLQ);
 * - a CRM rate limit → that CRM account's budget pauses for the server's wait (connectors/call.ts), and its
 *   jobs run again after it without spending an attempt; other CRMs' jobs in the same queues go on;
 * - credentials refused after a token refresh → the same pause, for the probe interval, and /readyz says why;
 * - Redis unreachable or out of memory → the job waits in hand until Redis takes writes, then runs again
 *   without spending an attempt;
 * - a job that ran before its due time → back to the delayed set, without spending an attempt;
 * - anything else → rethrown, so BullMQ retries with exponential backoff and jitter.
 */
export function startWorkers(ctx: JobContext, processors: Processors, opts: WorkerOptions): Worker[] {
  const names = opts.queues ?? (Object.keys(QUEUES) as QueueName[]);
  return names.map((name) => {
    // TypeScript cannot tie processors[name] to QUEUES[name]; the Processors type does, for callers.
    const run = processors[name] as (
      ctx: JobContext,
      data: unknown,
      job: Job,
      slot: Slot,
    ) => Promise<unknown>;
    const concurrency = typeof opts.concurrency === 'number' ? opts.concurrency : opts.concurrency[name];
    const gate = new Gate(Math.min(concurrency, opts.computing ?? concurrency));
    const worker = new Worker(
      QUEUES[name].name,
      async (job, token) => {
        try {
          // No priority is the urgent lane (catalog.ts ROUTINE).
          const result = await gate.run(!job.priority, (slot) =>
            run(ctx, QUEUES[name].schema.parse(job.data), job, slot),
          );
          ctx.metrics.jobs.inc({ queue: name, outcome: 'completed' });
          return result;
        } catch (err) {
          throw withoutEmails(await translateFailure(ctx, name, job, token, err));
        }
      },
      {
        connection: ctx.redis,
        prefix: ctx.config.redis.prefix,
        concurrency,
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

async function translateFailure(
  ctx: JobContext,
  name: QueueName,
  job: Job,
  token: string | undefined,
  err: unknown,
): Promise<Error> {
  if (err instanceof Error && (err.name === 'ZodError' || err instanceof PermanentJobError)) {
    return new UnrecoverableError(`${name} job ${job.id}: ${err.message}`);
  }
  if (err instanceof NotDueError) return runAgainAfter(job, token, err.waitMs);
  const infra = classifyInfra(err);
  if (infra) {
    await untilRedisTakesWrites(ctx, name, infra.reason);
    return new RateLimitError();
  }
  if (!isCrmError(err)) return err instanceof Error ? err : new Error(String(err));

  const { crm } = err.failure;
  const decision = classifyFailure(err.failure, ctx.now());
  ctx.metrics.crmFailures.inc({ crm, decision: decision.action });
  switch (decision.action) {
    case 'pause':
      ctx.metrics.rateLimitPauses.inc({ crm, scope: decision.scope });
      ctx.logger[decision.scope === 'daily' ? 'error' : 'warn'](
        { queue: name, waitMs: decision.waitMs, reason: decision.reason },
        decision.scope === 'daily'
          ? 'CRM daily limit reached: writes paused'
          : 'CRM rate limit: its requests paused',
      );
      return runAgainAfter(job, token, decision.waitMs);
    case 'defer':
      return runAgainAfter(job, token, decision.waitMs);
    case 'auth_outage': {
      // The first job after the pause is the probe: refused again, it pauses again; accepted, work resumes.
      const waitMs = ctx.config.pipeline.authProbeMs;
      ctx.metrics.crmAuthOutage.set({ crm }, 1);
      ctx.logger.error(
        { queue: name, crm, probeMs: waitMs, reason: decision.reason },
        'CRM refuses our credentials after a token refresh: CRM queues paused until a probe works',
      );
      // Outlives the pause by one probe, so it lapses by itself once probes stop being refused.
      await ctx.redis.set(
        ctx.keys.authOutage(crm),
        redactEmails(decision.reason),
        'PX',
        2 * waitMs + ctx.config.pipeline.jobLockMs,
      );
      await pauseCrmQueues(ctx, waitMs);
      return new RateLimitError();
    }
    case 'infra':
    case 'backoff':
      return err;
    case 'fail':
      return new UnrecoverableError(decision.reason);
  }
}

/** Back to the delayed set for `waitMs`, without spending an attempt. */
async function runAgainAfter(job: Job, token: string | undefined, waitMs: number): Promise<Error> {
  // BullMQ measures delays on this process's clock: the wait is relative, so a skewed clock is harmless.
  await job.moveToDelayed(Date.now() + waitMs, token);
  return new DelayedError();
}

/**
 * BullMQ stores the message (the dead letter's reason) and the stack: CRM error text can quote the
 * lead's email. Changed in place, so the BullMQ error classes keep their meaning.
 */
function withoutEmails(err: Error): Error {
  err.message = redactEmails(err.message);
  if (err.stack) err.stack = redactEmails(err.stack);
  return err;
}

/** A CRM account's outage holds up every queue that calls the CRM, not just this one. */
async function pauseCrmQueues(ctx: JobContext, waitMs: number): Promise<void> {
  await Promise.all(CRM_QUEUES.map((q) => ctx.queues[q].rateLimit(waitMs)));
}

const REDIS_PROBE_MAX_MS = 2_000;

/**
 * Holds the job while Redis is unreachable or refuses writes (OOM under noeviction), probing with a
 * short-lived write and a growing pause: nothing is spent, and BullMQ could not move the job anyway.
 */
async function untilRedisTakesWrites(ctx: JobContext, queue: QueueName, reason: string): Promise<void> {
  ctx.metrics.redisUnavailable.inc();
  ctx.logger.error({ queue, reason }, 'Redis refuses work: job held until it takes writes again');
  try {
    for (let pauseMs = 100; ; pauseMs = Math.min(2 * pauseMs, REDIS_PROBE_MAX_MS)) {
      await new Promise((resolve) => setTimeout(resolve, pauseMs));
      const probed = await ctx.redis.set(ctx.keys.writeProbe, '1', 'PX', 10_000).then(
        () => true,
        (err: unknown) => !classifyInfra(err),
      );
      if (probed) return;
    }
  } finally {
    ctx.metrics.redisUnavailable.dec();
    ctx.logger.info({ queue }, 'Redis takes writes again: job resumes');
  }
}

/** The lead a job is about, for log correlation (handoff ids embed it too). */
function leadOf(data: unknown): string | undefined {
  const parsed = LeadRef.safeParse((data as { lead?: unknown } | null)?.lead);
  return parsed.success ? leadKey(parsed.data) : undefined;
}
