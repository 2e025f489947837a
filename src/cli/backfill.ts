import type { RedisClient } from '../store/redis.js';
import type { CrmConnector } from '../../connectors/types.js';
import type { Config } from '../config/schema.js';
import { retentionTtls } from '../config/retention.js';
import { evaluateLead } from '../handoff/evaluate.js';
import { enqueueScore, type Queues } from '../queue/queues.js';
import { keys } from '../store/keys.js';
import { LeadStore } from '../store/leads.js';
import { TimelineStore } from '../store/timeline.js';
import { DAY_MS } from '../domain/time.js';

export interface BackfillOptions {
  connector: CrmConnector;
  redis: RedisClient;
  queues: Queues;
  config: Config;
  /** Forget a saved position (or a finished backfill) and start from the first record. */
  restart?: boolean;
  /** Stop after this many leads (the position is kept, so the next run goes on). */
  limit?: number;
  /** Read and count only: nothing is stored, queued or remembered. */
  dryRun?: boolean;
  pageSize?: number;
  progress?: (progress: BackfillProgress) => void;
  now?: () => number;
}

export interface BackfillProgress {
  /** Records read so far, earlier runs of a resumed backfill included. */
  done: number;
  /** How many there are in all, when the CRM can tell (`countLeads`). */
  total?: number;
  perSecond: number;
}

export interface BackfillResult {
  processed: number;
  finished: boolean;
  resumedFrom: string | undefined;
  /** A dry run: how many of the records read would be handed off to a rep now. */
  wouldHandOff?: number;
  /** Set when an earlier run had finished already, so this one did nothing. */
  alreadyFinishedAt?: number;
}

/**
 * Scores the CRM's existing leads: each page's profiles go into Redis and every lead gets a score
 * job (the workers do the rest, through the same path as live events). The position is saved after
 * every page, so an interrupted backfill resumes where it stopped; a finished one is remembered, so
 * running it again does not score every record a second time.
 */
export async function backfill(opts: BackfillOptions): Promise<BackfillResult> {
  const now = opts.now ?? Date.now;
  const { config, redis, dryRun } = opts;
  const k = keys(config.redis.prefix);
  const cursorKey = k.backfill(opts.connector.crm);
  const timeline = new TimelineStore(redis, k, retentionTtls(config));
  const leads = new LeadStore(redis, k);
  if (opts.restart && !dryRun) await redis.del(cursorKey);

  const saved = opts.restart ? {} : await redis.hgetall(cursorKey);
  if (saved.finishedAt)
    return {
      processed: Number(saved.processed ?? 0),
      finished: true,
      resumedFrom: undefined,
      alreadyFinishedAt: Number(saved.finishedAt),
    };
  let after = saved.after || undefined;
  let processed = Number(saved.processed ?? 0);
  const resumedFrom = after;
  const total = await opts.connector.countLeads?.();
  const started = now();
  let thisRun = 0;
  let wouldHandOff = 0;
  const result = (finished: boolean): BackfillResult => ({
    processed,
    finished,
    resumedFrom,
    ...(dryRun && { wouldHandOff }),
  });
  const report = () =>
    opts.progress?.({
      done: processed,
      ...(total !== undefined && { total: Math.max(total, processed) }),
      perSecond: thisRun / Math.max(0.001, (now() - started) / 1000),
    });

  for (;;) {
    const room = opts.limit === undefined ? Infinity : opts.limit - thisRun;
    if (room <= 0) return result(false);
    const page = await opts.connector.listLeads(after, Math.min(opts.pageSize ?? 100, room));
    if (dryRun) {
      const at = now();
      const since = at - config.pipeline.timelineDays * DAY_MS;
      const decided = await Promise.all(
        page.leads.map(async ({ lead, profile }) => {
          const [entries, history, held, state] = await Promise.all([
            timeline.events(lead, since),
            timeline.history(lead, since),
            timeline.profile(lead),
            leads.get(lead),
          ]);
          // The score job fills what no webhook told us from the CRM, as the real run would.
          const merged = held.fetched ? held.profile : { ...profile, ...held.profile };
          return evaluateLead({ lead, profile: merged, entries, history, state, config, now: at }).decision;
        }),
      );
      wouldHandOff += decided.filter((d) => d.handoff).length;
    } else
      await Promise.all(
        page.leads.map(async ({ lead, profile }) => {
          await timeline.mergeFetchedProfile(lead, profile, now());
          await enqueueScore(opts.queues, lead, {
            debounceMs: config.pipeline.scoreDebounceMs,
            urgent: false,
          });
        }),
      );
    processed += page.leads.length;
    thisRun += page.leads.length;
    if (!page.next) {
      if (!dryRun)
        await redis
          .multi()
          .del(cursorKey)
          .hset(cursorKey, 'finishedAt', String(now()), 'processed', String(processed))
          .exec();
      report();
      return result(true);
    }
    after = page.next;
    if (!dryRun) await redis.hset(cursorKey, 'after', after, 'processed', String(processed));
    report();
  }
}
