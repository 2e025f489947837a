import type { RedisClient } from '../store/redis.js';
import type { CrmConnector } from '../../connectors/types.js';
import type { Config } from '../config/schema.js';
import { retentionTtls } from '../config/retention.js';
import { enqueueScore, type Queues } from '../queue/queues.js';
import { keys } from '../store/keys.js';
import { TimelineStore } from '../store/timeline.js';

export interface BackfillOptions {
  connector: CrmConnector;
  redis: RedisClient;
  queues: Queues;
  config: Config;
  /** Forget a saved position and start from the first record. */
  restart?: boolean;
  /** Stop after this many leads (the position is kept, so the next run goes on). */
  limit?: number;
  pageSize?: number;
  progress?: (done: number, perSecond: number) => void;
  now?: () => number;
}

export interface BackfillResult {
  processed: number;
  finished: boolean;
  resumedFrom: string | undefined;
}

/**
 * Scores the CRM's existing leads: each page's profiles go into Redis and every lead gets a score
 * job (the workers do the rest, through the same path as live events). The position is saved after
 * every page, so an interrupted backfill resumes where it stopped.
 */
export async function backfill(opts: BackfillOptions): Promise<BackfillResult> {
  const now = opts.now ?? Date.now;
  const k = keys(opts.config.redis.prefix);
  const cursorKey = k.backfill(opts.connector.crm);
  const timeline = new TimelineStore(opts.redis, k, retentionTtls(opts.config));
  if (opts.restart) await opts.redis.del(cursorKey);

  const saved = await opts.redis.hgetall(cursorKey);
  let after = saved.after || undefined;
  let processed = Number(saved.processed ?? 0);
  const resumedFrom = after;
  const started = now();
  let thisRun = 0;

  for (;;) {
    const room = opts.limit === undefined ? Infinity : opts.limit - thisRun;
    if (room <= 0) return { processed, finished: false, resumedFrom };
    const page = await opts.connector.listLeads(after, Math.min(opts.pageSize ?? 100, room));
    await Promise.all(
      page.leads.map(async ({ lead, profile }) => {
        await timeline.mergeFetchedProfile(lead, profile, now());
        await enqueueScore(opts.queues, lead, {
          debounceMs: opts.config.pipeline.scoreDebounceMs,
          urgent: false,
        });
      }),
    );
    processed += page.leads.length;
    thisRun += page.leads.length;
    if (!page.next) {
      await opts.redis.del(cursorKey);
      opts.progress?.(processed, rate(thisRun, started, now()));
      return { processed, finished: true, resumedFrom };
    }
    after = page.next;
    await opts.redis.hset(cursorKey, 'after', after, 'processed', String(processed));
    opts.progress?.(processed, rate(thisRun, started, now()));
  }
}

function rate(count: number, since: number, now: number): number {
  return count / Math.max(0.001, (now - since) / 1000);
}
