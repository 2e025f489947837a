import type { Sandbox } from '../test/sandbox/index.js';
import { salesforceEnv, type System } from '../test/system/index.js';
import { LATENCY_MS, againstNaive, benchSystem, timeHandoffs, type Outcome } from './common.js';

/**
 * The system on `config/examples/salesforce-only.yaml` with handoffs only (no polls or stream
 * competing for the sandbox, our request budget out of the way), its org seeded with `n` Leads.
 */
export async function salesforceBenchSystem(
  redisUrl: string,
  prefix: string,
  n: number,
  opts: { batching?: boolean; env?: Record<string, string> } = {},
): Promise<{ sys: System; leadIds: string[] }> {
  let leadIds: string[] = [];
  const sys = await benchSystem(redisUrl, {
    prefix,
    sandbox: { latencyMs: LATENCY_MS },
    seed: (sandbox) => {
      leadIds = seedBenchLeads(sandbox, n);
    },
    configFile: 'config/examples/salesforce-only.yaml',
    adjust: (c) => ({
      ...c,
      pipeline: { ...c.pipeline, batching: opts.batching ?? c.pipeline.batching },
      salesforce: { ...c.salesforce, cdc: undefined, polling: {}, requestsPerSecond: 1000 },
    }),
    env: (sandbox) => ({ ...salesforceEnv(sandbox), ...opts.env }),
  });
  return { sys, leadIds };
}

/** `n` open Leads in the sandbox org that fit the example rules well; their ids. */
export function seedBenchLeads(sandbox: Sandbox, n: number): string[] {
  return Array.from({ length: n }, (_, i) =>
    sandbox.salesforce.insert('Lead', {
      FirstName: `Lead${i}`,
      LastName: 'Bench',
      Email: `lead${i}@bench.example`,
      Company: `Bench ${i}`,
      Title: i % 3 === 0 ? 'VP Marketing' : 'Marketing Manager',
      Industry: 'Technology',
      NumberOfEmployees: 300,
      Status: 'Open - Not Contacted',
    }),
  );
}

/** A naive integration's handoff of one Lead: read it, update it, create the task (3 API calls). */
export async function naiveHandoff(instanceUrl: string, apiVersion: string, id: string): Promise<void> {
  const headers = { authorization: 'Bearer bench', 'content-type': 'application/json' };
  const sobjects = `${instanceUrl}/services/data/v${apiVersion}/sobjects`;
  await (await fetch(`${sobjects}/Lead/${id}?fields=Title,Status`, { headers })).arrayBuffer();
  await (
    await fetch(`${sobjects}/Lead/${id}`, {
      method: 'PATCH',
      headers,
      body: JSON.stringify({ Status: 'Marketing Qualified', Leadflow_Score__c: 80 }),
    })
  ).arrayBuffer();
  await (
    await fetch(`${sobjects}/Task`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ WhoId: id, Subject: 'Call', ActivityDate: '2030-01-01' }),
    })
  ).arrayBuffer();
}

/**
 * The same for Salesforce: a demo request from a known lead, by signed generic event, handed off
 * into the sandbox org with the salesforce-only example config (one composite request each),
 * against the naive sequence: read the lead, update it, create the task.
 */
export async function salesforceSpeedToLead(redisUrl: string): Promise<Outcome> {
  const N = 100;
  const { sys, leadIds } = await salesforceBenchSystem(redisUrl, '{leadflow-bench-sf}', N);
  const { sandbox, config } = sys;
  let seq = 0;
  const send = (leadId: string, type: string) =>
    sys.post.events({
      events: [
        {
          id: `bench-${seq++}`,
          lead: { crm: 'salesforce', objectType: 'lead', id: leadId },
          type,
          occurredAt: Date.now(),
        },
      ],
    });

  const { times: ours, calls } = await timeHandoffs(
    sys,
    leadIds.map((id) => ({ crm: 'salesforce', objectType: 'lead', id })),
    async () => {
      for (const id of leadIds) await send(id, 'page_view');
    },
    (id) => send(id, 'demo_request'),
    (id) => `hf.salesforce.lead.${id}.0.mql`,
  );
  const composites = calls.filter((c) => c.method === 'POST' && c.path.endsWith('/composite')).length;
  await sys.stop();

  const naive: number[] = [];
  for (const id of leadIds) {
    const started = performance.now();
    await naiveHandoff(sandbox.url, config.salesforce.apiVersion, id);
    naive.push(performance.now() - started);
  }
  await sys.close();

  const { triples, faster, samples, ...figures } = againstNaive(ours, naive);
  const perHandoff = composites / samples;
  return {
    results: {
      salesforceSpeedToLead: {
        sandboxLatencyMs: LATENCY_MS,
        samples,
        compositeRequestsPerHandoff: perHandoff,
        ...figures,
      },
    },
    rows: [
      [
        'Salesforce speed to lead p50 / p95 / p99 (ms)',
        triples.ours,
        `naive ${triples.naive}; ${perHandoff.toFixed(2)} composite requests per handoff`,
      ],
      ['Salesforce speed to lead, median vs naive', faster, `sandbox round trip ${LATENCY_MS} ms`],
    ],
  };
}
