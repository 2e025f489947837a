import { HandoffStore } from '../src/store/handoffs.js';
import { keys } from '../src/store/keys.js';
import { startSandbox, type CallRecord } from '../test/sandbox/index.js';
import { DEFAULT_API_VERSION } from '../test/sandbox/salesforce.js';
import {
  LATENCY_MS,
  NAIVE_IN_FLIGHT,
  burstConcurrency,
  completions,
  percentile,
  type Outcome,
} from './common.js';
import { naiveHandoff, salesforceBenchSystem, seedBenchLeads } from './salesforce.js';

/**
 * A burst in Salesforce: 1,000 Leads leadflow has never seen ask for a demo at once (signed generic
 * events, 10 deliveries of 100), handed off into the sandbox org (round trip 100 ms) with the
 * salesforce-only example config — handoffs sharing requests (pipeline.batching), the per-lead path
 * (batching off), and the naive sequence (read, update, task) with as many leads in flight as
 * leadflow has jobs. Time until the last lead is handed off, speed to lead, and API calls per
 * handoff as the org's daily allocation counts them (every request, whatever it carries).
 */

const N = 1_000;
const TIMEOUT_MS = 180_000;

interface BurstFigures {
  lastHandedOffMs: number;
  speedToLeadMs: { p50: number; p95: number; first: number };
  apiCallsPerHandoff: number;
  apiCalls: Record<string, number>;
}

/** What each request was, for the breakdown: reads, queries, single composites, graphs. */
function callKinds(calls: CallRecord[]): Record<string, number> {
  const kinds: Record<string, number> = {};
  for (const { method, path } of calls) {
    const kind = path.endsWith('/composite/graph')
      ? 'composite graph'
      : path.endsWith('/composite')
        ? 'composite'
        : /\/composite\/sobjects\/\w+$/.test(path)
          ? 'collections retrieve'
          : path.includes('/query')
            ? 'query'
            : `${method} sobjects`;
    kinds[kind] = (kinds[kind] ?? 0) + 1;
  }
  return kinds;
}

async function leadflowBurst(
  redisUrl: string,
  batching: boolean,
  run = batching ? 'batched' : 'per-lead',
): Promise<BurstFigures> {
  const { sys, leadIds } = await salesforceBenchSystem(redisUrl, `{leadflow-bench-sf-burst-${run}}`, N, {
    batching,
    env: burstConcurrency(),
  });
  try {
    const { sandbox, redis, prefix } = sys;
    const store = new HandoffStore(redis, keys(prefix));
    const handoffId = (id: string) => `hf.salesforce.lead.${id}.0.mql`;
    const usedBefore = sandbox.salesforce.apiUsage.used;
    const callsBefore = sandbox.calls.length;
    const startedAt = Date.now();
    const deliveries = Array.from({ length: 10 }, (_, d) =>
      sys.post.events({
        events: leadIds.slice(d * 100, d * 100 + 100).map((id) => ({
          id: `burst-${id}`,
          lead: { crm: 'salesforce', objectType: 'lead', id },
          type: 'demo_request',
          occurredAt: Date.now(),
        })),
      }),
    );
    const statuses = await Promise.all(deliveries);
    if (statuses.some((s) => s !== 200)) throw new Error(`bench: webhook answered ${statuses.join(',')}`);

    const completedAt = await completions(redis, prefix, leadIds, handoffId, Date.now() + TIMEOUT_MS);
    if (completedAt.size < N) throw new Error(`bench: ${completedAt.size} of ${N} handed off`);
    const records = await Promise.all(leadIds.map((id) => store.get(handoffId(id))));
    const received = records.map((r) => r?.handoff.receivedAt ?? NaN);
    const speed = leadIds.map((id, i) => completedAt.get(id)! - received[i]!);
    const firstIndex = received.indexOf(Math.min(...received));
    return {
      lastHandedOffMs: Math.max(...completedAt.values()) - startedAt,
      speedToLeadMs: speedOf(speed, speed[firstIndex]!),
      apiCallsPerHandoff: (sandbox.salesforce.apiUsage.used - usedBefore) / N,
      apiCalls: callKinds(sandbox.calls.slice(callsBefore)),
    };
  } finally {
    await sys.close();
  }
}

function speedOf(speed: number[], first: number): BurstFigures['speedToLeadMs'] {
  const sorted = [...speed].sort((a, b) => a - b);
  return { p50: percentile(sorted, 0.5), p95: percentile(sorted, 0.95), first };
}

/** The naive sequence for every lead, NAIVE_IN_FLIGHT leads at a time, all arrived when the burst starts. */
async function naiveBurst(): Promise<BurstFigures> {
  const sandbox = await startSandbox({ latencyMs: LATENCY_MS });
  try {
    const leadIds = seedBenchLeads(sandbox, N);
    const usedBefore = sandbox.salesforce.apiUsage.used;
    const startedAt = performance.now();
    const done: number[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: NAIVE_IN_FLIGHT }, async () => {
        while (next < N) {
          const id = leadIds[next++]!;
          await naiveHandoff(sandbox.url, DEFAULT_API_VERSION, id);
          done.push(performance.now() - startedAt);
        }
      }),
    );
    return {
      lastHandedOffMs: Math.max(...done),
      speedToLeadMs: speedOf(done, done[0]!),
      apiCallsPerHandoff: (sandbox.salesforce.apiUsage.used - usedBefore) / N,
      apiCalls: callKinds(sandbox.calls),
    };
  } finally {
    await sandbox.close();
  }
}

export async function salesforceBurst(redisUrl: string): Promise<Outcome> {
  // The process's first burst runs leadflow's code cold (see bench/burst.ts): it warms up, reported apart.
  const warmUp = await leadflowBurst(redisUrl, true, 'warm-up');
  const batched = await leadflowBurst(redisUrl, true);
  const perLead = await leadflowBurst(redisUrl, false);
  const naive = await naiveBurst();
  const s = (f: BurstFigures) => `${(f.lastHandedOffMs / 1000).toFixed(1)} s`;
  const ms = (f: BurstFigures) =>
    `${Math.round(f.speedToLeadMs.p50)} / ${Math.round(f.speedToLeadMs.p95)} ms`;
  const calls = (f: BurstFigures) => f.apiCallsPerHandoff.toFixed(3);
  return {
    results: {
      salesforceBurst: {
        leads: N,
        sandboxLatencyMs: LATENCY_MS,
        naiveInFlight: NAIVE_IN_FLIGHT,
        workerConcurrency: process.env.WORKER_CONCURRENCY ?? 'config defaults',
        warmUp,
        batched,
        perLead,
        naive,
      },
    },
    rows: [
      [
        `Salesforce burst of ${N} hand-raises (leads never seen): last lead handed off`,
        s(batched),
        `per-lead path ${s(perLead)}; naive, ${NAIVE_IN_FLIGHT} in flight, ${s(naive)}`,
      ],
      [
        'Salesforce burst: speed to lead p50 / p95',
        ms(batched),
        `per-lead ${ms(perLead)}; naive ${ms(naive)}`,
      ],
      [
        'Salesforce burst: first lead speed to lead',
        `${Math.round(batched.speedToLeadMs.first)} ms`,
        `per-lead ${Math.round(perLead.speedToLeadMs.first)} ms; sandbox round trip ${LATENCY_MS} ms`,
      ],
      [
        "Salesforce burst, the process's first (cold): first lead speed to lead",
        `${Math.round(warmUp.speedToLeadMs.first)} ms`,
        `before the runs above, last lead ${s(warmUp)}; the runs above are warm`,
      ],
      [
        'Salesforce burst: API calls per handoff (org daily limit)',
        calls(batched),
        `per-lead ${calls(perLead)}; naive ${calls(naive)}`,
      ],
    ],
  };
}
