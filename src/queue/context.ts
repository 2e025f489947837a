import type { Redis } from 'ioredis';
import type { CrmConnector, EngagementSource } from '../../connectors/types.js';
import type { Config } from '../config/schema.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { keys, type Keys } from '../store/keys.js';
import { LeadStore } from '../store/leads.js';
import { PendingScores } from '../store/pending-scores.js';
import { TimelineStore } from '../store/timeline.js';
import type { Queues } from './queues.js';
import { HandoffStore } from '../store/handoffs.js';
import { Watermarks } from '../store/watermarks.js';

/** Everything a job processor may touch. Built once per process; tests build their own. */
export interface JobContext {
  config: Config;
  redis: Redis;
  keys: Keys;
  timeline: TimelineStore;
  leads: LeadStore;
  pendingScores: PendingScores;
  handoffs: HandoffStore;
  queues: Queues;
  connector: CrmConnector;
  /** Pollers for what the CRM sends no webhooks for; absent when nothing is polled. */
  engagementSource?: EngagementSource;
  watermarks: Watermarks;
  logger: Logger;
  metrics: Metrics;
  now: () => number;
}

export function createJobContext(deps: {
  config: Config;
  redis: Redis;
  queues: Queues;
  connector: CrmConnector;
  engagementSource?: EngagementSource;
  logger: Logger;
  metrics: Metrics;
  now?: () => number;
}): JobContext {
  const k = keys(deps.config.redis.prefix);
  return {
    ...deps,
    keys: k,
    timeline: new TimelineStore(deps.redis, k, deps.config.pipeline.dedupeTtlHours * 3_600_000),
    leads: new LeadStore(deps.redis, k),
    pendingScores: new PendingScores(deps.redis, k),
    handoffs: new HandoffStore(deps.redis, k),
    watermarks: new Watermarks(deps.redis, k),
    now: deps.now ?? Date.now,
  };
}
