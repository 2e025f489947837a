import { propertyChange } from '../test/system/webhooks.js';
import { crmScores, subMqlLeads } from './calls.js';
import { LATENCY_MS, sleep, until, type Outcome } from './common.js';

/**
 * CRM calls for 1,000 score changes arriving as 1,000 one-event signed webhooks over 10 s (one
 * every 10 ms, each for another known sub-MQL lead), against one PATCH per change.
 */
export async function trickle(redisUrl: string): Promise<Outcome> {
  const N = 1000;
  const SPREAD_MS = 10_000;
  const { sys, leads } = await subMqlLeads(redisUrl, '{leadflow-bench-trickle}', N, LATENCY_MS);

  const before = sys.sandbox.calls.length;
  const first = crmScores(sys, leads);
  const started = Date.now();
  const posts: Promise<number>[] = [];
  for (const [i, l] of leads.entries()) {
    // Paced by the clock, so a slow post does not stretch the trickle.
    const due = started + (i * SPREAD_MS) / N - Date.now();
    if (due > 0) await sleep(due);
    posts.push(sys.post.hubspot([propertyChange(l.id, 'hs_analytics_last_url', 'https://x.io/pricing')]));
  }
  const statuses = await Promise.all(posts);
  const spreadMs = Date.now() - started;
  if (statuses.some((s) => s !== 200 && s !== 204))
    throw new Error(`trickle: webhooks answered ${[...new Set(statuses)].join(', ')}`);
  await until(() => crmScores(sys, leads).every((score, i) => score !== first[i]), 60_000, 'trickled scores');
  const lastWrittenMs = Date.now() - started;
  await sleep(1_500);
  const calls = sys.sandbox.calls.length - before;
  await sys.close();

  return {
    results: { trickle: { calls, naive: N, spreadMs, lastWrittenMs } },
    rows: [
      [
        'CRM calls for 1,000 one-event webhooks over 10 s',
        String(calls),
        `naive ${N}; target ≤ 15; last score written at ${(lastWrittenMs / 1000).toFixed(1)} s`,
      ],
    ],
  };
}
