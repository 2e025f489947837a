import type { RedisClient } from '../store/redis.js';
import type { Config } from '../config/schema.js';
import { SCORE_BANDS } from '../domain/index.js';
import { HandoffStore } from '../store/handoffs.js';
import { keys } from '../store/keys.js';
import { buildReport, type Report } from './index.js';

const DAY_MS = 86_400_000;

/** The report over the audit log, all of it or its last `days`. */
export async function readReport(
  redis: RedisClient,
  config: Config,
  days?: number,
  now = Date.now(),
): Promise<Report> {
  const from = days === undefined ? undefined : now - days * DAY_MS;
  const entries = await new HandoffStore(redis, keys(config.redis.prefix)).auditSince(from ?? 0);
  return buildReport(entries, { reps: config.routing.reps, bands: SCORE_BANDS, from });
}
