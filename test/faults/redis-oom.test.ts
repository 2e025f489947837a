import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { closeQueues, openQueues } from '../../src/queue/queues.js';
import { QueueName } from '../../src/queue/catalog.js';
import { waitFor } from '../helpers/wait.js';
import { hasRedisServer, startRedisServer } from '../sandbox/redis-server.js';
import { uniquePrefix } from '../helpers/redis.js';
import { hubspotEnv, startSystem } from '../system/index.js';
import { demoRequest } from '../system/webhooks.js';
import { expectOneNoteAndTaskEach, faultConfig, leads, notesPerLead } from './harness.js';

const N = 30;
const FILLER = 'oom-filler:';

/** Writes 64 KiB values until Redis refuses with OOM (maxmemory with noeviction); returns how many. */
async function fillUntilOom(redis: Redis): Promise<number> {
  const value = 'x'.repeat(64 * 1024);
  for (let i = 0; ; i++) {
    try {
      await redis.set(`${FILLER}${i}`, value);
    } catch (err) {
      if (/OOM/.test((err as Error).message)) return i;
      throw err;
    }
  }
}

/** Redis trouble is infrastructure, not the lead's: no attempt is spent, nothing is dead-lettered. */
describe.skipIf(!hasRedisServer())('faults: Redis out of memory or unreachable', () => {
  it('the worker stays up through OOM and dropped connections, spends no attempts, and resumes when memory frees', async () => {
    const own = await startRedisServer();
    const contacts = leads(N, 5000);
    const system = await startSystem({
      redisUrl: own.url,
      prefix: uniquePrefix('oom'),
      mode: 'processes',
      sandbox: { latencyMs: 400 },
      seed: (sandbox) => sandbox.seedContacts(contacts),
      adjust: faultConfig({ timeoutMs: 2_000 }),
      env: (sandbox) => ({ ...hubspotEnv(sandbox), WORKER_CONCURRENCY: '8' }),
    });
    const { sandbox, prefix } = system;
    const worker = system.workers[0]!;
    const redis = new Redis(own.url);
    const queues = openQueues(redis, prefix, () => undefined);
    const failed = async () =>
      (await Promise.all(QueueName.options.map((q) => queues[q].getFailedCount()))).reduce((a, b) => a + b);
    try {
      for (const c of contacts) await system.post.deliverHubSpot([demoRequest(c.id)]);
      await waitFor(() => sandbox.hubspot.notes.length >= 2, { what: 'the first notes', timeoutMs: 20_000 });

      // Memory runs out mid-stream: every write, script and rate-budget reservation is refused.
      const used = Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1]);
      await redis.config('SET', 'maxmemory', String(used + 2 * 1024 * 1024));
      expect(await fillUntilOom(redis)).toBeGreaterThan(0);
      await waitFor(() => worker.output.includes('Redis refuses work'), {
        what: 'the worker to report it',
        timeoutMs: 30_000,
      });
      const notesDuringOom = sandbox.hubspot.notes.length;
      await waitFor(() => (worker.output.match(/Redis refuses work/g) ?? []).length >= 3, {
        what: 'several jobs held',
        timeoutMs: 30_000,
      });
      expect(worker.output).not.toContain('job will be retried');
      expect(worker.output).not.toContain('job dead-lettered');

      // Memory frees: work resumes by itself.
      const fillers = await redis.keys(`${FILLER}*`);
      await redis.del(...fillers);
      await redis.config('SET', 'maxmemory', '0');
      await waitFor(() => notesPerLead(sandbox).size > notesDuringOom, { what: 'work to resume' });
      // Every client connection dropped (a failover, a proxy restart): in-flight commands are resent.
      await redis.call('CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
      await expectOneNoteAndTaskEach(
        sandbox,
        contacts.map((c) => c.id),
      );

      expect(await failed()).toBe(0);
      expect(worker.output).not.toContain('job will be retried');
      expect(worker.output).not.toContain('job dead-lettered');
      expect(await worker.stop('SIGTERM')).toBe(0);
    } finally {
      await closeQueues(queues).catch(() => undefined);
      redis.disconnect();
      await system.close('SIGKILL');
      await own.stop();
    }
  }, 180_000);
});
