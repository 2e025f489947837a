import { rmSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { TEST_REDIS_URL } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';
import { hasRedisServer, startRedisServer } from '../sandbox/redis-server.js';
import type { SandboxOptions } from '../sandbox/index.js';
import { hubspotEnv, type LeadflowProcess } from '../system/index.js';
import { demoRequest } from '../system/webhooks.js';
import { expectOneNoteAndTaskEach, faultConfig, faultSystem, leads, notesPerLead } from './harness.js';

const N = 30;

/** A `leadflow start` process and one worker process on `redisUrl`, against a sandbox seeded with `contacts`. */
function cluster(redisUrl: string, sandbox: SandboxOptions, contacts: ReturnType<typeof leads>) {
  return faultSystem(redisUrl, {
    mode: 'processes',
    sandbox,
    seed: (s) => s.seedContacts(contacts),
    adjust: faultConfig({ timeoutMs: 2_000 }),
    env: (s) => ({ ...hubspotEnv(s), WORKER_CONCURRENCY: '8' }),
  });
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
    const contacts = leads(N, from);
    const c = await cluster(TEST_REDIS_URL, { latencyMs }, contacts);
    const { sandbox } = c;
    const worker = c.workers[0]!;
    try {
      for (const lead of contacts) await c.post.deliverHubSpot([demoRequest(lead.id)]);
      await waitFor(() => sandbox.hubspot.notes.length >= 3, { what: 'the first notes', timeoutMs: 20_000 });
      await interrupt(worker);
      expect(sandbox.hubspot.notes.length).toBeLessThan(N);

      const next = await c.startWorker();
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
      await c.close('SIGTERM');
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
      const contacts = leads(N, 3000);
      const c = await cluster(own.url, { latencyMs: 20 }, contacts);
      const { sandbox } = c;
      let restarted: Awaited<ReturnType<typeof startRedisServer>> | undefined;
      try {
        const stream = (async () => {
          for (const lead of contacts) {
            await c.post.deliverHubSpot([demoRequest(lead.id)], 60_000);
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
        const outage = await c.post.hubspot([demoRequest(contacts[0]!.id)], { timeoutMs: 5_000 });
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
        await c.close('SIGKILL');
        await restarted?.stop();
        await own.stop();
        rmSync(own.dir, { recursive: true, force: true });
      }
    },
    240_000,
  );
});
