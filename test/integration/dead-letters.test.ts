import { PassThrough } from 'node:stream';
import { UnrecoverableError, Worker } from 'bullmq';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logger.js';
import { createMetrics } from '../../src/metrics.js';
import { QUEUES } from '../../src/queue/catalog.js';
import { sweepDeadLetters } from '../../src/queue/dead-letters.js';
import { closeQueues, openQueues } from '../../src/queue/queues.js';
import { redisTime } from '../../src/store/redis.js';
import { keys } from '../../src/store/keys.js';
import { testConfig } from '../helpers/pipeline.js';
import { cleanPrefix, testRedis, uniquePrefix } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';
import { DAY_MS } from '../../src/domain/time.js';

/** Dead letters are never dropped silently: none past a count, and each one dropped by age is reported. */
describe('dead letters', () => {
  const redis = testRedis();
  afterAll(() => redis.disconnect());

  /** Queues under a fresh prefix whose `poll` jobs all fail for good, and a sweep's context. */
  function setup() {
    const prefix = uniquePrefix('dlq');
    const config = testConfig(prefix);
    const queues = openQueues(redis, prefix, () => undefined);
    const out = new PassThrough();
    let logged = '';
    out.on('data', (d: Buffer) => (logged += d.toString()));
    const metrics = createMetrics();
    const worker = new Worker(
      QUEUES.poll.name,
      () => Promise.reject(new UnrecoverableError('the CRM said no')),
      { connection: redis, prefix, concurrency: 100 },
    );
    const ctx = {
      queues,
      config,
      metrics,
      logger: createLogger('info', out),
      sharedNow: () => redisTime(redis, keys(prefix).clock),
    };
    return {
      ctx,
      queues,
      logged: () => logged,
      close: async () => {
        await worker.close();
        await closeQueues(queues);
        await cleanPrefix(redis, prefix);
      },
    };
  }

  const job = (i: number) => ({ name: 'poll', data: { crm: 'hubspot', source: `s${i}` } });

  it('keeps more than 10,000 per queue: none dropped by count', async () => {
    const s = setup();
    try {
      const n = 10_050;
      for (let i = 0; i < n; i += 1_000)
        await s.queues.poll.addBulk(
          Array.from({ length: Math.min(1_000, n - i) }, (_, j) => ({
            ...job(i + j),
            opts: QUEUES.poll.options,
          })),
        );
      await waitFor(
        async () => {
          const { wait, active } = await s.queues.poll.getJobCounts('wait', 'active');
          return wait === 0 && active === 0;
        },
        { what: `all ${n} jobs run`, timeoutMs: 120_000, intervalMs: 200 },
      );
      expect(await s.queues.poll.getFailedCount()).toBe(n);
      // Nothing is old enough to go: the sweep keeps them all, and counts them.
      expect(await sweepDeadLetters(s.ctx)).toBe(0);
      expect((await s.ctx.metrics.deadLetters.get()).values).toContainEqual({
        value: n,
        labels: { queue: 'poll' },
      });
    } finally {
      await s.close();
    }
  }, 180_000);

  it('drops only what outlived its retention, by Redis clock, each drop counted and logged as an error', async () => {
    const s = setup();
    try {
      await s.queues.poll.addBulk([0, 1, 2].map((i) => ({ ...job(i), opts: QUEUES.poll.options })));
      await waitFor(async () => (await s.queues.poll.getFailedCount()) === 3 || undefined, {
        what: 'three dead letters',
      });
      const failed = await s.queues.poll.getFailed();
      const old = failed.slice(0, 2).map((j) => j.id!);
      // Two failed 30.5 days ago (BullMQ reads the failed set's score and the job's finishedOn).
      const at = (await redisTime(redis, keys(s.ctx.config.redis.prefix).clock)) - 30.5 * DAY_MS;
      for (const id of old) {
        await redis.hset(`${s.ctx.config.redis.prefix}:${QUEUES.poll.name}:${id}`, 'finishedOn', String(at));
        await redis.zadd(`${s.ctx.config.redis.prefix}:${QUEUES.poll.name}:failed`, at, id);
      }

      // This process's clock a day behind Redis' must not keep them: by its own clock they are 29.5 days old.
      const real = Date.now;
      Date.now = () => real() - DAY_MS;
      let dropped: number;
      try {
        dropped = await sweepDeadLetters(s.ctx);
      } finally {
        Date.now = real;
      }
      expect(dropped).toBe(2);
      expect((await s.queues.poll.getFailed()).map((j) => j.id)).toEqual(failed.slice(2).map((j) => j.id));
      expect((await s.ctx.metrics.deadLettersDropped.get()).values).toEqual([
        { value: 2, labels: { queue: 'poll' } },
      ]);
      const line = s
        .logged()
        .split('\n')
        .find((l) => l.includes('dead letters dropped'));
      expect(JSON.parse(line ?? '{}')).toMatchObject({ level: 50, queue: 'poll', count: 2 });
      expect((JSON.parse(line ?? '{}') as { jobIds: string[] }).jobIds.sort()).toEqual([...old].sort());
    } finally {
      await s.close();
    }
  });
});
