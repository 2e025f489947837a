import { Redis, type RedisOptions } from 'ioredis';

/**
 * A connection for BullMQ workers and our own state. `maxRetriesPerRequest: null` is what BullMQ
 * requires of blocking connections; producers (the HTTP server) pass `failFast` so a down Redis
 * turns into a 503 instead of a request that hangs in ioredis' offline queue.
 */
export function connectRedis(url: string, opts: { failFast?: boolean; name?: string } = {}): Redis {
  const options: RedisOptions = {
    connectionName: opts.name,
    maxRetriesPerRequest: opts.failFast ? 1 : null,
    enableOfflineQueue: !opts.failFast,
    lazyConnect: false,
    retryStrategy: (times) => Math.min(times * 200, 2_000),
  };
  return new Redis(url, options);
}

/** Evicting policies silently drop queue and state keys; refuse to run on them. */
export async function assertNoEviction(redis: Redis): Promise<void> {
  const reply = await redis.config('GET', 'maxmemory-policy');
  const policy = reply[1];
  if (policy !== undefined && policy !== 'noeviction') {
    throw new Error(
      `Redis maxmemory-policy is "${policy}"; leadflow needs "noeviction" (CONFIG SET maxmemory-policy noeviction)`,
    );
  }
}

/** Deletes every key under a prefix (tests, the demo and the benchmark clean up after themselves). */
export async function deleteByPrefix(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (found.length) await redis.del(...found);
  } while (cursor !== '0');
}
