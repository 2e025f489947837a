import { z } from 'zod';

const Jobs = z.number().int().min(1).max(1000);

export const Pipeline = z.strictObject({
  /** A burst of events for one lead within this window yields one recompute. */
  scoreDebounceMs: z.number().int().min(0).max(60_000).default(250),
  /**
   * A score-only update waits at most this long to be written in a batch with others (100 pending
   * go at once): 1 s keeps a trickle of 100 changes a second to about one call a second.
   */
  scoreWriteDelayMs: z.number().int().min(0).max(60_000).default(1_000),
  /**
   * Handoff writes of many leads share the CRM's batch endpoints while there is a backlog (one
   * request of a kind in flight per worker; a lone handoff still goes out at once). `false` writes
   * every lead with calls of its own, as a per-lead baseline.
   */
  batching: z.boolean().default(true),
  /**
   * Jobs in flight per queue per worker process (the environment's WORKER_CONCURRENCY, when set,
   * replaces them all). A burst's score and writeback jobs mostly wait for their share of a batch
   * request, and a batch of 100 fills only while 100 more jobs wait behind the one in flight: hence
   * 256 there. Ingest jobs only compute.
   */
  concurrency: z
    .strictObject({
      ingest: Jobs.default(16),
      score: Jobs.default(256),
      writeback: Jobs.default(256),
      followup: Jobs.default(16),
      poll: Jobs.default(16),
    })
    .prefault({}),
  /**
   * Of a queue's jobs in flight, how many compute at once (Redis work, scoring, routing, the note); a
   * job waiting for a CRM answer does not count, and urgent work goes first.
   */
  computingJobs: Jobs.default(16),
  /** How long an event id is remembered for de-duplication. */
  dedupeTtlHours: z.number().positive().default(72),
  /** Events older than this are dropped from a lead's timeline. */
  timelineDays: z.number().int().positive().default(365),
  /**
   * A worker holds a job's lock this long and renews it while alive; a crashed worker's jobs
   * are picked up again once the lock lapses.
   */
  jobLockMs: z.number().int().min(1_000).max(600_000).default(30_000),
  /**
   * While a CRM refuses our credentials (after a token refresh), its queues stay paused and one
   * job probes the token again this often.
   */
  authProbeMs: z.number().int().min(100).max(3_600_000).default(60_000),
  /**
   * The first retry's delay after a failure that spends an attempt (a 5xx, one lead's timeout),
   * doubled for each further one, with jitter. Unset: each queue's own (ingest 250 ms; score,
   * writeback and followup 500 ms; poll 1 s).
   */
  retryBackoffMs: z.number().int().min(1).max(3_600_000).optional(),
  /**
   * Dead letters (failed jobs) are kept this long, however many there are, then dropped by a sweep
   * every `sweepEveryMs` that counts and logs each drop.
   */
  deadLetters: z
    .strictObject({
      retentionDays: z.number().positive().default(30),
      sweepEveryMs: z.number().int().min(1_000).max(86_400_000).default(3_600_000),
    })
    .prefault({}),
});
export type Pipeline = z.infer<typeof Pipeline>;
