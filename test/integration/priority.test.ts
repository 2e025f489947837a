import { Job, type Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { HubSpotWebhookBatch } from '../../connectors/hubspot/webhook.js';
import { processors } from '../../jobs/index.js';
import type { LeadRef } from '../../src/domain/index.js';
import type { QueueName } from '../../src/queue/catalog.js';
import { enqueueIngest, enqueueLeadScore, enqueueScore } from '../../src/queue/queues.js';
import { startWorkers } from '../../src/queue/workers.js';
import { hubspotIngest } from '../../src/receive/hubspot.js';
import { demoRequest, propertyChange } from '../system/webhooks.js';
import { FakeConnector } from '../helpers/fake-connector.js';
import { startPipeline, testConfig, type Pipeline } from '../helpers/pipeline.js';
import { cleanPrefix, testRedis, uniquePrefix } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';

/**
 * A hand-raise overtakes score-only work at every stage. Each test queues a backlog first (workers
 * off), the hand-raise last, then starts the workers and compares completion order: how much of the
 * backlog BullMQ had finished when the handoff was written. First-in-first-out, all of it.
 */
const N = 300;
const HOT: LeadRef = { crm: 'hubspot', objectType: 'contact', id: '501' };
const HANDOFF = 'hf.hubspot.contact.501.0.mql';
const backlogLead = (i: number): LeadRef => ({ crm: 'hubspot', objectType: 'contact', id: String(2000 + i) });

describe('priority lanes: a hand-raise jumps the queue', () => {
  let redis: Redis;
  let prefix: string;
  let crm: FakeConnector;
  let pipeline: Pipeline;
  let workers: Worker[] = [];

  beforeEach(async () => {
    redis = testRedis();
    prefix = uniquePrefix('priority');
    crm = new FakeConnector();
    crm.profiles.set('hubspot.contact.501', { jobTitle: 'VP Marketing', country: 'Canada' });
    pipeline = await startPipeline({ redis, config: testConfig(prefix), connector: crm, workers: false });
  });

  afterEach(async () => {
    await Promise.all(workers.map((w) => w.close(true)));
    workers = [];
    await pipeline.close();
    await cleanPrefix(redis, prefix);
    redis.disconnect();
  });

  const ingest = (events: object[]) =>
    enqueueIngest(
      pipeline.queues,
      hubspotIngest(HubSpotWebhookBatch.parse(events), pipeline.ctx.config.hubspot, {
        receivedAt: Date.now(),
      }),
      pipeline.ctx.config.handRaise,
    );
  const blogView = (lead: LeadRef) =>
    propertyChange(lead.id, 'hs_analytics_last_url', 'https://acme.io/blog');

  async function run(queues: QueueName[]) {
    const started = startWorkers(pipeline.ctx, processors, { concurrency: 8, queues });
    workers.push(...started);
    await Promise.all(started.map((w) => w.waitUntilReady()));
  }

  /** When the handoff's writes were all acknowledged. */
  const handedOff = async () =>
    Number(
      await waitFor(async () => (await pipeline.ctx.handoffs.progress(HANDOFF)).completedAt, {
        timeoutMs: 60_000,
        what: 'handoff complete',
      }),
    );

  /** Waits until `count` jobs of `queue` named `name` finished; how many finished before `at`. */
  async function finishedBefore(queue: QueueName, name: string, count: number, at: number) {
    const done = (jobs: Job[]) => jobs.filter((j) => j.name === name && j.finishedOn);
    const jobs = await waitFor(
      async () => {
        const all = done(await pipeline.queues[queue].getJobs(['completed']));
        return all.length >= count ? all : null;
      },
      { timeoutMs: 60_000, what: `${count} ${queue} jobs finished` },
    );
    return jobs.filter((j) => j.finishedOn! < at).length;
  }

  it('ingest and score: a demo request delivered behind 300 score-only deliveries is handed off before most of them', async () => {
    for (let i = 0; i < N; i++) await ingest([blogView(backlogLead(i))]);
    await ingest([demoRequest(HOT.id)]);
    await run(['ingest', 'score', 'writeback']);

    const at = await handedOff();
    expect(crm.stages.get('hubspot.contact.501')).toBe('mql');
    // N + 1 ingest jobs (the demo request's too), one score job per lead.
    const ingestedBefore = await finishedBefore('ingest', 'hubspot', N + 1, at);
    const scoredBefore = await finishedBefore('score', 'score', N + 1, at);
    expect(ingestedBefore).toBeLessThan(N / 2);
    expect(scoredBefore).toBeLessThan(N / 2);
  });

  it('score: a hand-raise folds into the lead’s pending routine rescore, queued last, and takes it to the front', async () => {
    const { ctx, queues } = pipeline;
    const debounce = { debounceMs: 0, urgent: false };
    for (let i = 0; i < N; i++) await enqueueScore(queues, backlogLead(i), debounce);
    // The lead's own routine rescore, queued behind the backlog; then its demo request arrives.
    await ctx.timeline.recordEvent(
      { id: 'e-view', lead: HOT, type: 'page_view', occurredAt: Date.now(), source: 'test', properties: {} },
      Date.now(),
    );
    await enqueueScore(queues, HOT, debounce);
    await ctx.timeline.recordEvent(
      {
        id: 'e-demo',
        lead: HOT,
        type: 'demo_request',
        occurredAt: Date.now(),
        source: 'test',
        properties: {},
      },
      Date.now(),
    );
    await enqueueScore(queues, HOT, { debounceMs: 0, urgent: true });
    expect(await queues.score.getJobCountByTypes('waiting', 'prioritized', 'delayed')).toBe(N + 1);
    await run(['score', 'writeback']);

    const at = await handedOff();
    expect(await finishedBefore('score', 'score', N + 1, at)).toBeLessThan(N / 2);
  });

  it('score: a hand-raise of a lead with no rescore pending is queued urgent by its add alone', async () => {
    const { queues } = pipeline;
    const changePriority = vi.spyOn(Job.prototype, 'changePriority');
    try {
      await enqueueScore(queues, HOT, { debounceMs: 250, urgent: true });
      expect(changePriority).not.toHaveBeenCalled();
      expect(await queues.score.getJobCountByTypes('waiting', 'prioritized', 'delayed')).toBe(1);
      expect(await queues.score.getWaitingCount()).toBe(1);
      // A second one folds into it: only then is a priority changed (to the same, urgent).
      await enqueueScore(queues, HOT, { debounceMs: 250, urgent: true });
      expect(changePriority).toHaveBeenCalledTimes(1);
      expect(await queues.score.getWaitingCount()).toBe(1);
    } finally {
      changePriority.mockRestore();
    }
  });

  it('writeback: a handoff overtakes 300 queued score-only writes', async () => {
    const { queues } = pipeline;
    // Leads with no score held: each job is a read and nothing to write, but it holds its place.
    for (let i = 0; i < N; i++) await enqueueLeadScore(queues, backlogLead(i));
    await ingest([demoRequest(HOT.id)]);
    await run(['ingest', 'score']);
    await waitFor(() => queues.writeback.getJob(HANDOFF), { timeoutMs: 30_000, what: 'handoff queued' });
    await run(['writeback']);

    const at = await handedOff();
    expect(await finishedBefore('writeback', 'lead-score', N, at)).toBeLessThan(N / 2);
  });
});
