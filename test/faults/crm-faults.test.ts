import { describe, expect, it } from 'vitest';
import { openQueues, closeQueues } from '../../src/queue/queues.js';
import { keys } from '../../src/store/keys.js';
import { QueueName } from '../../src/queue/catalog.js';
import { TEST_REDIS_URL } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';
import { demoRequest } from '../system/webhooks.js';
import { expectOneNoteAndTaskEach, faultConfig, faultSystem, leads, notesPerLead } from './harness.js';

const N = 40;

/** CRM trouble: every lead is still handed off, exactly once. */
describe('faults: the CRM misbehaves', () => {
  it('30% errors and timeouts, then recovery: no lead lost, no note twice', async () => {
    const sys = await faultSystem(TEST_REDIS_URL, {
      sandbox: { latencyMs: 20 },
      adjust: faultConfig({ timeoutMs: 500 }),
    });
    try {
      const contacts = leads(N);
      sys.sandbox.seedContacts(contacts);
      sys.sandbox.setFaults({ errorRate: 0.3, timeoutRate: 0.05, hangMs: 1_500 });
      for (const c of contacts) await sys.post.deliverHubSpot([demoRequest(c.id)]);
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      sys.sandbox.setFaults({ errorRate: 0, timeoutRate: 0 });
      await waitFor(() => notesPerLead(sys.sandbox).size === N, {
        what: 'every lead handed off',
        timeoutMs: 60_000,
      });
      await expectOneNoteAndTaskEach(
        sys.sandbox,
        contacts.map((c) => c.id),
      );
      expect(sys.sandbox.calls.filter((c) => c.status >= 500).length).toBeGreaterThan(0);
      for (const c of contacts)
        expect(sys.sandbox.hubspot.contacts.get(c.id)?.lifecyclestage).toBe('marketingqualifiedlead');
    } finally {
      await sys.close();
    }
  }, 90_000);

  it('CRM unreachable for a while, then the backlog drains completely', async () => {
    const sys = await faultSystem(TEST_REDIS_URL, {});
    try {
      const contacts = leads(N, 100);
      sys.sandbox.seedContacts(contacts);
      sys.sandbox.setFaults({ down: true });
      for (const c of contacts) await sys.post.deliverHubSpot([demoRequest(c.id)]);
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      expect(sys.sandbox.hubspot.notes).toHaveLength(0);
      sys.sandbox.setFaults({ down: false });
      await waitFor(() => notesPerLead(sys.sandbox).size === N, { what: 'the drain', timeoutMs: 60_000 });
      await expectOneNoteAndTaskEach(
        sys.sandbox,
        contacts.map((c) => c.id),
      );
    } finally {
      await sys.close();
    }
  }, 90_000);

  it('a CRM that takes requests but never answers: its jobs wait without spending attempts and run within one probe of it answering again', async () => {
    const timeoutMs = 1_000;
    // A retry that spends an attempt waits a minute: a job that backed off from the stalled CRM and
    // were not run at its answer would miss the drain below by far.
    const sys = await faultSystem(TEST_REDIS_URL, {
      adjust: faultConfig({ timeoutMs }, { retryBackoffMs: 60_000 }),
    });
    const queues = openQueues(sys.redis, sys.prefix, () => undefined);
    const metric = async () =>
      /leadflow_crm_unreachable\{crm="hubspot"\} (\d)/.exec(
        await (await fetch(`${sys.baseUrl}/metrics`)).text(),
      )?.[1];
    const readyz = async () =>
      (await (await fetch(`${sys.baseUrl}/readyz`)).json()) as { status: string; reasons?: string[] };
    try {
      const contacts = leads(N, 400);
      sys.sandbox.seedContacts(contacts);
      sys.sandbox.setFaults({ stall: true });
      for (const c of contacts) await sys.post.deliverHubSpot([demoRequest(c.id)]);
      await waitFor(() => sys.sandbox.stalledConnections() > 0, { what: 'requests held by the CRM' });
      await waitFor(async () => (await metric()) === '1', { what: 'the unreachable metric' });
      expect(await readyz()).toEqual({ status: 'degraded', reasons: ['hubspot_unreachable'] });
      // Stalled for 8 timeouts: without the outage rule every job spends an attempt per timeout and
      // waits out its backoff (a minute) long after the CRM answers.
      await new Promise((resolve) => setTimeout(resolve, 8 * timeoutMs));
      // One request per probe interval (timeout + 1 s), not one per job.
      const held = sys.sandbox.stalledConnections();
      expect(held).toBeLessThanOrEqual(2);
      sys.sandbox.setFaults({ stall: false });
      const answering = Date.now();
      // Held requests are given up at their timeout and their connection closed: none holds a worker.
      await waitFor(() => sys.sandbox.stalledConnections() === 0, {
        what: 'held connections closed',
        timeoutMs: 2 * timeoutMs + 5_000,
      });
      // The next probe gets an answer within one probe interval (timeout + 1 s: 2 s here) and every job
      // held for the CRM runs at once, those that backed off too: all written well within 10 s.
      await waitFor(() => notesPerLead(sys.sandbox).size === N, { what: 'the backlog', timeoutMs: 10_000 });
      const drainedMs = Date.now() - answering;
      console.log(`stall: ${N} handoffs written ${drainedMs} ms after the CRM answered again`);
      await expectOneNoteAndTaskEach(
        sys.sandbox,
        contacts.map((c) => c.id),
      );
      await waitFor(
        async () => (await queues.score.getActiveCount()) + (await queues.writeback.getActiveCount()) === 0,
        { what: 'no job left active' },
      );
      // Attempts: only the jobs whose calls went unanswered before the CRM counted as unreachable (the
      // first UNREACHABLE_AFTER_MISSES - 1 calls, a batch call shared by several jobs) spent one each;
      // the old code spent one per job per timeout. Nothing dead-lettered.
      const done = [...(await queues.score.getCompleted()), ...(await queues.writeback.getCompleted())];
      const spent = done.map((j) => j.attemptsMade - 1);
      console.log(`stall: ${spent.filter((n) => n > 0).length} of ${done.length} jobs spent an attempt`);
      expect(Math.max(...spent)).toBeLessThanOrEqual(1);
      for (const q of QueueName.options) expect(await queues[q].getFailedCount(), q).toBe(0);
      expect(await metric()).toBe('0');
      expect(await readyz()).toEqual({ status: 'ready' });
    } finally {
      await closeQueues(queues);
      await sys.close();
    }
  }, 90_000);

  it('429 storm: pauses for the server, spends no attempts, writes once', async () => {
    const sys = await faultSystem(TEST_REDIS_URL, {});
    try {
      const contacts = leads(N, 200);
      sys.sandbox.seedContacts(contacts);
      sys.sandbox.setFaults({ rateLimit429: { policy: 'TEN_SECONDLY_ROLLING', count: 25 } });
      for (const c of contacts) await sys.post.deliverHubSpot([demoRequest(c.id)]);
      await waitFor(() => notesPerLead(sys.sandbox).size === N, { what: 'every handoff', timeoutMs: 60_000 });
      await expectOneNoteAndTaskEach(
        sys.sandbox,
        contacts.map((c) => c.id),
      );
      expect(sys.sandbox.calls.filter((c) => c.status === 429)).toHaveLength(25);
      const queues = openQueues(sys.redis, sys.prefix, () => undefined);
      expect(await queues.writeback.getFailedCount()).toBe(0);
      await closeQueues(queues);
    } finally {
      await sys.close();
    }
  }, 90_000);

  it('a DAILY 429 stops writes until the reset and raises the alert metric', async () => {
    const sys = await faultSystem(TEST_REDIS_URL, {});
    try {
      const contacts = leads(10, 300);
      sys.sandbox.seedContacts(contacts);
      // HubSpot refuses every call once the daily limit is reached, until it resets.
      sys.sandbox.setFaults({ rateLimit429: { policy: 'DAILY', count: 1_000_000 } });
      for (const c of contacts) await sys.post.deliverHubSpot([demoRequest(c.id)]);
      const metricsUrl = `${sys.baseUrl}/metrics`;
      await waitFor(
        async () =>
          (await (await fetch(metricsUrl)).text()).includes(
            'leadflow_rate_limit_pauses_total{crm="hubspot",scope="daily"}',
          ),
        {
          what: 'the daily alert',
        },
      );
      const queues = openQueues(sys.redis, sys.prefix, () => undefined);
      // The portal's budget is paused until the daily reset, not for a few seconds, and the jobs that
      // met the limit wait as long.
      const pause = `${keys(sys.prefix).budget('hubspot')}:pause`;
      expect(await sys.redis.pttl(pause)).toBeGreaterThan(60_000);
      await waitFor(
        async () => (await queues.score.getDelayedCount()) + (await queues.writeback.getDelayedCount()) > 0,
        { what: 'the leads’ jobs held' },
      );
      const refusedBefore = sys.sandbox.calls.filter((c) => c.status === 429).length;
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      // Paused, not hammering: at most the calls already in flight were refused meanwhile.
      expect(sys.sandbox.calls.filter((c) => c.status === 429).length - refusedBefore).toBeLessThanOrEqual(
        16,
      );
      expect(
        sys.sandbox.calls.filter((c) => c.method !== 'GET' && c.status < 300 && c.path.includes('notes')),
      ).toHaveLength(0);
      // The reset: the pause lifts, the held jobs come due and everything is written, once.
      sys.sandbox.setFaults({ rateLimit429: { policy: 'DAILY', count: 0 } });
      await sys.redis.del(pause);
      await Promise.all([queues.score.promoteJobs(), queues.writeback.promoteJobs()]);
      await waitFor(() => notesPerLead(sys.sandbox).size === 10, {
        what: 'the writes after the reset',
        timeoutMs: 45_000,
      });
      await expectOneNoteAndTaskEach(
        sys.sandbox,
        contacts.map((c) => c.id),
      );
      await closeQueues(queues);
    } finally {
      await sys.close();
    }
  }, 90_000);
});
