import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { Config } from '../config/schema.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { HandoffStore, type AuditRow } from '../store/handoffs.js';
import { keys, type Keys } from '../store/keys.js';
import { Lease } from '../store/lease.js';
import type { RedisClient } from '../store/redis.js';
import { withScripts } from '../store/scripts.js';
import { countFolded, foldAudit, type Counters } from './index.js';
import { DAY_MS } from '../domain/time.js';

/*
 * The audit stream keeps `retention.auditDays` whole UTC days of entries. Once a day is older, a
 * sweep keeps it as the report's counters (src/reports/index.ts: its handoffs with everything the
 * stream has about them by then, its own dispositions) and trims its entries, in one script.
 * Days are those of the stream ids (Redis' clock), so every entry is in exactly one kept day or
 * still in the stream.
 */

const SWEEP_EVERY_MS = 3_600_000;
/** Longer than a sweep takes; a sweep that outlives it writes nothing (fenced) and the next one redoes it. */
const LEASE_MS = 10 * 60_000;
/** The field of the kept-days hash that says up to which stream id (exclusive) days are kept. */
const UNTIL = 'until';

export const utcDay = (ms: number) => Math.floor(ms / DAY_MS) * DAY_MS;
const dayName = (ms: number) => new Date(ms).toISOString().slice(0, 10);

const Counts = z.record(z.string(), z.number().int().nonnegative());
const CountersJson = z.object({
  handoffs: z.number().int().nonnegative(),
  owners: z.record(
    z.string(),
    z.object({
      handoffs: z.number().int().nonnegative(),
      acted: z.number().int().nonnegative(),
      onTime: z.number().int().nonnegative(),
      breaches: z.number().int().nonnegative(),
      firstActionMin: Counts,
    }),
  ),
  scores: z.record(
    z.string(),
    z.object({
      handoffs: z.number().int().nonnegative(),
      converted: z.number().int().nonnegative(),
      disqualified: z.number().int().nonnegative(),
      recycled: z.number().int().nonnegative(),
    }),
  ),
  speed: Counts,
  reasons: z.record(z.string(), Counts),
  openBreaches: z.number().int().nonnegative(),
  malformed: z.number().int().nonnegative(),
}) satisfies z.ZodType<Counters>;

export interface KeptDays {
  /** Stream ids before this are kept as counters (and trimmed); undefined before the first sweep kept any. */
  until?: number;
  /** Day start → its counters, oldest first. */
  days: [number, Counters][];
}

/** The days kept as counters. A day that does not parse fails the read: a report without it would be wrong. */
export async function readKeptDays(redis: RedisClient, k: Keys): Promise<KeptDays> {
  const hash = await redis.hgetall(k.auditDays);
  const days: [number, Counters][] = [];
  for (const [field, json] of Object.entries(hash)) {
    if (field === UNTIL) continue;
    const day = Date.parse(`${field}T00:00:00Z`);
    const counters = CountersJson.safeParse(JSON.parse(json));
    if (Number.isNaN(day) || !counters.success)
      throw new Error(`${k.auditDays} ${field}: not a day's report counters`);
    days.push([day, counters.data]);
  }
  const until = hash[UNTIL] === undefined ? undefined : Number(hash[UNTIL]);
  return { ...(until === undefined ? {} : { until }), days: days.sort((a, b) => a[0] - b[0]) };
}

/**
 * Pure. The counters of each UTC day of `rows` (by stream id) from `from` until `until` (a day
 * start, exclusive): its handoffs with what every later row says about them, its dispositions and
 * malformed entries. Days without rows have none.
 */
export function countDays(rows: readonly AuditRow[], from: number, until: number): [number, Counters][] {
  const leadOf = (entry: unknown) => (entry as Partial<AuditRow['entry']> | null)?.lead;
  // Each lead's rows in stream order, so a day finds what follows it by its leads, not by a scan of
  // every later row (a first sweep keeps many days of a long stream).
  const rowsOfLead = new Map<string, number[]>();
  rows.forEach((row, at) => {
    const lead = leadOf(row.entry);
    if (lead !== undefined) (rowsOfLead.get(lead) ?? rowsOfLead.set(lead, []).get(lead)!).push(at);
  });
  const days: [number, Counters][] = [];
  let i = rows.findIndex((r) => r.ms >= from);
  while (i >= 0 && i < rows.length && rows[i]!.ms < until) {
    const day = utcDay(rows[i]!.ms);
    let end = i;
    while (end < rows.length && rows[end]!.ms < day + DAY_MS) end++;
    const opening = rows.slice(i, end).map((r) => r.entry);
    // Only what is about this day's leads (a handoff id names its lead) is folded after it.
    const leads = new Set(opening.map(leadOf).filter((lead) => lead !== undefined));
    const following = [...leads]
      .flatMap((lead) => rowsOfLead.get(lead)!.filter((at) => at >= end))
      .sort((a, b) => a - b)
      .map((at) => rows[at]!.entry);
    days.push([day, countFolded(foldAudit(opening, {}, following))]);
    i = end;
  }
  return days;
}

type SweepDeps = { redis: RedisClient; config: Config; sharedNow: () => Promise<number> } & {
  logger: Pick<Logger, 'warn'>;
  metrics: Pick<Metrics, 'auditEntries' | 'auditDaysKept'>;
};

/**
 * One sweep, by one process at a time (a lease): every day older than `retention.auditDays` whole
 * days (Redis' clock) kept as counters and its entries trimmed. Returns the days kept, or null when
 * another process holds the sweep or this one lost it (nothing written).
 */
export async function sweepAudit(deps: SweepDeps): Promise<number | null> {
  const { redis, config } = deps;
  const k = keys(config.redis.prefix);
  const token = randomUUID();
  const lease = new Lease(redis, k.auditSweepLease, token);
  if (!(await lease.acquire(LEASE_MS))) return null;
  try {
    const keepFrom = utcDay(await deps.sharedNow()) - config.retention.auditDays * DAY_MS;
    const store = new HandoffStore(redis, k);
    const until = await redis.hget(k.auditDays, UNTIL);
    const from = until !== null ? Number(until) : await store.oldestAuditAt();
    let kept = 0;
    if (from !== null && from < keepFrom) {
      const days = countDays(await store.auditRowsSince(from), from, keepFrom);
      const pairs = days.flatMap(([day, counters]) => [dayName(day), JSON.stringify(counters)]);
      const trimmed = await withScripts(redis).leadflowAuditRollup(
        k.auditSweepLease,
        k.auditDays,
        k.audit,
        token,
        String(keepFrom),
        ...pairs,
      );
      if (trimmed < 0) {
        deps.logger.warn(
          { days: days.length },
          'audit sweep lost its lease: nothing kept, the next sweep does it',
        );
        return null;
      }
      kept = days.length;
      deps.metrics.auditDaysKept.inc(kept);
    }
    deps.metrics.auditEntries.set(await redis.xlen(k.audit));
    return kept;
  } finally {
    await lease.release();
  }
}

/** Sweeps now and every hour; stopped by the returned function. */
export function keepSweepingAudit(deps: SweepDeps): () => void {
  const sweep = () =>
    void sweepAudit(deps).catch((err: unknown) =>
      deps.logger.warn({ err: (err as Error).message }, 'audit sweep failed: tried again at the next'),
    );
  sweep();
  const timer = setInterval(sweep, SWEEP_EVERY_MS);
  timer.unref();
  return () => clearInterval(timer);
}
