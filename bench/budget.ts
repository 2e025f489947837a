import { Redis } from 'ioredis';
import { createHubSpotConnector } from '../connectors/hubspot/index.js';
import { loadConfig } from '../src/config/load.js';
import { RateBudget } from '../src/store/rate-budget.js';
import { deleteByPrefix } from '../src/store/redis.js';
import { startSandbox } from '../test/sandbox/index.js';
import { contact, type Outcome } from './common.js';

/** Two callers sharing one budget against a rate ceiling: how much of it is used, and 429s. */
export async function ceilingUtilisation(redisUrl: string): Promise<Outcome> {
  const limits = { max: 40, intervalMs: 2_000 };
  const sandbox = await startSandbox({ latencyMs: 20, rateLimit: limits });
  sandbox.seedContacts([contact(1)]);
  const prefix = '{leadflow-bench-budget}';
  const redisA = new Redis(redisUrl);
  const redisB = new Redis(redisUrl);
  await deleteByPrefix(redisA, prefix);
  const fields = loadConfig('config/default.yaml').hubspot.fields;
  // Two "worker processes": separate connections and clients, one shared budget key.
  const workers = [redisA, redisB].map((r) =>
    createHubSpotConnector({
      accessToken: 'b',
      basePath: sandbox.url,
      fields,
      budget: new RateBudget(r, `${prefix}:budget`, limits),
    }),
  );
  const DURATION_MS = 8_000;
  const started = Date.now();
  let ok = 0;
  await Promise.all(
    workers.flatMap((w) =>
      Array.from({ length: 16 }, async () => {
        while (Date.now() - started < DURATION_MS) {
          await w.readProfile({ crm: 'hubspot', objectType: 'contact', id: String(100_001) }).then(
            () => ok++,
            () => undefined,
          );
        }
      }),
    ),
  );
  const elapsed = Date.now() - started;
  const throttled = sandbox.calls.filter((c) => c.status === 429).length;
  // The most a rolling window allows in `elapsed`: a full window at the start and one per interval after.
  const ceiling = limits.max * (Math.floor(elapsed / limits.intervalMs) + 1);
  await sandbox.close();
  await deleteByPrefix(redisA, prefix);
  redisA.disconnect();
  redisB.disconnect();
  return {
    results: {
      ceiling: {
        limitPerWindow: limits.max,
        windowMs: limits.intervalMs,
        elapsedMs: elapsed,
        ok,
        throttled,
        utilisation: ok / ceiling,
      },
    },
    rows: [
      [
        'rate ceiling used by 2 workers (32 callers)',
        `${Math.round((100 * ok) / ceiling)}%`,
        `${throttled} responses 429; target ≥ 90% with 0`,
      ],
    ],
  };
}
