import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { crmCaller, type CrmCall } from '../../connectors/call.js';
import { isCrmError, type CrmFailure } from '../../connectors/errors.js';
import { classifyFailure } from '../../src/queue/retry.js';
import { CrmReachability, UNREACHABLE_AFTER_MISSES } from '../../src/store/reachability.js';
import { createSalesforceConnector } from '../../connectors/salesforce/index.js';
import { Salesforce } from '../../src/config/schema.js';
import { cleanPrefix, testRedis, uniquePrefix } from '../helpers/redis.js';
import { seedLead } from '../helpers/salesforce-seed.js';
import { waitFor } from '../helpers/wait.js';
import { startSandbox } from '../sandbox/index.js';

const TIMEOUT_MS = 50;

/** What a call's failure means for its job, or 'ok'. */
async function outcome(call: CrmCall, answer: 'ok' | 'timeout' | 500): Promise<string> {
  try {
    await call('e', 'call', () =>
      answer === 'ok'
        ? Promise.resolve('ok')
        : answer === 500
          ? Promise.reject(Object.assign(new Error('boom'), { status: 500 }))
          : new Promise<never>(() => undefined),
    );
    return 'ok';
  } catch (err) {
    if (!isCrmError(err)) throw err;
    return classifyFailure(err.failure, Date.now()).action;
  }
}

describe('CRM reachability (src/store/reachability.ts through connectors/call.ts)', () => {
  let redis: Redis;
  const prefix = uniquePrefix('reach');
  let n = 0;
  /** Two callers (two worker processes) sharing one CRM's reachability. */
  const callers = () => {
    const crm = n++ % 2 === 0 ? 'hubspot' : 'salesforce';
    const reach = new CrmReachability(redis, prefix, crm, TIMEOUT_MS);
    const toFailure = (err: unknown): CrmFailure => {
      const status = (err as { status?: number }).status;
      return status ? { crm, status, message: 'boom' } : { crm, network: true, message: String(err) };
    };
    const make = () => crmCaller({ crm, timeoutMs: TIMEOUT_MS, reachability: reach, toFailure });
    return { reach, a: make(), b: make() };
  };
  beforeAll(() => {
    redis = testRedis();
  });
  afterAll(async () => {
    await cleanPrefix(redis, prefix);
    redis.disconnect();
  });

  it('one lead’s timeouts and 5xx back off while other calls are answered: no outage', async () => {
    const { reach, a, b } = callers();
    for (let i = 0; i < 10; i++) {
      expect(await outcome(a, 'timeout')).toBe('backoff');
      expect(await outcome(b, 500)).toBe('backoff');
      expect(await outcome(a, 'timeout')).toBe('backoff');
      // An answer, from another process: the run of misses ends.
      expect(await outcome(b, 'ok')).toBe('ok');
    }
    expect(await reach.reason()).toBeNull();
  });

  it(`${UNREACHABLE_AFTER_MISSES} calls in a row answered by nothing: unreachable, one probe per interval, its answer ends it`, async () => {
    const { reach, a, b } = callers();
    const first = [];
    for (let i = 0; i < UNREACHABLE_AFTER_MISSES; i++) first.push(await outcome(i % 2 ? a : b, 'timeout'));
    // The calls before the rule trips back off; the one that trips it waits unspent.
    expect(first).toEqual([...Array<string>(UNREACHABLE_AFTER_MISSES - 1).fill('backoff'), 'unreachable']);
    expect(await reach.reason()).toMatch(/timed out/);
    // The interval's probe goes out (and is not answered either); every other call is refused unsent.
    let sent = 0;
    const counted: CrmCall = (endpoint, what, fn) =>
      a(endpoint, what, (s) => {
        sent++;
        return fn(s);
      });
    const during = await Promise.all(Array.from({ length: 10 }, () => outcome(counted, 'timeout')));
    expect(during.every((d) => d === 'unreachable')).toBe(true);
    expect(sent).toBe(1);
    // The next interval's probe is answered: the outage ends for every process.
    const untilProbe = await reach.untilProbeMs();
    expect(untilProbe).toBeGreaterThan(0);
    await new Promise((resolve) => setTimeout(resolve, untilProbe + 10));
    expect(await outcome(b, 'ok')).toBe('ok');
    expect(await reach.reason()).toBeNull();
    expect(await outcome(a, 'ok')).toBe('ok');
  });

  it('a batch request answered by nothing counts once per lead it carries, and one lost answer is no outage', async () => {
    const { reach, a } = callers();
    const batch = (leads: number) =>
      a('batch', `read ${leads} contacts`, () => new Promise<never>(() => undefined), undefined, leads).catch(
        (err: unknown) => (isCrmError(err) ? classifyFailure(err.failure, Date.now()).action : err),
      );
    // One request, however many leads it carries: a lost answer, backed off alone.
    expect(await batch(40)).toBe('backoff');
    expect(await reach.reason()).toBeNull();
    // A second one unanswered, with no answer between: 41 leads' calls, well past the rule.
    expect(await batch(1)).toBe('unreachable');
    expect(await reach.reason()).toMatch(/timed out/);
  });

  it('remembers held jobs once each, oldest first, for their wake-up', async () => {
    const { reach } = callers();
    await reach.hold({ queue: 'writeback', id: 'handoff:hubspot:1:a' }, 1_000);
    await reach.hold({ queue: 'score', id: 'x' }, 2_000);
    await reach.hold({ queue: 'writeback', id: 'handoff:hubspot:1:a' }, 3_000);
    expect(await reach.takeHeld(10)).toEqual([
      { queue: 'score', id: 'x' },
      { queue: 'writeback', id: 'handoff:hubspot:1:a' },
    ]);
    expect(await reach.takeHeld(10)).toEqual([]);
  });
});

describe('CRM reachability with jsforce: a stalled Salesforce org', () => {
  it('trips on unanswered calls, refuses the rest unsent, and the first answered probe ends it', async () => {
    const redis = testRedis();
    const prefix = uniquePrefix('reach-sf');
    const sandbox = await startSandbox();
    try {
      const ref = seedLead(sandbox.salesforce, { email: 'ada@x.io' });
      const reach = new CrmReachability(redis, prefix, 'salesforce', 300);
      const sf = createSalesforceConnector({
        instanceUrl: sandbox.url,
        loginUrl: sandbox.url,
        auth: { kind: 'access_token', accessToken: 'tok-sandbox' },
        config: Salesforce.parse({ timeoutMs: 300 }),
        reachability: reach,
      });
      const action = (p: Promise<unknown>) =>
        p.then(
          () => 'ok',
          (err: unknown) => (isCrmError(err) ? classifyFailure(err.failure, Date.now()).action : String(err)),
        );
      expect(await action(sf.readProfile(ref))).toBe('ok');
      // Takes the requests, never answers (an overloaded edge).
      sandbox.setFaults({ stall: true });
      const stalled = [];
      for (let i = 0; i < UNREACHABLE_AFTER_MISSES; i++) stalled.push(await action(sf.readProfile(ref)));
      expect(stalled.at(-1)).toBe('unreachable');
      const sent = sandbox.stalledConnections();
      // The next call is this interval's probe (sent, unanswered too); the one after is refused unsent.
      expect(await action(sf.readProfile(ref))).toBe('unreachable');
      expect(await action(sf.readProfile(ref))).toBe('unreachable');
      expect(sandbox.stalledConnections()).toBeLessThanOrEqual(sent + 1);
      sandbox.setFaults({ stall: false });
      await waitFor(async () => (await action(sf.readProfile(ref))) === 'ok', {
        what: 'the answered probe',
        timeoutMs: 5_000,
      });
      expect(await reach.reason()).toBeNull();
    } finally {
      await sandbox.close();
      await cleanPrefix(redis, prefix);
      redis.disconnect();
    }
  });
});
