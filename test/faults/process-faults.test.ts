import { rmSync } from 'node:fs';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { deleteByPrefix } from '../../src/store/redis.js';
import { TEST_REDIS_URL, uniquePrefix } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';
import { startSandbox, type Sandbox } from '../sandbox/index.js';
import { freePort, hasRedisServer, startRedisServer } from '../sandbox/redis-server.js';
import {
  LeadflowProcess,
  SECRET,
  deliver,
  post,
  demoRequest,
  expectOneNoteAndTaskEach,
  leads,
  notesPerLead,
} from './harness.js';

const N = 30;

async function cluster(redisUrl: string, sandbox: Sandbox) {
  const prefix = uniquePrefix('proc');
  const port = await freePort();
  const env = {
    REDIS_URL: redisUrl,
    PORT: String(port),
    HOST: '127.0.0.1',
    HUBSPOT_ACCESS_TOKEN: 'fault-token',
    HUBSPOT_CLIENT_SECRET: SECRET,
    HUBSPOT_BASE_URL: sandbox.url,
    WORKER_CONCURRENCY: '8',
  };
  const config = LeadflowProcess.writeConfig(prefix);
  return {
    prefix,
    url: `http://127.0.0.1:${port}/webhooks/hubspot`,
    server: new LeadflowProcess('start', env, config),
    worker: () => new LeadflowProcess('worker', env, config),
  };
}

/** Processes die or are stopped mid-work: nothing is lost, nothing is written twice. */
describe('faults: processes', () => {
  /**
   * Server and worker processes take N demo requests; once the first notes land, `interrupt` stops
   * the worker; a fresh worker finishes. Every lead must end with exactly one note.
   */
  async function interruptedRun(
    latencyMs: number,
    from: number,
    interrupt: (worker: LeadflowProcess) => Promise<void>,
  ) {
    const sandbox = await startSandbox({ latencyMs });
    const contacts = leads(N, from);
    sandbox.seedContacts(contacts);
    const c = await cluster(TEST_REDIS_URL, sandbox);
    const worker = c.worker();
    try {
      await c.server.start();
      await worker.start();
      for (const lead of contacts) await deliver(c.url, [demoRequest(lead.id)]);
      await waitFor(() => sandbox.hubspot.notes.length >= 3, { what: 'the first notes', timeoutMs: 20_000 });
      await interrupt(worker);
      expect(sandbox.hubspot.notes.length).toBeLessThan(N);

      const next = c.worker();
      await next.start();
      await waitFor(() => notesPerLead(sandbox).size === N, {
        what: 'every lead handed off',
        timeoutMs: 60_000,
      });
      await expectOneNoteAndTaskEach(
        sandbox,
        contacts.map((l) => l.id),
      );
      expect(await next.stop('SIGTERM')).toBe(0);
    } finally {
      await worker.stop('SIGKILL');
      await c.server.stop('SIGTERM');
      await sandbox.close();
      const redis = new Redis(TEST_REDIS_URL);
      await deleteByPrefix(redis, c.prefix);
      redis.disconnect();
    }
  }

  it('a worker SIGKILLed mid-writeback, then restarted', async () => {
    // With 400 ms round trips, note creations are on the wire when it dies: some reach the CRM and
    // their answers never come back.
    await interruptedRun(400, 1000, async (worker) => {
      expect(await worker.stop('SIGKILL')).toBeNull();
    });
  }, 120_000);

  it('SIGTERM under load: in-flight jobs finish, the rest waits for the next worker', async () => {
    await interruptedRun(300, 2000, async (worker) => {
      expect(await worker.stop('SIGTERM')).toBe(0);
      expect(worker.output).toContain('received SIGTERM, finishing in-flight work');
    });
  }, 120_000);

  it.skipIf(!hasRedisServer())(
    'Redis (own, AOF) restarted during a stream of webhooks',
    async () => {
      const own = await startRedisServer({ appendonly: true });
      const sandbox = await startSandbox({ latencyMs: 20 });
      const contacts = leads(N, 3000);
      sandbox.seedContacts(contacts);
      const c = await cluster(own.url, sandbox);
      const worker = c.worker();
      let restarted: Awaited<ReturnType<typeof startRedisServer>> | undefined;
      try {
        await c.server.start();
        await worker.start();
        const stream = (async () => {
          for (const lead of contacts) {
            await deliver(c.url, [demoRequest(lead.id)], 60_000);
            await new Promise((resolve) => setTimeout(resolve, 50));
          }
        })();
        await waitFor(() => sandbox.hubspot.notes.length >= 5, {
          what: 'the first handoffs',
          timeoutMs: 20_000,
        });
        // A clean restart on the same port and data directory: the AOF brings the queues back.
        await own.stop({ keepData: true });
        // While Redis is away the server says 503 (never a 2xx for what it could not store); the
        // stream's sender retries such answers. Asked directly, so the check needs no lucky timing.
        const outage = await post(c.url, [demoRequest(contacts[0]!.id)]);
        await new Promise((resolve) => setTimeout(resolve, 1_000));
        restarted = await startRedisServer({ appendonly: true, port: own.port, dir: own.dir });
        await stream;
        await waitFor(() => notesPerLead(sandbox).size === N, {
          what: 'every lead handed off',
          // Generous: a loaded CI box replays the AOF and drains the backlog slowly.
          timeoutMs: 150_000,
        });
        await new Promise((resolve) => setTimeout(resolve, 2_000));
        await expectOneNoteAndTaskEach(
          sandbox,
          contacts.map((l) => l.id),
        );
        expect(outage).toBe(503);
      } finally {
        await worker.stop('SIGKILL');
        await c.server.stop('SIGKILL');
        await sandbox.close();
        await restarted?.stop();
        await own.stop();
        rmSync(own.dir, { recursive: true, force: true });
      }
    },
    240_000,
  );
});
