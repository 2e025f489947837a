import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { crmCaller } from '../../connectors/call.js';
import { isCrmError } from '../../connectors/errors.js';
import { toCrmFailure } from '../../connectors/hubspot/errors.js';
import { createHubSpotConnector } from '../../connectors/hubspot/index.js';
import { HubSpotFields } from '../../src/config/schema.js';
import { BUDGET_PAUSED } from '../../src/queue/retry.js';
import { BUDGET_SAFETY_MS, RateBudget } from '../../src/store/rate-budget.js';
import { waitFor } from '../helpers/wait.js';
import { startSandbox } from '../sandbox/index.js';
import { cleanPrefix, testRedis, uniquePrefix } from '../helpers/redis.js';

describe('RateBudget (shared token bucket in Redis)', () => {
  const prefix = uniquePrefix('budget');
  let a: Redis;
  let b: Redis;

  beforeAll(() => {
    a = testRedis();
    b = testRedis();
  });
  afterAll(async () => {
    await cleanPrefix(a, prefix);
    a.disconnect();
    b.disconnect();
  });

  it('keeps two processes together under the limit in every window', async () => {
    const limits = { max: 20, intervalMs: 1_000 };
    const key = `${prefix}:budget:paced`;
    // Two connections stand for two worker processes sharing one portal's budget.
    const budgets = [new RateBudget(a, key, limits), new RateBudget(b, key, limits)];
    const started = Date.now();
    const sentAt: number[] = [];
    await Promise.all(
      Array.from({ length: 60 }, async (_, i) => {
        const permit = await budgets[i % 2]!.take();
        sentAt.push(Date.now() - started);
        await permit.release();
      }),
    );
    sentAt.sort((x, y) => x - y);
    // 20 in any rolling second (plus the safety margin): batches of 20 at about 0 s, 1.1 s and 2.2 s.
    expect(sentAt[19]).toBeLessThan(300);
    expect(sentAt[20]).toBeGreaterThanOrEqual(990);
    expect(sentAt[59]).toBeGreaterThanOrEqual(1_990);
    expect(sentAt[59]).toBeLessThan(2_800);
    for (const start of sentAt) {
      const inWindow = sentAt.filter((t) => t >= start && t < start + limits.intervalMs - 10).length;
      expect(inWindow).toBeLessThanOrEqual(limits.max);
    }
  });

  it('counts a request sent late where the CRM counts it: no 429 when sends lag their reservation', async () => {
    const limits = { max: 20, intervalMs: 1_000 };
    const sandbox = await startSandbox({ rateLimit: limits });
    try {
      sandbox.seedContacts([{ id: '9', properties: { email: 'x@y.io' } }]);
      const call = crmCaller({
        crm: 'hubspot',
        timeoutMs: 10_000,
        budget: new RateBudget(a, `${prefix}:budget:late`, limits),
        toFailure: toCrmFailure,
      });
      // The first window's requests leave 400 ms after their turn (a loaded CPU, a socket wait),
      // so they reach the CRM while the next window's requests come due.
      let sends = 0;
      const statuses = await Promise.all(
        Array.from({ length: 3 * limits.max }, () =>
          call('contacts.read', 'read', async () => {
            if (sends++ < limits.max) await new Promise((resolve) => setTimeout(resolve, 400));
            const res = await fetch(`${sandbox.url}/crm/v3/objects/contacts/9`, {
              headers: { authorization: 'Bearer t' },
            });
            await res.arrayBuffer();
            return res.status;
          }),
        ),
      );
      expect(sandbox.calls.filter((c) => c.status === 429)).toHaveLength(0);
      expect(statuses.every((s) => s === 200)).toBe(true);
    } finally {
      await sandbox.close();
    }
  });

  it('a 429 pauses the budget of the account that hit it, in every process, and no other', async () => {
    const sandbox = await startSandbox();
    try {
      sandbox.seedContacts([{ id: '9', properties: { email: 'x@y.io' } }]);
      const limits = { max: 100, intervalMs: 10_000 };
      const caller = (redis: Redis, account: string) =>
        crmCaller({
          crm: 'hubspot',
          timeoutMs: 10_000,
          budget: new RateBudget(redis, `${prefix}:budget:${account}`, limits),
          toFailure: toCrmFailure,
        });
      // Two processes of portal A, one of portal B.
      const [portalA, otherProcessA, portalB] = [caller(a, 'a'), caller(b, 'a'), caller(a, 'b')];
      const read = (call: typeof portalA) =>
        call('contacts.read', 'read', async () => {
          const res = await fetch(`${sandbox.url}/crm/v3/objects/contacts/9`, {
            headers: { authorization: 'Bearer t' },
          });
          if (!res.ok)
            throw Object.assign(new Error('refused'), {
              code: res.status,
              headers: Object.fromEntries(res.headers),
              body: await res.text(),
            });
          return res.status;
        }).catch((err: unknown) => (isCrmError(err) ? err.failure : err));

      sandbox.setFaults({ rateLimit429: { policy: 'TEN_SECONDLY_ROLLING', count: 1 } });
      expect(await read(portalA)).toMatchObject({ status: 429, retryAfterMs: 1_000 });
      // Refused before it is sent, until the server's wait is over.
      expect(await read(otherProcessA)).toMatchObject({ code: BUDGET_PAUSED });
      expect(sandbox.calls).toHaveLength(1);
      expect(await read(portalB)).toBe(200);
      await waitFor(async () => (await read(otherProcessA)) === 200, { what: 'portal A after the wait' });
    } finally {
      await sandbox.close();
    }
  });

  it('a 429 of search’s own limit pauses the search budget, not the portal’s', async () => {
    const sandbox = await startSandbox();
    try {
      sandbox.seedContacts([{ id: '9', properties: { email: 'x@y.io' } }]);
      const budget = new RateBudget(a, `${prefix}:budget:portal`, { max: 100, intervalMs: 10_000 });
      const searchBudget = new RateBudget(a, `${prefix}:budget:search`, { max: 5, intervalMs: 1_000 });
      const connector = createHubSpotConnector({
        accessToken: 't',
        basePath: sandbox.url,
        fields: HubSpotFields.parse({}),
        budget,
        searchBudget,
      });
      // Another app on the portal uses this second's five searches.
      for (let i = 0; i < 5; i++)
        await fetch(`${sandbox.url}/crm/v3/objects/contacts/search`, {
          method: 'POST',
          headers: { authorization: 'Bearer other-app', 'content-type': 'application/json' },
          body: JSON.stringify({ filterGroups: [], limit: 1 }),
        });
      const refused = await connector.searchModifiedContacts(0, undefined).catch((err: unknown) => err);
      expect(isCrmError(refused) && refused.failure).toMatchObject({ status: 429, retryAfterMs: 1_000 });
      expect(await a.pttl(`${prefix}:budget:search:pause`)).toBeGreaterThan(0);
      expect(await a.exists(`${prefix}:budget:portal:pause`)).toBe(0);
      expect(await connector.readProfile({ crm: 'hubspot', objectType: 'contact', id: '9' })).toMatchObject({
        email: 'x@y.io',
      });
    } finally {
      await sandbox.close();
    }
  });

  it('believes the CRM when it reports fewer requests left', async () => {
    const key = `${prefix}:budget:observed`;
    const waits: number[] = [];
    const budget = new RateBudget(a, key, { max: 100, intervalMs: 10_000 }, (ms) => {
      waits.push(ms);
      return Promise.resolve();
    });
    expect((await budget.take()).waitedMs).toBe(0);
    await budget.observe(0);
    const waited = (await budget.take()).waitedMs;
    // The CRM says the window is used up: the next request waits for the window to roll on.
    expect(waited).toBeGreaterThanOrEqual(9_900 + BUDGET_SAFETY_MS);
    expect(waited).toBeLessThanOrEqual(10_000 + BUDGET_SAFETY_MS);
    expect(waits).toEqual([waited]);
  });

  it('learns from X-HubSpot-RateLimit-Remaining what other apps spent of the portal’s window', async () => {
    const sandbox = await startSandbox({ rateLimit: { max: 100, intervalMs: 10_000 } });
    try {
      sandbox.seedContacts([{ id: '9', properties: { email: 'x@y.io' } }]);
      // Another integration on the same portal uses 60 requests.
      for (let i = 0; i < 60; i++)
        await fetch(`${sandbox.url}/crm/v3/objects/contacts/9`, {
          headers: { authorization: 'Bearer other-app' },
        });
      const key = `${prefix}:budget:header`;
      const budget = new RateBudget(a, key, { max: 100, intervalMs: 10_000 });
      const connector = createHubSpotConnector({
        accessToken: 't',
        basePath: sandbox.url,
        fields: HubSpotFields.parse({}),
        budget,
      });
      await connector.readProfile({ crm: 'hubspot', objectType: 'contact', id: '9' });
      // Our one request plus the 60 HubSpot counted for the other app.
      await waitFor(async () => (await a.llen(key)) === 61, { what: 'budget corrected' });
    } finally {
      await sandbox.close();
    }
  });
});
