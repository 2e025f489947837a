import { HandoffStore } from '../src/store/handoffs.js';
import { keys } from '../src/store/keys.js';
import { startSandbox, type CallRecord, type Sandbox } from '../test/sandbox/index.js';
import { hubspotEnv, SECRETS, type System } from '../test/system/index.js';
import { startCpuProfile } from './cpu-stages.js';
import {
  LATENCY_MS,
  NAIVE_IN_FLIGHT,
  benchSystem,
  burstConcurrency,
  completions,
  contact,
  percentile,
  sleep,
  type Outcome,
} from './common.js';

/**
 * A burst in HubSpot: 1,000 contacts leadflow has never seen ask for a demo at once (signed generic
 * events, 10 deliveries of 100), handed off into the sandbox portal (round trip 100 ms) under
 * HubSpot's rolling limit of 100 and of 190 requests per 10 s — handoffs sharing batch requests
 * (pipeline.batching), the per-lead path (batching off), and the naive sequence (read, update, note,
 * task per lead) with as many leads in flight as leadflow has jobs. Time until the last lead is handed
 * off (stage, owner, note, task), speed to lead, CRM calls per handoff, 429s, and the process's CPU
 * per handoff. A run that cannot finish within TIMEOUT_MS reports how many it handed off by then.
 * A warm-up burst at the highest ceiling goes first, reported on a row of its own: the process's
 * first burst runs leadflow's code cold, which a worker that has been running does not.
 * BURST_LEADS sets the size (1,000 unless given) for a quick run; BURST_BASELINES=0 runs only the
 * batched path; BURST_CEILINGS=100 only that ceiling; CPU_PROFILE=<file> keeps the CPU profile.
 */

const N = Number(process.env.BURST_LEADS ?? 1_000);
const TIMEOUT_MS = 60_000;
const CEILINGS = (process.env.BURST_CEILINGS ?? '100,190').split(',').map(Number);
const BASELINES = process.env.BURST_BASELINES !== '0';

interface BurstFigures {
  handedOff: number;
  /** Until the last lead handed off, or the timeout when some were not. */
  lastHandedOffMs: number;
  speedToLeadMs: { p50: number; p95: number; first: number };
  callsPerHandoff: number;
  responses429: number;
  cpuMsPerHandoff: number;
  /** Batched runs: the CPU per handoff by pipeline stage (bench/cpu-stages.ts). */
  cpuMsByStage?: Record<string, number>;
  calls: Record<string, number>;
  /** The first lead's ingest, score and writeback jobs: [start, end] ms after its receipt. */
  firstLead?: Record<string, [number, number]>;
  /** Per queue, from BullMQ's completed jobs: where a lead's time went. */
  queues?: Record<string, QueueTiming>;
}

/** A queue's jobs in the burst: waiting for a worker, running, and when the first started and the last ended. */
interface QueueTiming {
  jobs: number;
  waitMs: { p50: number; p95: number };
  runMs: { p50: number; p95: number };
  firstStartMs: number;
  lastEndMs: number;
}

async function queueTimings(
  redis: System['redis'],
  prefix: string,
  startedAt: number,
): Promise<Record<string, QueueTiming>> {
  const timings: Record<string, QueueTiming> = {};
  for (const queue of ['ingest', 'score', 'writeback']) {
    const ids = await redis.zrange(`${prefix}:${queue}:completed`, '0', '-1');
    const jobs = await Promise.all(
      ids.map((id) => redis.hmget(`${prefix}:${queue}:${id}`, 'timestamp', 'processedOn', 'finishedOn')),
    );
    const [added, processed, finished] = [0, 1, 2].map((f) => jobs.map((j) => Number(j[f])));
    const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
    const wait = sorted(processed!.map((p, i) => p - added![i]!));
    const runs = sorted(finished!.map((f, i) => f - processed![i]!));
    timings[queue] = {
      jobs: ids.length,
      waitMs: { p50: percentile(wait, 0.5), p95: percentile(wait, 0.95) },
      runMs: { p50: percentile(runs, 0.5), p95: percentile(runs, 0.95) },
      firstStartMs: Math.min(...processed!) - startedAt,
      lastEndMs: Math.max(...finished!) - startedAt,
    };
  }
  return timings;
}

/**
 * The first lead's way through the queues, ms after its webhook was received: when its delivery's
 * ingest job, its score job and its writeback job started and ended.
 */
async function firstLeadPath(
  redis: System['redis'],
  prefix: string,
  leadId: string,
  handoffId: string,
  receivedAt: number,
): Promise<Record<string, [start: number, end: number]>> {
  const path: Record<string, [number, number]> = {};
  const mark = `"id":"${leadId}"`;
  for (const queue of ['ingest', 'score', 'writeback']) {
    const jobIds =
      queue === 'writeback' ? [handoffId] : await redis.zrange(`${prefix}:${queue}:completed`, '0', '-1');
    for (const id of jobIds) {
      const [data, processed, finished] = await redis.hmget(
        `${prefix}:${queue}:${id}`,
        'data',
        'processedOn',
        'finishedOn',
      );
      if (queue !== 'writeback' && !data?.includes(mark)) continue;
      path[queue] = [Number(processed) - receivedAt, Number(finished) - receivedAt];
      break;
    }
  }
  return path;
}

const ids = Array.from({ length: N }, (_, i) => contact(i).id);

function callKinds(calls: CallRecord[]): Record<string, number> {
  const kinds: Record<string, number> = {};
  for (const { method, path } of calls) {
    const kind = `${method} ${path.replace(/\/\d+$/, '/{id}')}`;
    kinds[kind] = (kinds[kind] ?? 0) + 1;
  }
  return kinds;
}

function figures(
  done: number[],
  first: number,
  calls: CallRecord[],
  cpuMicros: number,
  elapsedMs: number,
): BurstFigures {
  const sorted = [...done].sort((a, b) => a - b);
  return {
    handedOff: done.length,
    lastHandedOffMs: done.length === N ? elapsedMs : TIMEOUT_MS,
    speedToLeadMs: { p50: percentile(sorted, 0.5), p95: percentile(sorted, 0.95), first },
    callsPerHandoff: calls.length / Math.max(1, done.length),
    responses429: calls.filter((c) => c.status === 429).length,
    cpuMsPerHandoff: cpuMicros / 1000 / Math.max(1, done.length),
    calls: callKinds(calls),
  };
}

async function leadflowBurst(
  redisUrl: string,
  ceiling: number,
  batching: boolean,
  run = batching ? 'batched' : 'per-lead',
): Promise<BurstFigures> {
  const sys = await benchSystem(redisUrl, {
    prefix: `{leadflow-bench-burst-${ceiling}-${run}}`,
    sandbox: { latencyMs: LATENCY_MS, rateLimit: { max: ceiling, intervalMs: 10_000 } },
    seed: (sandbox) => sandbox.seedContacts(ids.map((_, i) => contact(i))),
    // The portal's budget at its ceiling, as a deployment configures it.
    adjust: (c) => ({
      ...c,
      hubspot: { ...c.hubspot, requestsPer10s: ceiling },
      pipeline: { ...c.pipeline, batching },
    }),
    env: (sandbox) => ({
      ...hubspotEnv(sandbox),
      EVENTS_SIGNING_SECRET: SECRETS.eventsSigningSecret,
      ...burstConcurrency(),
    }),
  });
  try {
    const { sandbox, redis, prefix } = sys;
    const store = new HandoffStore(redis, keys(prefix));
    const handoffId = (id: string) => `hf.hubspot.contact.${id}.0.mql`;
    const callsBefore = sandbox.calls.length;
    const profiler = batching ? await startCpuProfile() : undefined;
    const cpu = process.cpuUsage();
    const startedAt = Date.now();
    const deliveries = Array.from({ length: Math.ceil(N / 100) }, (_, d) =>
      sys.post.events({
        events: ids.slice(d * 100, d * 100 + 100).map((id) => ({
          id: `burst-${id}`,
          lead: { crm: 'hubspot', objectType: 'contact', id },
          type: 'demo_request',
          occurredAt: Date.now(),
        })),
      }),
    );
    const statuses = await Promise.all(deliveries);
    if (statuses.some((s) => s !== 200)) throw new Error(`bench: webhook answered ${statuses.join(',')}`);

    const completedAt = await completions(redis, prefix, ids, handoffId, startedAt + TIMEOUT_MS);
    const { user, system } = process.cpuUsage(cpu);
    const cpuMsByStage = await profiler?.stop(completedAt.size, user + system);
    const done = [...completedAt.keys()];
    const records = await Promise.all(done.map((id) => store.get(handoffId(id))));
    const received = records.map((r) => r?.handoff.receivedAt ?? NaN);
    const speed = done.map((id, i) => completedAt.get(id)! - received[i]!);
    const firstIndex = received.indexOf(Math.min(...received));
    return {
      ...figures(
        speed,
        speed[firstIndex] ?? NaN,
        sandbox.calls.slice(callsBefore),
        user + system,
        Math.max(...completedAt.values()) - startedAt,
      ),
      queues: await queueTimings(redis, prefix, startedAt),
      firstLead: await firstLeadPath(
        redis,
        prefix,
        done[firstIndex]!,
        handoffId(done[firstIndex]!),
        received[firstIndex]!,
      ),
      ...(cpuMsByStage ? { cpuMsByStage } : {}),
    };
  } finally {
    await sys.close();
  }
}

/** One call of the naive integration; a 429 waits the second HubSpot asks for and goes again. */
async function naiveCall(url: string, method: string, body?: unknown): Promise<void> {
  for (;;) {
    const res = await fetch(url, {
      method,
      headers: { authorization: 'Bearer bench', 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    await res.arrayBuffer();
    if (res.status !== 429) return;
    await sleep(1_000);
  }
}

/** A naive handoff of one contact: read it, update stage, owner and score, create the note and the task. */
async function naiveHandoff(sandbox: Sandbox, id: string): Promise<void> {
  const objects = `${sandbox.url}/crm/v3/objects`;
  const to = (typeId: number) => [
    { to: { id }, types: [{ associationCategory: 'HUBSPOT_DEFINED', associationTypeId: typeId }] },
  ];
  await naiveCall(`${objects}/contacts/${id}?properties=jobtitle,lifecyclestage`, 'GET');
  await naiveCall(`${objects}/contacts/${id}`, 'PATCH', {
    properties: { lifecyclestage: 'marketingqualifiedlead', hubspot_owner_id: '101' },
  });
  const at = new Date().toISOString();
  await naiveCall(`${objects}/notes`, 'POST', {
    properties: { hs_timestamp: at, hs_note_body: 'Demo request' },
    associations: to(202),
  });
  await naiveCall(`${objects}/tasks`, 'POST', {
    properties: { hs_timestamp: at, hs_task_subject: 'Call', hs_task_status: 'NOT_STARTED' },
    associations: to(204),
  });
}

/** The naive sequence for every lead, NAIVE_IN_FLIGHT leads at a time, all arrived when the burst starts. */
async function naiveBurst(ceiling: number): Promise<BurstFigures> {
  const sandbox = await startSandbox({
    latencyMs: LATENCY_MS,
    rateLimit: { max: ceiling, intervalMs: 10_000 },
  });
  try {
    sandbox.seedContacts(ids.map((_, i) => contact(i)));
    const cpu = process.cpuUsage();
    const startedAt = performance.now();
    const done: number[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: NAIVE_IN_FLIGHT }, async () => {
        while (next < N && performance.now() - startedAt < TIMEOUT_MS) {
          await naiveHandoff(sandbox, ids[next++]!);
          done.push(performance.now() - startedAt);
        }
      }),
    );
    const { user, system } = process.cpuUsage(cpu);
    const inTime = done.filter((t) => t <= TIMEOUT_MS);
    return figures(inTime, inTime[0] ?? NaN, sandbox.calls, user + system, Math.max(...inTime));
  } finally {
    await sandbox.close();
  }
}

const STAGE_NAMES = ['http receive', 'ingest', 'score', 'writeback'];

const queueRow = (f: BurstFigures, queue: string) => {
  const q = f.queues?.[queue];
  return q ? `${queue} ${Math.round(q.waitMs.p50)} / ${Math.round(q.runMs.p50)} ms` : 'n/a';
};

export async function burst(redisUrl: string): Promise<Outcome> {
  const runs: Record<
    string,
    { batched: BurstFigures; perLead: BurstFigures | null; naive: BurstFigures | null }
  > = {};
  const rows: Outcome['rows'] = [];
  const s = (f: BurstFigures) =>
    f.handedOff === N
      ? `${(f.lastHandedOffMs / 1000).toFixed(1)} s`
      : `${f.handedOff} of ${N} in ${TIMEOUT_MS / 1000} s`;
  const ms = (f: BurstFigures) =>
    `${Math.round(f.speedToLeadMs.p50)} / ${Math.round(f.speedToLeadMs.p95)} ms`;
  const calls = (f: BurstFigures) => `${f.callsPerHandoff.toFixed(3)} (${f.responses429} × 429)`;
  const cpu = (f: BurstFigures) => f.cpuMsPerHandoff.toFixed(1);
  const or = (f: BurstFigures | null, show: (f: BurstFigures) => string) => (f ? show(f) : 'not run');
  // A worker that has been running has its code compiled and optimised; the process's first burst
  // runs it cold. That one warms the process up and is reported apart, at the higher ceiling.
  const warmUp = await leadflowBurst(redisUrl, Math.max(...CEILINGS), true, 'warm-up');
  for (const ceiling of CEILINGS) {
    const batched = await leadflowBurst(redisUrl, ceiling, true);
    const perLead = BASELINES ? await leadflowBurst(redisUrl, ceiling, false) : null;
    const naive = BASELINES ? await naiveBurst(ceiling) : null;
    runs[`per10s${ceiling}`] = { batched, perLead, naive };
    const at = `HubSpot burst of ${N} hand-raises at ${ceiling}/10 s`;
    rows.push(
      [
        `${at}: last lead handed off`,
        s(batched),
        `per-lead path ${or(perLead, s)}; naive, ${NAIVE_IN_FLIGHT} in flight, ${or(naive, s)}`,
      ],
      [`${at}: speed to lead p50 / p95`, ms(batched), `per-lead ${or(perLead, ms)}; naive ${or(naive, ms)}`],
      [
        `${at}: first lead speed to lead`,
        `${Math.round(batched.speedToLeadMs.first)} ms`,
        `per-lead ${or(perLead, (f) => `${Math.round(f.speedToLeadMs.first)} ms`)}; sandbox round trip ${LATENCY_MS} ms`,
      ],
      [
        `${at}: CRM calls per handoff`,
        calls(batched),
        `per-lead ${or(perLead, calls)}; naive ${or(naive, calls)}`,
      ],
      [
        `${at}: CPU ms per handoff (whole process)`,
        batched.cpuMsPerHandoff.toFixed(1),
        `per-lead ${or(perLead, cpu)}; naive ${or(naive, cpu)}`,
      ],
      [
        `${at}: CPU ms per handoff by stage (batched)`,
        STAGE_NAMES.map((stage) => `${stage} ${batched.cpuMsByStage?.[stage] ?? 0}`).join(' / '),
        Object.entries(batched.cpuMsByStage ?? {})
          .filter(([bucket]) => !STAGE_NAMES.includes(bucket))
          .map(([bucket, ms]) => `${bucket} ${ms}`)
          .join(', '),
      ],
      [
        `${at}: first lead's jobs, ms after receipt (batched)`,
        Object.entries(batched.firstLead ?? {})
          .map(([queue, [start, end]]) => `${queue} ${start}–${end}`)
          .join(', '),
        'start–end of its delivery’s ingest job, its score job, its writeback job',
      ],
      [`${at}: queue wait / run p50 (batched)`, queueRow(batched, 'score'), queueRow(batched, 'writeback')],
    );
  }
  rows.push([
    `HubSpot burst of ${N}, the process's first (cold): first lead speed to lead`,
    `${Math.round(warmUp.speedToLeadMs.first)} ms`,
    `at ${Math.max(...CEILINGS)}/10 s before the runs above, last lead ${s(warmUp)}; the runs above are warm`,
  ]);
  return {
    results: {
      hubspotBurst: {
        leads: N,
        sandboxLatencyMs: LATENCY_MS,
        naiveInFlight: NAIVE_IN_FLIGHT,
        workerConcurrency: process.env.WORKER_CONCURRENCY ?? 'config defaults',
        timeoutMs: TIMEOUT_MS,
        warmUp,
        ...runs,
      },
    },
    rows,
  };
}
