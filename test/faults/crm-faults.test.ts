import { describe, expect, it } from 'vitest';
import { openQueues, closeQueues } from '../../src/queue/queues.js';
import { keys } from '../../src/store/keys.js';
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

  it('a CRM that takes requests but never answers, then answers again: no socket kept, the backlog drains', async () => {
    const timeoutMs = 1_000;
    const sys = await faultSystem(TEST_REDIS_URL, { adjust: faultConfig({ timeoutMs }) });
    try {
      const contacts = leads(N, 400);
      sys.sandbox.seedContacts(contacts);
      sys.sandbox.setFaults({ stall: true });
      for (const c of contacts) await sys.post.deliverHubSpot([demoRequest(c.id)]);
      await waitFor(() => sys.sandbox.stalledConnections() > 0, { what: 'requests held by the CRM' });
      // A few rounds of retries against the stalled CRM.
      await new Promise((resolve) => setTimeout(resolve, 3 * timeoutMs));
      sys.sandbox.setFaults({ stall: false });
      // Each held request was given up at its timeout and its connection closed: none holds a worker.
      await waitFor(() => sys.sandbox.stalledConnections() === 0, {
        what: 'held connections closed',
        timeoutMs: 2 * timeoutMs + 5_000,
      });
      await waitFor(() => notesPerLead(sys.sandbox).size === N, { what: 'the backlog', timeoutMs: 30_000 });
      await expectOneNoteAndTaskEach(
        sys.sandbox,
        contacts.map((c) => c.id),
      );
      const queues = openQueues(sys.redis, sys.prefix, () => undefined);
      await waitFor(
        async () => (await queues.score.getActiveCount()) + (await queues.writeback.getActiveCount()) === 0,
        { what: 'no job left active' },
      );
      expect(await queues.writeback.getFailedCount()).toBe(0);
      await closeQueues(queues);
    } finally {
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
