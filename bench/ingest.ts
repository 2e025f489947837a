import { closeQueues, openQueues } from '../src/queue/queues.js';
import { SECRETS } from '../test/system/index.js';
import { propertyChange } from '../test/system/webhooks.js';
import { benchSystem, type Outcome } from './common.js';

/** Signed batches of 100 events into one server process; every accepted event must be queued. */
export async function ingestThroughput(redisUrl: string): Promise<Outcome> {
  // HTTP only: this measures receiving, not processing.
  const sys = await benchSystem(redisUrl, {
    prefix: '{leadflow-bench-ingest}',
    workers: 0,
    env: (sandbox) => ({ HUBSPOT_CLIENT_SECRET: SECRETS.hubspotClientSecret, HUBSPOT_BASE_URL: sandbox.url }),
  });
  // Bodies made up front: what is measured is the server, not JSON.stringify here.
  const bodies = Array.from({ length: 50 }, (_, b) =>
    JSON.stringify(
      Array.from({ length: 100 }, (_, i) =>
        propertyChange(String(1 + ((b * 100 + i) % 5000)), 'hs_analytics_last_url', `https://x.io/p/${i}`),
      ),
    ),
  );

  const DURATION_MS = 5_000;
  const CONCURRENCY = 32;
  let accepted = 0;
  let rejected = 0;
  const rejectedStatuses: Record<string, number> = {};
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async (_, w) => {
      let i = w;
      while (performance.now() - started < DURATION_MS) {
        const status = await sys.post.hubspot(bodies[i++ % bodies.length]!);
        if (status === 200) accepted++;
        else {
          rejected++;
          rejectedStatuses[status] = (rejectedStatuses[status] ?? 0) + 1;
        }
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const queues = openQueues(sys.redis, sys.prefix, () => undefined);
  // Score-only deliveries wait in the routine lane (BullMQ's prioritized set), hand-raises in the wait list.
  const queued = await queues.ingest.getJobCountByTypes('waiting', 'prioritized');
  await closeQueues(queues);
  await sys.close();

  const eventsPerSecond = (accepted * 100) / seconds;
  return {
    results: {
      ingest: {
        eventsPerSecond: Math.round(eventsPerSecond),
        acceptedBatches: accepted,
        queuedBatches: queued,
        lost: accepted - queued,
        rejected,
        rejectedStatuses,
        concurrency: CONCURRENCY,
      },
    },
    rows: [
      [
        'ingest, signed batches of 100 (events/s)',
        `${Math.round(eventsPerSecond).toLocaleString('en-US')}`,
        `lost ${accepted - queued} of ${accepted * 100}; refused ${rejected} (${JSON.stringify(rejectedStatuses)}), which senders retry; target ≥ 10,000`,
      ],
    ],
  };
}
