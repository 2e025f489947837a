import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handoffMarker } from '../../src/domain/index.js';
import { closeQueues, openQueues, type Queues } from '../../src/queue/queues.js';
import { HandoffStore } from '../../src/store/handoffs.js';
import { keys } from '../../src/store/keys.js';
import { TEST_REDIS_URL, uniquePrefix } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';
import { DEFAULT_API_VERSION } from '../sandbox/salesforce.js';
import { salesforceEnv, startSystem, type System } from '../system/index.js';

const N = 150;
const BLOCKED = 7;
const CONVERTED = 42;

/**
 * A burst of 150 demo requests from Salesforce Leads leadflow has never seen, end to end on
 * salesforce-only.yaml: the handoffs share requests (profile reads, graphs of many leads), each lead
 * is handed off once with one rep task — also when the answer to a graph request is lost and its
 * leads' jobs retry — one lead a validation rule refuses is dead-lettered alone, and a Lead sales
 * converted meanwhile goes to its Contact.
 */
describe('end to end: a burst of Salesforce hand-raises shares API calls', () => {
  let sys: System;
  let queues: Queues;
  let leadIds: string[] = [];
  let contactId = '';

  beforeAll(async () => {
    sys = await startSystem({
      redisUrl: TEST_REDIS_URL,
      prefix: uniquePrefix('e2e-sf-burst'),
      sandbox: { latencyMs: 50 },
      seed: (s) => {
        const sf = s.salesforce;
        leadIds = Array.from({ length: N }, (_, i) =>
          sf.insert('Lead', {
            FirstName: `Lead${i}`,
            LastName: 'Burst',
            Email: `lead${i}@burst.example`,
            Company: i === BLOCKED ? 'Blocked Inc' : `Burst ${i}`,
            Title: 'VP Marketing',
            Status: 'Open - Not Contacted',
          }),
        );
        contactId = sf.convertLead(leadIds[CONVERTED]!);
        sf.validationRules.push({
          sObject: 'Lead',
          fails: (r) => r.Company === 'Blocked Inc' && r.Status === 'Marketing Qualified',
          message: 'Blocked companies cannot be qualified',
        });
      },
      configFile: 'config/examples/salesforce-only.yaml',
      adjust: (c) => ({ ...c, salesforce: { ...c.salesforce, cdc: undefined, polling: {} } }),
      env: salesforceEnv,
    });
    queues = openQueues(sys.redis, sys.prefix, () => undefined);
  });

  afterAll(async () => {
    await closeQueues(queues);
    await sys?.close();
  });

  it('hands off every lead once, in a fraction of the per-lead API calls', async () => {
    const { sandbox } = sys;
    const sf = sandbox.salesforce;
    // The first graph request takes effect, but its answer is lost: its leads' jobs retry.
    sandbox.setFaults({
      loseResponse: {
        method: 'POST',
        path: `/services/data/v${DEFAULT_API_VERSION}/composite/graph`,
        count: 1,
      },
    });
    const before = sf.apiUsage.used;
    const deliveries = Array.from({ length: N / 10 }, (_, d) =>
      sys.post.events({
        events: leadIds.slice(d * 10, d * 10 + 10).map((id) => ({
          id: `burst-${id}`,
          lead: { crm: 'salesforce', objectType: 'lead', id },
          type: 'demo_request',
          occurredAt: Date.now(),
        })),
      }),
    );
    expect(await Promise.all(deliveries)).toEqual(Array(N / 10).fill(200));

    const store = new HandoffStore(sys.redis, keys(sys.prefix));
    const handoffId = (id: string) => `hf.salesforce.lead.${id}.0.mql`;
    const others = leadIds.filter((_, i) => i !== BLOCKED);
    await waitFor(
      async () =>
        (
          await Promise.all(others.map(async (id) => (await store.progress(handoffId(id))).completedAt))
        ).every(Boolean),
      { timeoutMs: 60_000, what: `${others.length} handoffs completed` },
    );
    await waitFor(async () => (await queues.writeback.getFailedCount()) === 1, {
      timeoutMs: 60_000,
      what: 'the blocked lead dead-lettered',
    });

    const tasks = sf.records('Task');
    for (const [i, id] of leadIds.entries()) {
      const mine = tasks.filter((t) => String(t.Description).includes(handoffMarker(handoffId(id))));
      if (i === BLOCKED) {
        expect(mine).toEqual([]);
        expect(sf.get('Lead', id)?.Status).toBe('Open - Not Contacted');
      } else if (i === CONVERTED) {
        expect(mine.map((t) => [t.WhoId, t.IsClosed])).toEqual([[contactId, true]]);
        expect(sf.get('Contact', contactId)?.Leadflow_Score__c).toBeGreaterThan(0);
      } else {
        expect(mine.map((t) => t.WhoId)).toEqual([id]);
        expect(sf.get('Lead', id)?.Status).toBe('Marketing Qualified');
      }
    }
    const [failed] = await queues.writeback.getFailed();
    expect(failed?.failedReason).toContain('FIELD_CUSTOM_VALIDATION_EXCEPTION');

    // The org's daily allocation counts every request: the per-lead path spends 2 per handoff here
    // (the first-touch read and the composite request), shared requests fewer than half of that, retries
    // included (0.42-0.45 on a loaded 2-core machine; how many share a request depends on the load).
    const perHandoff = (sf.apiUsage.used - before) / N;
    // The lost answer made its leads' jobs run again: their retries found their Tasks.
    const completed = await queues.writeback.getCompleted(0, N);
    expect(completed.some((job) => job.attemptsMade > 1)).toBe(true);
    expect(perHandoff).toBeLessThan(1);
    expect(sandbox.calls.some((c) => c.method === 'POST' && c.path.endsWith('/composite/graph'))).toBe(true);
  });
});
