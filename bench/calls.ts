import { propertyChange } from '../test/system/webhooks.js';
import { benchSystem, contact, sleep, until, type Outcome } from './common.js';

/** CRM calls for 1,000 known leads whose score changes (no handoff), against one PATCH per lead. */
export async function callsPerThousand(redisUrl: string): Promise<Outcome> {
  const N = 1000;
  const leads = Array.from({ length: N }, (_, i) => contact(i));
  const sys = await benchSystem(redisUrl, {
    prefix: '{leadflow-bench-calls}',
    sandbox: { latencyMs: 20 },
    // Profiles that stay under MQL, so every rescore is a score-only update.
    seed: (sandbox) =>
      sandbox.seedContacts(
        leads.map((l) => ({
          id: l.id,
          properties: { ...l.properties, jobtitle: 'Analyst', numemployees: '1-5' },
        })),
      ),
  });
  const { sandbox } = sys;
  const visitAll = async (url: string) => {
    for (let i = 0; i < N; i += 100)
      await sys.post.hubspot(
        leads.slice(i, i + 100).map((l) => propertyChange(l.id, 'hs_analytics_last_url', url)),
      );
  };
  await visitAll('https://x.io/a');
  await until(
    () => leads.every((l) => sandbox.hubspot.contacts.get(l.id)?.leadflow_score !== undefined),
    60_000,
    'first scores',
  ).catch((err) => {
    const summary: Record<string, number> = {};
    for (const c of sandbox.calls)
      summary[`${c.method} ${c.path.replace(/\d+/g, ':id')} ${c.status}`] =
        (summary[`${c.method} ${c.path.replace(/\d+/g, ':id')} ${c.status}`] ?? 0) + 1;
    console.log(
      summary,
      leads.filter((l) => sandbox.hubspot.contacts.get(l.id)?.leadflow_score === undefined).length,
    );
    throw err;
  });
  await sleep(1_500);

  // Measured: a second round of engagement re-scores all 1,000 leads.
  const before = sandbox.calls.length;
  await visitAll('https://x.io/pricing');
  await until(
    () => leads.every((l) => Number(sandbox.hubspot.contacts.get(l.id)?.leadflow_score) >= 9),
    60_000,
    'second scores',
  );
  await sleep(1_500);
  const calls = sandbox.calls.length - before;
  await sys.close();

  // Naive: read the contact, then update it, per re-scored lead.
  const naive = 2 * N;
  return {
    results: { callsPerThousandRescores: { leadflow: calls, naive } },
    rows: [['CRM calls per 1,000 re-scored leads', String(calls), `naive ${naive}; target ≤ 15`]],
  };
}
