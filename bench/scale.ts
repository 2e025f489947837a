import { startSandbox } from '../test/sandbox/index.js';
import { hubspotEnv, startSystem } from '../test/system/index.js';
import { demoRequest } from '../test/system/webhooks.js';
import { LATENCY_MS, contact, until, type Outcome } from './common.js';

/**
 * Handoffs per second with one and with two worker processes, CRM round trip 100 ms. Each worker
 * keeps a few jobs in flight, so the run stays bound by CRM latency (as in production) rather than
 * by this 2-core machine, which also hosts the sandbox, the server and Redis.
 */
const SCALING_CONCURRENCY = 4;
export async function scaling(redisUrl: string): Promise<Outcome> {
  const N = 600;
  const sandbox = await startSandbox({ latencyMs: LATENCY_MS });
  const leads = Array.from({ length: N }, (_, i) => contact(i));
  const rates: Record<string, number> = {};
  for (const workers of [1, 2]) {
    sandbox.reset();
    sandbox.seedContacts(leads);
    // Server and workers up and waiting first, so start-up is not measured; then the whole burst at once.
    const sys = await startSystem({
      redisUrl,
      prefix: `{leadflow-bench-scale-${workers}}`,
      sandbox,
      mode: 'processes',
      workers,
      // Workers, not the portal's budget, are what this measures.
      adjust: (c) => ({ ...c, hubspot: { ...c.hubspot, requestsPer10s: 100_000 } }),
      env: (s) => ({ ...hubspotEnv(s), WORKER_CONCURRENCY: String(SCALING_CONCURRENCY) }),
    });
    const started = Date.now();
    for (let i = 0; i < N; i += 100)
      await sys.post.hubspot(leads.slice(i, i + 100).map((l) => demoRequest(l.id)));
    await until(() => sandbox.hubspot.notes.length >= N, 120_000, `${N} notes with ${workers} worker(s)`);
    rates[workers] = N / ((Date.now() - started) / 1000);
    await sys.close();
  }
  await sandbox.close();
  const ratio = rates[2]! / rates[1]!;
  return {
    results: {
      scaling: { handoffs: N, perSecondOneWorker: rates[1], perSecondTwoWorkers: rates[2], ratio },
    },
    rows: [
      [
        'handoffs/s, 1 → 2 worker processes',
        `${rates[1]!.toFixed(0)} → ${rates[2]!.toFixed(0)} (${ratio.toFixed(2)}×)`,
        `${N} demo requests, ${SCALING_CONCURRENCY} jobs in flight per queue per worker; target ≥ 1.8×`,
      ],
    ],
  };
}
