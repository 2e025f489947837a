import type { RedisClient } from '../store/redis.js';
import type { Config } from '../config/schema.js';
import { SCORE_BANDS } from '../domain/index.js';
import { HandoffStore } from '../store/handoffs.js';
import { keys } from '../store/keys.js';
import {
  buildReport,
  countFolded,
  emptyCounters,
  foldAudit,
  mergeCounters,
  summarize,
  type Report,
} from './index.js';
import { DAY_MS } from '../domain/time.js';
import { readKeptDays, utcDay } from './rollup.js';

/**
 * The report over the audit log, all of it or its last `days`: the days kept as counters (see
 * rollup.ts) and the entries still in the stream. A period that starts in the kept days covers
 * whole UTC days, from the start of the one it starts in (`period.from` says so).
 */
export async function readReport(
  redis: RedisClient,
  config: Config,
  days?: number,
  now = Date.now(),
): Promise<Report> {
  const k = keys(config.redis.prefix);
  const opts = { reps: config.routing.reps, bands: SCORE_BANDS };
  const store = new HandoffStore(redis, k);
  const from = days === undefined ? undefined : now - days * DAY_MS;
  const kept = await readKeptDays(redis, k);
  if (kept.until === undefined || (from !== undefined && from >= kept.until))
    return buildReport(await store.auditSince(from ?? 0), { ...opts, from });
  const start = from === undefined ? undefined : utcDay(from);
  const counters = kept.days.filter(([day]) => start === undefined || day >= start).map(([, c]) => c);
  // The stream's entries about a kept day's handoff are in that day's counters already: here they join nothing.
  const streamed = countFolded(foldAudit(await store.auditSince(kept.until)));
  return summarize([...counters, streamed].reduce(mergeCounters, emptyCounters()), { ...opts, from: start });
}
