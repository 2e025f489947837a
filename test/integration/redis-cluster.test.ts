import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseEnv } from '../../src/config/env.js';
import { createLogger } from '../../src/logger.js';
import { createMetrics } from '../../src/metrics.js';
import { readReport } from '../../src/reports/read.js';
import { sweepAudit } from '../../src/reports/rollup.js';
import { keys } from '../../src/store/keys.js';
import { readPersistence } from '../../src/store/persistence.js';
import {
  assertNoEviction,
  connectFromEnv,
  deleteByPrefix,
  redisTime,
  whenReady,
} from '../../src/store/redis.js';
import { testConfig } from '../helpers/pipeline.js';
import { hasRedisCluster, startRedisCluster, type OwnCluster } from '../sandbox/redis-cluster.js';
import { hasRedisServer } from '../sandbox/redis-server.js';

/** What answers for one server only (CONFIG, SCAN, TIME) is asked of the right masters of a real 3-master cluster. */
describe.skipIf(!hasRedisServer() || !hasRedisCluster())('Redis Cluster connections', () => {
  let cluster: OwnCluster;
  const env = () => parseEnv({ REDIS_CLUSTER_NODES: cluster.nodesEnv });

  beforeAll(async () => {
    cluster = await startRedisCluster();
  }, 60_000);
  afterAll(async () => {
    await cluster?.stop();
  });

  it('refuses to run when any one master evicts', async () => {
    const redis = connectFromEnv(env());
    try {
      await assertNoEviction(redis);
      for (const port of cluster.ports) {
        const node = new Redis({ port, host: '127.0.0.1' });
        try {
          await node.config('SET', 'maxmemory-policy', 'allkeys-lru');
          await expect(assertNoEviction(redis), `master ${port}`).rejects.toThrow(/"allkeys-lru"/);
        } finally {
          await node.config('SET', 'maxmemory-policy', 'noeviction');
          await node.quit();
        }
      }
    } finally {
      await redis.quit();
    }
  });

  it('reports no persistence when any one master has none', async () => {
    const redis = connectFromEnv(env());
    const nodes = cluster.ports.map((port) => new Redis({ port, host: '127.0.0.1' }));
    const aof = (on: boolean, of = nodes) =>
      Promise.all(of.map((n) => n.config('SET', 'appendonly', on ? 'yes' : 'no')));
    try {
      await aof(true);
      expect(await readPersistence(redis)).toEqual({ kind: 'aof' });
      for (const [i, node] of nodes.entries()) {
        await aof(false, [node]);
        expect(await readPersistence(redis), `master ${cluster.ports[i]}`).toEqual({ kind: 'none' });
        await aof(true, [node]);
      }
    } finally {
      await aof(false);
      await Promise.all(nodes.map((n) => n.quit()));
      await redis.quit();
    }
  });

  it('deletes a prefix wherever its slot lives', async () => {
    const redis = connectFromEnv(env());
    try {
      // Prefixes whose slots are on different masters.
      const prefixes = ['{a}', '{b}', '{c}', '{d}', '{e}', '{f}'];
      const owners = new Set(await Promise.all(prefixes.map((p) => cluster.ownerOf(p))));
      expect(owners.size).toBeGreaterThan(1);
      for (const prefix of prefixes) await redis.set(`${prefix}:x`, '1');
      for (const prefix of prefixes) await deleteByPrefix(redis, prefix);
      for (const prefix of prefixes) expect(await redis.exists(`${prefix}:x`), prefix).toBe(0);
    } finally {
      await redis.quit();
    }
  });

  it("keeps old audit days as counters and trims them, on the prefix's slot", async () => {
    const redis = connectFromEnv(env());
    const config = testConfig('{leadflow-audit}');
    const k = keys(config.redis.prefix);
    const day = 86_400_000;
    const T = Date.UTC(2026, 7, 1);
    try {
      for (const [i, at] of [T, T + day, T + 40 * day].entries()) {
        const handoffId = `hf.hubspot.contact.${i}.0.mql`;
        const handoff = { type: 'handoff', handoffId, detail: { score: 60, ownerId: '1' }, at };
        const converted = { type: 'converted', handoffId, detail: { stage: 'opportunity' }, at: at + 1 };
        for (const e of [handoff, converted])
          await redis.xadd(k.audit, `${e.at}-*`, 'entry', JSON.stringify(e));
      }
      const before = await readReport(redis, config);
      const deps = {
        redis,
        config,
        sharedNow: () => Promise.resolve(T + 100 * day),
        logger: createLogger('silent'),
        metrics: createMetrics(),
      };
      expect(await sweepAudit(deps)).toBe(2);
      expect(await redis.xlen(k.audit)).toBe(2);
      expect(await readReport(redis, config)).toEqual(before);
      expect(before.byScoreBand.find((b) => b.handoffs)).toMatchObject({ handoffs: 3, converted: 3 });
    } finally {
      await deleteByPrefix(redis, '{leadflow-audit}');
      await redis.quit();
    }
  });

  it("reads Redis' clock on the prefix's slot owner only, the clock its scripts read", async () => {
    const redis = connectFromEnv(env());
    const clock = keys('{leadflow}').clock;
    const owner = await cluster.ownerOf(clock);
    const nodes = cluster.ports.map((port) => ({ port, node: new Redis({ port, host: '127.0.0.1' }) }));
    try {
      await Promise.all(nodes.map(({ node }) => node.config('RESETSTAT')));
      for (let i = 0; i < 9; i++) expect(await redisTime(redis, clock)).toBeGreaterThan(0);
      for (const { port, node } of nodes) {
        const timeCalls = /^cmdstat_time:calls=(\d+)/m.exec(await node.info('commandstats'))?.[1] ?? '0';
        if (port === owner) expect(Number(timeCalls), `owner ${port}`).toBe(9);
        else expect(Number(timeCalls), `node ${port}`).toBe(0);
      }
    } finally {
      await Promise.all(nodes.map(({ node }) => node.quit()));
      await redis.quit();
    }
  });

  it('lets the first command of a fail-fast cluster connection through once ready', async () => {
    const redis = connectFromEnv(env(), { failFast: true });
    try {
      await whenReady(redis);
      expect(await redis.set('{leadflow-ready}:x', '1')).toBe('OK');
    } finally {
      await deleteByPrefix(redis, '{leadflow-ready}');
      await redis.quit();
    }
  });
});
