import { Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerQueueDepth } from '../../src/queue/depth.js';
import { ROUTINE } from '../../src/queue/catalog.js';
import { closeQueues, openQueues, type Queues } from '../../src/queue/queues.js';
import { failWritebacks } from '../helpers/admin-fixture.js';
import { cleanPrefix, testRedis, uniquePrefix } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';

/** The `leadflow_queue_jobs` samples of one scrape, as `queue/state` → value. */
async function scrape(registry: Registry): Promise<Record<string, number>> {
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === 'leadflow_queue_jobs');
  return Object.fromEntries(
    (metric?.values ?? []).map((v) => [`${String(v.labels.queue)}/${String(v.labels.state)}`, v.value]),
  );
}

describe('leadflow_queue_jobs', () => {
  const prefix = uniquePrefix('depth');
  let redis: Redis;
  let queues: Queues;
  const registry = new Registry();
  const errors: Error[] = [];

  beforeAll(() => {
    redis = testRedis();
    queues = openQueues(redis, prefix, (err) => {
      throw err;
    });
    registerQueueDepth(registry, queues, (err) => errors.push(err));
  });
  afterAll(async () => {
    await closeQueues(queues);
    await cleanPrefix(redis, prefix);
    redis.disconnect();
  });

  it('counts waiting, active, delayed and failed jobs (dead letters) per queue on each scrape', async () => {
    expect(await scrape(registry)).toMatchObject({ 'ingest/waiting': 0, 'writeback/failed': 0 });

    await queues.ingest.add('x', {});
    await queues.ingest.add('y', {});
    // Routine work waits in the prioritized set, and is waiting all the same.
    await queues.ingest.add('z', {}, ROUTINE);
    await queues.followup.add('later', {}, { delay: 3_600_000 });
    await failWritebacks(redis, queues, prefix, ['hf.dead.1', 'hf.dead.2'], 'hubspot 400 VALIDATION_ERROR');
    let release = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    await queues.score.add('busy', {});
    const worker = new Worker('score', () => held, { connection: redis.duplicate(), prefix });
    await waitFor(async () => (await queues.score.getActiveCount()) === 1, { what: 'an active job' });

    const samples = await scrape(registry);
    expect(samples).toMatchObject({
      'ingest/waiting': 3,
      'followup/delayed': 1,
      'writeback/failed': 2,
      'score/active': 1,
      'score/waiting': 0,
      'poll/waiting': 0,
    });
    expect(Object.keys(samples)).toHaveLength(5 * 4);

    release();
    await worker.close();
    await queues.ingest.drain();
    expect(await scrape(registry)).toMatchObject({ 'ingest/waiting': 0, 'score/active': 0 });
    expect(errors).toEqual([]);
  });

  it('leaves the series out, without failing the scrape, when Redis does not answer', async () => {
    const down = testRedis();
    const gone = openQueues(down, prefix, () => undefined);
    const alone = new Registry();
    registerQueueDepth(alone, gone, (err) => errors.push(err));
    down.disconnect();
    expect(await scrape(alone)).toEqual({});
    expect(errors.length).toBeGreaterThan(0);
    await closeQueues(gone).catch(() => undefined);
  });
});
