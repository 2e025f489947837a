import { DelayedError, Job, RateLimitError, UnrecoverableError, Worker } from 'bullmq';
import type { z } from 'zod';
import { NotDueError, PermanentJobError } from './errors.js';
import { isCrmError } from '../../connectors/errors.js';
import { LeadRef, leadKey, type Crm } from '../domain/index.js';
import { QUEUES, QueueName } from './catalog.js';
import { connectorFor, type JobContext } from './context.js';
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
 * - credentials refused after a token refresh → that CRM's calls wait (others go on), one probe per
 *   `pipeline.authProbeMs`, its jobs wait in the delayed set without spending an attempt and run at once
 *   when a probe is accepted, and /readyz says why;
 * - a CRM that answers nothing (src/store/reachability.ts) → its jobs wait in the delayed set without
 *   spending an attempt, this process probes it once per interval, and on its first answer every job
 *   held for it runs at once, with those that backed off from its unanswered calls before;
 * - Redis unreachable or out of memory → the job waits in hand until Redis takes writes, then runs again
 *   without spending an attempt;
 * - a job that ran before its due time → back to the delayed set, without spending an attempt;
 * - anything else → rethrown, so BullMQ retries with exponential backoff and jitter.
 */
export function startWorkers(ctx: JobContext, processors: Processors, opts: WorkerOptions): Worker[] {
  const names = opts.queues ?? (Object.keys(QUEUES) as QueueName[]);
  let closing = false;
  const watch = crmWatcher(ctx, () => closing);
  const workers = names.map((name) => {
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
          throw withoutEmails(await translateFailure(ctx, name, job, token, err, watch));
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
      // Backing off from a call its CRM answered nothing to: should that turn out to be an outage, the
      // job runs as soon as the CRM answers again, not after its backoff. (In the delayed set by now.)
      if (!final && job.id && isCrmError(err) && err.failure.network)
        ctx.reachability[err.failure.crm]
          .hold({ queue: name, id: job.id }, Date.now())
          .catch(() => undefined);
    });
    worker.on('error', (err) => ctx.logger.error({ queue: name, err: err.message }, 'worker error'));
    worker.on('closing', () => {
      closing = true;
    });
    return worker;
  });
  return workers;
}

async function translateFailure(
  ctx: JobContext,
  name: QueueName,
  job: Job,
  token: string | undefined,
  err: unknown,
  watch: (crm: Crm, outage: Outage) => void,
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
      const reach = ctx.reachability[crm];
      // Refused by the CRM itself (not unsent because of an earlier refusal): the outage starts or goes on.
      if (decision.waitMs === undefined) {
        ctx.logger.error(
          { queue: name, crm, probeMs: reach.credentialsProbeMs, reason: decision.reason },
          'CRM refuses our credentials after a token refresh: its calls wait until a probe is accepted',
        );
        await refuseCredentials(ctx, crm, decision.reason);
      }
      ctx.metrics.crmAuthOutage.set({ crm }, 1);
      const delayed = await runAgainAfter(job, token, decision.waitMs ?? reach.credentialsProbeMs);
      if (job.id) await reach.hold({ queue: name, id: job.id }, Date.now());
      watch(crm, 'credentials');
      return delayed;
    }
    case 'unreachable': {
      const delayed = await runAgainAfter(job, token, decision.waitMs);
      if (job.id) await ctx.reachability[crm].hold({ queue: name, id: job.id }, Date.now());
      watch(crm, 'unreachable');
      return delayed;
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

/**
 * Outlives a probe interval by one more and a job lock, so it lapses by itself once probes stop being
 * refused (nothing left to probe), and never while a refused probe renews it.
 */
async function refuseCredentials(ctx: JobContext, crm: Crm, reason: string): Promise<void> {
  const reach = ctx.reachability[crm];
  await reach.credentialsRefused(
    redactEmails(reason),
    2 * reach.credentialsProbeMs + ctx.config.pipeline.jobLockMs,
  );
}

/** How often a process waiting for an unreachable CRM looks whether another process's probe got an answer. */
const CRM_WATCH_MS = 200;
/** Held jobs are woken this many at a time. */
const WAKE_BATCH = 500;

/** What a CRM's jobs can be held for: it answers nothing, or it refuses our credentials. */
type Outage = 'unreachable' | 'credentials';

/** Starts watching a CRM's outage, once per process, CRM and kind of outage. */
function crmWatcher(ctx: JobContext, closing: () => boolean): (crm: Crm, outage: Outage) => void {
  const watching = new Set<string>();
  return (crm, outage) => {
    const what = `${crm}:${outage}`;
    if (watching.has(what)) return;
    watching.add(what);
    void untilOutageEnds(ctx, crm, outage, closing)
      .catch((err: unknown) => ctx.logger.error({ crm, outage, err: String(err) }, 'CRM watch failed'))
      .finally(() => watching.delete(what));
  };
}

/**
 * While the outage lasts: one probe request per probe interval, shared by every process (a job's own
 * call may be that interval's probe instead). Once it ends (an answer, credentials accepted, or the
 * outage lapsed), every job held for the CRM runs at once.
 */
async function untilOutageEnds(
  ctx: JobContext,
  crm: Crm,
  outage: Outage,
  closing: () => boolean,
): Promise<void> {
  const reach = ctx.reachability[crm];
  const connector = connectorFor(ctx, crm);
  const unreachable = outage === 'unreachable';
  const gauge = unreachable ? ctx.metrics.crmUnreachable : ctx.metrics.crmAuthOutage;
  const reason = () => (unreachable ? reach.reason() : reach.credentialsReason());
  const untilProbeMs = () => (unreachable ? reach.untilProbeMs() : reach.untilCredentialsProbeMs());
  gauge.set({ crm }, 1);
  if (unreachable)
    ctx.logger.error(
      { crm, probeMs: reach.probeMs, reason: redactEmails((await reach.reason()) ?? '') },
      'CRM answers nothing: its jobs wait without spending attempts, probed once per interval',
    );
  while (!closing()) {
    try {
      if ((await reason()) === null) break;
      const waitMs = await untilProbeMs();
      // Refused unsent (another call is this interval's probe), unanswered or refused: look again.
      if (waitMs === 0)
        await connector.listLeads(undefined, 1).catch((err: unknown) => probeFailed(ctx, err));
      else await sleep(Math.min(waitMs, CRM_WATCH_MS));
    } catch {
      // Redis refused: look again in a moment.
      await sleep(CRM_WATCH_MS);
    }
  }
  if (closing()) return;
  gauge.set({ crm }, 0);
  const woken = await runHeld(ctx, crm);
  ctx.logger.info(
    { crm, woken },
    unreachable
      ? 'CRM answers again: the jobs held for it run now'
      : 'CRM takes our credentials again: the jobs held for it run now',
  );
}

/** A probe of this process refused by the CRM for our credentials renews the outage, as a job's would. */
async function probeFailed(ctx: JobContext, err: unknown): Promise<void> {
  if (!isCrmError(err)) return;
  const decision = classifyFailure(err.failure, ctx.now());
  if (decision.action === 'auth_outage' && decision.waitMs === undefined)
    await refuseCredentials(ctx, err.failure.crm, decision.reason);
}

/** Promotes every job held for the CRM that still waits in the delayed set; returns how many. */
async function runHeld(ctx: JobContext, crm: Crm): Promise<number> {
  let woken = 0;
  for (;;) {
    const held = await ctx.reachability[crm].takeHeld(WAKE_BATCH);
    if (held.length === 0) return woken;
    await Promise.all(
      held.map(async ({ queue, id }) => {
        const name = QueueName.safeParse(queue);
        if (!name.success) return;
        const job = await Job.fromId(ctx.queues[name.data], id);
        // Gone, or already running (its wait ended, or another process woke it): nothing to do.
        const promoted = await job?.promote().then(
          () => true,
          () => false,
        );
        if (promoted) woken++;
      }),
    );
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

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
      await sleep(pauseMs);
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
