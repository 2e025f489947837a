import type { Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { CrmConnector, EngagementSource } from '../../connectors/types.js';
import { loadConfig } from '../../src/config/load.js';
import type { Crm } from '../../src/domain/index.js';
import type { Config } from '../../src/config/schema.js';
import { createLogger } from '../../src/logger.js';
import { createMetrics, type Metrics } from '../../src/metrics.js';
import { createJobContext, type JobContext } from '../../src/queue/context.js';
import { closeQueues, openQueues, type Queues } from '../../src/queue/queues.js';
import { startWorkers } from '../../src/queue/workers.js';
import { processors } from '../../jobs/index.js';
import type { AlertChannel } from '../../src/alerts/index.js';

export interface Pipeline {
  ctx: JobContext;
  queues: Queues;
  metrics: Metrics;
  workers: Worker[];
  close(): Promise<void>;
}

/** The default config under a test's own prefix, with a short debounce so tests run fast. */
export function testConfig(prefix: string, adjust: (config: Config) => Config = (c) => c): Config {
  const base = loadConfig('config/default.yaml');
  return adjust({
    ...base,
    redis: { ...base.redis, prefix },
    pipeline: { ...base.pipeline, scoreDebounceMs: 50 },
  });
}

/** Queues, a job context and (unless `workers: false`) running workers on real Redis. */
export async function startPipeline(opts: {
  redis: Redis;
  config: Config;
  /** One connector, or one per CRM. */
  connector: CrmConnector | CrmConnector[];
  engagementSources?: Partial<Record<Crm, EngagementSource>>;
  alerts?: AlertChannel[];
  now?: () => number;
  /** The shared clock (Redis `TIME` unless given). */
  sharedNow?: () => Promise<number>;
  workers?: boolean;
}): Promise<Pipeline> {
  const queues = openQueues(opts.redis, opts.config.redis.prefix, (err) => {
    throw err;
  });
  const metrics = createMetrics();
  const ctx = createJobContext({
    config: opts.config,
    redis: opts.redis,
    queues,
    connectors: [opts.connector].flat(),
    engagementSources: opts.engagementSources,
    alerts: opts.alerts,
    logger: createLogger('silent'),
    metrics,
    now: opts.now,
    sharedNow: opts.sharedNow,
  });
  const workers = opts.workers === false ? [] : startWorkers(ctx, processors, { concurrency: 8 });
  await Promise.all(workers.map((w) => w.waitUntilReady()));
  return {
    ctx,
    queues,
    metrics,
    workers,
    close: async () => {
      await Promise.all(workers.map((w) => w.close(true)));
      await closeQueues(queues);
    },
  };
}
