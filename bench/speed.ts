import { demoRequest, propertyChange } from '../test/system/webhooks.js';
import { LATENCY_MS, againstNaive, benchSystem, contact, timeHandoffs, type Outcome } from './common.js';

/** Webhook receipt → every CRM write acknowledged, for demo requests from known leads. */
export async function speedToLead(redisUrl: string): Promise<Outcome> {
  const N = 200;
  const leads = Array.from({ length: N }, (_, i) => contact(i));
  const sys = await benchSystem(redisUrl, {
    prefix: '{leadflow-bench-stl}',
    sandbox: { latencyMs: LATENCY_MS },
    seed: (sandbox) => sandbox.seedContacts(leads),
  });
  const { sandbox } = sys;
  const blogView = (l: { id: string }) => propertyChange(l.id, 'hs_analytics_last_url', 'https://x.io/blog');
  const { times: ours } = await timeHandoffs(
    sys,
    leads.map((l) => ({ crm: 'hubspot', objectType: 'contact', id: l.id })),
    async () => {
      await sys.post.hubspot(leads.slice(0, 100).map(blogView));
      await sys.post.hubspot(leads.slice(100).map(blogView));
    },
    (id) => sys.post.hubspot([demoRequest(id)]),
    (id) => `hf.hubspot.contact.${id}.0.mql`,
  );
  await sys.stop();

  // The naive baseline: per event, read the contact, update it, create the note, create the task, in sequence.
  const naive: number[] = [];
  const headers = { authorization: 'Bearer bench', 'content-type': 'application/json' };
  for (const lead of leads.slice(0, 100)) {
    const started = performance.now();
    await (
      await fetch(`${sandbox.url}/crm/v3/objects/contacts/${lead.id}?properties=jobtitle,lifecyclestage`, {
        headers,
      })
    ).arrayBuffer();
    await (
      await fetch(`${sandbox.url}/crm/v3/objects/contacts/${lead.id}`, {
        method: 'PATCH',
        headers,
        body: JSON.stringify({ properties: { leadflow_score: '80', lifecyclestage: 'salesqualifiedlead' } }),
      })
    ).arrayBuffer();
    for (const kind of ['notes', 'tasks']) {
      await (
        await fetch(`${sandbox.url}/crm/v3/objects/${kind}`, {
          method: 'POST',
          headers,
          body: JSON.stringify({
            properties: { hs_timestamp: new Date().toISOString(), hs_note_body: 'x', hs_task_subject: 'x' },
            associations: [
              {
                to: { id: lead.id },
                types: [
                  { associationCategory: 'HUBSPOT_DEFINED', associationTypeId: kind === 'notes' ? 202 : 204 },
                ],
              },
            ],
          }),
        })
      ).arrayBuffer();
    }
    naive.push(performance.now() - started);
  }
  await sys.close();

  const { triples, faster, ...figures } = againstNaive(ours, naive);
  const target = 1.5 * LATENCY_MS + 50;
  return {
    results: { speedToLead: { sandboxLatencyMs: LATENCY_MS, ...figures, targetP99Ms: target } },
    rows: [
      ['speed to lead p50 / p95 / p99 (ms)', triples.ours, `naive ${triples.naive}; target p99 ≤ ${target}`],
      ['speed to lead, median vs naive', faster, `sandbox round trip ${LATENCY_MS} ms`],
    ],
  };
}
