import { describe, expect, it } from 'vitest';
import { closeQueues, openQueues } from '../../src/queue/queues.js';
import { QueueName } from '../../src/queue/catalog.js';
import { keys } from '../../src/store/keys.js';
import { TEST_REDIS_URL, uniquePrefix } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';
import { startSandbox } from '../sandbox/index.js';
import { SECRETS, hubspotEnv, salesforceEnv, startSystem } from '../system/index.js';
import { demoRequest } from '../system/webhooks.js';
import { expectOneNoteAndTaskEach, faultConfig, leads } from './harness.js';

const N = 20;
const TOKEN = SECRETS.hubspotToken;

describe('faults: the CRM refuses our credentials', () => {
  it('a revoked token holds that CRM’s calls (no attempt spent, nothing dead-lettered, the other CRM goes on), reports it, and resumes by itself', async () => {
    const sandbox = await startSandbox({ latencyMs: 5 });
    const prefix = uniquePrefix('auth');
    const adjust = faultConfig({}, { authProbeMs: 500 });
    // The server only queues (no CRM credentials, so no CRM probe of its own): what it reports about
    // the CRM comes from the workers.
    const server = await startSystem({
      redisUrl: TEST_REDIS_URL,
      sandbox,
      prefix,
      adjust,
      workers: 0,
      env: (s) => ({
        HUBSPOT_CLIENT_SECRET: SECRETS.hubspotClientSecret,
        HUBSPOT_BASE_URL: s.url,
        EVENTS_SIGNING_SECRET: SECRETS.eventsSigningSecret,
      }),
    });
    const worker = await startSystem({
      redisUrl: TEST_REDIS_URL,
      sandbox,
      prefix,
      adjust,
      http: false,
      env: (s) => ({ ...hubspotEnv(s), ...salesforceEnv(s) }),
    });
    const queues = openQueues(server.redis, prefix, () => undefined);
    const failed = async () =>
      (await Promise.all(QueueName.options.map((q) => queues[q].getFailedCount()))).reduce((a, b) => a + b);
    const readyz = async () =>
      (await fetch(`${server.baseUrl}/readyz`)).json() as Promise<{
        status: string;
        reasons?: string[];
      }>;
    const outage = () => worker.running!.metrics.crmAuthOutage.get().then((m) => m.values[0]?.value ?? 0);
    try {
      const contacts = leads(N, 700);
      sandbox.seedContacts(contacts);
      // The token is revoked (an admin uninstalled the app, a key rotation gone wrong): every call is 401.
      sandbox.hubspot.revokedTokens.add(TOKEN);
      for (const c of contacts) await server.post.deliverHubSpot([demoRequest(c.id)]);

      await waitFor(async () => (await outage()) === 1, { what: 'the alert metric' });
      let reasons: string[] = [];
      await waitFor(async () => {
        const body = await readyz();
        reasons = body.reasons ?? [];
        return body.status === 'degraded';
      });
      expect(reasons).toEqual(['hubspot_credentials_refused']);
      expect(await server.redis.get(keys(prefix).authOutage('hubspot'))).toMatch(/^hubspot 401/);
      // Only HubSpot's calls wait: the queues run, and a Salesforce hand-raise is handed off meanwhile.
      for (const queue of [queues.score, queues.writeback])
        expect(await queue.getRateLimitTtl()).toBeLessThanOrEqual(0);
      const sfLead = sandbox.salesforce.insert('Lead', {
        FirstName: 'Ada',
        LastName: 'Lovelace',
        Email: 'ada@example.org',
        Company: 'Engines',
        Title: 'VP Marketing',
        Country: 'Canada',
        Status: 'Open - Not Contacted',
      });
      expect(
        await server.post.events({
          events: [
            {
              id: 'auth-outage-sf-1',
              lead: { crm: 'salesforce', objectType: 'lead', id: sfLead },
              type: 'demo_request',
              occurredAt: Date.now(),
            },
          ],
        }),
      ).toBe(200);
      await waitFor(() => sandbox.salesforce.records('Task').some((t) => t.WhoId === sfLead), {
        what: 'the Salesforce lead’s task during the HubSpot outage',
        timeoutMs: 20_000,
      });
      expect(sandbox.hubspot.revokedTokens.has(TOKEN)).toBe(true);
      expect((await readyz()).reasons).toEqual(['hubspot_credentials_refused']);
      // Several probes refused meanwhile: still nothing dead-lettered.
      const refused = () => sandbox.calls.filter((c) => c.status === 401).length;
      const firstRefusals = refused();
      await waitFor(() => refused() > firstRefusals + 2, { what: 'more probes', timeoutMs: 20_000 });
      expect(await failed()).toBe(0);

      // The token works again: the next probe goes through and everything resumes, written once.
      sandbox.hubspot.revokedTokens.delete(TOKEN);
      await expectOneNoteAndTaskEach(
        sandbox,
        contacts.map((c) => c.id),
      );
      expect(await failed()).toBe(0);
      expect(await outage()).toBe(0);
      await waitFor(async () => (await readyz()).status === 'ready', { what: 'ready again' });
      // Each job ran to completion once: the refused runs spent no attempt.
      const done = await queues.writeback.getCompleted();
      expect(done.length).toBeGreaterThan(0);
      expect(done.every((j) => j.attemptsMade <= 1)).toBe(true);
    } finally {
      await closeQueues(queues);
      await worker.close();
      await server.close();
      await sandbox.close();
    }
  }, 90_000);
});
