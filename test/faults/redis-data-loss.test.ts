import { HandoffStore } from '../../src/store/handoffs.js';
import { keys } from '../../src/store/keys.js';
import { describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/wait.js';
import { hasRedisServer, startRedisServer, type OwnRedis } from '../sandbox/redis-server.js';
import { hubspotEnv } from '../system/index.js';
import { demoRequest } from '../system/webhooks.js';
import { expectOneNoteAndTaskEach, faultConfig, faultSystem, leads } from './harness.js';

const N = 50;

/**
 * Redis without persistence (no AOF, no RDB: the default of many installs) restarts and comes back
 * empty: every idempotency record is gone. HubSpot then redelivers what it had sent.
 */
describe.skipIf(!hasRedisServer())('faults: Redis loses its data', () => {
  it('a restart of a non-persistent Redis, then 50 redelivered webhooks: no note or task twice, /readyz degraded', async () => {
    const own = await startRedisServer();
    const contacts = leads(N, 7000);
    const system = await faultSystem(own.url, {
      mode: 'processes',
      seed: (s) => s.seedContacts(contacts),
      adjust: faultConfig({ timeoutMs: 2_000 }),
      env: (s) => ({ ...hubspotEnv(s), WORKER_CONCURRENCY: '8' }),
    });
    const { sandbox } = system;
    const worker = system.workers[0]!;
    let restarted: OwnRedis | undefined;
    const readyz = async () =>
      (await fetch(`${system.baseUrl}/readyz`).then((r) => r.json())) as {
        status: string;
        reasons?: string[];
      };
    // HubSpot redelivers the very same events (same ids) it sent before.
    const deliveries = contacts.map((c) => [demoRequest(c.id)]);
    const ids = contacts.map((c) => c.id);
    try {
      for (const events of deliveries) await system.post.deliverHubSpot(events);
      await expectOneNoteAndTaskEach(sandbox, ids);
      expect(await readyz()).toEqual({ status: 'ready' });

      // Same port, nothing kept: the processes reconnect to an empty Redis.
      await own.stop();
      restarted = await startRedisServer({ port: own.port });
      await waitFor(async () => (await readyz()).reasons?.includes('redis_data_loss'), {
        what: '/readyz to report the data loss',
        timeoutMs: 30_000,
      });
      await waitFor(() => worker.output.includes('Redis lost its data'), {
        what: 'the worker to log the data loss',
        timeoutMs: 30_000,
      });

      for (const events of deliveries) await system.post.deliverHubSpot(events);
      // Every redelivered handoff runs to its end again (written, or taken for sales'), in the audit log.
      const audit = new HandoffStore(system.redis, keys(system.prefix));
      const audited = async () => (await audit.auditSince(0)).map((e) => e.type);
      await waitFor(
        async () => (await audited()).filter((t) => t === 'writeback' || t === 'stage_moved_on').length >= N,
        { what: 'every redelivered handoff to complete', timeoutMs: 90_000 },
      );
      await expectOneNoteAndTaskEach(sandbox, ids);
      // Not even for a moment: each note and task was created once, none created again and deleted.
      expect(sandbox.hubspot.created).toEqual({ notes: N, tasks: N });
      expect(sandbox.calls.filter((c) => c.method === 'DELETE')).toEqual([]);
      // Our own earlier handoff, found written, is no stage that sales had moved on.
      expect((await audited()).filter((t) => t === 'stage_moved_on')).toEqual([]);
      expect((await readyz()).status).toBe('degraded');
    } finally {
      await system.close('SIGKILL');
      await restarted?.stop();
      await own.stop();
    }
  }, 240_000);
});
