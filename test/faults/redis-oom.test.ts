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
      adjust: faultConfig({ timeoutMs: 15_000 }),
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

      // Memory runs out mid-stream (maxmemory under what Redis holds, noeviction): every write, script
      // and rate-budget reservation is refused, whatever frees meanwhile. A slow CRM keeps every worker
      // slot busy, so several jobs meet the refusal however loaded the machine is.
      sandbox.setLatency(2_000);
      const used = Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1]);
      await redis.config('SET', 'maxmemory', String(Math.floor(used / 2)));
      await expect(redis.set('oom-probe', 'x')).rejects.toThrow(/OOM/);
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
      sandbox.setLatency(400);
      await redis.config('SET', 'maxmemory', '0');
      await waitFor(() => notesPerLead(sandbox).size > notesDuringOom, { what: 'work to resume' });
      // Every client connection dropped (a failover, a proxy restart): in-flight commands are resent.
      await redis.call('CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
      // A job held through the outage could not renew its lock: BullMQ's stalled check (every 30 s)
      // hands it back, so the last ones may take that long.
      await expectOneNoteAndTaskEach(
        sandbox,
        contacts.map((c) => c.id),
        90_000,
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
