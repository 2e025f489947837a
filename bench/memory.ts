import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { processScore } from '../jobs/score.js';
import { processWriteback } from '../jobs/writeback.js';
import { loadConfig } from '../src/config/load.js';
import type { EngagementEvent, LeadRef } from '../src/domain/index.js';
import { createLogger } from '../src/logger.js';
import { createMetrics } from '../src/metrics.js';
import { createJobContext, type JobContext } from '../src/queue/context.js';
import { closeQueues, openQueues } from '../src/queue/queues.js';
import { FakeConnector } from '../test/helpers/fake-connector.js';
import { startRedisServer } from '../test/sandbox/redis-server.js';
import { contact, type Outcome } from './common.js';
import { DAY_MS } from '../src/domain/time.js';

const EVENTS_PER_LEAD = 5;
/** Leads in flight at once: enough to keep Redis busy, few enough not to measure a queue. */
const IN_FLIGHT = 64;
/** Every tenth lead asks for a demo: its handoff is decided, written and audited. */
const HAND_RAISE_EVERY = 10;
const TARGET_BYTES_PER_LEAD = 1024;
/** The keys that are the lead's own (see leadPartBytes), as SCAN patterns after the prefix. */
const LEAD_KINDS = ['lead:*', 'timeline:*', 'history:*', 'profile:*', 'scores', 'score-counts'];
const URLS = ['/', '/blog/lead-scoring', '/pricing', '/product', '/customers'];

export interface MemoryBench {
  leads: number;
  handoffs: number;
  /** used_memory growth per lead, dedupe marks included (the first `dedupeTtlHours`). */
  bytesPerLeadFresh: number;
  /** The same once the dedupe marks have expired and the queues are drained: what a lead costs for good. */
  bytesPerLead: number;
  extrapolatedGBAt10M: number;
  timelineEvents: number;
  /** Bytes per lead by kind of key (MEMORY USAGE of every key, the kind being the part after the prefix). */
  byKind: Record<string, number>;
  /**
   * What the lead's own keys cost (timeline, history, profile, lead state, its share of the score
   * index) with their per-key overhead: used_memory freed per lead when they are deleted.
   */
  leadPartBytes: number;
  scoreMs: { events50: number; events100: number; events20000: number; ratio: number };
}

/**
 * `leads` × 5 events through the real store code paths: ingest's append, the score job (profile
 * read from a fake CRM, decision, handoff), the handoff's writeback; on a private redis-server so
 * INFO memory counts only this. Then one lead's score job at 50 and at 20,000 events.
 */
export async function benchMemory(
  leads = Number(process.env.BENCH_MEMORY_LEADS ?? 100_000),
): Promise<MemoryBench> {
  const server = await startRedisServer();
  const redis = new Redis(server.url, { maxRetriesPerRequest: null });
  try {
    const base = loadConfig(fileURLToPath(new URL('../config/default.yaml', import.meta.url)));
    const config = { ...base, redis: { ...base.redis, prefix: '{leadflow-bench-memory}' } };
    const connector = new FakeConnector();
    const queues = openQueues(redis, config.redis.prefix, (err) => {
      throw err;
    });
    const now = Date.UTC(2026, 10, 2, 12);
    const ctx = createJobContext({
      config,
      redis,
      queues,
      connectors: [connector],
      logger: createLogger('silent'),
      metrics: createMetrics(),
      now: () => now,
      sharedNow: () => Promise.resolve(now),
    });
    const before = await usedMemory(redis);
    let handoffs = 0;
    let next = 0;
    await Promise.all(
      Array.from({ length: IN_FLIGHT }, async () => {
        for (let i = next++; i < leads; i = next++) if (await oneLead(ctx, connector, i, now)) handoffs++;
      }),
    );
    // The score-only writes go out as the flush job would send them, clearing the pending marks.
    while ((await ctx.pendingScores.size()) > 0) await processWriteback(ctx, { kind: 'scores' });
    // Jobs are the queues' business and drain as workers run; what stays is the leads' state.
    await Promise.all(Object.values(queues).map((q) => q.obliterate({ force: true })));
    const fresh = await usedMemory(redis);
    // Dedupe marks expire after dedupeTtlHours; dropped here instead of waiting for that.
    await unlinkMatching(redis, `${config.redis.prefix}:dedupe:*`);
    const steady = await usedMemory(redis);
    const byKind = await bytesByKind(redis, config.redis.prefix, leads);
    for (const kind of LEAD_KINDS) await unlinkMatching(redis, `${config.redis.prefix}:${kind}`);
    const leadPartBytes = Math.round((steady - (await usedMemory(redis))) / leads);
    const scoreMs = await scoreTimes(ctx, connector, now);
    await closeQueues(queues);
    const bytesPerLead = Math.round((steady - before) / leads);
    return {
      leads,
      handoffs,
      bytesPerLeadFresh: Math.round((fresh - before) / leads),
      bytesPerLead,
      extrapolatedGBAt10M: Math.round((bytesPerLead * 10_000_000) / 1e8) / 10,
      timelineEvents: config.retention.timelineEvents,
      byKind,
      leadPartBytes,
      scoreMs,
    };
  } finally {
    redis.disconnect();
    await server.stop();
  }
}

async function oneLead(ctx: JobContext, connector: FakeConnector, i: number, now: number): Promise<boolean> {
  const c = contact(i);
  const lead: LeadRef = { crm: 'hubspot', objectType: 'contact', id: c.id };
  connector.profiles.set(`hubspot.contact.${c.id}`, {
    email: c.properties.email,
    firstName: c.properties.firstname,
    lastName: c.properties.lastname,
    jobTitle: c.properties.jobtitle,
    industry: c.properties.industry,
    companySize: c.properties.numemployees,
    country: c.properties.country,
    lifecycleStage: c.properties.lifecyclestage,
  });
  const events = leadEvents(lead, i, now);
  await Promise.all(events.map((e) => ctx.timeline.recordEvent(e, e.occurredAt + 2_000)));
  const { handoffId } = await processScore(ctx, { lead });
  if (handoffId) await processWriteback(ctx, { kind: 'handoff', handoffId });
  return handoffId !== null;
}

/** Five events over the last month as HubSpot's signals make them; every tenth lead's last one a demo request. */
function leadEvents(lead: LeadRef, i: number, now: number): EngagementEvent[] {
  return Array.from({ length: EVENTS_PER_LEAD }, (_, j): EngagementEvent => {
    const occurredAt = now - (EVENTS_PER_LEAD - j) * 5 * DAY_MS - (i % 3_600) * 1_000;
    const id = `hubspot:${lead.id}:${j}`;
    if (j === EVENTS_PER_LEAD - 1 && i % HAND_RAISE_EVERY === 0)
      return {
        id,
        lead,
        type: 'demo_request',
        occurredAt,
        source: 'hubspot',
        properties: { form: 'Talk to sales' },
      };
    if (j % 2 === 1)
      return {
        id,
        lead,
        type: 'email_open',
        occurredAt,
        source: 'hubspot',
        properties: { campaign: 'spring-nurture' },
      };
    return {
      id,
      lead,
      type: 'page_view',
      occurredAt,
      source: 'hubspot',
      properties: { url: `https://acme.example${URLS[(i + j) % URLS.length]!}` },
    };
  });
}

/** Score job runs per lead size: taken in turns, so a change in the machine's load falls on all three alike. */
const SCORE_RUNS = 101;

/**
 * Median score job of one lead at 50, 100 (the cap) and 20,000 page views: appended, scored once
 * (the 20,000-event lead's first job folds), then scored SCORE_RUNS times each, in turns.
 */
async function scoreTimes(ctx: JobContext, connector: FakeConnector, now: number) {
  const prepare = async (id: string, n: number): Promise<LeadRef> => {
    const lead: LeadRef = { crm: 'hubspot', objectType: 'contact', id };
    connector.profiles.set(`hubspot.contact.${id}`, { email: `p${id}@bench.example` });
    for (let j = 0; j < n; j += 1_000)
      await Promise.all(
        Array.from({ length: Math.min(1_000, n - j) }, (_, k) => {
          const e: EngagementEvent = {
            id: `pv:${id}:${j + k}`,
            lead,
            type: 'page_view',
            occurredAt: now - (n - j - k) * 60_000,
            source: 'hubspot',
            properties: { url: 'https://acme.example/docs' },
          };
          return ctx.timeline.recordEvent(e, e.occurredAt);
        }),
      );
    await processScore(ctx, { lead });
    return lead;
  };
  const leads = [
    await prepare('9000001', 50),
    await prepare('9000003', 100),
    await prepare('9000002', 20_000),
  ];
  const samples = leads.map((): number[] => []);
  for (let run = 0; run < SCORE_RUNS; run++)
    for (const [i, lead] of leads.entries()) {
      const started = performance.now();
      await processScore(ctx, { lead });
      samples[i]!.push(performance.now() - started);
    }
  const [events50, events100, events20000] = samples.map(
    (s) => Math.round(s.sort((a, b) => a - b)[SCORE_RUNS >> 1]! * 100) / 100,
  ) as [number, number, number];
  return { events50, events100, events20000, ratio: Math.round((events20000 / events50) * 100) / 100 };
}

async function usedMemory(redis: Redis): Promise<number> {
  const info = await redis.info('memory');
  return Number(/used_memory:(\d+)/.exec(info)?.[1]);
}

async function bytesByKind(redis: Redis, prefix: string, leads: number): Promise<Record<string, number>> {
  const total: Record<string, number> = {};
  let cursor = '0';
  do {
    const [at, found] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1_000);
    cursor = at;
    const pipeline = redis.pipeline();
    for (const key of found) pipeline.memory('USAGE', key, 'SAMPLES', '0');
    const sizes = (await pipeline.exec()) ?? [];
    found.forEach((key, i) => {
      const kind = key.slice(prefix.length + 1).split(':')[0]!;
      total[kind] = (total[kind] ?? 0) + Number(sizes[i]?.[1] ?? 0);
    });
  } while (cursor !== '0');
  return Object.fromEntries(
    Object.entries(total)
      .sort((a, b) => b[1] - a[1])
      .map(([kind, bytes]) => [kind, Math.round(bytes / leads)]),
  );
}

async function unlinkMatching(redis: Redis, pattern: string): Promise<void> {
  let cursor = '0';
  do {
    const [at, found] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1_000);
    cursor = at;
    if (found.length) await redis.unlink(...found);
  } while (cursor !== '0');
}

/** For bench/run.ts (its own redis-server, not the shared one: INFO memory must count only this). */
export async function memoryPerLead(): Promise<Outcome> {
  const m = await benchMemory();
  return {
    results: { memory: m },
    rows: [
      [
        'Redis bytes per lead (steady state)',
        `${m.bytesPerLead.toLocaleString('en-US')} B`,
        `${m.leads.toLocaleString('en-US')} leads × ${EVENTS_PER_LEAD} events, ${m.handoffs.toLocaleString('en-US')} handoffs; ` +
          `${m.extrapolatedGBAt10M} GB at 10M; ${m.bytesPerLeadFresh} B while dedupe marks live; target ≤ ${TARGET_BYTES_PER_LEAD}`,
      ],
      [
        'Redis bytes per lead, its own keys',
        `${m.leadPartBytes.toLocaleString('en-US')} B`,
        'timeline, history, profile, lead state and score index, with their per-key overhead',
      ],
      [
        'score job, one lead with 50 / 100 / 20,000 events',
        `${m.scoreMs.events50} / ${m.scoreMs.events100} / ${m.scoreMs.events20000} ms`,
        `20,000 ÷ 50: ${m.scoreMs.ratio}×; medians of ${SCORE_RUNS} runs in turns after the first (which folds); timeline capped at ${m.timelineEvents} events`,
      ],
    ],
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(await benchMemory());
}
