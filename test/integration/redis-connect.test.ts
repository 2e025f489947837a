import { describe, expect, it } from 'vitest';
import { connectRedis, whenReady } from '../../src/store/redis.js';
import { TEST_REDIS_URL } from '../helpers/redis.js';
import { freePort } from '../sandbox/redis-server.js';

/** One-shot CLI commands use a fail-fast connection: they must wait for it, not race its handshake. */
describe('whenReady', () => {
  it('lets the first command of a fail-fast connection through', async () => {
    const redis = connectRedis(TEST_REDIS_URL, { failFast: true });
    try {
      await whenReady(redis);
      expect(await redis.ping()).toBe('PONG');
    } finally {
      redis.disconnect();
    }
  });

  it('gives up with the connection error when nothing answers', async () => {
    const redis = connectRedis(`redis://127.0.0.1:${await freePort()}`, { failFast: true });
    try {
      await expect(whenReady(redis, 300)).rejects.toThrow(/Redis not reachable after 300 ms: .*ECONNREFUSED/);
    } finally {
      redis.disconnect();
    }
  });
});
