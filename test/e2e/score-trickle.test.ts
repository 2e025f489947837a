import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_REDIS_URL, uniquePrefix } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';
import { hubspotEnv, startSystem, type System } from '../system/index.js';
import { propertyChange } from '../system/webhooks.js';

const N = 200;
const SPREAD_MS = 2_000;

/**
 * Score changes trickling in as one-event webhooks, on the default config: each flush waits
 * `scoreWriteDelayMs` (or a full batch of 100), so 200 changes over 2 s cost a few batch writes, not
 * one per flush round trip.
 */
describe('end to end: a trickle of single score changes shares batch writes', () => {
  let sys: System;
  const ids = Array.from({ length: N }, (_, i) => String(30_000 + i));
  const scores = () => ids.map((id) => sys.sandbox.hubspot.contacts.get(id)?.leadflow_score);

  beforeAll(async () => {
    sys = await startSystem({
      redisUrl: TEST_REDIS_URL,
      prefix: uniquePrefix('e2e-trickle'),
      sandbox: { latencyMs: 50 },
      env: hubspotEnv,
      // Profiles under MQL: every rescore is a score-only update.
      seed: (s) =>
        s.seedContacts(
          ids.map((id) => ({
            id,
            properties: {
              email: `lead${id}@trickle.example`,
              jobtitle: 'Analyst',
              numemployees: '1-5',
              lifecyclestage: 'lead',
            },
          })),
        ),
    });
  });

  afterAll(async () => {
    await sys?.close();
  });

  it('writes 200 score changes arriving one a webhook over 2 s in at most 5 calls', async () => {
    // Seen once first (profile read, first score), in deliveries of 100.
    for (let i = 0; i < N; i += 100)
      await sys.post.hubspot(
        ids.slice(i, i + 100).map((id) => propertyChange(id, 'hs_analytics_last_url', 'https://x.io/a')),
      );
    await waitFor(() => scores().every((s) => s !== undefined), { timeoutMs: 30_000, what: 'first scores' });
    await waitFor(async () => (await sys.redis.hlen(`${sys.prefix}:pending-scores`)) === 0, {
      timeoutMs: 30_000,
      what: 'first flush done',
    });

    const first = scores();
    const started = Date.now();
    const before = sys.sandbox.calls.length;
    const statuses: Promise<number>[] = [];
    for (const [i, id] of ids.entries()) {
      const due = started + (i * SPREAD_MS) / N - Date.now();
      if (due > 0) await new Promise((resolve) => setTimeout(resolve, due));
      statuses.push(sys.post.hubspot([propertyChange(id, 'hs_analytics_last_url', 'https://x.io/pricing')]));
    }
    expect(new Set(await Promise.all(statuses))).toEqual(new Set([200]));
    await waitFor(() => scores().every((s, i) => s !== first[i]), {
      timeoutMs: 30_000,
      what: 'all 200 rescored',
    });
    await waitFor(async () => (await sys.redis.hlen(`${sys.prefix}:pending-scores`)) === 0, {
      timeoutMs: 30_000,
      what: 'nothing pending',
    });

    const calls = sys.sandbox.calls.slice(before);
    const writes = calls.filter((c) => c.path.endsWith('/contacts/batch/update'));
    // 2 s of changes at a 1 s delay, or 100 at once: 2–3 writes, wherever the clock falls.
    expect(writes.length).toBeGreaterThanOrEqual(2);
    expect(calls.length).toBeLessThanOrEqual(5);
  });
});
