import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue, Worker } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseEnv } from '../../src/config/env.js';
import { keys } from '../../src/store/keys.js';
import {
  assertNoEviction,
  connectFromEnv,
  deleteByPrefix,
  redisTime,
  whenReady,
  type RedisClient,
} from '../../src/store/redis.js';
import { hasRedisCluster, startRedisCluster, type OwnCluster } from '../sandbox/redis-cluster.js';
import {
  hasRedisServer,
  startRedisServer,
  type OwnRedis,
  type RedisSecurity,
} from '../sandbox/redis-server.js';
import { hasOpenssl, selfSignedCertificate } from '../sandbox/tls.js';

const PASSWORD = 'leadflow-test-secret';

/** Managed Redis wants a password and TLS: both reach every connection, the cluster's nodes included. */
describe.skipIf(!hasRedisServer() || !hasRedisCluster() || !hasOpenssl())(
  'Redis with a password and TLS',
  () => {
    let dir: string;
    let security: RedisSecurity;
    let cluster: OwnCluster;
    let server: OwnRedis;

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'leadflow-tls-'));
      security = { password: PASSWORD, tls: selfSignedCertificate(dir) };
      server = await startRedisServer({ security });
      cluster = await startRedisCluster(security);
    }, 60_000);
    afterAll(async () => {
      await cluster?.stop();
      await server?.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    const use = async (redis: RedisClient, fn: () => Promise<void>) => {
      try {
        await whenReady(redis);
        await fn();
      } finally {
        redis.disconnect();
      }
    };

    it('a cluster: every master is reached with the password over TLS, and BullMQ runs on it', async () => {
      const env = parseEnv({ REDIS_CLUSTER_NODES: cluster.nodesEnv, REDIS_TLS_CA_FILE: security.tls!.ca });
      expect(env.REDIS_CLUSTER_NODES?.[0]).toMatchObject({ tls: true, password: PASSWORD });
      // As a worker connects: BullMQ's blocking connections are duplicates of it.
      const redis = connectFromEnv(env);
      await use(redis, async () => {
        // Prefixes on different masters: the client follows MOVED to nodes it learned, not the seeds.
        const prefixes = ['{a}', '{b}', '{c}', '{d}', '{e}', '{f}'];
        expect(new Set(await Promise.all(prefixes.map((p) => cluster.ownerOf(p)))).size).toBeGreaterThan(1);
        for (const prefix of prefixes) expect(await redis.set(`${prefix}:x`, '1')).toBe('OK');
        // CONFIG on each master, and a script on the slot's owner.
        await assertNoEviction(redis);
        expect(await redisTime(redis, keys('{leadflow-tls}').clock)).toBeGreaterThan(0);
        for (const prefix of prefixes) await deleteByPrefix(redis, prefix);

        const queue = new Queue<{ n: number }>('tls', { connection: redis, prefix: '{leadflow-tls}' });
        const worker = new Worker<{ n: number }>('tls', (job) => Promise.resolve(`done ${job.data.n}`), {
          connection: redis,
          prefix: '{leadflow-tls}',
        });
        try {
          const job = await queue.add('one', { n: 1 });
          await expect(
            new Promise((resolve) =>
              worker.on('completed', (j, result) => j.id === job.id && resolve(result)),
            ),
          ).resolves.toBe('done 1');
        } finally {
          await worker.close();
          await queue.obliterate({ force: true });
          await queue.close();
        }
      });
    }, 30_000);

    it('one server over rediss:// with a private CA', async () => {
      const redis = connectFromEnv(parseEnv({ REDIS_URL: server.url, REDIS_TLS_CA_FILE: security.tls!.ca }), {
        failFast: true,
      });
      await use(redis, async () => {
        expect(await redis.ping()).toBe('PONG');
      });
    });

    it('refuses what a secured Redis refuses: no password, or a CA it does not trust', async () => {
      const noPassword = cluster.nodesEnv.replaceAll(`:${PASSWORD}@`, '');
      const refused = [
        parseEnv({ REDIS_CLUSTER_NODES: noPassword, REDIS_TLS_CA_FILE: security.tls!.ca }),
        parseEnv({ REDIS_URL: server.url }),
      ];
      for (const env of refused) {
        const redis = connectFromEnv(env, { failFast: true });
        try {
          await expect(whenReady(redis, 2_000)).rejects.toThrow(/not reachable/);
        } finally {
          redis.disconnect();
        }
      }
    });

    it('a seed with other credentials or another scheme is a configuration error', () => {
      const [first, second] = cluster.nodesEnv.split(',');
      expect(() =>
        parseEnv({ REDIS_CLUSTER_NODES: `${first},${second!.replace('rediss:', 'redis:')}` }),
      ).toThrow(/same scheme/);
      expect(() =>
        parseEnv({ REDIS_CLUSTER_NODES: `${first},${second!.replace(PASSWORD, 'other')}` }),
      ).toThrow(/same scheme/);
    });
  },
);
