import { PassThrough } from 'node:stream';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { HubSpotWebhookEvent } from '../../connectors/hubspot/webhook.js';
import { enqueueIngest } from '../../src/queue/queues.js';
import { hubspotIngest } from '../../src/receive/hubspot.js';
import { CompositeFakeConnector, FakeConnector } from '../helpers/fake-connector.js';
import { startPipeline } from '../helpers/pipeline.js';
import type { AlertChannel } from '../../src/alerts/index.js';
import { guardRedisData } from '../../src/cli/redis-guard.js';
import { createLogger } from '../../src/logger.js';
import { createMetrics } from '../../src/metrics.js';
import { EpochWatch, recordsMayBeLost, type EpochCheck } from '../../src/store/epoch.js';
import { keys } from '../../src/store/keys.js';
import { NoPersistenceError, readPersistence } from '../../src/store/persistence.js';
import { cleanPrefix, testRedis, uniquePrefix } from '../helpers/redis.js';
import { testConfig } from '../helpers/pipeline.js';
import { waitFor } from '../helpers/wait.js';
import { hasRedisServer, startRedisServer, type OwnRedis } from '../sandbox/redis-server.js';

const HOUR = 3_600_000;

describe('the epoch watch: Redis that lost its data is noticed', () => {
  const redis = testRedis();
  const prefix = uniquePrefix('epoch');
  const k = keys(prefix);
  const watches: EpochWatch[] = [];
  const seen: [EpochCheck, boolean][] = [];
  const watch = (on: Redis = redis) => {
    const w = new EpochWatch(on, k, {
      recoveryMs: 24 * HOUR,
      checkEveryMs: 60_000,
      onCheck: (found, recovering) => seen.push([found, recovering]),
      onError: () => undefined,
    });
    watches.push(w);
    return w;
  };
  afterEach(async () => {
    for (const w of watches.splice(0)) w.stop();
    seen.length = 0;
    await cleanPrefix(redis, prefix);
  });
  afterAll(() => redis.disconnect());

  it('writes the epoch at first start and finds it the same afterwards', async () => {
    const w = watch();
    expect(await w.check()).toBe('first_start');
    expect(await w.check()).toBe('same');
    // Another process starting later finds it, and no loss.
    expect(await watch().check()).toBe('same');
    expect(await recordsMayBeLost(redis, k)).toBe(false);
    expect(seen.map(([, recovering]) => recovering)).toEqual([false, false, false]);
  });

  it('a process that saw the epoch and finds it gone records the loss for the recovery window; one noticing later does not prolong it', async () => {
    const first = watch();
    const second = watch();
    await first.check();
    await second.check();
    await cleanPrefix(redis, prefix);

    expect(await first.check()).toBe('lost');
    expect(await recordsMayBeLost(redis, k)).toBe(true);
    const ttl = await redis.pttl(k.dataLoss);
    expect(ttl).toBeGreaterThan(23 * HOUR);
    expect(ttl).toBeLessThanOrEqual(24 * HOUR);
    const { detectedAt } = JSON.parse((await redis.get(k.dataLoss)) ?? '{}') as { detectedAt: number };

    // The other process finds a new epoch, not the one it saw: the same loss, already recorded.
    expect(await second.check()).toBe('lost');
    expect((JSON.parse((await redis.get(k.dataLoss)) ?? '{}') as { detectedAt: number }).detectedAt).toBe(
      detectedAt,
    );
    // A process started after the loss saw no earlier epoch, but learns of the recovery.
    expect(await watch().check()).toBe('same');
    expect(seen.at(-1)).toEqual(['same', true]);
  });

  it('checks again on reconnect', async () => {
    const own = new Redis(redis.options);
    try {
      const w = watch(own);
      expect(await w.start()).toBe('first_start');
      await redis.del(k.epoch);
      // Every client connection dropped, as a Redis restart does: ioredis reconnects by itself.
      await redis.call('CLIENT', 'KILL', 'ID', String(await own.client('ID')));
      await waitFor(() => seen.some(([found]) => found === 'lost'), { what: 'the check on reconnect' });
      expect(await recordsMayBeLost(redis, k)).toBe(true);
    } finally {
      own.disconnect();
    }
  });
});

describe.skipIf(!hasRedisServer())('persistence at start', () => {
  let own: OwnRedis;
  let redis: Redis;
  beforeAll(async () => {
    own = await startRedisServer();
    redis = new Redis(own.url);
  });
  afterAll(async () => {
    redis.disconnect();
    await own.stop();
  });

  const guard = async (persistence: 'warn' | 'refuse', on?: Redis) => {
    const out = new PassThrough();
    let logged = '';
    out.on('data', (d: Buffer) => (logged += d.toString()));
    const metrics = createMetrics();
    const config = testConfig(uniquePrefix('persist'), (c) => ({
      ...c,
      redis: { ...c.redis, persistence },
    }));
    const stop = await guardRedisData(on ?? redis, config, createLogger('info', out), metrics);
    stop();
    await cleanPrefix(redis, config.redis.prefix);
    return logged;
  };

  it('reads AOF and RDB from CONFIG GET', async () => {
    expect(await readPersistence(redis)).toEqual({ kind: 'none' });
    await redis.config('SET', 'save', '3600 1');
    expect(await readPersistence(redis)).toEqual({ kind: 'rdb' });
    await redis.config('SET', 'appendonly', 'yes');
    expect(await readPersistence(redis)).toEqual({ kind: 'aof+rdb' });
    await redis.config('SET', 'save', '');
    expect(await readPersistence(redis)).toEqual({ kind: 'aof' });
    await redis.config('SET', 'appendonly', 'no');
  });

  it('without persistence: warns by default, refuses when configured to', async () => {
    expect(await guard('warn')).toContain('Redis has neither AOF nor RDB persistence');
    await expect(guard('refuse')).rejects.toThrow(NoPersistenceError);
    await redis.config('SET', 'appendonly', 'yes');
    try {
      expect(await guard('refuse')).not.toContain('persistence');
    } finally {
      await redis.config('SET', 'appendonly', 'no');
    }
  });

  it('a Redis that denies CONFIG (managed services do) counts as unknown, logged, not refused', async () => {
    await redis.call('ACL', 'SETUSER', 'app', 'on', '>secret-pw', '~*', '&*', '+@all', '-config');
    const limited = new Redis(own.url, { username: 'app', password: 'secret-pw' });
    try {
      const found = await readPersistence(limited);
      expect(found).toMatchObject({ kind: 'unknown', why: expect.stringMatching(/NOPERM/) as string });
      expect(await guard('refuse', limited)).toContain('Redis persistence unknown');
    } finally {
      limited.disconnect();
    }
  });
});

describe('writeback while recovering from a data loss', () => {
  const redis = testRedis();
  afterAll(() => redis.disconnect());
  const HANDOFF = 'hf.hubspot.contact.501.0.mql';
  // A rep alert is a followup job with a job id per handoff: whether it was queued is what counts.
  const quietAlerts: AlertChannel = { name: 'email', reaches: () => true, send: () => Promise.resolve() };
  const pricingView: HubSpotWebhookEvent = {
    eventId: '4242',
    portalId: '33',
    objectId: '501',
    occurredAt: Date.now(),
    subscriptionType: 'contact.propertyChange',
    propertyName: 'hs_analytics_last_url',
    propertyValue: 'https://acme.io/pricing',
  };

  /** Hands lead 501 off, loses every key (as an empty Redis after a restart), then gets the same event again. */
  async function handOffTwice(crm: FakeConnector, lostRecorded: boolean) {
    const runs: { speedToLead: number; alertQueued: boolean }[] = [];
    crm.profiles.set('hubspot.contact.501', {
      jobTitle: 'VP Marketing',
      industry: 'COMPUTER_SOFTWARE',
      companySize: '100-500',
      country: 'United States',
    });
    const prefix = uniquePrefix('recover');
    const config = testConfig(prefix);
    const k = keys(prefix);
    const once = async () => {
      const pipeline = await startPipeline({ redis, config, connector: crm, alerts: [quietAlerts] });
      try {
        await enqueueIngest(
          pipeline.queues,
          hubspotIngest([pricingView], config.hubspot, { receivedAt: Date.now() }),
          config.handRaise,
        );
        await waitFor(async () => (await pipeline.ctx.handoffs.progress(HANDOFF)).completedAt, {
          what: 'the handoff written',
        });
        // Its writeback entry is audited after speed to lead is counted: the job has got that far.
        await waitFor(
          async () =>
            (await pipeline.ctx.handoffs.recentAudit(50)).some(
              (e) => e.type === 'writeback' && e.handoffId === HANDOFF,
            ),
          { what: 'the writeback audited' },
        );
        // The alert is queued before the handoff counts as complete.
        runs.push({
          speedToLead: (await pipeline.metrics.speedToLead.get()).values.find((v) =>
            v.metricName?.endsWith('_count'),
          )!.value,
          alertQueued: (await pipeline.queues.followup.getJob(`alert.${HANDOFF}`)) !== undefined,
        });
      } finally {
        await pipeline.close();
      }
    };
    try {
      await once();
      await cleanPrefix(redis, prefix);
      // What the epoch watch records when it notices.
      if (lostRecorded) await redis.set(k.dataLoss, '{}', 'PX', HOUR);
      await once();
    } finally {
      await cleanPrefix(redis, prefix);
    }
    return runs;
  }

  it('steps in parallel: the note and the task are found by marker, the stage counts as ours', async () => {
    const crm = new FakeConnector();
    const runs = await handOffTwice(crm, true);
    expect(crm.notes).toHaveLength(1);
    expect(crm.tasks).toHaveLength(1);
    expect(crm.calls.filter((c) => c.method === 'createHandoffNote').map((c) => c.mayExist)).toEqual([
      false,
      true,
    ]);
    // Found written in full: its rep was alerted and its speed to lead counted the first time.
    expect(runs).toEqual([
      { speedToLead: 1, alertQueued: true },
      { speedToLead: 0, alertQueued: false },
    ]);
  });

  it('one request (Salesforce composite): the task is found by marker', async () => {
    const crm = new CompositeFakeConnector();
    const runs = await handOffTwice(crm, true);
    expect(crm.tasks).toHaveLength(1);
    expect(runs.map((r) => r.alertQueued)).toEqual([true, false]);
    expect(crm.calls.filter((c) => c.method === 'writeHandoff').map((c) => c.mayExist)).toEqual([
      false,
      true,
    ]);
  });

  it('without a recorded loss, a handoff with no progress creates without a lookup', async () => {
    const crm = new FakeConnector();
    await handOffTwice(crm, false);
    expect(crm.calls.filter((c) => c.method === 'createHandoffNote').map((c) => c.mayExist)).toEqual([
      false,
      false,
    ]);
  });
});
