import { propertyChange } from '../test/system/webhooks.js';
import { benchSystem, contact, sleep, until, type Outcome } from './common.js';
import type { System } from '../test/system/index.js';

/**
 * `n` known HubSpot contacts whose profiles stay under MQL, so every rescore is a score-only
 * update, each seen once (profile read, first score written) before anything is measured.
 */
export async function subMqlLeads(redisUrl: string, prefix: string, n: number, latencyMs: number) {
  const leads = Array.from({ length: n }, (_, i) => contact(i));
  const sys = await benchSystem(redisUrl, {
    prefix,
    sandbox: { latencyMs },
    seed: (sandbox) =>
      sandbox.seedContacts(
        leads.map((l) => ({
          id: l.id,
          properties: { ...l.properties, jobtitle: 'Analyst', numemployees: '1-5' },
        })),
      ),
  });
  await visitAll(sys, leads, 'https://x.io/a');
  await until(
    () => leads.every((l) => sys.sandbox.hubspot.contacts.get(l.id)?.leadflow_score !== undefined),
    60_000,
    'first scores',
  );
  await sleep(1_500);
  return { sys, leads };
}

/** Every lead views `url`, in deliveries of 100 events. */
async function visitAll(sys: System, leads: { id: string }[], url: string) {
  for (let i = 0; i < leads.length; i += 100)
    await sys.post.hubspot(
      leads.slice(i, i + 100).map((l) => propertyChange(l.id, 'hs_analytics_last_url', url)),
    );
}

/** Every lead's score in the CRM has reached `min`. */
export const scoredAtLeast = (sys: System, leads: { id: string }[], min: number, what: string) =>
  until(
    () => leads.every((l) => Number(sys.sandbox.hubspot.contacts.get(l.id)?.leadflow_score) >= min),
    60_000,
    what,
  );

/** Each lead's score in the CRM, to tell when it changed. */
export const crmScores = (sys: System, leads: { id: string }[]) =>
  leads.map((l) => sys.sandbox.hubspot.contacts.get(l.id)?.leadflow_score);

/** CRM calls for 1,000 known leads whose score changes (no handoff), against one PATCH per lead. */
export async function callsPerThousand(redisUrl: string): Promise<Outcome> {
  const N = 1000;
  const { sys, leads } = await subMqlLeads(redisUrl, '{leadflow-bench-calls}', N, 20);

  // Measured: a second round of engagement re-scores all 1,000 leads.
  const before = sys.sandbox.calls.length;
  await visitAll(sys, leads, 'https://x.io/pricing');
  await scoredAtLeast(sys, leads, 9, 'second scores');
  await sleep(1_500);
  const calls = sys.sandbox.calls.length - before;
  await sys.close();

  // Naive: read the contact, then update it, per re-scored lead.
  const naive = 2 * N;
  return {
    results: { callsPerThousandRescores: { leadflow: calls, naive } },
    rows: [['CRM calls per 1,000 re-scored leads', String(calls), `naive ${naive}; target ≤ 15`]],
  };
}
