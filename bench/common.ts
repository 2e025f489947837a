/** What the benchmarks share: the sample leads, percentiles, and the system as they run it. */
import { Pipeline } from '../src/config/schema/pipeline.js';
import { createLogger } from '../src/logger.js';
import { HandoffStore } from '../src/store/handoffs.js';
import { keys } from '../src/store/keys.js';
import { LeadRecords } from '../src/store/lead-record.js';
import { withScripts } from '../src/store/scripts.js';
import type { RedisClient } from '../src/store/redis.js';
import type { LeadRef } from '../src/domain/index.js';
import type { CallRecord } from '../test/sandbox/index.js';
import { waitFor } from '../test/helpers/wait.js';
import { hubspotEnv, startSystem, type System, type SystemOptions } from '../test/system/index.js';

/** The sandbox's round trip where a benchmark models a real CRM. */
export const LATENCY_MS = 100;

/** One benchmark's figures for bench/results/latest.json and its rows for the table. */
export interface Outcome {
  results: Record<string, unknown>;
  rows: [what: string, value: string, note: string][];
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls every 10 ms, so waiting adds little to what is measured. */
export const until = (check: () => Promise<boolean> | boolean, timeoutMs: number, what: string) =>
  waitFor(check, { timeoutMs, intervalMs: 10, what: `bench: ${what}` });

export function percentile(sorted: number[], p: number): number {
  return sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)] ?? NaN;
}

export function summary(sorted: number[]) {
  return { p50: percentile(sorted, 0.5), p95: percentile(sorted, 0.95), p99: percentile(sorted, 0.99) };
}

export const triple = (sorted: number[]) =>
  `${Math.round(percentile(sorted, 0.5))} / ${Math.round(percentile(sorted, 0.95))} / ${Math.round(percentile(sorted, 0.99))}`;

/** A known HubSpot contact that fits the default rules well. */
export function contact(i: number) {
  return {
    id: String(100_000 + i),
    properties: {
      firstname: `Lead${i}`,
      lastname: 'Bench',
      email: `lead${i}@bench.example`,
      jobtitle: i % 3 === 0 ? 'VP Marketing' : 'Marketing Manager',
      industry: 'COMPUTER_SOFTWARE',
      numemployees: '100-500',
      country: 'Canada',
      lifecyclestage: 'lead',
    },
  };
}

/**
 * A burst runs at the config's jobs in flight per queue (WORKER_CONCURRENCY unset: an empty value is
 * none), or at the WORKER_CONCURRENCY the benchmark was started with, for a comparison.
 */
export const burstConcurrency = (): Record<string, string> => ({
  WORKER_CONCURRENCY: process.env.WORKER_CONCURRENCY ?? '',
});

/** The naive baselines of a burst keep as many leads in flight as leadflow has writeback jobs by default. */
export const NAIVE_IN_FLIGHT = Pipeline.parse({}).concurrency.writeback;

/**
 * Server and workers in this process, 32 jobs in flight per queue (unless `env` sets
 * WORKER_CONCURRENCY), errors-only logs, HubSpot
 * credentials unless `env` names others, and a HubSpot budget out of the way: the sandbox sets the
 * limits in these runs, the budget would only add waits.
 */
export function benchSystem(redisUrl: string, opts: Omit<SystemOptions, 'redisUrl'>): Promise<System> {
  const env = opts.env ?? hubspotEnv;
  return startSystem({
    adjust: (c) => ({ ...c, hubspot: { ...c.hubspot, requestsPer10s: 1000 } }),
    ...opts,
    redisUrl,
    env: (sandbox) => ({ WORKER_CONCURRENCY: '32', ...env(sandbox) }),
    logger: createLogger('error'),
  });
}

/**
 * Warms the leads up first (each seen once, so profile and stage are cached, as for most demo
 * requesters), then times each one's hand-raise; also the CRM calls made meanwhile.
 */
export async function timeHandoffs(
  sys: System,
  leads: LeadRef[],
  warmUp: () => Promise<unknown>,
  raiseHand: (leadId: string) => Promise<number>,
  handoffIdOf: (leadId: string) => string,
): Promise<{ times: number[]; calls: CallRecord[] }> {
  const { redis, prefix, sandbox } = sys;
  await warmUp();
  await until(profilesFetched(sys, leads), 30_000, 'profiles cached');
  await sleep(1_500);
  const before = sandbox.calls.length;
  const store = new HandoffStore(redis, keys(prefix));
  const times = await measureHandoffs(
    store,
    leads.map((l) => l.id),
    raiseHand,
    handoffIdOf,
  );
  return { times, calls: sandbox.calls.slice(before) };
}

/** Whether every lead's profile was read from the CRM (its one key records when). */
export const profilesFetched = (sys: System, leads: readonly LeadRef[]) => {
  const records = new LeadRecords(withScripts(sys.redis), keys(sys.prefix));
  return async () => (await records.readMany(leads)).every(({ record }) => record.fetchedAt !== undefined);
};

/**
 * Sends each lead's hand-raise one at a time, spaced out (latency, not a queue under load), and
 * returns webhook receipt → every CRM write acknowledged, per handoff.
 */
async function measureHandoffs(
  store: HandoffStore,
  leadIds: string[],
  send: (leadId: string) => Promise<number>,
  handoffIdOf: (leadId: string) => string,
): Promise<number[]> {
  const times: number[] = [];
  for (const leadId of leadIds) {
    const status = await send(leadId);
    if (status !== 200) throw new Error(`bench: webhook answered ${status}`);
    times.push(await speedToLeadOf(store, handoffIdOf(leadId), 10_000));
    await sleep(20);
  }
  return times;
}

/** Webhook receipt → every CRM write acknowledged, for one handoff, once it completes. */
export async function speedToLeadOf(store: HandoffStore, id: string, timeoutMs: number): Promise<number> {
  let completedAt = '';
  await until(
    async () => Boolean((completedAt = (await store.progress(id)).completedAt ?? '')),
    timeoutMs,
    `handoff ${id}`,
  );
  const record = await store.get(id);
  return Number(completedAt) - (record?.handoff.receivedAt ?? NaN);
}

/**
 * Every 250 ms, when each lead's handoff completed (Redis' clock at completion: polling slowly delays
 * only noticing it), until all have or the `deadline` (epoch ms) passed. One pipeline per poll: a
 * command apiece would be a socket write apiece, CPU taken from the process being measured.
 */
export async function completions(
  redis: RedisClient,
  prefix: string,
  leadIds: readonly string[],
  handoffIdOf: (leadId: string) => string,
  deadline: number,
): Promise<Map<string, number>> {
  const k = keys(prefix);
  const completedAt = new Map<string, number>();
  while (completedAt.size < leadIds.length && Date.now() < deadline) {
    await sleep(250);
    const pending = leadIds.filter((id) => !completedAt.has(id));
    const pipeline = redis.pipeline();
    for (const id of pending) pipeline.hget(k.progress(handoffIdOf(id)), 'completedAt');
    const rows = (await pipeline.exec()) ?? [];
    pending.forEach((id, i) => {
      const [err, at] = rows[i] ?? [];
      if (err) throw err;
      if (typeof at === 'string') completedAt.set(id, Number(at));
    });
  }
  return completedAt;
}

/** Both samples sorted and summed up, and how much faster leadflow's median is than the naive one. */
export function againstNaive(ours: number[], naive: number[]) {
  const s = [...ours].sort((a, b) => a - b);
  const n = [...naive].sort((a, b) => a - b);
  return {
    samples: s.length,
    leadflow: summary(s),
    naive: { samples: n.length, ...summary(n) },
    triples: { ours: triple(s), naive: triple(n) },
    faster: `${(percentile(n, 0.5) / percentile(s, 0.5)).toFixed(1)}× faster`,
  };
}
